package handover

import (
	"context"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// partyCalls are the party RPCs as a client makes them, over gRPC or
// REST through the gateway.
type partyCalls interface {
	setPartyMembers(ctx context.Context, req *pb.SetPartyMembersRequest) error
	recordPartyTransfer(ctx context.Context, req *pb.RecordPartyTransferRequest) error
	reportPartyTransfers(ctx context.Context, req *pb.ReportPartyTransfersRequest) error
}

// grpcCalls make the calls with the handover client.
type grpcCalls struct{ c pb.HandoverServiceClient }

func (g grpcCalls) setPartyMembers(ctx context.Context, req *pb.SetPartyMembersRequest) error {
	return servicetest.ErrOf(g.c.SetPartyMembers(ctx, req))
}

func (g grpcCalls) recordPartyTransfer(ctx context.Context, req *pb.RecordPartyTransferRequest) error {
	return servicetest.ErrOf(g.c.RecordPartyTransfer(ctx, req))
}

func (g grpcCalls) reportPartyTransfers(ctx context.Context, req *pb.ReportPartyTransfersRequest) error {
	return servicetest.ErrOf(g.c.ReportPartyTransfers(ctx, req))
}

// restCalls make the calls through a gateway at base, with the token the
// context carries for gRPC, and turn an error answer back into the
// status it carries.
type restCalls struct {
	t    *testing.T
	call func(ctx context.Context, method, path, body string) error
}

func (r restCalls) setPartyMembers(ctx context.Context, req *pb.SetPartyMembersRequest) error {
	body := proto.Clone(req).(*pb.SetPartyMembersRequest)
	body.Id = ""
	return r.do(ctx, http.MethodPost, "/v1/handovers/"+req.Id+":setPartyMembers", body)
}

func (r restCalls) recordPartyTransfer(ctx context.Context, req *pb.RecordPartyTransferRequest) error {
	body := proto.Clone(req).(*pb.RecordPartyTransferRequest)
	body.Id = ""
	return r.do(ctx, http.MethodPost, "/v1/handovers/"+req.Id+":recordPartyTransfer", body)
}

func (r restCalls) reportPartyTransfers(ctx context.Context, req *pb.ReportPartyTransfersRequest) error {
	return r.do(ctx, http.MethodGet, "/v1/partyTransfers:report?groupBy="+req.GroupBy.String(), nil)
}

func (r restCalls) do(ctx context.Context, method, path string, body proto.Message) error {
	r.t.Helper()
	var b []byte
	if body != nil {
		var err error
		if b, err = protojson.Marshal(body); err != nil {
			r.t.Fatal(err)
		}
	}
	return r.call(ctx, method, path, string(b))
}

// TestPartyAuthorisationMatrix calls every party RPC as every role, over
// gRPC and over REST through the gateway, on a package of enterprise X to
// community A (own), one of enterprise Y to community B (other) and one
// that does not exist.
func TestPartyAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{tcp: true})
	rest := restClient(t, w.addr)
	for name, calls := range map[string]partyCalls{"gRPC": grpcCalls{w.client}, "REST": restCalls{t: t, call: rest}} {
		t.Run(name, func(t *testing.T) {
			servicetest.RunMatrix(t, partyMatrix(t, w, calls))
		})
	}
}

// partyMatrix is the matrix of the party RPCs made with calls.
func partyMatrix(t *testing.T, w *world, calls partyCalls) servicetest.Matrix {
	t.Helper()
	// fresh makes a package of target with one party member, a draft or
	// submitted, and returns its id and the member.
	fresh := func(tg servicetest.Target, submit bool) (string, string) {
		if tg == servicetest.Missing {
			return "H00000000000000AA", "bbbbbbbbbbbbbbbb"
		}
		owner, community, ent := enterpriseXP, communityA, enterpriseX
		if tg == servicetest.Other {
			owner, community, ent = enterpriseYP, communityB, enterpriseY
		}
		ids := w.retirees(1, ent, registryv1.ManagementMode_ENTERPRISE)
		p := packageFor(ids)
		p.EnterpriseCreditCode, p.CommunityId = ent, community
		h := w.handover(w.client.CreateHandover(w.as(owner), &pb.CreateHandoverRequest{Handover: p}))
		h = w.handover(w.client.SetPartyMembers(w.as(owner), &pb.SetPartyMembersRequest{Id: h.Id,
			Members: []*pb.PartyMember{{RetireeId: ids[0], FromOrganisation: "离退休党支部"}}}))
		if submit {
			w.handover(w.client.SubmitHandover(w.as(owner), &pb.SubmitHandoverRequest{Id: h.Id}))
		}
		return h.Id, ids[0]
	}
	// target is the handover the call about to be made acts on.
	var target string
	drafts := map[servicetest.Target][2]string{}
	for _, tg := range servicetest.Targets {
		id, member := fresh(tg, false)
		drafts[tg] = [2]string{id, member}
	}
	rpcs := map[string]func(servicetest.Target) func(context.Context) error{
		"SetPartyMembers": func(tg servicetest.Target) func(context.Context) error {
			d := drafts[tg]
			target = d[0]
			return func(ctx context.Context) error {
				return calls.setPartyMembers(ctx, &pb.SetPartyMembersRequest{Id: d[0], Members: []*pb.PartyMember{{RetireeId: d[1], FromOrganisation: "第二党支部"}}})
			}
		},
		"RecordPartyTransfer": func(tg servicetest.Target) func(context.Context) error {
			id, member := fresh(tg, true)
			target = id
			return func(ctx context.Context) error {
				return calls.recordPartyTransfer(ctx, &pb.RecordPartyTransferRequest{Id: id, RetireeId: member, Stage: pb.PartyTransfer_SENT,
					Date: "2026-01-05", IntroductionLetterNo: "党介〔2026〕7号", ToOrganisation: "社区党委", ReceivingLevel: pb.PartyTransfer_COMMUNITY})
			}
		},
		"ReportPartyTransfers": func(servicetest.Target) func(context.Context) error {
			target = ""
			return func(ctx context.Context) error {
				return calls.reportPartyTransfers(ctx, &pb.ReportPartyTransfersRequest{GroupBy: pb.ReportPartyTransfersRequest_STREET})
			}
		},
	}
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		na = servicetest.NA
	)
	denied := servicetest.Cells{pd, pd, pd}
	row := func(admin, bureau, clerk, enterprise servicetest.Cells, inArea, elsewhere servicetest.Cells) map[string]servicetest.Cells {
		r := map[string]servicetest.Cells{
			"admin": admin, "bureau": bureau, "clerk": clerk, "enterprise": enterprise, "service": denied, "archivist": denied,
			"no token": {ua, ua, ua},
		}
		for k, v := range servicetest.SupervisorCells(inArea, elsewhere) {
			r[k] = v
		}
		return r
	}
	report := func(c codes.Code) servicetest.Cells { return servicetest.Cells{c, na, na} }
	want := map[string]map[string]servicetest.Cells{
		"SetPartyMembers":      row(servicetest.Cells{ok, ok, nf}, denied, denied, servicetest.Cells{ok, pd, pd}, denied, denied),
		"RecordPartyTransfer":  row(servicetest.Cells{ok, ok, nf}, denied, servicetest.Cells{ok, pd, pd}, denied, servicetest.Cells{ok, ok, pd}, denied),
		"ReportPartyTransfers": row(report(ok), report(ok), report(pd), report(pd), report(ok), report(ok)),
	}
	want["ReportPartyTransfers"]["service"], want["ReportPartyTransfers"]["archivist"] = report(pd), report(pd)
	want["ReportPartyTransfers"]["no token"] = report(ua)
	callers := append(w.keys.CallersOf(t, adminP, bureauP, clerkAP, enterpriseXP, serviceP, archivistAP),
		servicetest.Caller{Name: "no token", Ctx: context.Background()})
	// A refused call changes nothing: the handover keeps its revision.
	around := func(t *testing.T, _ string, tg servicetest.Target) func(codes.Code) {
		if target == "" || tg == servicetest.Missing {
			return func(codes.Code) {}
		}
		etag := func(id string) string {
			h, err := w.store.GetHandover(id)
			if err != nil {
				t.Fatal(err)
			}
			return h.Etag
		}
		id, before := target, etag(target)
		return func(got codes.Code) {
			if after := etag(id); got != codes.OK && after != before {
				t.Errorf("a refused call changed the handover from %s to %s", before, after)
			}
		}
	}
	return servicetest.Matrix{Calls: rpcs, Want: want, Around: around, Callers: append(callers, w.keys.Supervisors(t)...)}
}
