// What an integrator writes with the types openapi-typescript generates
// from /openapi.json and openapi-fetch: make openapi-check compiles it, so
// a change of the document that breaks such code fails the check. Custom
// methods are paths like any other, called by their literal template.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

type Transfer = components["schemas"]["v1Transfer"];
type Status = components["schemas"]["rpcStatus"];
type BadRequest = components["schemas"]["rpcBadRequest"];

/** A client of the gateway at baseUrl that sends token as its bearer token. */
export function socmgmt(baseUrl: string, token: string) {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
}

/** The fields a refusal names, from its BadRequest details. */
export function violatedFields(status: Status): string[] {
  return (status.details ?? [])
    .filter((d): d is BadRequest => d["@type"] === "type.googleapis.com/google.rpc.BadRequest")
    .flatMap((d) => (d.fieldViolations ?? []).map((v) => v.field ?? ""));
}

/**
 * Looks a retiree up by ID number (never in a URL) and proposes to move
 * her to another community, whose clerk then accepts or declines.
 */
export async function lookUpAndTransfer(
  client: ReturnType<typeof socmgmt>,
  idNumber: string,
  toCommunityId: string,
): Promise<Transfer> {
  const found = await client.POST("/v1/retirees:lookup", { body: { idNumber } });
  if (found.error) {
    throw new Error(`lookup: ${found.error.message ?? ""} ${violatedFields(found.error).join(", ")}`);
  }
  const id = found.data.id;
  if (id === undefined) {
    throw new Error("lookup: no id");
  }
  const moved = await client.POST("/v1/retirees/{id}:transfer", {
    params: { path: { id } },
    body: { toCommunityId, reason: "搬迁", etag: found.data.etag },
  });
  if (moved.error) {
    throw new Error(`transfer: ${moved.error.message ?? ""}`);
  }
  if (moved.data.transfer === undefined) {
    throw new Error("transfer: no proposal");
  }
  return moved.data.transfer;
}

/** Accepts, as the receiving community's clerk, a proposed transfer. */
export async function acceptTransfer(client: ReturnType<typeof socmgmt>, id: string): Promise<Transfer | undefined> {
  const accepted = await client.POST("/v1/transfers/{id}:accept", { params: { path: { id } }, body: {} });
  if (accepted.error) {
    throw new Error(`accept: ${accepted.error.message ?? ""}`);
  }
  return accepted.data.transfer;
}

/** Submits a handover package, guarded by its etag. */
export async function submitHandover(client: ReturnType<typeof socmgmt>, id: string, etag: string) {
  const { data, error } = await client.POST("/v1/handovers/{id}:submit", {
    params: { path: { id } },
    body: { etag },
  });
  if (error) {
    throw new Error(`submit: ${error.message ?? ""}`);
  }
  return data.state;
}
