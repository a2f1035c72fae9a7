package handover

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// transfersSeen returns the retirees of the party transfers of h, and
// whether any were withheld.
func transfersSeen(h *pb.Handover) ([]string, bool) {
	var ids []string
	for _, t := range h.PartyTransfers {
		ids = append(ids, t.RetireeId)
	}
	return ids, h.PartyWithheld
}

// wantSeen checks which transfers an answer to who carries.
func wantSeen(t *testing.T, who, where string, h *pb.Handover, want []string, withheld bool) {
	t.Helper()
	got, gotWithheld := transfersSeen(h)
	if !slices.Equal(got, want) || gotWithheld != withheld {
		t.Errorf("%s's %s carries transfers %v (withheld %v), want %v (withheld %v)", who, where, got, gotWithheld, want, withheld)
	}
}

// listed returns h as ListHandovers answers p, failing when it is not
// listed.
func (w *world) listed(p authn.Principal, id string) *pb.Handover {
	w.t.Helper()
	resp, err := w.client.ListHandovers(w.as(p), &pb.ListHandoversRequest{PageSize: 100})
	if err != nil {
		w.t.Fatalf("ListHandovers as %s: %v", p.Subject, err)
	}
	for _, h := range resp.Handovers {
		if h.Id == id {
			return h
		}
	}
	w.t.Fatalf("ListHandovers as %s: %s not listed", p.Subject, id)
	return nil
}

// checkPartyViews checks, for Get and List, who reads which transfers of
// h: admin, bureau and the receiving street's and district's supervisors
// every one, the receiving clerk those going to its community (or not
// sent yet), the enterprise and the district's archivist none.
func checkPartyViews(t *testing.T, w *world, id string, all, clerks []string) {
	t.Helper()
	for _, p := range []authn.Principal{adminP, bureauP, streetAP, districtAP, clerkAP, enterpriseXP, archivistAP} {
		want, withheld := all, false
		switch p.Role {
		case authn.RoleClerk:
			want, withheld = clerks, len(clerks) < len(all)
		case authn.RoleEnterprise, authn.RoleArchivist:
			want, withheld = nil, true
		}
		wantSeen(t, p.Subject, "GetHandover", w.handover(w.client.GetHandover(w.as(p), &pb.GetHandoverRequest{Id: id})), want, withheld)
		wantSeen(t, p.Subject, "ListHandovers", w.listed(p, id), want, withheld)
	}
	for _, p := range []authn.Principal{clerkBP, streetCP, districtCP} {
		_, err := w.client.GetHandover(w.as(p), &pb.GetHandoverRequest{Id: id})
		wantCode(t, err, codes.PermissionDenied)
	}
}

// TestPartyTransfersWorkflow follows the party members of one package:
// declared by the enterprise, which does not read them back, sent to the
// community's and to the street's party organisation, received and
// confirmed in order; the package completes only when every transfer is
// confirmed; the timeline names no member; the report counts them.
func TestPartyTransfersWorkflow(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	h := w.draft(3)
	members := h.RetireeIds[:2]
	ent := w.as(enterpriseXP)

	_, err := w.client.SetPartyMembers(ent, &pb.SetPartyMembersRequest{Id: h.Id, Members: []*pb.PartyMember{{RetireeId: "bbbbbbbbbbbbbbbb", FromOrganisation: "一支部"}}})
	wantFields(t, err, "members[0].retireeId")
	h = w.handover(w.client.SetPartyMembers(ent, &pb.SetPartyMembersRequest{Id: h.Id, Etag: h.Etag, Members: []*pb.PartyMember{
		{RetireeId: members[0], FromOrganisation: "机械厂离退休第一党支部"}, {RetireeId: members[1], FromOrganisation: "机械厂离退休第二党支部"},
	}}))
	wantSeen(t, "enterprise", "SetPartyMembers", h, nil, true)
	wantSeen(t, "admin", "GetHandover of the draft", w.get(h.Id), members, false)

	h = w.handover(w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
	wantSeen(t, "enterprise", "SubmitHandover", h, nil, true)
	checkPartyViews(t, w, h.Id, members, members)
	wantReport(t, w, bureauP, pb.ReportPartyTransfersRequest_STREET, reportRow(h.CommunityId[:9], 2, 0))

	clerk, street := w.as(clerkAP), w.as(streetAP)
	sent := func(ctx context.Context, id string, level pb.PartyTransfer_ReceivingLevel, to string) *pb.Handover {
		return w.handover(w.client.RecordPartyTransfer(ctx, &pb.RecordPartyTransferRequest{Id: h.Id, RetireeId: id, Stage: pb.PartyTransfer_SENT,
			Date: "2026-01-05", IntroductionLetterNo: "沈机党介字〔2026〕1号", ToOrganisation: to, ReceivingLevel: level}))
	}
	h = sent(clerk, members[0], pb.PartyTransfer_COMMUNITY, "北市场社区党委")
	wantSeen(t, "clerk", "RecordPartyTransfer", h, members, false)
	h = sent(street, members[1], pb.PartyTransfer_STREET, "北市场街道党工委")
	wantSeen(t, "street", "RecordPartyTransfer", h, members, false)
	// Sent to the street's organisation, the second transfer leaves the
	// clerk's view.
	checkPartyViews(t, w, h.Id, members, members[:1])

	stage := func(ctx context.Context, id string, s pb.PartyTransfer_State, date string) (*pb.RecordPartyTransferResponse, error) {
		return w.client.RecordPartyTransfer(ctx, &pb.RecordPartyTransferRequest{Id: h.Id, RetireeId: id, Stage: s, Date: date})
	}
	tomorrow := dateIn(time.Now().Add(24 * time.Hour))
	_, err = stage(clerk, members[0], pb.PartyTransfer_RECEIVED, tomorrow)
	wantFields(t, err, "date")
	_, err = stage(clerk, members[0], pb.PartyTransfer_RECEIVED, "2026-01-04")
	wantFields(t, err, "date")
	_, err = stage(clerk, members[0], pb.PartyTransfer_CONFIRMED, "2026-01-06")
	wantReason(t, err, codes.FailedPrecondition, ReasonPartyStageOrder)
	_, err = stage(clerk, members[1], pb.PartyTransfer_RECEIVED, "2026-01-06")
	wantCode(t, err, codes.PermissionDenied)

	h = w.settle(w.get(h.Id))
	_, err = w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id})
	if st := wantReason(t, err, codes.FailedPrecondition, ReasonIncomplete); !slices.Equal(fieldsOf(st), []string{"tracks.PARTY"}) {
		t.Errorf("completing with transfers open: %v", violations(st))
	}
	for _, s := range []struct {
		ctx   context.Context
		id    string
		stage pb.PartyTransfer_State
		date  string
	}{
		{clerk, members[0], pb.PartyTransfer_RECEIVED, "2026-01-06"},
		{clerk, members[0], pb.PartyTransfer_CONFIRMED, "2026-01-08"},
		{street, members[1], pb.PartyTransfer_RECEIVED, "2026-01-05"},
	} {
		if _, err := stage(s.ctx, s.id, s.stage, s.date); err != nil {
			t.Fatalf("%s of %s: %v", s.stage, s.id, err)
		}
	}
	wantReport(t, w, bureauP, pb.ReportPartyTransfersRequest_ENTERPRISE, reportRow(enterpriseX, 2, 1))
	if _, err := stage(street, members[1], pb.PartyTransfer_CONFIRMED, "2026-01-09"); err != nil {
		t.Fatal(err)
	}
	h = w.handover(w.client.CompleteHandover(clerk, &pb.CompleteHandoverRequest{Id: h.Id}))
	wantSeen(t, "clerk", "CompleteHandover", h, members[:1], true)
	checkPartyViews(t, w, h.Id, members, members[:1])
	wantReport(t, w, streetAP, pb.ReportPartyTransfersRequest_STREET, reportRow(h.CommunityId[:9], 2, 2))
	wantReport(t, w, streetCP, pb.ReportPartyTransfersRequest_STREET)
	checkPartyTimeline(t, w, h.Id, members)
}

// checkPartyTimeline checks that the party steps are on the timeline by
// counts, and that no step names a party member.
func checkPartyTimeline(t *testing.T, w *world, id string, members []string) {
	t.Helper()
	var actions []string
	for _, e := range w.events(id) {
		if strings.HasPrefix(e.Action, "PARTY_") {
			actions = append(actions, e.Action+": "+e.Detail)
		}
		for _, m := range members {
			if strings.Contains(e.Detail, m) {
				t.Errorf("event %d (%s) names a party member: %s", e.Sequence, e.Action, e.Detail)
			}
		}
	}
	want := []string{
		"PARTY_MEMBERS_SET: 2 party members declared, 0 taken off; 2 in all",
		"PARTY_TRANSFER_RECORDED: a party membership transfer SENT; of 2 transfers 1 pending, 1 sent, 0 received, 0 confirmed",
		"PARTY_TRANSFER_RECORDED: a party membership transfer SENT; of 2 transfers 0 pending, 2 sent, 0 received, 0 confirmed",
		"PARTY_TRANSFER_RECORDED: a party membership transfer RECEIVED; of 2 transfers 0 pending, 1 sent, 1 received, 0 confirmed",
		"PARTY_TRANSFER_RECORDED: a party membership transfer CONFIRMED; of 2 transfers 0 pending, 1 sent, 0 received, 1 confirmed",
		"PARTY_TRANSFER_RECORDED: a party membership transfer RECEIVED; of 2 transfers 0 pending, 0 sent, 1 received, 1 confirmed",
		"PARTY_TRANSFER_RECORDED: a party membership transfer CONFIRMED; of 2 transfers 0 pending, 0 sent, 0 received, 2 confirmed",
	}
	if diff := cmp.Diff(want, actions); diff != "" {
		t.Errorf("party steps on the timeline (-want +got):\n%s", diff)
	}
}

func reportRow(key string, transfers, confirmed int64) *pb.PartyTransferReportRow {
	return &pb.PartyTransferReportRow{Key: key, Transfers: transfers, Confirmed: confirmed, RatePermille: confirmed * 1000 / transfers}
}

// wantReport checks the whole report as p reads it.
func wantReport(t *testing.T, w *world, p authn.Principal, by pb.ReportPartyTransfersRequest_GroupBy, want ...*pb.PartyTransferReportRow) {
	t.Helper()
	resp, err := w.client.ReportPartyTransfers(w.as(p), &pb.ReportPartyTransfersRequest{GroupBy: by})
	if err != nil {
		t.Fatalf("ReportPartyTransfers as %s: %v", p.Subject, err)
	}
	if resp.NextPageToken != "" {
		t.Errorf("the report goes on after %v", resp.Rows)
	}
	if diff := cmp.Diff(want, resp.Rows, protocmp.Transform(), cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("report by %s as %s (-want +got):\n%s", by, p.Subject, diff)
	}
}

// TestPartyReportRequests: the report needs its grouping, pages by its
// token, and is no one else's business.
func TestPartyReportRequests(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	_, err := w.client.ReportPartyTransfers(w.as(bureauP), &pb.ReportPartyTransfersRequest{})
	wantFields(t, err, "groupBy")
	for _, p := range []authn.Principal{clerkAP, enterpriseXP, archivistAP, serviceP} {
		_, err := w.client.ReportPartyTransfers(w.as(p), &pb.ReportPartyTransfersRequest{GroupBy: pb.ReportPartyTransfersRequest_STREET})
		wantCode(t, err, codes.PermissionDenied)
	}
	_, err = w.client.ReportPartyTransfers(w.as(bureauP), &pb.ReportPartyTransfersRequest{GroupBy: pb.ReportPartyTransfersRequest_STREET, PageToken: "forged"})
	wantFields(t, err, "pageToken")
}

// TestPartyMembersLeaveWithTheirRetirees: a retiree taken out of the
// package takes its transfer along, and party members given at creation
// are not taken: they are declared with SetPartyMembers only.
func TestPartyMembersLeaveWithTheirRetirees(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := w.retirees(3, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	p := packageFor(ids)
	p.PartyTransfers = []*pb.PartyTransfer{{RetireeId: ids[0], FromOrganisation: "一支部", State: pb.PartyTransfer_CONFIRMED}}
	h := w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: p}))
	wantSeen(t, "admin", "GetHandover of a new package", w.get(h.Id), nil, false)

	ent := w.as(enterpriseXP)
	h = w.handover(w.client.SetPartyMembers(ent, &pb.SetPartyMembersRequest{Id: h.Id, Members: []*pb.PartyMember{
		{RetireeId: ids[0], FromOrganisation: "一支部"}, {RetireeId: ids[1], FromOrganisation: "一支部"},
	}}))
	keep := &pb.Handover{Id: h.Id, Etag: h.Etag, RetireeIds: ids[1:], Dossiers: packageFor(ids[1:]).Dossiers, Funds: &pb.Funds{AmountFen: 2000, PerRetireeStandardFen: 1000}}
	w.handover(w.client.UpdateHandover(ent, &pb.UpdateHandoverRequest{Handover: keep,
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"retiree_ids", "dossiers", "funds.amount_fen"}}}))
	wantSeen(t, "admin", "GetHandover after the update", w.get(h.Id), ids[1:2], false)
}

// TestPartyTransfersInAnAgreement: in an agreement with a street office
// allocated to two communities, each clerk reads and records the
// transfers of its own retirees only, and not those going to the
// street's organisation; the street's supervisor reads every one.
func TestPartyTransfersInAnAgreement(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := w.retirees(3, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	ent := w.as(enterpriseXP)
	h := w.handover(w.client.CreateHandover(ent, &pb.CreateHandoverRequest{Handover: agreementFor(ids)}))
	var members []*pb.PartyMember
	for _, id := range ids {
		members = append(members, &pb.PartyMember{RetireeId: id, FromOrganisation: "机械厂离退休党总支"})
	}
	h = w.handover(w.client.SetPartyMembers(ent, &pb.SetPartyMembersRequest{Id: h.Id, Etag: h.Etag, Members: members}))
	h = w.handover(w.client.SubmitHandover(ent, &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
	street := w.as(streetAP)
	h = w.handover(w.client.AllocateRetirees(street, &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: communityA, RetireeIds: []string{ids[0], ids[2]}}))
	h = w.handover(w.client.AllocateRetirees(street, &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: communityB, RetireeIds: ids[1:2]}))
	wantSeen(t, "street", "AllocateRetirees", h, ids, false)

	views := func(when string, clerkA, clerkB []string) {
		t.Helper()
		for _, v := range []struct {
			p        authn.Principal
			want     []string
			withheld bool
		}{
			{adminP, ids, false}, {bureauP, ids, false}, {streetAP, ids, false}, {districtAP, ids, false},
			{clerkAP, clerkA, true}, {clerkBP, clerkB, true}, {archivistAP, nil, true}, {enterpriseXP, nil, true},
		} {
			wantSeen(t, v.p.Subject, "GetHandover "+when, w.handover(w.client.GetHandover(w.as(v.p), &pb.GetHandoverRequest{Id: h.Id})), v.want, v.withheld)
			wantSeen(t, v.p.Subject, "ListHandovers "+when, w.listed(v.p, h.Id), v.want, v.withheld)
		}
	}
	views("after allocation", []string{ids[0], ids[2]}, ids[1:2])

	h = w.handover(w.client.RecordPartyTransfer(street, &pb.RecordPartyTransferRequest{Id: h.Id, RetireeId: ids[2], Stage: pb.PartyTransfer_SENT,
		Date: "2026-01-05", IntroductionLetterNo: "党介〔2026〕2号", ToOrganisation: "北市场街道党工委", ReceivingLevel: pb.PartyTransfer_STREET}))
	wantSeen(t, "street", "RecordPartyTransfer", h, ids, false)
	clerkB := w.as(clerkBP)
	h = w.handover(w.client.RecordPartyTransfer(clerkB, &pb.RecordPartyTransferRequest{Id: h.Id, RetireeId: ids[1], Stage: pb.PartyTransfer_SENT,
		Date: "2026-01-05", IntroductionLetterNo: "党介〔2026〕3号", ToOrganisation: "北市场街道第二社区党委", ReceivingLevel: pb.PartyTransfer_COMMUNITY}))
	wantSeen(t, "clerk B", "RecordPartyTransfer", h, ids[1:2], true)
	_, err := w.client.RecordPartyTransfer(clerkB, &pb.RecordPartyTransferRequest{Id: h.Id, RetireeId: ids[0], Stage: pb.PartyTransfer_SENT,
		Date: "2026-01-05", IntroductionLetterNo: "党介〔2026〕4号", ToOrganisation: "北市场街道第二社区党委", ReceivingLevel: pb.PartyTransfer_COMMUNITY})
	wantCode(t, err, codes.PermissionDenied)
	views("after the letters were sent", ids[0:1], ids[1:2])

	wantReport(t, w, bureauP, pb.ReportPartyTransfersRequest_STREET, reportRow(servicetest.StreetAB, 3, 0))
	wantReport(t, w, districtCP, pb.ReportPartyTransfersRequest_ENTERPRISE)
	wantReport(t, w, districtAP, pb.ReportPartyTransfersRequest_ENTERPRISE, reportRow(enterpriseX, 3, 0))
}
