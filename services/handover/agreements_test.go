package handover

import (
	"errors"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// communityD is a third community of street office A-B, created by the
// agreement tests.
const communityD = "210102001003"

// The clerks of the three communities of an agreement.
var clerkDP = servicetest.Clerk("clerk-d", communityD)

// agreementFor is an agreement of enterprise X with street office A-B for
// ids: no community named, a plan, a dossier each, one premises, no
// funds (the region asks none).
func agreementFor(ids []string) *pb.Handover {
	h := packageFor(ids)
	h.CommunityId, h.ReceiverCode, h.Funds, h.Obligations = "", servicetest.StreetAB, nil, nil
	h.Plan = &pb.HandoverPlan{
		Retirees: int32(len(ids)), ArchiveVolumes: int32(2 * len(ids)), Assets: "活动室一处",
		StartOn: "2026-11-01", FinishBy: "2026-12-31", EmergencyPlanRef: "应急预案〔2026〕7号", AgreementNo: "和北移字〔2026〕12号",
	}
	return h
}

// submittedAgreement creates community D in registry and submits an
// agreement of 3n retirees of enterprise X with street office A-B.
func (w *world) submittedAgreement(n int) *pb.Handover {
	w.t.Helper()
	_, err := w.registry.CreateCommunity(w.as(adminP), &registryv1.CreateCommunityRequest{Community: &registryv1.Community{
		Id: communityD, Name: "西塔社区", District: "和平区", Street: "北市场街道", Kind: registryv1.CommunityKind_BLOCK, Households: 1500,
	}})
	if err != nil && status.Code(err) != codes.AlreadyExists {
		w.t.Fatal(err)
	}
	ids := w.retirees(3*n, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	h := w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: agreementFor(ids)}))
	return w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
}

// allocateThree has the street supervisor allocate the retirees of h in
// thirds to communities A, B and D.
func (w *world) allocateThree(h *pb.Handover) *pb.Handover {
	w.t.Helper()
	third := len(h.RetireeIds) / 3
	for i, c := range []string{communityA, communityB, communityD} {
		h = w.handover(w.client.AllocateRetirees(w.as(streetAP), &pb.AllocateRetireesRequest{
			Id: h.Id, Etag: h.Etag, CommunityId: c, RetireeIds: h.RetireeIds[i*third : (i+1)*third],
		}))
	}
	return h
}

// readyAgreement is an agreement of 3n retirees allocated to three
// communities with every track settled, by its own receiver each.
func (w *world) readyAgreement(n int) *pb.Handover {
	w.t.Helper()
	h := w.allocateThree(w.submittedAgreement(n))
	h = w.handover(w.client.ReceiveArchives(w.as(archivistAP), &pb.ReceiveArchivesRequest{Id: h.Id, Etag: h.Etag, Received: h.RetireeIds}))
	h = w.handover(w.client.InspectPremises(w.as(streetAP), &pb.InspectPremisesRequest{
		Id: h.Id, Etag: h.Etag, PremisesId: "P1", Accepted: true, GroupApprovalRef: "集团批复〔2026〕3号", CommunityId: communityD,
	}))
	return w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, Etag: h.Etag, DocumentSha256: rosterSHA}))
}

// trackStates is h's tracks as kind → state.
func trackStates(h *pb.Handover) map[pb.Track_Kind]pb.Track_State {
	out := map[pb.Track_Kind]pb.Track_State{}
	for _, t := range h.Tracks {
		out[t.Kind] = t.State
	}
	return out
}

func wantTrack(t *testing.T, h *pb.Handover, kind pb.Track_Kind, want pb.Track_State) {
	t.Helper()
	if got := trackStates(h)[kind]; got != want {
		t.Errorf("track %v is %v, want %v (tracks %v)", kind, got, want, h.Tracks)
	}
}

// TestAgreementAllocatedToThreeCommunities is one agreement with a street
// office allocated to three communities: each clerk sees only its part,
// the tracks complete independently, and registry shows every retiree
// community-managed in its own community only after completion.
func TestAgreementAllocatedToThreeCommunities(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dispatch: true})
	h := w.submittedAgreement(3)
	if h.ReceiverCode != servicetest.StreetAB || h.Kind != pb.Handover_AGREEMENT || len(h.Allocations) != 0 {
		t.Fatalf("submitted agreement: receiver %q kind %v allocations %v", h.ReceiverCode, h.Kind, h.Allocations)
	}
	// Before allocation no clerk has a part.
	wantCode(t, servicetest.ErrOf(w.client.GetHandover(w.as(clerkAP), &pb.GetHandoverRequest{Id: h.Id})), codes.PermissionDenied)
	// Another street's supervisor learns nothing, not even whether a
	// community exists.
	_, err := w.client.AllocateRetirees(w.as(streetCP), &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: "210102001099", RetireeIds: h.RetireeIds[:1]})
	wantCode(t, err, codes.PermissionDenied)
	// Only communities of the receiving unit, and only the package's retirees.
	_, err = w.client.AllocateRetirees(w.as(streetAP), &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: servicetest.CommunityC, RetireeIds: h.RetireeIds[:1]})
	wantFields(t, err, "communityId")
	_, err = w.client.AllocateRetirees(w.as(streetAP), &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: communityA, RetireeIds: []string{"zzzzzzzzzzzzzzzz"}})
	wantFields(t, err, "retireeIds[0]")
	_, err = w.client.CompleteHandover(w.as(streetAP), &pb.CompleteHandoverRequest{Id: h.Id})
	fields := fieldsOf(wantReason(t, err, codes.FailedPrecondition, ReasonIncomplete))
	for _, f := range []string{"rosterVerification", "allocations", "dossiers[8]", "premises[0]"} {
		if !slices.Contains(fields, f) {
			t.Errorf("completion refused for %v, not naming %s", fields, f)
		}
	}

	h = w.allocateThree(h)
	all := h.RetireeIds
	for i, clerk := range []struct {
		name string
		ctx  func() *pb.Handover
	}{
		{"A", func() *pb.Handover {
			return w.handover(w.client.GetHandover(w.as(clerkAP), &pb.GetHandoverRequest{Id: h.Id}))
		}},
		{"B", func() *pb.Handover {
			return w.handover(w.client.GetHandover(w.as(clerkBP), &pb.GetHandoverRequest{Id: h.Id}))
		}},
		{"D", func() *pb.Handover {
			return w.handover(w.client.GetHandover(w.as(clerkDP), &pb.GetHandoverRequest{Id: h.Id}))
		}},
	} {
		part := clerk.ctx()
		if want := all[i*3 : i*3+3]; !slices.Equal(part.RetireeIds, want) || len(part.Dossiers) != 3 || len(part.Allocations) != 1 {
			t.Errorf("clerk %s sees retirees %v (want %v), %d dossiers, allocations %v", clerk.name, part.RetireeIds, want, len(part.Dossiers), part.Allocations)
		}
	}
	list, err := w.client.ListHandovers(w.as(clerkBP), &pb.ListHandoversRequest{})
	if err != nil || len(list.Handovers) != 1 || len(list.Handovers[0].RetireeIds) != 3 {
		t.Fatalf("clerk B's list: %v %v", list, err)
	}
	// A clerk with a part does not act for the street office.
	wantCode(t, servicetest.ErrOf(w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id})), codes.PermissionDenied)
	wantCode(t, servicetest.ErrOf(w.client.InspectPremises(w.as(clerkAP), &pb.InspectPremisesRequest{Id: h.Id, PremisesId: "P1", Accepted: true})), codes.PermissionDenied)

	// Each track completes on its own, by its own receiver.
	wantTrack(t, h, pb.Track_FUNDS, pb.Track_NOT_APPLICABLE)
	wantTrack(t, h, pb.Track_PARTY, pb.Track_NOT_APPLICABLE)
	h = w.handover(w.client.ReceiveArchives(w.as(archivistAP), &pb.ReceiveArchivesRequest{Id: h.Id, Etag: h.Etag, Received: all}))
	wantTrack(t, h, pb.Track_ARCHIVES, pb.Track_COMPLETED)
	wantTrack(t, h, pb.Track_PREMISES, pb.Track_OPEN)
	wantTrack(t, h, pb.Track_SOCIAL_INSURANCE, pb.Track_OPEN)
	_, err = w.client.InspectPremises(w.as(streetAP), &pb.InspectPremisesRequest{Id: h.Id, PremisesId: "P1", Accepted: true})
	wantFields(t, err, "communityId", "groupApprovalRef")
	h = w.handover(w.client.InspectPremises(w.as(streetAP), &pb.InspectPremisesRequest{
		Id: h.Id, Etag: h.Etag, PremisesId: "P1", Accepted: true, GroupApprovalRef: "集团批复〔2026〕3号", CommunityId: communityD,
	}))
	wantTrack(t, h, pb.Track_PREMISES, pb.Track_COMPLETED)
	wantTrack(t, h, pb.Track_SOCIAL_INSURANCE, pb.Track_OPEN)
	_, err = w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, DocumentSha256: "not a hash"})
	wantFields(t, err, "documentSha256")
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, Etag: h.Etag, DocumentSha256: rosterSHA}))
	for _, tr := range h.Tracks {
		if tr.State == pb.Track_COMPLETED && (tr.CompletedBy == "" || tr.CompleteTime == nil) {
			t.Errorf("completed track without who and when: %v", tr)
		}
	}
	if by := h.Tracks[1].CompletedBy; by != archivistAP.Subject {
		t.Errorf("archives track completed by %q, want the archivist", by)
	}

	// Nothing reaches registry before completion.
	if n := len(w.assignedEntries(all)); n != 0 {
		t.Fatalf("%d retirees assigned before completion", n)
	}
	h = w.handover(w.client.CompleteHandover(w.as(streetAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))
	if h.Delivery.GetCommands() != 4 {
		t.Errorf("commands = %d, want an assignment per community and a venue", h.Delivery.GetCommands())
	}
	h = w.waitDelivered(h.Id)
	w.wantHandedOverTo(communityA, all[0:3])
	w.wantHandedOverTo(communityB, all[3:6])
	w.wantHandedOverTo(communityD, all[6:9])
	if vs, _ := w.act.fake.snapshot(); len(vs) != 1 || vs[0].CommunityId != communityD {
		t.Errorf("venues %v, want one in community D", vs)
	}
	var actions []string
	for _, e := range w.events(h.Id) {
		actions = append(actions, e.Action)
	}
	for _, want := range []string{actionAllocated, actionArchivesReceived, actionPremisesInspected, actionRosterVerified, actionCompleted} {
		if !slices.Contains(actions, want) {
			t.Errorf("timeline %v lacks %s", actions, want)
		}
	}
	// A clerk with a part reads the steps of the whole package, not those
	// naming the other parts.
	ev, err := w.client.ListHandoverEvents(w.as(clerkAP), &pb.ListHandoverEventsRequest{Id: h.Id})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ev.Events {
		if !wholePackageSteps[e.Action] {
			t.Errorf("clerk A reads the step %s: %s", e.Action, e.Detail)
		}
	}
	if len(ev.Events) == 0 {
		t.Error("clerk A reads no step at all")
	}
	// Whoever may read no party transfer learns nothing of them.
	arch := w.handover(w.client.GetHandover(w.as(archivistAP), &pb.GetHandoverRequest{Id: h.Id}))
	if _, ok := trackStates(arch)[pb.Track_PARTY]; ok || !arch.PartyWithheld {
		t.Errorf("the archivist reads the PARTY track %v, partyWithheld %v", arch.Tracks, arch.PartyWithheld)
	}
	if _, ok := trackStates(w.get(h.Id))[pb.Track_PARTY]; !ok {
		t.Error("admin does not read the PARTY track")
	}
}

// TestAgreementReaders: the supervisors read the agreements their unit
// or a unit under it receives, the archivist those of its district.
func TestAgreementReaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h := w.submittedAgreement(1)
	for _, tc := range []struct {
		name string
		ctx  func() (*pb.ListHandoversResponse, error)
		want int
	}{
		{"street", func() (*pb.ListHandoversResponse, error) {
			return w.client.ListHandovers(w.as(streetAP), &pb.ListHandoversRequest{})
		}, 1},
		{"district", func() (*pb.ListHandoversResponse, error) {
			return w.client.ListHandovers(w.as(districtAP), &pb.ListHandoversRequest{})
		}, 1},
		{"archivist", func() (*pb.ListHandoversResponse, error) {
			return w.client.ListHandovers(w.as(archivistAP), &pb.ListHandoversRequest{})
		}, 1},
		{"street elsewhere", func() (*pb.ListHandoversResponse, error) {
			return w.client.ListHandovers(w.as(streetCP), &pb.ListHandoversRequest{})
		}, 0},
		{"archivist elsewhere", func() (*pb.ListHandoversResponse, error) {
			return w.client.ListHandovers(w.as(archivistCP), &pb.ListHandoversRequest{})
		}, 0},
		{"clerk without a part", func() (*pb.ListHandoversResponse, error) {
			return w.client.ListHandovers(w.as(clerkAP), &pb.ListHandoversRequest{})
		}, 0},
	} {
		resp, err := tc.ctx()
		if err != nil || len(resp.Handovers) != tc.want {
			t.Errorf("%s lists %v (%v), want %d", tc.name, resp, err, tc.want)
		}
	}
	wantCode(t, servicetest.ErrOf(w.client.GetHandover(w.as(archivistCP), &pb.GetHandoverRequest{Id: h.Id})), codes.PermissionDenied)
}

// TestFundsRule: funds are required only where the region's rule asks,
// and typed items must add up to the amount.
func TestFundsRule(t *testing.T) {
	h := newDraft(agreementFor([]string{"aaaaaaaaaaaaaaaa"}))
	if v := fundsViolations(h, nil); len(v) != 0 {
		t.Errorf("no rule, no funds: %v", v)
	}
	if v := fundsViolations(h, FundsRule{"2101"}); len(v) != 1 || v[0].Field != "funds.amountFen" {
		t.Errorf("Shenyang's rule, no funds: %v", v)
	}
	if v := fundsViolations(h, FundsRule{"11"}); len(v) != 0 {
		t.Errorf("another region's rule: %v", v)
	}
	h.Funds = &pb.Funds{AmountFen: 3000, Items: []*pb.FundsItem{
		{Kind: pb.FundsItem_SERVICE_FEES, AmountFen: 1000}, {Kind: pb.FundsItem_PENSION_OUTSIDE_POOLING, AmountFen: 1500},
	}}
	if v := fundsViolations(h, FundsRule{"2101"}); len(v) != 1 || v[0].Field != "funds.items" {
		t.Errorf("items that do not add up: %v", v)
	}
	h.Funds.Items[1].AmountFen = 2000
	if v := fundsViolations(h, FundsRule{"2101"}); len(v) != 0 {
		t.Errorf("items that add up: %v", v)
	}
	monthly := newDraft(agreementFor([]string{"aaaaaaaaaaaaaaaa"}))
	monthly.Kind, monthly.Premises = pb.Handover_MONTHLY_NEW_RETIREES, nil
	if v := fundsViolations(monthly, FundsRule{"2101"}); len(v) != 0 {
		t.Errorf("the month's new retirees carry no funds: %v", v)
	}
}

// TestAgreementCreation: a receiving unit or a community is required, a
// community must be within the unit, and the month's new retirees come
// without premises or funds.
func TestAgreementCreation(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   func(h *pb.Handover)
		fields []string
	}{
		{"valid", func(*pb.Handover) {}, nil},
		{"no receiver", func(h *pb.Handover) { h.ReceiverCode = "" }, []string{"receiverCode"}},
		{"not a unit", func(h *pb.Handover) { h.ReceiverCode = "2101020" }, []string{"receiverCode"}},
		{"community outside", func(h *pb.Handover) { h.CommunityId = servicetest.CommunityC }, []string{"communityId"}},
		{"plan", func(h *pb.Handover) {
			h.Plan.PartyMembers, h.Plan.FinishBy = h.Plan.Retirees+1, "2026-10-01"
		}, []string{"plan.finishBy", "plan.partyMembers"}},
		{"monthly with premises and funds", func(h *pb.Handover) {
			h.Kind, h.Funds = pb.Handover_MONTHLY_NEW_RETIREES, &pb.Funds{AmountFen: 1}
		}, []string{"funds", "premises"}},
		{"funds item", func(h *pb.Handover) {
			h.Funds = &pb.Funds{AmountFen: 1, Items: []*pb.FundsItem{{Kind: pb.FundsItem_OTHER, AmountFen: 1}}}
		}, []string{"funds.items[0].description"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := agreementFor([]string{"aaaaaaaaaaaaaaaa"})
			tc.edit(h)
			got := violatedFields(t, checkNewHandover(h))
			slices.Sort(got)
			if !slices.Equal(got, tc.fields) {
				t.Errorf("fields %v, want %v", got, tc.fields)
			}
		})
	}
}

// TestAllocate: allocation moves retirees between parts and drops the
// parts left empty; settleAllocations keeps them in step with the
// package and gives a one-community package everything left.
func TestAllocate(t *testing.T) {
	h := &pb.Handover{RetireeIds: []string{"a", "b", "c", "d"}, ReceiverCode: servicetest.StreetAB}
	allocate(h, communityB, []string{"a", "b"})
	allocate(h, communityA, []string{"c"})
	allocate(h, communityA, []string{"a", "b"})
	if len(h.Allocations) != 1 || h.Allocations[0].CommunityId != communityA || len(h.Allocations[0].RetireeIds) != 3 {
		t.Fatalf("allocations %v", h.Allocations)
	}
	if n := unallocated(h); n != 1 {
		t.Errorf("unallocated %d, want 1", n)
	}
	h.RetireeIds = []string{"a", "d", "e"}
	h.CommunityId = communityB
	settleAllocations(h)
	if of := retireeCommunities(h); of["a"] != communityA || of["d"] != communityB || of["e"] != communityB || of["c"] != "" {
		t.Errorf("after settling: %v", h.Allocations)
	}
}

// TestPlanCountsAtSubmit: the plan's counts of retirees and party members,
// when given, are the package's.
func TestPlanCountsAtSubmit(t *testing.T) {
	h := newDraft(agreementFor([]string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"}))
	h.Plan.PartyMembers = 1
	fields := func() []string {
		var out []string
		for _, v := range localSubmitViolations(h, nil) {
			out = append(out, v.Field)
		}
		return out
	}
	if got := fields(); !slices.Equal(got, []string{"plan.partyMembers"}) {
		t.Errorf("one party member planned, none declared: %v", got)
	}
	h.PartyTransfers = []*pb.PartyTransfer{{RetireeId: "aaaaaaaaaaaaaaaa"}}
	h.Plan.Retirees = 3
	if got := fields(); !slices.Equal(got, []string{"plan.retirees"}) {
		t.Errorf("three retirees planned, two listed: %v", got)
	}
}

// TestReturnedPackageKeepsWhatWasReceived: a returned package may be
// edited, but the bureau verifies the roster it submits next, and what
// the receiving side recorded is not orphaned nor forged.
func TestReturnedPackageKeepsWhatWasReceived(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h := w.submitted(2)
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, Etag: h.Etag, DocumentSha256: rosterSHA}))
	h = w.handover(w.client.ReturnHandover(w.as(clerkAP), &pb.ReturnHandoverRequest{Id: h.Id, Etag: h.Etag, Reason: "花名册有误"}))
	if h.RosterVerification != nil {
		t.Errorf("a returned package keeps the roster verification %v", h.RosterVerification)
	}
	wantTrack(t, h, pb.Track_SOCIAL_INSURANCE, pb.Track_OPEN)

	// Receipts are the receiver's to record, never the enterprise's.
	extra := w.retirees(1, enterpriseX, registryv1.ManagementMode_ENTERPRISE)[0]
	forged := &pb.Dossier{DossierNo: "D-99999", Volumes: 1, Checklist: fullChecklist(), State: pb.Dossier_RECEIVED,
		ReceivedBy: "forged", ArchiveFileId: "Fforged", MissingMaterials: []*pb.MissingMaterial{{Category: pb.ArchiveCategory_RESUME, Explanation: "已说明"}}}
	_, err := w.client.BatchAddRetirees(w.as(enterpriseXP), &pb.BatchAddRetireesRequest{Id: h.Id, Etag: h.Etag,
		Retirees: []*pb.BatchRetiree{{RetireeId: extra, Dossier: forged}}})
	if err != nil {
		t.Fatal(err)
	}
	got := w.get(h.Id)
	d := got.Dossiers[len(got.Dossiers)-1]
	if d.State != pb.Dossier_PENDING || d.ReceivedBy != "" || d.ArchiveFileId != "" || len(d.MissingMaterials) != 0 {
		t.Errorf("a batch-added dossier keeps receipt fields: %v", d)
	}
}

// TestLeavingRefusedWhileReceived: retirees leave a returned package
// with their pending party transfers, but not while a transfer has a
// recorded stage or their dossier is a file in custody.
func TestLeavingRefusedWhileReceived(t *testing.T) {
	base := func() *pb.Handover {
		return &pb.Handover{
			State:      pb.Handover_RETURNED,
			RetireeIds: []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"},
			Dossiers: []*pb.Dossier{
				{RetireeId: "aaaaaaaaaaaaaaaa"}, {RetireeId: "bbbbbbbbbbbbbbbb"}, {RetireeId: "cccccccccccccccc", ArchiveFileId: "F1"},
			},
			PartyTransfers: []*pb.PartyTransfer{
				{RetireeId: "aaaaaaaaaaaaaaaa", State: pb.PartyTransfer_PENDING}, {RetireeId: "bbbbbbbbbbbbbbbb", State: pb.PartyTransfer_SENT},
			},
		}
	}
	h := base()
	if _, err := removeRetirees(h, []string{"aaaaaaaaaaaaaaaa"}); err != nil {
		t.Fatal(err)
	}
	if len(h.PartyTransfers) != 1 || h.PartyTransfers[0].RetireeId != "bbbbbbbbbbbbbbbb" {
		t.Errorf("the pending transfer stays after its retiree left: %v", h.PartyTransfers)
	}
	for _, id := range []string{"bbbbbbbbbbbbbbbb", "cccccccccccccccc"} {
		h := base()
		var rule *fault.RuleError
		if _, err := removeRetirees(h, []string{id}); !errors.As(err, &rule) {
			t.Errorf("removing %s: err = %v, want a rule refusal", id, err)
		}
	}
}

// TestAllocateMissingHandover: only admin learns that a handover to
// allocate does not exist.
func TestAllocateMissingHandover(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	req := &pb.AllocateRetireesRequest{Id: "H0000000000000000", CommunityId: "210102001099", RetireeIds: []string{"aaaaaaaaaaaaaaaa"}}
	wantCode(t, servicetest.ErrOf(w.client.AllocateRetirees(w.as(streetAP), req)), codes.PermissionDenied)
	wantCode(t, servicetest.ErrOf(w.client.AllocateRetirees(w.as(adminP), req)), codes.NotFound)
}
