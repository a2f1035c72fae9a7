package handover

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// The places of the progress fixture: two streets of district 210102
// and one of another district.
const (
	progressDistrict = servicetest.DistrictAB // 210102
	progressStreet1  = servicetest.StreetAB   // 210102001: communities A and B
	progressStreet2  = "210102002"
	progressElse     = servicetest.StreetC // 210103002
	progressToday    = "2026-06-30"
)

// submittedOn is the time of a submission on day (China).
func submittedOn(day string) *timestamppb.Timestamp {
	t, err := time.ParseInLocation(time.DateOnly, day, workdays.ChinaTime)
	if err != nil {
		panic(err)
	}
	return timestamppb.New(t.Add(15 * time.Hour))
}

func withPartyTrack(items, settled int64) []*pb.Track {
	return []*pb.Track{
		{Kind: pb.Track_SOCIAL_INSURANCE, State: pb.Track_COMPLETED, Items: 1, Settled: 1},
		{Kind: pb.Track_PARTY, State: pb.Track_OPEN, Items: items, Settled: settled},
	}
}

// progressFixture stores handovers in every state that counts, and two
// that do not, straight into a new store:
//
//	h1 X: community A alone (received by its street), completed: 2 retirees, a dossier received
//	   and one missing, premises one accepted and one declined, party 2/2.
//	h2 X: district 210102's agreement, submitted 20 days ago: r3 in
//	   street 1, r4 in street 2, r5 not allocated; r3's and r4's dossiers
//	   received; party 1 of 3; premises accepted.
//	h3 Y: street 2, returned, submitted 121 days ago.
//	h4 Y: another district's street, submitted 211 days ago.
//	h5 X: a draft; h6 Y: withdrawn. Neither counts.
//	h7 X: street 1, submitted 60 days ago, r7 allocated to community A.
func progressFixture(t *testing.T) *Store {
	t.Helper()
	s := openTestStore(t, filepath.Join(t.TempDir(), "handover.db"))
	t.Cleanup(func() { _ = s.Close() })
	accepted := &pb.Premises{Id: "P1", Inspection: pb.Premises_ACCEPTED}
	for _, h := range []*pb.Handover{
		{EnterpriseCreditCode: enterpriseX, CommunityId: communityA, ReceiverCode: progressStreet1, State: pb.Handover_COMPLETED, SubmitTime: submittedOn("2026-01-01"),
			RetireeIds: []string{"r1", "r2"},
			Dossiers:   []*pb.Dossier{{RetireeId: "r1", State: pb.Dossier_RECEIVED}, {RetireeId: "r2", State: pb.Dossier_MISSING, Explanation: "遗失"}},
			Premises:   []*pb.Premises{accepted, {Id: "P2", Inspection: pb.Premises_DECLINED}}, Tracks: withPartyTrack(2, 2)},
		{EnterpriseCreditCode: enterpriseX, ReceiverCode: progressDistrict, State: pb.Handover_SUBMITTED, SubmitTime: submittedOn("2026-06-10"),
			RetireeIds:  []string{"r3", "r4", "r5"},
			Allocations: []*pb.Allocation{{CommunityId: communityB, RetireeIds: []string{"r3"}}, {CommunityId: progressStreet2 + "001", RetireeIds: []string{"r4"}}},
			Dossiers: []*pb.Dossier{{RetireeId: "r3", State: pb.Dossier_RECEIVED}, {RetireeId: "r4", State: pb.Dossier_RECEIVED},
				{RetireeId: "r5", State: pb.Dossier_PENDING}},
			Premises: []*pb.Premises{accepted}, Tracks: withPartyTrack(3, 1)},
		{EnterpriseCreditCode: enterpriseY, ReceiverCode: progressStreet2, State: pb.Handover_RETURNED, SubmitTime: submittedOn("2026-03-01"),
			RetireeIds: []string{"r6"}},
		{EnterpriseCreditCode: enterpriseY, ReceiverCode: progressElse, State: pb.Handover_SUBMITTED, SubmitTime: submittedOn("2025-12-01"),
			RetireeIds: []string{"r8"}},
		{EnterpriseCreditCode: enterpriseX, ReceiverCode: progressStreet1, State: pb.Handover_DRAFT, RetireeIds: []string{"r9"}},
		{EnterpriseCreditCode: enterpriseY, ReceiverCode: progressStreet1, State: pb.Handover_WITHDRAWN, SubmitTime: submittedOn("2026-06-01"),
			RetireeIds: []string{"r10"}},
		{EnterpriseCreditCode: enterpriseX, ReceiverCode: progressStreet1, State: pb.Handover_SUBMITTED, SubmitTime: submittedOn("2026-05-01"),
			RetireeIds: []string{"r7"}, Allocations: []*pb.Allocation{{CommunityId: communityA, RetireeIds: []string{"r7"}}}},
	} {
		if _, err := s.CreateHandover(h, testActor, "fixture"); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// progressRow is a row of the fixture's report.
func progressRow(key string, handovers int32, retirees, received, missing, party, partySettled, premises int64, open ...int32) *pb.HandoverProgressRow {
	r := &pb.HandoverProgressRow{Key: key, Handovers: handovers, RetireesHandedOver: retirees, DossiersReceived: received,
		DossiersMissing: missing, PartyTransfers: party, PartyTransfersSettled: partySettled, PremisesAccepted: premises,
		OpenByAge: &pb.OpenByAge{Within30Days: open[0], Within90Days: open[1], Within180Days: open[2], Over180Days: open[3]}}
	return r
}

// TestProgressFigures: the report's rows of the fixture, by each
// grouping and for each kind of caller, with the ages counted to a fixed
// day.
func TestProgressFigures(t *testing.T) {
	t.Parallel()
	s := progressFixture(t)
	const (
		enterprise = pb.GetHandoverProgressRequest_ENTERPRISE
		street     = pb.GetHandoverProgressRequest_STREET
		district   = pb.GetHandoverProgressRequest_DISTRICT
	)
	street1 := progressRow(progressStreet1, 3, 2, 2, 1, 2, 2, 1, 1, 1, 0, 0)
	for _, tc := range []struct {
		name string
		as   authn.Principal
		q    ProgressQuery
		want []*pb.HandoverProgressRow
	}{
		{"by street", adminP, ProgressQuery{GroupBy: street}, []*pb.HandoverProgressRow{
			progressRow(progressDistrict, 1, 0, 0, 0, 3, 1, 1, 1, 0, 0, 0),
			street1,
			progressRow(progressStreet2, 2, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0),
			progressRow(progressElse, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
		}},
		{"by district", bureauP, ProgressQuery{GroupBy: district}, []*pb.HandoverProgressRow{
			progressRow(progressDistrict, 4, 2, 3, 1, 5, 3, 2, 1, 1, 1, 0),
			progressRow(servicetest.DistrictC, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
		}},
		{"by enterprise", adminP, ProgressQuery{GroupBy: enterprise}, []*pb.HandoverProgressRow{
			progressRow(enterpriseX, 3, 2, 3, 1, 5, 3, 2, 1, 1, 0, 0),
			progressRow(enterpriseY, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1),
		}},
		{"one street of the district", adminP, ProgressQuery{GroupBy: street, Within: progressStreet2}, []*pb.HandoverProgressRow{
			progressRow(progressStreet2, 2, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0),
		}},
		{"one enterprise by district", adminP, ProgressQuery{GroupBy: district, EnterpriseCode: enterpriseY}, []*pb.HandoverProgressRow{
			progressRow(progressDistrict, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0),
			progressRow(servicetest.DistrictC, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
		}},
		{"street supervisor by street", streetAP, ProgressQuery{GroupBy: street}, []*pb.HandoverProgressRow{street1}},
		{"street supervisor by enterprise", streetAP, ProgressQuery{GroupBy: enterprise}, []*pb.HandoverProgressRow{
			progressRow(enterpriseX, 3, 2, 2, 1, 2, 2, 1, 1, 1, 0, 0),
		}},
		{"district supervisor elsewhere", districtCP, ProgressQuery{GroupBy: district}, []*pb.HandoverProgressRow{
			progressRow(servicetest.DistrictC, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1),
		}},
		{"enterprise", enterpriseYP, ProgressQuery{GroupBy: enterprise}, []*pb.HandoverProgressRow{
			progressRow(enterpriseY, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := tc.q
			q.Today = progressToday
			if err := narrowProgress(&tc.as, &q); err != nil {
				t.Fatal(err)
			}
			got, next, err := s.Progress(q, nil)
			if err != nil || next != nil {
				t.Fatalf("Progress: next %q, %v", next, err)
			}
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
		})
	}
}

// TestProgressAges: an open handover moves through the age buckets as
// the days pass, day 30 and 31 on either side of the first bound.
func TestProgressAges(t *testing.T) {
	t.Parallel()
	h := &pb.Handover{State: pb.Handover_SUBMITTED, SubmitTime: submittedOn("2026-01-01")}
	for _, tc := range []struct {
		today string
		want  *pb.OpenByAge
	}{
		{"2026-01-01", &pb.OpenByAge{Within30Days: 1}},
		{"2026-01-31", &pb.OpenByAge{Within30Days: 1}},
		{"2026-02-01", &pb.OpenByAge{Within90Days: 1}},
		{"2026-04-01", &pb.OpenByAge{Within90Days: 1}},
		{"2026-04-02", &pb.OpenByAge{Within180Days: 1}},
		{"2026-06-30", &pb.OpenByAge{Within180Days: 1}},
		{"2026-07-01", &pb.OpenByAge{Over180Days: 1}},
	} {
		r := &pb.HandoverProgressRow{OpenByAge: &pb.OpenByAge{}}
		(&ProgressQuery{Today: tc.today}).countOpen(r, h)
		if !proto.Equal(r.OpenByAge, tc.want) {
			t.Errorf("submitted 2026-01-01, on %s: %v, want %v", tc.today, r.OpenByAge, tc.want)
		}
	}
}

// TestProgressPages: a report cut short by its bound goes on from where
// it stopped, and its pages add up to the whole report.
func TestProgressPages(t *testing.T) {
	t.Parallel()
	s := progressFixture(t)
	q := ProgressQuery{GroupBy: pb.GetHandoverProgressRequest_STREET, Today: progressToday}
	whole, _, err := s.Progress(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.maxExamined = 2
	sum := map[string]*pb.HandoverProgressRow{}
	var keys []string
	pages := 0
	for after := []byte(nil); ; pages++ {
		rows, next, err := s.Progress(q, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if sum[r.Key] == nil {
				sum[r.Key] = &pb.HandoverProgressRow{Key: r.Key, OpenByAge: &pb.OpenByAge{}}
				keys = append(keys, r.Key)
			}
			addRow(sum[r.Key], r)
		}
		if next == nil {
			break
		}
		after = next
	}
	if pages < 3 {
		t.Errorf("%d pages of at most 2 handovers examined for 7 handovers", pages+1)
	}
	var got []*pb.HandoverProgressRow
	for _, r := range whole {
		got = append(got, sum[r.Key])
	}
	if len(keys) != len(whole) {
		t.Errorf("pages have keys %v", keys)
	}
	if diff := cmp.Diff(whole, got, protocmp.Transform()); diff != "" {
		t.Errorf("pages added up (-whole +pages):\n%s", diff)
	}
}

// addRow adds r's figures to sum, as a client adds the pages of a report.
func addRow(sum, r *pb.HandoverProgressRow) {
	sum.Handovers += r.Handovers
	sum.RetireesHandedOver += r.RetireesHandedOver
	sum.DossiersReceived += r.DossiersReceived
	sum.DossiersMissing += r.DossiersMissing
	sum.PartyTransfers += r.PartyTransfers
	sum.PartyTransfersSettled += r.PartyTransfersSettled
	sum.PremisesAccepted += r.PremisesAccepted
	sum.OpenByAge.Within30Days += r.OpenByAge.Within30Days
	sum.OpenByAge.Within90Days += r.OpenByAge.Within90Days
	sum.OpenByAge.Within180Days += r.OpenByAge.Within180Days
	sum.OpenByAge.Over180Days += r.OpenByAge.Over180Days
}

// TestProgressNarrowing: what each caller may ask of the report.
func TestProgressNarrowing(t *testing.T) {
	t.Parallel()
	const (
		enterprise = pb.GetHandoverProgressRequest_ENTERPRISE
		street     = pb.GetHandoverProgressRequest_STREET
		district   = pb.GetHandoverProgressRequest_DISTRICT
	)
	for _, tc := range []struct {
		name string
		as   authn.Principal
		q    ProgressQuery
		ok   bool
	}{
		{"enterprise by enterprise", enterpriseXP, ProgressQuery{GroupBy: enterprise}, true},
		{"enterprise names itself", enterpriseXP, ProgressQuery{GroupBy: enterprise, EnterpriseCode: enterpriseX}, true},
		{"enterprise names another", enterpriseXP, ProgressQuery{GroupBy: enterprise, EnterpriseCode: enterpriseY}, false},
		{"enterprise by street", enterpriseXP, ProgressQuery{GroupBy: street}, false},
		{"street by district", streetAP, ProgressQuery{GroupBy: district}, false},
		{"street in its street", streetAP, ProgressQuery{GroupBy: street, Within: progressStreet1}, true},
		{"street in its district", streetAP, ProgressQuery{GroupBy: street, Within: progressDistrict}, false},
		{"street elsewhere", streetAP, ProgressQuery{GroupBy: street, Within: progressStreet2}, false},
		{"district in one of its streets", districtAP, ProgressQuery{GroupBy: street, Within: progressStreet2}, true},
		{"district elsewhere", districtAP, ProgressQuery{GroupBy: district, Within: servicetest.DistrictC}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := narrowProgress(&tc.as, &tc.q)
			if (err == nil) != tc.ok {
				t.Errorf("narrowProgress: %v, want allowed %v", err, tc.ok)
			}
		})
	}
}

// TestProgressThroughTheService: packages taken through the workflow
// show in the report the service answers, their open age counted by the
// service's clock as it moves on; a completed one counts its retirees,
// dossiers and premises and is no longer open.
func TestProgressThroughTheService(t *testing.T) {
	t.Parallel()
	submitDay := time.Date(2026, 1, 5, 10, 0, 0, 0, workdays.ChinaTime)
	clock := testclock.New(submitDay)
	w := newWorld(t, worldOptions{now: clock.Now})
	w.submitted(2)
	w.completed(3)
	report := func(as authn.Principal, q *pb.GetHandoverProgressRequest) []*pb.HandoverProgressRow {
		t.Helper()
		resp, err := w.client.GetHandoverProgress(w.as(as), q)
		if err != nil {
			t.Fatal(err)
		}
		if resp.NextPageToken != "" {
			t.Errorf("a report of two handovers did not finish: %q", resp.NextPageToken)
		}
		return resp.Rows
	}
	byStreet := &pb.GetHandoverProgressRequest{GroupBy: pb.GetHandoverProgressRequest_STREET}
	for _, tc := range []struct {
		after time.Duration
		open  *pb.OpenByAge
	}{
		{0, &pb.OpenByAge{Within30Days: 1}},
		{45 * 24 * time.Hour, &pb.OpenByAge{Within90Days: 1}},
		{100 * 24 * time.Hour, &pb.OpenByAge{Within180Days: 1}},
		{200 * 24 * time.Hour, &pb.OpenByAge{Over180Days: 1}},
	} {
		clock.Set(submitDay.Add(tc.after))
		want := []*pb.HandoverProgressRow{{Key: servicetest.StreetAB, Handovers: 2, RetireesHandedOver: 3, DossiersReceived: 3,
			PremisesAccepted: 1, OpenByAge: tc.open}}
		if diff := cmp.Diff(want, report(streetAP, byStreet), protocmp.Transform()); diff != "" {
			t.Errorf("%v after the submissions (-want +got):\n%s", tc.after, diff)
		}
	}
	if rows := report(districtCP, &pb.GetHandoverProgressRequest{GroupBy: pb.GetHandoverProgressRequest_DISTRICT}); len(rows) != 0 {
		t.Errorf("another district's supervisor sees %v", rows)
	}
	rows := report(enterpriseXP, &pb.GetHandoverProgressRequest{GroupBy: pb.GetHandoverProgressRequest_ENTERPRISE})
	if len(rows) != 1 || rows[0].Key != enterpriseX || rows[0].Handovers != 2 {
		t.Errorf("the enterprise's report is %v", rows)
	}
	_, err := w.client.GetHandoverProgress(w.as(adminP), &pb.GetHandoverProgressRequest{})
	wantFields(t, err, "groupBy")
	_, err = w.client.GetHandoverProgress(w.as(adminP), &pb.GetHandoverProgressRequest{GroupBy: pb.GetHandoverProgressRequest_STREET, AreaCode: "21010", EnterpriseCreditCode: "X"})
	wantFields(t, err, "areaCode", "enterpriseCreditCode")
	_, err = w.client.GetHandoverProgress(w.as(adminP), &pb.GetHandoverProgressRequest{GroupBy: pb.GetHandoverProgressRequest_STREET, PageToken: "bogus"})
	wantFields(t, err, "pageToken")
}
