package registry

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// watchSignalsOnce opens registry's work-signal feed from 0 and reads its
// first entry (the snapshot's end, when nothing is open).
func watchSignalsOnce(ctx context.Context, c pb.RegistryServiceClient, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := c.WatchWorkSignals(ctx, &pb.WatchWorkSignalsRequest{}, opts...)
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// readSignals reads registry's feed from since until n entries came.
func readSignals(t *testing.T, ctx context.Context, c pb.RegistryServiceClient, since int64, epoch string, n int) []*feedv1.SignalEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	stream, err := c.WatchWorkSignals(ctx, &pb.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	var out []*feedv1.SignalEvent
	for len(out) < n {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d entries: %v", len(out), err)
		}
		out = append(out, m.Event)
	}
	return out
}

func TestDeathReportSignals(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	r1 := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	r2 := mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY))
	r3 := mustCreate(t, s, newRetiree(t, 3, communityA, pb.ManagementMode_COMMUNITY))
	clerk, svc := h.as(clerkP), h.as(serviceP)

	var ids []string
	for _, r := range []*pb.Retiree{r1, r2} {
		d, err := c.CreateDeathReport(clerk, familyReport(r.Id))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.DeathReport.Id)
	}
	opened := readSignals(t, svc, c, 0, "", 3)
	for _, ev := range opened[:2] {
		sig := ev.Signal
		if ev.Entry != feedv1.EntryKind_SNAPSHOT || sig.Kind != feedv1.SignalKind_DEATH_REPORT_UNVERIFIED ||
			sig.SubjectKind != feedv1.SubjectKind_DEATH_REPORT || sig.Key != "death-report/"+sig.SubjectId ||
			sig.CommunityId != communityA || sig.Resolved || sig.Summary == "" {
			t.Errorf("snapshot entry %v", ev)
		}
		if !sig.StartTime.AsTime().Equal(testNow) || !sig.DueTime.AsTime().After(testNow.Add(5*24*time.Hour)) {
			t.Errorf("start %v due %v, want the report time and 5 working days", sig.StartTime.AsTime(), sig.DueTime.AsTime())
		}
	}
	end := opened[2]
	if end.Entry != feedv1.EntryKind_SNAPSHOT_END || end.Revision != 2 || end.Epoch == "" {
		t.Fatalf("snapshot end %v", end)
	}

	// Verifying one resolves its signal, rejecting the other too; a death
	// recorded at once opens none.
	if _, err := c.VerifyDeathReport(clerk, &pb.VerifyDeathReportRequest{Id: ids[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RejectDeathReport(clerk, &pb.RejectDeathReportRequest{Id: ids[1], Reason: "同名误报"}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RecordDeath(clerk, &pb.RecordDeathRequest{Id: r3.Id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_HOSPITAL}); err != nil {
		t.Fatal(err)
	}
	changes := readSignals(t, svc, c, 2, end.Epoch, 2)
	for i, want := range []struct{ id, resolution string }{{ids[0], "verified"}, {ids[1], "rejected"}} {
		ev := changes[i]
		if ev.Entry != feedv1.EntryKind_CHANGE || ev.Revision != int64(3+i) || ev.Signal.SubjectId != want.id ||
			!ev.Signal.Resolved || ev.Signal.Resolution != want.resolution {
			t.Errorf("change %d: %v, want %s %s", i, ev, want.id, want.resolution)
		}
	}
	if head, _, err := s.Signals().Head(); err != nil || head != 4 {
		t.Errorf("feed head %d (%v), want 4: RecordDeath emits nothing", head, err)
	}
	// The snapshot now holds nothing.
	if snap := readSignals(t, svc, c, 0, "", 1); snap[0].Entry != feedv1.EntryKind_SNAPSHOT_END || snap[0].Revision != 4 {
		t.Errorf("snapshot after the decisions: %v", snap[0])
	}
	wantStatus(t, watchSignalsOnce(clerk, c), codes.PermissionDenied)
}

// A file of schema version 9 with a death report open gains the feed,
// whose first snapshot holds the report.
func TestSignalMigrationBackfillsOpenReports(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	s := openStoreAt(t, path, 0)
	seedRefs(t, s)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	d, err := s.CreateDeathReport(DeathReportInput{RetireeID: r.Id, DateOfDeath: "2026-06-01", Source: pb.DeathReportSource_FAMILY}, Actor{Subject: "clerk"}, func(*pb.Retiree) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	// Back to version 9: no feed, as a build before it left the file.
	if err := s.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{[]byte("signalfeed_log"), []byte("signalfeed_open"), []byte("signalfeed_latest"), []byte("signalfeed_meta")} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put([]byte("schema_version"), boltstore.U64(9))
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openStoreAt(t, path, 0)
	defer s.Close()
	if err := s.DB().View(func(tx *bolt.Tx) error {
		v, err := boltstore.SchemaVersion(tx, bucketMeta)
		if v != storageSchema.Version {
			t.Errorf("schema version %d, want %d", v, storageSchema.Version)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, s, harnessOptions{})
	snap := readSignals(t, h.as(serviceP), h.client, 0, "", 2)
	if snap[0].Entry != feedv1.EntryKind_SNAPSHOT || snap[0].Signal.SubjectId != d.Id || snap[1].Entry != feedv1.EntryKind_SNAPSHOT_END {
		t.Errorf("first snapshot after the migration: %v", snap)
	}
}

// A signalfeed.Follower follows registry's feed over gRPC through the
// generated client (StreamOf): a report filed while it follows opens an
// item, its verification closes it.
func TestFollowerOverGRPC(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	db, err := bolt.Open(filepath.Join(t.TempDir(), "consumer.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mu sync.Mutex
	open := map[string]bool{}
	f, err := signalfeed.NewFollower(db, signalfeed.FollowerOptions{
		Source: "registry",
		Open: func(ctx context.Context, since int64, epoch string) (signalfeed.Stream, error) {
			st, err := h.client.WatchWorkSignals(servicetest.WithToken(ctx, h.token(serviceP)), &pb.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
			if err != nil {
				return nil, err
			}
			return signalfeed.StreamOf(st), nil
		},
		Apply: func(_ *bolt.Tx, ev *feedv1.SignalEvent, _ uint64) error {
			mu.Lock()
			defer mu.Unlock()
			open[ev.Signal.Key] = !ev.Signal.Resolved
			return nil
		},
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	defer func() { cancel(); <-done }()
	waitfor.True(t, "following", f.Connected)

	d, err := h.client.CreateDeathReport(h.as(clerkP), familyReport(r.Id))
	if err != nil {
		t.Fatal(err)
	}
	key := "death-report/" + d.DeathReport.Id
	waitfor.NoError(t, "report opened", func(ctx context.Context) error { return f.WaitFor(ctx, 1) })
	mu.Lock()
	if !open[key] {
		t.Errorf("after the report: %v", open)
	}
	mu.Unlock()
	if _, err := h.client.VerifyDeathReport(h.as(clerkP), &pb.VerifyDeathReportRequest{Id: d.DeathReport.Id}); err != nil {
		t.Fatal(err)
	}
	waitfor.NoError(t, "report resolved", func(ctx context.Context) error { return f.WaitFor(ctx, 2) })
	mu.Lock()
	defer mu.Unlock()
	if v, seen := open[key]; !seen || v {
		t.Errorf("after verification: %v", open)
	}
}
