package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/test/e2e/restclient"
)

// bearer sends token as the request's bearer token: a per-call editor of
// the generated client.
func bearer(token string) restclient.RequestEditorFn {
	return func(_ context.Context, req *http.Request) error {
		req.Header.Set("Authorization", "Bearer "+token)
		return nil
	}
}

// wantStatus fails t unless the generated client's call got an answer
// with the status want.
func wantStatus(t *testing.T, what string, resp interface{ StatusCode() int }, body []byte, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if got := resp.StatusCode(); got != want {
		t.Fatalf("%s: status %d, want %d: %s", what, got, want, body)
	}
}

// TestGeneratedRESTClient drives the real programs through the Go client
// that oapi-codegen generates from the served /openapi.json, as an
// integrator would: create, get, look up and transfer a retiree, a refusal
// read as a typed google.rpc.Status with its BadRequest, and the first
// step of a handover. Custom methods are methods of the client
// (RegistryServiceTransferRetiree), not paths with a parameter named
// after the verb.
func TestGeneratedRESTClient(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)
	c, err := restclient.NewClientWithResponses(s.baseURL, restclient.WithHTTPClient(&http.Client{Timeout: 10 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()

	var r1 restclient.V1Retiree
	must(t, "create, get and look up a retiree", func(t *testing.T) {
		created, err := c.RegistryServiceCreateRetireeWithResponse(ctx, restclient.V1Retiree{
			IDNumber: new(idNumber1), Name: new("张桂英"), CommunityID: new(communityA),
			ManagementMode: new(restclient.V1ManagementModeCOMMUNITY), RetirementDate: new("2004-12-01"),
		}, bearer(tk.clerkA))
		wantStatus(t, "create", created, created.Body, err, http.StatusOK)
		r1 = *created.JSON200
		if r1.ID == nil || *r1.ID == "" || r1.Etag == nil || *r1.Sex != restclient.V1SexFEMALE {
			t.Fatalf("created %+v", r1)
		}

		got, err := c.RegistryServiceGetRetireeWithResponse(ctx, *r1.ID, bearer(tk.clerkA))
		wantStatus(t, "get", got, got.Body, err, http.StatusOK)
		if *got.JSON200.Name != "张桂英" || *got.JSON200.BirthDate != "1949-12-31" {
			t.Errorf("got %+v", got.JSON200)
		}

		found, err := c.RegistryServiceLookupRetireeWithResponse(ctx, restclient.V1LookupRetireeRequest{IDNumber: new(idNumber1)}, bearer(tk.clerkA))
		wantStatus(t, "lookup", found, found.Body, err, http.StatusOK)
		if *found.JSON200.ID != *r1.ID {
			t.Errorf("lookup found %s, want %s", *found.JSON200.ID, *r1.ID)
		}
	})

	t.Run("a refusal is a typed status with its BadRequest", func(t *testing.T) {
		resp, err := c.RegistryServiceCreateRetireeWithResponse(ctx, restclient.V1Retiree{
			IDNumber: new(badCheckIDNumber), Name: new("错号"), CommunityID: new(communityA),
			ManagementMode: new(restclient.V1ManagementModeCOMMUNITY), RetirementDate: new("2004-12-01"),
		}, bearer(tk.clerkA))
		wantStatus(t, "create with a bad ID number", resp, resp.Body, err, http.StatusBadRequest)
		var fields []string
		for _, d := range *resp.JSON400.Details {
			br, err := d.AsRPCBadRequest()
			if err != nil || br.Type != restclient.RPCBadRequestTypeTypeGoogleapisComGoogleRPCBadRequest || br.FieldViolations == nil {
				continue
			}
			for _, v := range *br.FieldViolations {
				fields = append(fields, *v.Field)
			}
		}
		if len(fields) != 1 || fields[0] != "idNumber" {
			t.Errorf("violations %q, want idNumber: %s", fields, resp.Body)
		}
	})

	t.Run("transfer, a custom method", func(t *testing.T) {
		moved, err := c.RegistryServiceTransferRetireeWithResponse(ctx, *r1.ID, restclient.RegistryServiceTransferRetireeBody{
			ToCommunityID: new(communityB), Reason: new("搬迁"), Etag: r1.Etag,
		}, bearer(tk.clerkA))
		wantStatus(t, "transfer", moved, moved.Body, err, http.StatusOK)
		if *moved.JSON200.Retiree.CommunityID != communityA || *moved.JSON200.Transfer.State != restclient.V1TransferStatePROPOSED {
			t.Errorf("after the proposal: community %s, transfer %s", *moved.JSON200.Retiree.CommunityID, moved.Body)
		}
		accepted, err := c.RegistryServiceAcceptTransferWithResponse(ctx, *moved.JSON200.Transfer.ID, restclient.RegistryServiceAcceptTransferBody{}, bearer(tk.clerkB))
		wantStatus(t, "accept", accepted, accepted.Body, err, http.StatusOK)
		if *accepted.JSON200.Retiree.CommunityID != communityB {
			t.Errorf("after the acceptance: community %s, want %s", *accepted.JSON200.Retiree.CommunityID, communityB)
		}
		// Clerk A's retiree no more: the same 403 as for any other.
		again, err := c.RegistryServiceGetRetireeWithResponse(ctx, *r1.ID, bearer(tk.clerkA))
		wantStatus(t, "get by the clerk she left", again, again.Body, err, http.StatusForbidden)
		if again.JSON403 == nil || again.JSON403.Code == nil || *again.JSON403.Code != 7 {
			t.Errorf("403 body %s, want a PermissionDenied status", again.Body)
		}
	})

	t.Run("a handover is created and submitted", func(t *testing.T) {
		ent, err := c.RegistryServiceCreateEnterpriseWithResponse(ctx, restclient.V1Enterprise{
			CreditCode: new(creditCode), Name: new("沈阳重型机械厂"),
			Ownership: new(restclient.V1OwnershipSTATE), Status: new(restclient.V1EnterpriseStatusBANKRUPT),
		}, bearer(tk.bureau))
		wantStatus(t, "create enterprise", ent, ent.Body, err, http.StatusOK)
		id, err := idnumber.Build("210102", time.Date(1952, 4, 1, 0, 0, 0, 0, time.UTC), 201)
		if err != nil {
			t.Fatal(err)
		}
		s.secret(id.Digits())
		worker, err := c.RegistryServiceCreateRetireeWithResponse(ctx, restclient.V1Retiree{
			IDNumber: new(id.Digits()), Name: new("职工甲"), CommunityID: new(communityA),
			EnterpriseCreditCode: new(creditCode), ManagementMode: new(restclient.V1ManagementModeENTERPRISE),
			RetirementDate: new("2012-05-01"),
		}, bearer(tk.enterprise))
		wantStatus(t, "register the worker", worker, worker.Body, err, http.StatusOK)

		created, err := c.HandoverServiceCreateHandoverWithResponse(ctx, restclient.V1Handover{
			EnterpriseCreditCode: new(creditCode), CommunityID: new(communityA),
			RetireeIds: &[]string{*worker.JSON200.ID},
			Funds:      &restclient.V1Funds{AmountFen: new("360000")},
			Dossiers: &[]restclient.V1Dossier{{
				RetireeID: worker.JSON200.ID, DossierNo: new("SY-2026-001"), Volumes: new(int32(1)),
				Checklist: &[]restclient.V1ArchiveCategory{restclient.V1ArchiveCategoryRESUME},
			}},
		}, bearer(tk.enterprise))
		wantStatus(t, "create handover", created, created.Body, err, http.StatusOK)
		h := created.JSON200
		if *h.State != restclient.V1HandoverStateDRAFT {
			t.Fatalf("created in state %s", *h.State)
		}
		submitted, err := c.HandoverServiceSubmitHandoverWithResponse(ctx, *h.ID, restclient.HandoverServiceSubmitHandoverBody{Etag: h.Etag}, bearer(tk.enterprise))
		wantStatus(t, "submit", submitted, submitted.Body, err, http.StatusOK)
		if *submitted.JSON200.State != restclient.V1HandoverStateSUBMITTED {
			t.Errorf("after submit: state %s", *submitted.JSON200.State)
		}
	})
}
