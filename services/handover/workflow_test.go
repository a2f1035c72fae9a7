package handover

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/servicetest"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/requestid"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestWorkflowHappyPath follows one package from draft to delivery and
// checks the timeline it leaves.
func TestWorkflowHappyPath(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dispatch: true})
	h := w.draft(3)
	if h.State != pb.Handover_DRAFT || h.Etag == "" || !validHandoverID(h.Id) {
		t.Fatalf("created %v %q %q", h.State, h.Etag, h.Id)
	}
	if got := h.Premises[0]; got.Id != "P1" || got.Inspection != pb.Premises_NOT_INSPECTED {
		t.Errorf("premises = %v", got)
	}
	for _, d := range h.Dossiers {
		if d.State != pb.Dossier_PENDING {
			t.Errorf("dossier %s state %v", d.RetireeId, d.State)
		}
	}
	ent, clerk := w.as(enterpriseXP), w.as(clerkAP)

	sub, err := w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		t.Fatal(err)
	}
	h = sub.Handover
	if h.State != pb.Handover_SUBMITTED || h.SubmitTime == nil {
		t.Fatalf("after submit: %v", h.State)
	}
	ret, err := w.client.ReturnHandover(clerk, &pb.ReturnHandoverRequest{Id: h.Id, Etag: h.Etag, Reason: "场地面积有误"})
	if err != nil {
		t.Fatal(err)
	}
	h = ret.Handover
	if h.State != pb.Handover_RETURNED || h.ReturnReason != "场地面积有误" {
		t.Fatalf("after return: %v %q", h.State, h.ReturnReason)
	}
	fix := &pb.Handover{Id: h.Id, Etag: h.Etag, Premises: []*pb.Premises{
		{Id: "P1", Name: "老干部活动室", Address: "和平区北市场街3号", AreaSqm: 96, Capacity: 30, Use: "棋牌"},
	}}
	upd, err := w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: fix, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"premises", "etag"}}})
	if err != nil {
		t.Fatal(err)
	}
	h = upd.Handover
	if h.Premises[0].AreaSqm != 96 || h.Premises[0].Id != "P1" || h.State != pb.Handover_RETURNED {
		t.Fatalf("after update: %v", h.Premises[0])
	}
	sub, err = w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id})
	if err != nil {
		t.Fatal(err)
	}
	h = sub.Handover
	half := h.Funds.AmountFen / 2
	for i, amount := range []int64{half, h.Funds.AmountFen - half} {
		fr, err := w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: amount, VoucherNo: fmt.Sprintf("PZ-%d", i), ReceivedOn: "2026-01-0" + fmt.Sprint(i+1)})
		if err != nil {
			t.Fatal(err)
		}
		h = fr.Handover
	}
	if h.Funds.ReceivedFen != h.Funds.AmountFen || len(h.Funds.Receipts) != 2 {
		t.Fatalf("funds = %v", h.Funds)
	}
	ar, err := w.client.ReceiveArchives(clerk, &pb.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds[:2],
		Missing: []*pb.MissingDossier{{RetireeId: h.RetireeIds[2], Explanation: "原单位档案室火灾焚毁，已出具证明"}}})
	if err != nil {
		t.Fatal(err)
	}
	h = ar.Handover
	if h.Dossiers[2].State != pb.Dossier_MISSING || h.Dossiers[0].State != pb.Dossier_RECEIVED {
		t.Fatalf("dossiers = %v", h.Dossiers)
	}
	ir, err := w.client.InspectPremises(clerk, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: "P1", Accepted: true, Notes: "可用"})
	if err != nil {
		t.Fatal(err)
	}
	h = ir.Handover
	if _, err := w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("complete before the bureau verified the roster: %v", err)
	}
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, Etag: h.Etag, DocumentSha256: rosterSHA, Note: "已签字盖章"}))
	if v := h.RosterVerification; v.GetVerifiedBy() != bureauP.Subject || v.GetDocumentSha256() != rosterSHA || v.GetVerifyTime() == nil {
		t.Fatalf("roster verification = %v", v)
	}
	cr, err := w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		t.Fatal(err)
	}
	h = cr.Handover
	if h.State != pb.Handover_COMPLETED || h.Delivery.GetState() != pb.Delivery_PENDING || h.Delivery.Commands != 2 {
		t.Fatalf("after complete: %v %v", h.State, h.Delivery)
	}

	h = w.waitDelivered(h.Id)
	if h.Premises[0].VenueId == "" || h.Delivery.Delivered != 2 || h.Delivery.LastError != "" {
		t.Errorf("delivered handover: premises %v, delivery %v", h.Premises[0], h.Delivery)
	}
	for _, id := range h.RetireeIds {
		r, err := w.registry.GetRetiree(w.as(adminP), &registryv1.GetRetireeRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		if r.Retiree.CommunityId != communityA || r.Retiree.ManagementMode != registryv1.ManagementMode_COMMUNITY {
			t.Errorf("retiree %s: %s %v", id, r.Retiree.CommunityId, r.Retiree.ManagementMode)
		}
	}
	venues, _ := w.act.fake.snapshot()
	if len(venues) != 1 || venues[0].Id != h.Premises[0].VenueId || venues[0].CommunityId != communityA || venues[0].Capacity != 30 {
		t.Errorf("venues = %v", venues)
	}

	type step struct {
		Action, Actor, Role string
		State               pb.Handover_State
	}
	var got []step
	for _, e := range w.events(h.Id) {
		got = append(got, step{e.Action, e.Actor, e.ActorRole, e.State})
		if e.Time == nil || e.Detail == "" {
			t.Errorf("event %d lacks time or detail: %v", e.Sequence, e)
		}
	}
	want := []step{
		{"CREATED", "enterprise-x", "enterprise", pb.Handover_DRAFT},
		{"SUBMITTED", "enterprise-x", "enterprise", pb.Handover_SUBMITTED},
		{"RETURNED", "clerk-a", "clerk", pb.Handover_RETURNED},
		{"UPDATED", "enterprise-x", "enterprise", pb.Handover_RETURNED},
		{"SUBMITTED", "enterprise-x", "enterprise", pb.Handover_SUBMITTED},
		{"FUNDS_RECEIVED", "clerk-a", "clerk", pb.Handover_SUBMITTED},
		{"FUNDS_RECEIVED", "clerk-a", "clerk", pb.Handover_SUBMITTED},
		{"ARCHIVES_RECEIVED", "clerk-a", "clerk", pb.Handover_SUBMITTED},
		{"PREMISES_INSPECTED", "clerk-a", "clerk", pb.Handover_SUBMITTED},
		{"ROSTER_VERIFIED", bureauP.Subject, "bureau", pb.Handover_SUBMITTED},
		{"COMPLETED", "clerk-a", "clerk", pb.Handover_COMPLETED},
	}
	// The two deliveries go in parallel lanes; their order is not fixed.
	if len(got) != len(want)+2 {
		t.Fatalf("timeline has %d events, want %d: %v", len(got), len(want)+2, got)
	}
	if diff := cmp.Diff(want, got[:len(want)]); diff != "" {
		t.Errorf("timeline (-want +got):\n%s", diff)
	}
	for _, s := range got[len(want):] {
		if s.Action != "DELIVERED" || s.Role != "service" {
			t.Errorf("delivery event %v", s)
		}
	}

	ob, err := w.client.ListObligations(w.as(enterpriseXP), &pb.ListObligationsRequest{ActiveOn: "2028-01-01"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ob.Obligations) != 1 || ob.Obligations[0].HandoverId != h.Id || ob.Obligations[0].CommunityId != communityA {
		t.Errorf("obligations = %v", ob.Obligations)
	}
}

// TestAccess is the table of who may take which step: every transition
// and read against every kind of caller. Each case gets a fresh package in
// the state the step needs.
func TestAccess(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	type caller struct {
		name string
		p    authn.Principal
	}
	callers := []caller{
		{"enterprise own", enterpriseXP}, {"enterprise other", enterpriseYP},
		{"clerk receiving", clerkAP}, {"clerk other", clerkBP},
		{"bureau", bureauP}, {"admin", adminP}, {"service", serviceP},
		{"street receiving", streetAP}, {"district receiving", districtAP},
		{"street other", streetCP}, {"district other", districtCP},
		{"archivist receiving", archivistAP}, {"archivist other", archivistCP},
	}
	const (
		ok     = codes.OK
		denied = codes.PermissionDenied
	)
	// Who may: the enterprise's steps; the receiving unit's steps (the
	// clerk of the one community a package is addressed to, or the
	// supervisors of its street office and district); archives also the
	// district's archivist; allocation the supervisors; the roster the
	// bureau; reads.
	ownerOnly := map[string]codes.Code{"enterprise own": ok, "admin": ok}
	receiverOnly := map[string]codes.Code{"clerk receiving": ok, "admin": ok, "street receiving": ok, "district receiving": ok}
	archives := map[string]codes.Code{"clerk receiving": ok, "admin": ok, "street receiving": ok, "district receiving": ok, "archivist receiving": ok}
	allocators := map[string]codes.Code{"admin": ok, "street receiving": ok, "district receiving": ok}
	bureauOnly := map[string]codes.Code{"bureau": ok, "admin": ok}
	readers := map[string]codes.Code{
		"enterprise own": ok, "clerk receiving": ok, "bureau": ok, "admin": ok,
		"street receiving": ok, "district receiving": ok, "archivist receiving": ok,
	}
	draftReaders := map[string]codes.Code{"enterprise own": ok, "bureau": ok, "admin": ok}
	// The steps taken from two states.
	update := func(h *pb.Handover, c caller) error {
		_, err := w.client.UpdateHandover(w.as(c.p), &pb.UpdateHandoverRequest{
			Handover:   &pb.Handover{Id: h.Id, Etag: h.Etag, Funds: &pb.Funds{AmountFen: 1000}},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"funds.amount_fen"}},
		})
		return err
	}
	get := func(h *pb.Handover, c caller) error {
		return servicetest.ErrOf(w.client.GetHandover(w.as(c.p), &pb.GetHandoverRequest{Id: h.Id}))
	}
	submit := func(h *pb.Handover, c caller) error {
		return servicetest.ErrOf(w.client.SubmitHandover(w.as(c.p), &pb.SubmitHandoverRequest{Id: h.Id}))
	}

	for _, tc := range []struct {
		name  string
		setup func() *pb.Handover
		call  func(h *pb.Handover, c caller) error
		may   map[string]codes.Code
	}{
		{"create", func() *pb.Handover { return nil }, func(_ *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.CreateHandover(w.as(c.p), &pb.CreateHandoverRequest{Handover: packageFor(nil)}))
		}, ownerOnly},
		{"get draft", fixture(w.draft, 1), get, draftReaders},
		{"get submitted", fixture(w.submitted, 1), get, readers},
		{"events", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.ListHandoverEvents(w.as(c.p), &pb.ListHandoverEventsRequest{Id: h.Id}))
		}, readers},
		{"update draft", fixture(w.draft, 1), update, ownerOnly},
		{"update returned", fixture(w.returned, 1), update, ownerOnly},
		{"submit", fixture(w.draft, 1), submit, ownerOnly},
		{"resubmit", fixture(w.returned, 1), submit, ownerOnly},
		{"withdraw draft", fixture(w.draft, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.WithdrawHandover(w.as(c.p), &pb.WithdrawHandoverRequest{Id: h.Id}))
		}, ownerOnly},
		{"withdraw submitted", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.WithdrawHandover(w.as(c.p), &pb.WithdrawHandoverRequest{Id: h.Id, Reason: "企业重组"}))
		}, ownerOnly},
		{"return", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.ReturnHandover(w.as(c.p), &pb.ReturnHandoverRequest{Id: h.Id, Reason: "资金不足"}))
		}, receiverOnly},
		{"receive funds", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.ReceiveFunds(w.as(c.p), &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 100, VoucherNo: "V1", ReceivedOn: "2026-01-05"}))
		}, receiverOnly},
		{"receive archives", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.ReceiveArchives(w.as(c.p), &pb.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds}))
		}, archives},
		{"allocate", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.AllocateRetirees(w.as(c.p), &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: communityB, RetireeIds: h.RetireeIds}))
		}, allocators},
		{"verify roster", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.VerifyRoster(w.as(c.p), &pb.VerifyRosterRequest{Id: h.Id, DocumentSha256: rosterSHA}))
		}, bureauOnly},
		{"inspect premises", fixture(w.submitted, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.InspectPremises(w.as(c.p), &pb.InspectPremisesRequest{Id: h.Id, PremisesId: "P1", Accepted: true}))
		}, receiverOnly},
		{"complete", fixture(w.ready, 1), func(h *pb.Handover, c caller) error {
			return servicetest.ErrOf(w.client.CompleteHandover(w.as(c.p), &pb.CompleteHandoverRequest{Id: h.Id}))
		}, receiverOnly},
	} {
		for _, c := range callers {
			t.Run(tc.name+"/"+c.name, func(t *testing.T) {
				h := tc.setup()
				want, okay := tc.may[c.name]
				if !okay {
					want = denied
				}
				err := tc.call(h, c)
				st := wantCode(t, err, want)
				if want == denied && st.Message() != "permission denied" {
					t.Errorf("denial says %q", st.Message())
				}
				if h != nil && want == denied {
					// A refused step changes nothing.
					if got := w.get(h.Id); got.Etag != h.Etag {
						t.Errorf("refused step changed the handover: etag %s -> %s", h.Etag, got.Etag)
					}
				}
			})
		}
	}
}

// TestSupervisorLists: a street or district supervisor lists the
// packages submitted to the communities of its area, the whole area
// unless it names one of them, and the obligations they took on; never a
// draft, never another area's.
func TestSupervisorLists(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	draft := w.draft(1)
	sent := w.submitted(1)
	list := func(p authn.Principal, community string) ([]string, error) {
		resp, err := w.client.ListHandovers(w.as(p), &pb.ListHandoversRequest{CommunityId: community})
		var ids []string
		for _, h := range resp.GetHandovers() {
			ids = append(ids, h.Id)
		}
		return ids, err
	}
	for _, tc := range []struct {
		name      string
		p         authn.Principal
		community string
		want      []string // nil: PermissionDenied
	}{
		{"street, its area", streetAP, "", []string{sent.Id}},
		{"street, the receiving community", streetAP, communityA, []string{sent.Id}},
		{"street, another community of its area", streetAP, communityB, []string{}},
		{"street, a community elsewhere", streetAP, servicetest.CommunityC, nil},
		{"district, its area", districtAP, "", []string{sent.Id}},
		{"street elsewhere, its area", streetCP, "", []string{}},
		{"district elsewhere, the receiving community", districtCP, communityA, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := list(tc.p, tc.community)
			if tc.want == nil {
				wantCode(t, err, codes.PermissionDenied)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("listed (-want +got):\n%s (the draft is %s)", diff, draft.Id)
			}
		})
	}
}

// TestAccessToUnknownHandover checks that only who may know gets 404 for
// an id that does not exist; everyone else gets 403 as for a hidden one.
func TestAccessToUnknownHandover(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	unknown := "H00000000000000000"[:handoverIDLen]
	for _, id := range []string{unknown, "no-such-id"} {
		for _, tc := range []struct {
			p    authn.Principal
			want codes.Code
		}{
			{adminP, codes.NotFound}, {bureauP, codes.NotFound},
			{enterpriseXP, codes.PermissionDenied}, {clerkAP, codes.PermissionDenied}, {serviceP, codes.PermissionDenied},
			{streetAP, codes.PermissionDenied}, {districtAP, codes.PermissionDenied},
		} {
			t.Run(id+"/"+tc.p.Subject, func(t *testing.T) {
				_, err := w.client.GetHandover(w.as(tc.p), &pb.GetHandoverRequest{Id: id})
				wantCode(t, err, tc.want)
				_, err = w.client.ListHandoverEvents(w.as(tc.p), &pb.ListHandoverEventsRequest{Id: id})
				wantCode(t, err, tc.want)
			})
		}
		// Steps: the clerk, enterprise and supervisor are refused as for
		// another's package; admin, and the bureau in its own step,
		// learn it does not exist.
		ctxs := map[string]codes.Code{"clerk": codes.PermissionDenied, "enterprise": codes.PermissionDenied, "street": codes.PermissionDenied,
			"admin": codes.NotFound, "bureau": codes.NotFound}
		for name, want := range ctxs {
			p := map[string]authn.Principal{"clerk": clerkAP, "enterprise": enterpriseXP, "street": streetAP, "admin": adminP, "bureau": bureauP}[name]
			t.Run(id+"/steps/"+name, func(t *testing.T) {
				var err error
				switch name {
				case "enterprise":
					_, err = w.client.SubmitHandover(w.as(p), &pb.SubmitHandoverRequest{Id: id})
				case "street":
					_, err = w.client.AllocateRetirees(w.as(p), &pb.AllocateRetireesRequest{Id: id, CommunityId: communityA, RetireeIds: []string{"aaaaaaaaaaaaaaaa"}})
				case "bureau":
					_, err = w.client.VerifyRoster(w.as(p), &pb.VerifyRosterRequest{Id: id, DocumentSha256: rosterSHA})
				default:
					_, err = w.client.CompleteHandover(w.as(p), &pb.CompleteHandoverRequest{Id: id})
				}
				wantCode(t, err, want)
			})
		}
	}
}

// TestRefusals checks every rule of the workflow with its reason, and that
// a refused step changes nothing.
func TestRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ent, clerk := w.as(enterpriseXP), w.as(clerkAP)
	mask := func(paths ...string) *fieldmaskpb.FieldMask { return &fieldmaskpb.FieldMask{Paths: paths} }
	for _, tc := range []struct {
		name   string
		setup  func() *pb.Handover
		call   func(h *pb.Handover) error
		code   codes.Code
		reason string
		// fields, for InvalidArgument and the checks' BadRequest.
		fields []string
	}{
		{"edit a submitted package", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, Etag: h.Etag, CommunityId: communityB}, UpdateMask: mask("community_id")}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"move a returned package to another community", func() *pb.Handover { return w.returned(1) }, func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, Etag: h.Etag, CommunityId: communityB}, UpdateMask: mask("communityId")}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"edit with a stale etag", fixture(w.draft, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, Etag: "r999", CommunityId: communityB}, UpdateMask: mask("communityId")}))
		}, codes.Aborted, "ETAG_MISMATCH", nil},
		{"edit without an etag", fixture(w.draft, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, CommunityId: communityB}, UpdateMask: mask("communityId")}))
		}, codes.InvalidArgument, "", []string{"etag"}},
		{"edit an output field", fixture(w.draft, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, Etag: h.Etag, State: pb.Handover_COMPLETED}, UpdateMask: mask("state", "delivery")}))
		}, codes.InvalidArgument, "", []string{"updateMask", "updateMask"}},
		{"edit with bad values", fixture(w.draft, 1), func(h *pb.Handover) error {
			_, err := w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, Etag: h.Etag,
				RetireeIds: []string{"bad", h.RetireeIds[0], h.RetireeIds[0]},
				Premises:   []*pb.Premises{{Name: " 空格", Address: "", AreaSqm: -1, Capacity: 0}}},
				UpdateMask: mask("retireeIds", "premises")})
			return err
		}, codes.InvalidArgument, "", []string{"premises[0].address", "premises[0].areaSqm", "premises[0].capacity", "premises[0].name", "retireeIds[0]", "retireeIds[2]"}},
		{"lower the amount below what was received", func() *pb.Handover {
			h := w.submitted(2)
			if _, err := w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 1500, VoucherNo: "V1", ReceivedOn: "2026-01-05"}); err != nil {
				t.Fatal(err)
			}
			r, err := w.client.ReturnHandover(clerk, &pb.ReturnHandoverRequest{Id: h.Id, Reason: "请补充档案"})
			if err != nil {
				t.Fatal(err)
			}
			return r.Handover
		}, func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: &pb.Handover{Id: h.Id, Etag: h.Etag, Funds: &pb.Funds{AmountFen: 1000}}, UpdateMask: mask("funds")}))
		}, codes.FailedPrecondition, ReasonBelowReceived, nil},
		{"submit a submitted package", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"submit with a stale etag", fixture(w.draft, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id, Etag: "r0"}))
		}, codes.Aborted, "ETAG_MISMATCH", nil},
		{"withdraw a completed package", fixture(w.completed, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.WithdrawHandover(ent, &pb.WithdrawHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"withdraw twice", fixture(w.withdrawn, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.WithdrawHandover(ent, &pb.WithdrawHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"return without a reason", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReturnHandover(clerk, &pb.ReturnHandoverRequest{Id: h.Id}))
		}, codes.InvalidArgument, "", []string{"reason"}},
		{"return a returned package", fixture(w.returned, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReturnHandover(clerk, &pb.ReturnHandoverRequest{Id: h.Id, Reason: "再次退回"}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"return a draft (admin)", fixture(w.draft, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReturnHandover(w.as(adminP), &pb.ReturnHandoverRequest{Id: h.Id, Reason: "未提交"}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"receive more than the package", w.receivedFn(2, 1500), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 501, VoucherNo: "V2", ReceivedOn: "2026-01-06"}))
		}, codes.FailedPrecondition, ReasonOverReceived, nil},
		{"receive a voucher twice", w.receivedFn(2, 500), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 500, VoucherNo: "V1", ReceivedOn: "2026-01-05"}))
		}, codes.AlreadyExists, ReasonDuplicateVoucher, nil},
		{"receive funds dated in the future", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 500, VoucherNo: "V1", ReceivedOn: time.Now().AddDate(0, 0, 3).Format(time.DateOnly)}))
		}, codes.InvalidArgument, "", []string{"receivedOn"}},
		{"receive funds without voucher or amount", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, ReceivedOn: "2026-02-30"}))
		}, codes.InvalidArgument, "", []string{"amountFen", "receivedOn", "voucherNo"}},
		{"receive funds of a returned package", fixture(w.returned, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 500, VoucherNo: "V1", ReceivedOn: "2026-01-05"}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"receive a dossier not in the package", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveArchives(clerk, &pb.ReceiveArchivesRequest{Id: h.Id, Received: []string{"aaaaaaaaaaaaaaaa", h.RetireeIds[0]}}))
		}, codes.InvalidArgument, "", []string{"received[0]"}},
		{"missing dossier without explanation", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.ReceiveArchives(clerk, &pb.ReceiveArchivesRequest{Id: h.Id, Missing: []*pb.MissingDossier{{RetireeId: h.RetireeIds[0]}}}))
		}, codes.InvalidArgument, "", []string{"missing[0].explanation"}},
		{"inspect unknown premises", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.InspectPremises(clerk, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: "P9", Accepted: true}))
		}, codes.InvalidArgument, "", []string{"premisesId"}},
		{"decline premises without notes", fixture(w.submitted, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.InspectPremises(clerk, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: "P1"}))
		}, codes.InvalidArgument, "", []string{"notes"}},
		{"complete with nothing settled", fixture(w.submitted, 2), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonIncomplete, []string{"dossiers[0]", "dossiers[1]", "funds.receivedFen", "premises[0]", "rosterVerification"}},
		{"complete with part of the funds", func() *pb.Handover {
			h := w.submitted(2)
			h = w.settleArchivesAndPremises(h)
			if _, err := w.client.ReceiveFunds(clerk, &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: 1999, VoucherNo: "V1", ReceivedOn: "2026-01-05"}); err != nil {
				t.Fatal(err)
			}
			return w.get(h.Id)
		}, func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonIncomplete, []string{"funds.receivedFen", "rosterVerification"}},
		{"complete a returned package", fixture(w.returned, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
		{"complete with a stale etag", fixture(w.ready, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id, Etag: "r1"}))
		}, codes.Aborted, "ETAG_MISMATCH", nil},
		{"complete twice", fixture(w.completed, 1), func(h *pb.Handover) error {
			return servicetest.ErrOf(w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id}))
		}, codes.FailedPrecondition, ReasonWrongState, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.setup()
			before := w.get(h.Id)
			nEvents := len(w.events(h.Id))
			err := tc.call(h)
			st := wantCode(t, err, tc.code)
			if tc.reason != "" {
				if got := reasonOf(st); got != tc.reason {
					t.Errorf("reason = %q, want %q (%s)", got, tc.reason, st.Message())
				}
			}
			if tc.fields != nil {
				want := slices.Clone(tc.fields)
				slices.Sort(want)
				if got := fieldsOf(st); !slices.Equal(got, want) {
					t.Errorf("fields = %q, want %q", got, want)
				}
			}
			after := w.get(h.Id)
			if diff := cmp.Diff(before, after, protocmp.Transform()); diff != "" {
				t.Errorf("refused step changed the handover (-before +after):\n%s", diff)
			}
			if n := len(w.events(h.Id)); n != nEvents {
				t.Errorf("refused step added %d events", n-nEvents)
			}
		})
	}
}

// fixture puts off making a package of n retirees in a state, such as
// w.submitted, to when a case runs, so that each case gets its own.
func fixture(state func(n int) *pb.Handover, n int) func() *pb.Handover {
	return func() *pb.Handover { return state(n) }
}

// receivedFn returns a setup of a submitted package of n retirees with
// amount received under voucher V1.
func (w *world) receivedFn(n int, amount int64) func() *pb.Handover {
	return func() *pb.Handover {
		h := w.submitted(n)
		resp, err := w.client.ReceiveFunds(w.as(clerkAP), &pb.ReceiveFundsRequest{Id: h.Id, AmountFen: amount, VoucherNo: "V1", ReceivedOn: "2026-01-05"})
		if err != nil {
			w.t.Fatal(err)
		}
		return resp.Handover
	}
}

// settleArchivesAndPremises receives every dossier and accepts every
// premises, leaving the funds as they are.
func (w *world) settleArchivesAndPremises(h *pb.Handover) *pb.Handover {
	w.t.Helper()
	ctx := w.as(clerkAP)
	if _, err := w.client.ReceiveArchives(ctx, &pb.ReceiveArchivesRequest{Id: h.Id, Received: h.RetireeIds}); err != nil {
		w.t.Fatal(err)
	}
	for _, pr := range h.Premises {
		if _, err := w.client.InspectPremises(ctx, &pb.InspectPremisesRequest{Id: h.Id, PremisesId: pr.Id, Accepted: true}); err != nil {
			w.t.Fatal(err)
		}
	}
	return w.get(h.Id)
}

// TestSubmitListsEveryProblem builds a package with one retiree of each
// kind that may not be handed over, and checks that the one refusal names
// them all, and nothing else.
func TestSubmitListsEveryProblem(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	fine, dead, handed := w.retireesToCheck()
	foreign := w.retirees(1, enterpriseY, registryv1.ManagementMode_ENTERPRISE)
	other := w.submitted(1) // holds its retiree
	unknown := "aaaaaaaaaaaaaaaa"
	noDossier := w.retirees(1, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	stranger := w.retirees(1, enterpriseX, registryv1.ManagementMode_ENTERPRISE)

	ids := []string{fine[0], dead[0], foreign[0], handed[0], other.RetireeIds[0], unknown, noDossier[0], fine[1]}
	pkg := packageFor(ids)
	pkg.Dossiers = slices.DeleteFunc(pkg.Dossiers, func(d *pb.Dossier) bool { return d.RetireeId == noDossier[0] })
	pkg.Dossiers = append(pkg.Dossiers, &pb.Dossier{RetireeId: stranger[0], DossierNo: "D-X", Volumes: 1})
	pkg.Funds = &pb.Funds{AmountFen: 7000, PerRetireeStandardFen: 1000}
	created, err := w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: pkg})
	if err != nil {
		t.Fatal(err)
	}
	h := created.Handover

	_, err = w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag})
	st := wantReason(t, err, codes.FailedPrecondition, ReasonChecksFailed)
	want := []string{
		"retireeIds[1]: not living",
		"retireeIds[2]: not a retiree of this enterprise",
		"retireeIds[3]: already handed over (no longer managed by the enterprise)",
		"retireeIds[4]: in handover " + other.Id,
		"retireeIds[5]: not a retiree of this enterprise",
		"dossiers[7]: the retiree is not in retireeIds",
		"dossiers: no dossier for retireeIds[6]",
		"funds.amountFen: must equal perRetireeStandardFen × 8 retirees = 8000",
	}
	if diff := cmp.Diff(want, violations(st)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
	if !strings.Contains(st.Message(), "8 problems") {
		t.Errorf("message = %q", st.Message())
	}
	if got := w.get(h.Id); got.State != pb.Handover_DRAFT || got.Etag != h.Etag {
		t.Errorf("refused submit changed the handover: %v %s", got.State, got.Etag)
	}
	claims, err := w.store.OtherClaims("", ids)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{other.RetireeIds[0]: other.Id}, claims); diff != "" {
		t.Errorf("claims after a refused submit (-want +got):\n%s", diff)
	}

	// A package for a community registry does not know, and no retirees.
	bad, err := w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: &pb.Handover{CommunityId: "210199999999"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: bad.Handover.Id})
	st = wantReason(t, err, codes.FailedPrecondition, ReasonChecksFailed)
	want = []string{"communityId: no community with this id", "retireeIds: the package lists no retirees"}
	if diff := cmp.Diff(want, violations(st)); diff != "" {
		t.Errorf("violations (-want +got):\n%s", diff)
	}
}

// TestClaims checks that a retiree is held by one open package at a time:
// from submit until withdrawal, or until its completion is delivered.
func TestClaims(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dispatch: true})
	ent := w.as(enterpriseXP)
	first := w.submitted(2)
	second, err := w.client.CreateHandover(ent, &pb.CreateHandoverRequest{Handover: packageFor(first.RetireeIds)})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: second.Handover.Id})
	st := wantReason(t, err, codes.FailedPrecondition, ReasonChecksFailed)
	if got := fieldsOf(st); !slices.Equal(got, []string{"retireeIds[0]", "retireeIds[1]"}) {
		t.Errorf("fields = %q", got)
	}

	// Returned and edited: the retiree taken out is free at once.
	ret, err := w.client.ReturnHandover(w.as(clerkAP), &pb.ReturnHandoverRequest{Id: first.Id, Reason: "人员有误"})
	if err != nil {
		t.Fatal(err)
	}
	one := packageFor(first.RetireeIds[:1])
	one.Id, one.Etag = first.Id, ret.Handover.Etag
	if _, err := w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: one, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"retireeIds", "dossiers", "funds"}}}); err != nil {
		t.Fatal(err)
	}
	_, err = w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: second.Handover.Id})
	st = wantReason(t, err, codes.FailedPrecondition, ReasonChecksFailed)
	if diff := cmp.Diff([]string{"retireeIds[0]: in handover " + first.Id}, violations(st)); diff != "" {
		t.Errorf("after the edit (-want +got):\n%s", diff)
	}

	// Withdrawn: free.
	if _, err := w.client.WithdrawHandover(ent, &pb.WithdrawHandoverRequest{Id: first.Id}); err != nil {
		t.Fatal(err)
	}
	sub, err := w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: second.Handover.Id})
	if err != nil {
		t.Fatalf("submit after withdrawal: %v", err)
	}

	// Completed and delivered: the claims go, and registry's own answer
	// takes over.
	h := w.settle(sub.Handover)
	if _, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id}); err != nil {
		t.Fatal(err)
	}
	w.waitDelivered(h.Id)
	claims, err := w.store.OtherClaims("", h.RetireeIds)
	if err != nil || len(claims) != 0 {
		t.Errorf("claims after delivery: %v %v", claims, err)
	}
	third, err := w.client.CreateHandover(ent, &pb.CreateHandoverRequest{Handover: packageFor(h.RetireeIds[:1])})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: third.Handover.Id})
	st = wantReason(t, err, codes.FailedPrecondition, ReasonChecksFailed)
	if diff := cmp.Diff([]string{"retireeIds[0]: already handed over (no longer managed by the enterprise)"}, violations(st)); diff != "" {
		t.Errorf("after delivery (-want +got):\n%s", diff)
	}
}

// TestSubmitWithRegistryDown checks that a submit that cannot reach
// registry is Unavailable and changes nothing.
func TestSubmitWithRegistryDown(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h := w.draft(2)
	w.reg.Stop()
	_, err := w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id})
	wantCode(t, err, codes.Unavailable)
	w.reg.Start()
	got := w.get(h.Id)
	if got.State != pb.Handover_DRAFT || got.Etag != h.Etag {
		t.Errorf("after a failed submit: %v %s", got.State, got.Etag)
	}
	if n := len(w.events(h.Id)); n != 1 {
		t.Errorf("%d events, want only CREATED", n)
	}
	claims, err := w.store.OtherClaims("", h.RetireeIds)
	if err != nil || len(claims) != 0 {
		t.Errorf("claims: %v %v", claims, err)
	}
}

// TestEventsCarryTheRequestID: a step on the timeline names the request
// that took it, as the other services' audit records do.
func TestEventsCarryTheRequestID(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := w.retirees(1, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	ctx := metadata.AppendToOutgoingContext(w.as(enterpriseXP), requestid.Key, "01HV6R8Z4N2J5K7M9P3Q1S0T7F")
	created, err := w.client.CreateHandover(ctx, &pb.CreateHandoverRequest{Handover: packageFor(ids)})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := w.client.ListHandoverEvents(w.as(enterpriseXP), &pb.ListHandoverEventsRequest{Id: created.Handover.Id})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Events) != 1 || resp.Events[0].RequestId != "01HV6R8Z4N2J5K7M9P3Q1S0T7F" {
		t.Errorf("events = %v, want one CREATED with request id 01HV6R8Z4N2J5K7M9P3Q1S0T7F", resp.Events)
	}
}
