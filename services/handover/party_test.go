package handover

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Retiree ids of the party unit tests: opaque ids as registry makes
// them.
const (
	partyR1 = "aaaaaaaaaaaaaaab"
	partyR2 = "aaaaaaaaaaaaaaac"
	partyR3 = "aaaaaaaaaaaaaaad"
	partyR4 = "aaaaaaaaaaaaaaae"
)

// agreementWithParty is an agreement with street AB's office: r1 and r2
// allocated to community A, r3 to community B, r4 not yet allocated; r1
// goes to community A's party organisation, r2 to the street's, r3 and
// r4 are pending.
func agreementWithParty() *pb.Handover {
	return &pb.Handover{
		Id: "H0000000000000001", State: pb.Handover_SUBMITTED, EnterpriseCreditCode: enterpriseX,
		ReceiverCode: servicetest.StreetAB, RetireeIds: []string{partyR1, partyR2, partyR3, partyR4},
		SubmitTime: timestamppb.New(time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)),
		Allocations: []*pb.Allocation{
			{CommunityId: communityA, RetireeIds: []string{partyR1, partyR2}},
			{CommunityId: communityB, RetireeIds: []string{partyR3}},
		},
		PartyTransfers: []*pb.PartyTransfer{
			{RetireeId: partyR1, FromOrganisation: "机械厂离退休党支部", State: pb.PartyTransfer_SENT, ReceivingLevel: pb.PartyTransfer_COMMUNITY, SentOn: "2026-03-01"},
			{RetireeId: partyR2, FromOrganisation: "机械厂离退休党支部", State: pb.PartyTransfer_SENT, ReceivingLevel: pb.PartyTransfer_STREET, SentOn: "2026-03-01"},
			{RetireeId: partyR3, FromOrganisation: "机械厂离退休党支部", State: pb.PartyTransfer_PENDING},
			{RetireeId: partyR4, FromOrganisation: "机械厂离退休党支部", State: pb.PartyTransfer_CONFIRMED},
		},
	}
}

// TestRedactParty: admin, bureau and the receiving unit's supervisors
// read every transfer; a clerk those of its allocated retirees that do
// not go to the street; the enterprise, an archivist, a supervisor
// elsewhere and a street's under a district's agreement none.
func TestRedactParty(t *testing.T) {
	t.Parallel()
	streetOfDistrictAgreement := servicetest.Street("street-beishichang", servicetest.StreetAB)
	tests := []struct {
		name     string
		p        authn.Principal
		district bool // the agreement is with district AB rather than street AB
		want     []string
		withheld bool
	}{
		{"admin", adminP, false, []string{partyR1, partyR2, partyR3, partyR4}, false},
		{"bureau", bureauP, false, []string{partyR1, partyR2, partyR3, partyR4}, false},
		{"receiving street", streetAP, false, []string{partyR1, partyR2, partyR3, partyR4}, false},
		{"district over the receiving street", districtAP, false, []string{partyR1, partyR2, partyR3, partyR4}, false},
		{"clerk of community A", clerkAP, false, []string{partyR1}, true},
		{"clerk of community B", clerkBP, false, []string{partyR3}, true},
		{"clerk of both", servicetest.Clerk("clerk-ab", communityA, communityB), false, []string{partyR1, partyR3}, true},
		{"enterprise", enterpriseXP, false, nil, true},
		{"archivist", archivistAP, false, nil, true},
		{"street elsewhere", streetCP, false, nil, true},
		{"district elsewhere", districtCP, false, nil, true},
		{"street under a district's agreement", streetOfDistrictAgreement, true, nil, true},
		{"receiving district", districtAP, true, []string{partyR1, partyR2, partyR3, partyR4}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := agreementWithParty()
			if tc.district {
				h.ReceiverCode = servicetest.DistrictAB
			}
			redactParty(&tc.p, h)
			var got []string
			for _, tr := range h.PartyTransfers {
				got = append(got, tr.RetireeId)
			}
			if !slices.Equal(got, tc.want) || h.PartyWithheld != tc.withheld {
				t.Errorf("sees %v (withheld %v), want %v (withheld %v)", got, h.PartyWithheld, tc.want, tc.withheld)
			}
		})
	}
}

// TestRedactPartyLegacyPackage: a package addressed to one community has
// all its retirees allocated there at submit, received by that
// community's street office.
func TestRedactPartyLegacyPackage(t *testing.T) {
	t.Parallel()
	h := agreementWithParty()
	h.ReceiverCode, h.Allocations, h.CommunityId = "", nil, communityA
	h.ReceiverCode = receiverOf(h)
	settleAllocations(h)
	for _, p := range []authn.Principal{clerkAP, streetAP} {
		v := proto.Clone(h).(*pb.Handover)
		redactParty(&p, v)
		want := 4
		if p.Role == authn.RoleClerk {
			want = 3 // not r2, who goes to the street's organisation
		}
		if len(v.PartyTransfers) != want {
			t.Errorf("%s sees %d transfers, want %d", p.Subject, len(v.PartyTransfers), want)
		}
	}
	v := proto.Clone(h).(*pb.Handover)
	redactParty(&clerkBP, v)
	if len(v.PartyTransfers) != 0 || !v.PartyWithheld {
		t.Errorf("clerk B sees %v", v.PartyTransfers)
	}
}

func TestPartyCounts(t *testing.T) {
	t.Parallel()
	items, settled := partyCounts(agreementWithParty())
	if items != 4 || settled != 1 {
		t.Errorf("partyCounts = %d, %d; want 4, 1", items, settled)
	}
	if items, settled := partyCounts(&pb.Handover{}); items != 0 || settled != 0 {
		t.Errorf("partyCounts of none = %d, %d", items, settled)
	}
	h := agreementWithParty()
	refreshTracks(h, "test", nil)
	want := &pb.Track{Kind: pb.Track_PARTY, State: pb.Track_OPEN, ReceiverRole: "street", Items: 4, Settled: 1}
	if diff := cmp.Diff(want, h.Tracks[2], protocmp.Transform()); diff != "" {
		t.Errorf("party track (-want +got):\n%s", diff)
	}
	for _, tr := range h.PartyTransfers {
		tr.State = pb.PartyTransfer_CONFIRMED
	}
	refreshTracks(h, "test", nil)
	if tr := h.Tracks[2]; tr.State != pb.Track_COMPLETED || tr.Settled != 4 || tr.CompletedBy != "test" {
		t.Errorf("all confirmed: party track %v", tr)
	}
	h.PartyTransfers = nil
	refreshTracks(h, "test", nil)
	if tr := h.Tracks[2]; tr.State != pb.Track_NOT_APPLICABLE {
		t.Errorf("no party members: party track %v", tr)
	}
}

func TestSetPartyMembers(t *testing.T) {
	t.Parallel()
	draft := func() *pb.Handover {
		h := agreementWithParty()
		h.State, h.PartyTransfers = pb.Handover_DRAFT, nil
		return h
	}
	h := draft()
	detail, err := setPartyMembers(h, []*pb.PartyMember{{RetireeId: partyR1, FromOrganisation: "一支部"}, {RetireeId: partyR2, FromOrganisation: "二支部"}}, nil)
	if err != nil || detail != "2 party members declared, 0 taken off; 2 in all" {
		t.Fatalf("declare: %q, %v", detail, err)
	}
	if _, err := setPartyMembers(h, []*pb.PartyMember{{RetireeId: partyR1, FromOrganisation: "三支部"}}, []string{partyR2}); err != nil {
		t.Fatal(err)
	}
	want := []*pb.PartyTransfer{{RetireeId: partyR1, FromOrganisation: "三支部", State: pb.PartyTransfer_PENDING}}
	if diff := cmp.Diff(want, h.PartyTransfers, protocmp.Transform()); diff != "" {
		t.Errorf("transfers (-want +got):\n%s", diff)
	}

	_, err = setPartyMembers(h, []*pb.PartyMember{{RetireeId: "bbbbbbbbbbbbbbbb", FromOrganisation: "一支部"}}, []string{"bbbbbbbbbbbbbbbc"})
	servicetest.WantFields(t, apiErr(t, err), "members[0].retireeId", "notMembers[0]")

	sub := agreementWithParty()
	if _, err := setPartyMembers(sub, []*pb.PartyMember{{RetireeId: partyR3, FromOrganisation: "一支部"}}, nil); !isRule(err, ReasonWrongState) {
		t.Errorf("submitted: %v", err)
	}
	ret := agreementWithParty()
	ret.State = pb.Handover_RETURNED
	if _, err := setPartyMembers(ret, nil, []string{partyR1}); !isRule(err, ReasonPartyTransferRecorded) {
		t.Errorf("taking off a SENT transfer: %v", err)
	}
	if _, err := setPartyMembers(ret, []*pb.PartyMember{{RetireeId: partyR1, FromOrganisation: "另一支部"}}, nil); !isRule(err, ReasonPartyTransferRecorded) {
		t.Errorf("changing a SENT transfer: %v", err)
	}
	if _, err := setPartyMembers(ret, []*pb.PartyMember{{RetireeId: partyR3, FromOrganisation: "另一支部"}}, []string{partyR4}); err == nil {
		t.Errorf("taking off a CONFIRMED transfer went through")
	}
	if _, err := setPartyMembers(ret, []*pb.PartyMember{{RetireeId: partyR3, FromOrganisation: "另一支部"}}, nil); err != nil {
		t.Errorf("changing a PENDING transfer of a returned package: %v", err)
	}
}

// isRule reports whether err is a rule error with reason.
func isRule(err error, reason string) bool {
	var re *fault.RuleError
	return err != nil && asRule(err, &re) && re.Reason == reason
}

func TestCheckPartyMembers(t *testing.T) {
	t.Parallel()
	many := make([]*pb.PartyMember, maxPartyMembersPerCall+1)
	for i := range many {
		many[i] = &pb.PartyMember{RetireeId: partyR1, FromOrganisation: "一支部"}
	}
	tests := []struct {
		name       string
		members    []*pb.PartyMember
		notMembers []string
		fields     []string
	}{
		{"nothing", nil, nil, []string{"members"}},
		{"too many", many, nil, []string{"members"}},
		{"no organisation", []*pb.PartyMember{{RetireeId: partyR1}}, nil, []string{"members[0].fromOrganisation"}},
		{"not an id", []*pb.PartyMember{{RetireeId: "110101195001010011", FromOrganisation: "一支部"}}, nil, []string{"members[0].retireeId"}},
		{"twice", []*pb.PartyMember{{RetireeId: partyR1, FromOrganisation: "一支部"}}, []string{partyR1}, []string{"notMembers[0]"}},
		{"nil member", []*pb.PartyMember{nil}, nil, []string{"members[0]"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			servicetest.WantFields(t, apiErr(t, checkPartyMembers(tc.members, tc.notMembers)), tc.fields...)
		})
	}
	if err := checkPartyMembers([]*pb.PartyMember{{RetireeId: partyR1, FromOrganisation: "一支部"}}, []string{partyR2}); err != nil {
		t.Errorf("valid: %v", err)
	}
}

// TestPartyStages: the stages go in order, each dated no later than
// today (China) and not before the one before; SENT needs the letter,
// the receiving organisation and its level, which do not change after.
func TestPartyStages(t *testing.T) {
	t.Parallel()
	const today = "2026-03-10"
	sent := func(date string) *pb.RecordPartyTransferRequest {
		return &pb.RecordPartyTransferRequest{RetireeId: partyR3, Stage: pb.PartyTransfer_SENT, Date: date,
			IntroductionLetterNo: "沈机党介字〔2026〕3号", ToOrganisation: "北市场街道党工委", ReceivingLevel: pb.PartyTransfer_STREET}
	}
	stage := func(s pb.PartyTransfer_State, date string) *pb.RecordPartyTransferRequest {
		return &pb.RecordPartyTransferRequest{RetireeId: partyR3, Stage: s, Date: date}
	}
	invalid := []struct {
		name   string
		req    *pb.RecordPartyTransferRequest
		fields []string
	}{
		{"no letter", &pb.RecordPartyTransferRequest{RetireeId: partyR3, Stage: pb.PartyTransfer_SENT, Date: today},
			[]string{"introductionLetterNo", "receivingLevel", "toOrganisation"}},
		{"in the future", sent("2026-03-11"), []string{"date"}},
		{"not a date", sent("2026-3-1"), []string{"date"}},
		{"no date", sent(""), []string{"date"}},
		{"pending is no stage", stage(pb.PartyTransfer_PENDING, today), []string{"stage"}},
		{"unknown level", &pb.RecordPartyTransferRequest{RetireeId: partyR3, Stage: pb.PartyTransfer_RECEIVED, Date: today, ReceivingLevel: 7}, []string{"receivingLevel"}},
		{"not an id", &pb.RecordPartyTransferRequest{RetireeId: "x", Stage: pb.PartyTransfer_RECEIVED, Date: today}, []string{"retireeId"}},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			servicetest.WantFields(t, apiErr(t, checkPartyStage(tc.req, today)), tc.fields...)
		})
	}

	h := agreementWithParty()
	steps := []struct {
		name   string
		req    *pb.RecordPartyTransferRequest
		reason string   // a rule broken
		fields []string // or fields invalid
	}{
		{"received before sent", stage(pb.PartyTransfer_RECEIVED, "2026-03-02"), ReasonPartyStageOrder, nil},
		{"sent", sent("2026-03-02"), "", nil},
		{"sent again", sent("2026-03-02"), ReasonPartyStageOrder, nil},
		{"confirmed before received", stage(pb.PartyTransfer_CONFIRMED, "2026-03-05"), ReasonPartyStageOrder, nil},
		{"received before the letter was sent", stage(pb.PartyTransfer_RECEIVED, "2026-03-01"), "", []string{"date"}},
		{"received with another letter", &pb.RecordPartyTransferRequest{RetireeId: partyR3, Stage: pb.PartyTransfer_RECEIVED, Date: "2026-03-04",
			IntroductionLetterNo: "另一号", ReceivingLevel: pb.PartyTransfer_COMMUNITY}, "", []string{"introductionLetterNo", "receivingLevel"}},
		{"received the same day", stage(pb.PartyTransfer_RECEIVED, "2026-03-02"), "", nil},
		{"confirmed", stage(pb.PartyTransfer_CONFIRMED, "2026-03-09"), "", nil},
		{"confirmed again", stage(pb.PartyTransfer_CONFIRMED, "2026-03-09"), ReasonPartyStageOrder, nil},
	}
	for _, st := range steps {
		if err := checkPartyStage(st.req, today); err != nil {
			t.Fatalf("%s: the request is invalid: %v", st.name, err)
		}
		_, err := recordPartyTransfer(&adminP, h, st.req)
		switch {
		case st.reason != "":
			if !isRule(err, st.reason) {
				t.Errorf("%s: %v, want %s", st.name, err, st.reason)
			}
		case st.fields != nil:
			servicetest.WantFields(t, apiErr(t, err), st.fields...)
		case err != nil:
			t.Errorf("%s: %v", st.name, err)
		}
	}
	want := &pb.PartyTransfer{RetireeId: partyR3, FromOrganisation: "机械厂离退休党支部", State: pb.PartyTransfer_CONFIRMED,
		IntroductionLetterNo: "沈机党介字〔2026〕3号", ToOrganisation: "北市场街道党工委", ReceivingLevel: pb.PartyTransfer_STREET,
		SentOn: "2026-03-02", ReceivedOn: "2026-03-02", ConfirmedOn: "2026-03-09"}
	if diff := cmp.Diff(want, h.PartyTransfers[2], protocmp.Transform()); diff != "" {
		t.Errorf("transfer (-want +got):\n%s", diff)
	}
}

// TestRecordPartyTransferWho: a clerk records the transfers of its
// retirees to its community's organisation only; whoever may not read a
// transfer gets 403 whether or not the retiree is a party member.
func TestRecordPartyTransferWho(t *testing.T) {
	t.Parallel()
	const today = "2026-03-10"
	received := func(id string) *pb.RecordPartyTransferRequest {
		return &pb.RecordPartyTransferRequest{RetireeId: id, Stage: pb.PartyTransfer_RECEIVED, Date: today}
	}
	tests := []struct {
		name string
		p    authn.Principal
		req  *pb.RecordPartyTransferRequest
		want string // "ok", "denied" or "invalid"
	}{
		{"clerk A on its community's transfer", clerkAP, received(partyR1), "ok"},
		{"clerk A on the street's transfer", clerkAP, received(partyR2), "denied"},
		{"clerk A on community B's", clerkAP, received(partyR3), "denied"},
		{"clerk A on a retiree who is not a member", clerkAP, received("bbbbbbbbbbbbbbbb"), "denied"},
		{"clerk B sending to the street", clerkBP, &pb.RecordPartyTransferRequest{RetireeId: partyR3, Stage: pb.PartyTransfer_SENT, Date: today,
			IntroductionLetterNo: "1号", ToOrganisation: "街道党工委", ReceivingLevel: pb.PartyTransfer_STREET}, "invalid"},
		{"receiving street on the street's transfer", streetAP, received(partyR2), "ok"},
		{"receiving street on a non-member", streetAP, received("bbbbbbbbbbbbbbbb"), "invalid"},
		{"street elsewhere", streetCP, received(partyR1), "denied"},
		{"enterprise", enterpriseXP, received(partyR1), "denied"},
		{"archivist", archivistAP, received(partyR1), "denied"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := recordPartyTransfer(&tc.p, agreementWithParty(), tc.req)
			var ve *fault.ValidationError
			got := "ok"
			switch {
			case errors.Is(err, authn.ErrPermissionDenied):
				got = "denied"
			case asValidation(err, &ve):
				got = "invalid"
			case err != nil:
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
}

// TestPartyReportCounters: the counters follow every save of a handover
// (submission, stages, allocation, withdrawal) and the report sums them
// per street or enterprise, for an area, a page at a time.
func TestPartyReportCounters(t *testing.T) {
	t.Parallel()
	s, err := OpenStore(filepath.Join(t.TempDir(), "handover.db"), StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	actor := Actor{Subject: "test"}
	allow := func(*pb.Handover) error { return nil }
	// a: street AB's agreement of enterprise X, 4 transfers, 1 confirmed;
	// r4 unallocated counts under the receiving street.
	a, err := s.CreateHandover(agreementWithParty(), actor, "a")
	if err != nil {
		t.Fatal(err)
	}
	// b: a package of enterprise Y to community C, 2 transfers confirmed.
	b := &pb.Handover{State: pb.Handover_SUBMITTED, EnterpriseCreditCode: enterpriseY, CommunityId: servicetest.CommunityC,
		RetireeIds: []string{partyR1, partyR2}, SubmitTime: timestamppb.Now(),
		PartyTransfers: []*pb.PartyTransfer{{RetireeId: partyR1, State: pb.PartyTransfer_CONFIRMED}, {RetireeId: partyR2, State: pb.PartyTransfer_CONFIRMED}}}
	if b, err = s.CreateHandover(b, actor, "b"); err != nil {
		t.Fatal(err)
	}
	// A draft counts for nothing.
	draft := agreementWithParty()
	draft.State, draft.SubmitTime = pb.Handover_DRAFT, nil
	if _, err := s.CreateHandover(draft, actor, "draft"); err != nil {
		t.Fatal(err)
	}
	row := func(key string, n, c int64) *pb.PartyTransferReportRow {
		return &pb.PartyTransferReportRow{Key: key, Transfers: n, Confirmed: c, RatePermille: c * 1000 / n}
	}
	report := func(f PartyReportFilter) []*pb.PartyTransferReportRow {
		t.Helper()
		return servicetest.AllPages(t, 10, func(after []byte) ([]*pb.PartyTransferReportRow, []byte, error) {
			return s.PartyTransferReport(f, 1, after)
		})
	}
	check := func(what string, f PartyReportFilter, want ...*pb.PartyTransferReportRow) {
		t.Helper()
		if diff := cmp.Diff(want, report(f), protocmp.Transform()); diff != "" {
			t.Errorf("%s (-want +got):\n%s", what, diff)
		}
	}
	check("by street", PartyReportFilter{ByStreet: true}, row(servicetest.StreetAB, 4, 1), row(servicetest.StreetC, 2, 2))
	check("by enterprise", PartyReportFilter{}, row(enterpriseX, 4, 1), row(enterpriseY, 2, 2))
	check("district AB by enterprise", PartyReportFilter{Area: servicetest.DistrictAB}, row(enterpriseX, 4, 1))
	check("street C by street", PartyReportFilter{ByStreet: true, Area: servicetest.StreetC}, row(servicetest.StreetC, 2, 2))

	// Confirming r1 and moving the agreement to district AB, with r4 still
	// unallocated: r4 counts under the district until it is allocated.
	_, err = s.mutate(a.Id, "", actor, allow, func(_ *txn, h *pb.Handover) (string, string, error) {
		h.PartyTransfers[0].State = pb.PartyTransfer_CONFIRMED
		h.ReceiverCode = servicetest.DistrictAB
		return "TEST", "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after a stage", PartyReportFilter{ByStreet: true},
		row(servicetest.DistrictAB, 1, 1), row(servicetest.StreetAB, 3, 1), row(servicetest.StreetC, 2, 2))
	check("by enterprise after a stage", PartyReportFilter{}, row(enterpriseX, 4, 2), row(enterpriseY, 2, 2))
	check("street AB sees its streets only", PartyReportFilter{ByStreet: true, Area: servicetest.StreetAB}, row(servicetest.StreetAB, 3, 1))

	_, err = s.mutate(b.Id, "", actor, allow, func(_ *txn, h *pb.Handover) (string, string, error) {
		h.State = pb.Handover_WITHDRAWN
		return "TEST", "", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after a withdrawal", PartyReportFilter{}, row(enterpriseX, 4, 2))
	check("after a withdrawal by street", PartyReportFilter{ByStreet: true}, row(servicetest.DistrictAB, 1, 1), row(servicetest.StreetAB, 3, 1))
}

// apiErr is err as a client gets it.
func apiErr(t testing.TB, err error) error {
	t.Helper()
	if err == nil {
		return nil
	}
	return apierror.ToStatus(context.Background(), zaptest.NewLogger(t), err)
}

func asRule(err error, re **fault.RuleError) bool { return errors.As(err, re) }

func asValidation(err error, ve **fault.ValidationError) bool { return errors.As(err, ve) }
