package registry

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// openClockStore opens a fresh store whose clock is clock, with the
// fixture communities and enterprises.
func openClockStore(t *testing.T, clock *testclock.Clock) *Store {
	t.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(filepath.Join(t.TempDir(), "registry.db"), keyer, StoreOptions{
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Now: clock.Now,
		Checkpoints: audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	seedRefs(t, s)
	return s
}

// replayCounts counts, per community, the living retirees and their
// management modes from the change log's entries recorded by the end of
// day (China time): what a report as of day must say.
func replayCounts(t *testing.T, s *Store, day string) map[string]*pb.SocialisationRow {
	t.Helper()
	changes, _, _, err := s.ReadChanges(0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]*pb.RetireeState{}
	for _, c := range changes {
		if dayOf(c.ChangeTime.AsTime()) <= day {
			states[c.Retiree.Id] = c.Retiree
		}
	}
	out := map[string]*pb.SocialisationRow{}
	for _, st := range states {
		if st.Status != pb.RetireeStatus_LIVING {
			continue
		}
		r := out[st.CommunityId]
		if r == nil {
			r = &pb.SocialisationRow{}
			out[st.CommunityId] = r
		}
		addCounts(r, counted(st.ManagementMode))
	}
	return out
}

func counted(mode pb.ManagementMode) *pb.SocialisationRow {
	r := &pb.SocialisationRow{Living: 1}
	switch mode {
	case pb.ManagementMode_COMMUNITY:
		r.CommunityManaged = 1
	case pb.ManagementMode_BUREAU:
		r.BureauManaged = 1
	case pb.ManagementMode_ENTERPRISE:
		r.EnterpriseManaged = 1
	}
	return r
}

// reportCounts is a report by community as of day, as counts per
// community (rows that count no one left out, as a replay has none).
func reportCounts(t *testing.T, s *Store, day string) map[string]*pb.SocialisationRow {
	t.Helper()
	rows, _, _, err := s.SocialisationReport(groupCommunity, day, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*pb.SocialisationRow{}
	for _, r := range rows {
		if r.Living != 0 {
			out[r.Key] = &pb.SocialisationRow{Living: r.Living, CommunityManaged: r.CommunityManaged, BureauManaged: r.BureauManaged, EnterpriseManaged: r.EnterpriseManaged}
		}
	}
	return out
}

// TestSocialisationReportAsOf changes the registry over several days
// (China time, one change just after midnight there while it is still the
// day before in UTC) and checks that a report as of each day equals the
// counts replayed from the change log up to that day, and that later
// changes leave a past day's report as it was.
func TestSocialisationReportAsOf(t *testing.T) {
	t.Parallel()
	clock := testclock.New(time.Date(2026, 3, 31, 2, 0, 0, 0, workdays.ChinaTime))
	s := openClockStore(t, clock)
	actor := Actor{Subject: "clerk-a", Role: "clerk"}
	at := func(day string, hour int) {
		d, err := time.ParseInLocation(time.DateOnly, day, workdays.ChinaTime)
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(d.Add(time.Duration(hour) * time.Hour))
	}
	n := 0
	add := func(community string, mode pb.ManagementMode) *pb.Retiree {
		n++
		return mustCreate(t, s, newRetiree(t, n, community, mode))
	}

	at("2026-04-01", 9)
	a1 := add(communityA, pb.ManagementMode_COMMUNITY)
	a2 := add(communityA, pb.ManagementMode_BUREAU)
	a3 := add(communityA, pb.ManagementMode_ENTERPRISE)
	add(communityB, pb.ManagementMode_COMMUNITY)
	b2 := add(communityB, pb.ManagementMode_ENTERPRISE)
	at("2026-04-02", 15)
	if _, _, err := s.RecordDeath(a1.Id, "2026-03-20", "", pb.DeathReportSource_BUREAU_MATCH, actor, allow); err != nil {
		t.Fatal(err)
	}
	if _, err := transferDirect(s, a2.Id, communityB, "搬家", actor); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AssignRetirees("handover-1", []string{a3.Id, b2.Id}, communityA, pb.ManagementMode_COMMUNITY, "移交", actor); err != nil {
		t.Fatal(err)
	}
	// 00:30 on 1 May in China is still 30 April in UTC: the change counts
	// on 1 May.
	at("2026-05-01", 0)
	clock.Set(clock.Now().Add(30 * time.Minute))
	add(communityC, pb.ManagementMode_BUREAU)

	days := []string{"2026-03-31", "2026-04-01", "2026-04-02", "2026-04-15", "2026-04-30", "2026-05-01"}
	before := map[string]map[string]*pb.SocialisationRow{}
	for _, day := range days {
		before[day] = reportCounts(t, s, day)
		if diff := cmp.Diff(replayCounts(t, s, day), before[day], protocmp.Transform()); diff != "" {
			t.Errorf("as of %s (-replayed +report):\n%s", day, diff)
		}
	}
	if len(before["2026-03-31"]) != 0 || len(before["2026-04-01"]) != 2 || before["2026-04-30"][communityC] != nil || before["2026-05-01"][communityC] == nil {
		t.Errorf("the scenario did not count as planned: %v", before)
	}

	// Later changes: a past day's report stays as it was.
	at("2026-05-10", 11)
	if _, _, err := s.RecordDeath(b2.Id, "2026-05-09", "", pb.DeathReportSource_BUREAU_MATCH, actor, allow); err != nil {
		t.Fatal(err)
	}
	add(communityA, pb.ManagementMode_COMMUNITY)
	for _, day := range days {
		if diff := cmp.Diff(before[day], reportCounts(t, s, day), protocmp.Transform()); diff != "" {
			t.Errorf("as of %s after later changes (-before +after):\n%s", day, diff)
		}
	}
	for _, day := range []string{"2026-05-09", "2026-05-10"} {
		if diff := cmp.Diff(replayCounts(t, s, day), reportCounts(t, s, day), protocmp.Transform()); diff != "" {
			t.Errorf("as of %s (-replayed +report):\n%s", day, diff)
		}
	}
	// Today's counters as they are equal the report as of today.
	if diff := cmp.Diff(reportCounts(t, s, ""), reportCounts(t, s, "2026-05-10"), protocmp.Transform()); diff != "" {
		t.Errorf("now and as of today differ (-now +today):\n%s", diff)
	}
	if _, _, from, _ := s.SocialisationReport(groupCommunity, "", nil); from != "2026-03-31" {
		t.Errorf("history starts %q, want the day the file was created", from)
	}
}

// TestSocialisationReportAsOfServed checks the API of asOf: both rates,
// a past day's end as the report's time, the refusals.
func TestSocialisationReportAsOfServed(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	createMany(t, s, []*pb.Retiree{
		newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY),
		newRetiree(t, 2, communityA, pb.ManagementMode_BUREAU),
		newRetiree(t, 3, communityA, pb.ManagementMode_ENTERPRISE),
		newRetiree(t, 4, communityA, pb.ManagementMode_ENTERPRISE),
	})
	resp, err := h.client.GetSocialisationReport(h.as(clerkP), &pb.GetSocialisationReportRequest{AsOf: "2026-06-15"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Total; got.Rate != 0.5 || got.CommunityRate != 0.25 || resp.HistoryStart != "2026-06-15" {
		t.Errorf("today: total %v, history from %q", got, resp.HistoryStart)
	}
	resp, err = h.client.GetSocialisationReport(h.as(bureauP), &pb.GetSocialisationReportRequest{AsOf: "2026-06-14", GroupBy: groupStreet})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 6, 15, 0, 0, 0, 0, workdays.ChinaTime).Add(-time.Nanosecond); len(resp.Rows) != 0 || !resp.AsOf.AsTime().Equal(want) {
		t.Errorf("before the history: %d rows as of %v", len(resp.Rows), resp.AsOf.AsTime())
	}
	for _, asOf := range []string{"2026-06-16", "2026-6-1", "yesterday"} {
		_, err := h.client.GetSocialisationReport(h.as(adminP), &pb.GetSocialisationReportRequest{AsOf: asOf})
		wantFields(t, err, "asOf")
	}
	_, err = h.client.GetSocialisationReport(h.as(adminP), &pb.GetSocialisationReportRequest{AsOf: "2030-01-01"})
	wantStatus(t, err, codes.InvalidArgument)
}

// TestOpenStoreSeedsDailyCounters opens a file written before the daily
// counters were kept: the migration records the counters as they stand
// as the migration day's, from which reports as of a day begin.
func TestOpenStoreSeedsDailyCounters(t *testing.T) {
	t.Parallel()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	community := &pb.Community{Id: communityA, Name: "北市场社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK}
	counts := &pb.SocialisationRow{Living: 3, CommunityManaged: 2, EnterpriseManaged: 1}
	s := servicetest.WantVersion0Migrated(t, servicetest.Version0[*Store]{
		File: "registry.db", Buckets: allBuckets[:15], Meta: bucketMeta, Version: storageSchema.Version,
		Records: func(tx *bolt.Tx) error {
			return errors.Join(
				boltstoretest.PutProto(tx, "communities", community.Id, community),
				boltstoretest.PutProto(tx, "stats", community.Id, counts),
			)
		},
		Open: func(path string) (*Store, error) {
			return OpenStore(path, keyer, StoreOptions{Logger: zaptest.NewLogger(t), Now: func() time.Time { return testNow }})
		},
		Reads: func(s *Store) []servicetest.Read {
			return []servicetest.Read{
				{Name: "as of the migration day", Read: func() (any, error) { return reportCounts(t, s, "2026-06-15"), nil }, Want: map[string]*pb.SocialisationRow{communityA: counts}},
				{Name: "before it", Read: func() (any, error) { return reportCounts(t, s, "2026-06-14"), nil }, Want: map[string]*pb.SocialisationRow{}},
			}
		},
	})
	if _, _, from, err := s.SocialisationReport(groupCommunity, "", nil); err != nil || from != "2026-06-15" {
		t.Errorf("history starts %q (%v), want the migration day", from, err)
	}
}
