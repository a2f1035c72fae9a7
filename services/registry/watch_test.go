package registry

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// watch opens a watch stream as the service principal; it ends with the
// test.
func (h *harness) watch(t *testing.T, since int64) (grpc.ServerStreamingClient[pb.WatchRetireesResponse], context.CancelFunc) {
	t.Helper()
	// Bounded by the test's deadline, so that a stream that hangs fails
	// this test instead of the whole run.
	ctx, cancel := waitfor.Context(t)
	t.Cleanup(cancel)
	ctx = servicetest.WithToken(ctx, h.token(serviceP))
	stream, err := h.client.WatchRetirees(ctx, &pb.WatchRetireesRequest{SinceRevision: since})
	if err != nil {
		t.Fatal(err)
	}
	return stream, cancel
}

// revisions returns the revisions of changes, checking they are changes
// (not snapshot entries).
func revisions(t *testing.T, changes []*pb.WatchRetireesResponse) []int64 {
	t.Helper()
	var out []int64
	for _, c := range changes {
		if c.Kind == pb.ChangeKind_SNAPSHOT || c.Kind == pb.ChangeKind_SNAPSHOT_END {
			t.Errorf("snapshot entry %v among changes", c)
		}
		out = append(out, c.Revision)
	}
	return out
}

func seq(from, to int64) []int64 {
	var out []int64
	for r := from; r <= to; r++ {
		out = append(out, r)
	}
	return out
}

// createSerially creates the fixtures n in [from, to) one after another,
// so that their revisions follow their order.
func createSerially(t *testing.T, s *Store, from, to int) []*pb.Retiree {
	t.Helper()
	var out []*pb.Retiree
	for n := from; n < to; n++ {
		out = append(out, mustCreate(t, s, newRetiree(t, n, communityA, pb.ManagementMode_COMMUNITY)))
	}
	return out
}

func TestWatchReplayThenFollow(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	created := createSerially(t, s, 1, 11)

	stream, _ := h.watch(t, 3)
	got := recvN(t, stream, 7)
	if diff := cmp.Diff(seq(4, 10), revisions(t, got)); diff != "" {
		t.Fatalf("replayed revisions (-want +got):\n%s", diff)
	}
	for i, c := range got {
		r := created[3+i]
		id, err := idnumber.Parse(r.IdNumber)
		if err != nil {
			t.Fatal(err)
		}
		want := &pb.RetireeState{
			Id: r.Id, IdNumberKey: s.keyer.Key(id), CommunityId: communityA, Status: pb.RetireeStatus_LIVING,
			ManagementMode: pb.ManagementMode_COMMUNITY, EnterpriseCreditCode: enterpriseX, BirthDate: r.BirthDate,
			RetirementDate: r.RetirementDate,
			// The work-list fields: the name and masked numbers only.
			Name: r.Name, IdNumberMasked: idnumber.Mask(r.IdNumber), PhoneMasked: inputcheck.MaskPhone(r.Phone),
		}
		if c.Kind != pb.ChangeKind_CREATED || c.ChangeTime == nil {
			t.Errorf("change %d: kind %v, time %v", c.Revision, c.Kind, c.ChangeTime)
		}
		if diff := cmp.Diff(want, c.Retiree, protocmp.Transform()); diff != "" {
			t.Errorf("change %d (-want +got):\n%s", c.Revision, diff)
		}
	}

	// Live changes while the stream is open: two creations and a transfer.
	more := createSerially(t, s, 11, 13)
	if _, _, err := s.TransferRetiree(TransferRequest{RetireeID: more[0].Id, To: communityB, Reason: "搬家", Direct: true}, Actor{Subject: "test", Role: "admin"}, allow); err != nil {
		t.Fatal(err)
	}
	live := recvN(t, stream, 3)
	if diff := cmp.Diff(seq(11, 13), revisions(t, live)); diff != "" {
		t.Errorf("live revisions (-want +got):\n%s", diff)
	}
	if live[2].Kind != pb.ChangeKind_TRANSFERRED || live[2].Retiree.CommunityId != communityB || live[2].Retiree.Id != more[0].Id {
		t.Errorf("transfer change = %v", live[2])
	}
}

func TestWatchSnapshot(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	created := createMany(t, s, retirees(t, 1, watchBatch+40, communityA, pb.ManagementMode_COMMUNITY)) // more than one snapshot page
	dead := created[0]
	if _, _, err := s.RecordDeath(dead.Id, "2026-01-01", "", pb.DeathReportSource_BUREAU_MATCH, Actor{Subject: "test", Role: "admin"}, allow); err != nil {
		t.Fatal(err)
	}
	head, _, _ := s.Head()

	stream, _ := h.watch(t, 0)
	got := recvN(t, stream, len(created)+1)
	seen := map[string]bool{}
	for _, m := range got[:len(created)] {
		if m.Kind != pb.ChangeKind_SNAPSHOT || m.Revision != 0 {
			t.Fatalf("snapshot entry %v", m)
		}
		if seen[m.Retiree.Id] {
			t.Fatalf("retiree %s twice in the snapshot", m.Retiree.Id)
		}
		seen[m.Retiree.Id] = true
		if m.Retiree.Id == dead.Id && (m.Retiree.Status != pb.RetireeStatus_DECEASED || m.Retiree.DateOfDeath != "2026-01-01") {
			t.Errorf("snapshot of the deceased = %v", m.Retiree)
		}
	}
	for _, r := range created {
		if !seen[r.Id] {
			t.Errorf("retiree %s missing from the snapshot", r.Id)
		}
	}
	wantChange(t, got[len(created)], pb.ChangeKind_SNAPSHOT_END, int64(head))

	createSerially(t, s, 2000, 2001)
	wantChange(t, recvN(t, stream, 1)[0], pb.ChangeKind_CREATED, int64(head)+1)
}

func TestWatchEmptyRegistry(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	stream, _ := h.watch(t, 0)
	wantChange(t, recvN(t, stream, 1)[0], pb.ChangeKind_SNAPSHOT_END, 0)
	createSerially(t, s, 1, 2)
	wantChange(t, recvN(t, stream, 1)[0], pb.ChangeKind_CREATED, 1)
}

// TestWatchResume disconnects a consumer and resumes from its cursor:
// nothing is lost or repeated, including changes made while it was away.
func TestWatchResume(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	createSerially(t, s, 1, 11)

	stream, cancel := h.watch(t, 1)
	first := recvN(t, stream, 5)
	cursor := first[len(first)-1].Revision
	cancel()
	// Changes after the cursor may already be buffered; they are dropped
	// with the stream, which must end.
	var err error
	for err == nil {
		_, err = stream.Recv()
	}
	wantStatus(t, err, codes.Canceled)
	createSerially(t, s, 11, 14) // while disconnected

	again, _ := h.watch(t, cursor)
	rest := recvN(t, again, 13-int(cursor))
	all := append(revisions(t, first), revisions(t, rest)...)
	if diff := cmp.Diff(seq(2, 13), all); diff != "" {
		t.Errorf("revisions over both streams (-want +got):\n%s", diff)
	}
}

// TestWatchAcrossRestart stops the server, closes the store, opens the same
// file in a new server and resumes from the consumer's cursor.
func TestWatchAcrossRestart(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "registry.db")
	s1 := openStoreAt(t, path, 0)
	t.Cleanup(func() { s1.Close() })
	seedRefs(t, s1)
	k := servicetest.NewKeys(t)
	h1 := newHarness(t, s1, harnessOptions{keys: k})
	createSerially(t, s1, 1, 6)

	stream, _ := h1.watch(t, 0)
	got := recvN(t, stream, 6) // 5 snapshot entries and SNAPSHOT_END
	wantChange(t, got[5], pb.ChangeKind_SNAPSHOT_END, 5)
	createSerially(t, s1, 6, 8)
	cursor := recvN(t, stream, 2)[1].Revision

	h1.stop()
	_, err := stream.Recv()
	wantStatus(t, err, codes.Unavailable)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}

	s2 := openStoreAt(t, path, 0)
	t.Cleanup(func() { s2.Close() })
	h2 := newHarness(t, s2, harnessOptions{keys: k})
	createSerially(t, s2, 8, 10)
	resumed, _ := h2.watch(t, cursor)
	rest := recvN(t, resumed, 2)
	if diff := cmp.Diff(seq(8, 9), revisions(t, rest)); diff != "" {
		t.Errorf("revisions after the restart (-want +got):\n%s", diff)
	}
	// The restarted store keeps counting where it stopped.
	if head, oldest, err := s2.Head(); err != nil || head != 9 || oldest != 1 {
		t.Errorf("head, oldest = %d, %d, %v; want 9, 1", head, oldest, err)
	}
}

func TestWatchCompacted(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 5)
	h := newHarness(t, s, harnessOptions{})
	createSerially(t, s, 1, 13) // revisions 1..12, 8..12 kept

	tests := []struct {
		since int64
		want  []int64 // nil: compacted
	}{
		{1, nil},
		{6, nil},
		{7, seq(8, 12)},
		{11, seq(12, 12)},
	}
	for _, tc := range tests {
		t.Run(strconv.FormatInt(tc.since, 10), func(t *testing.T) {
			stream, _ := h.watch(t, tc.since)
			if tc.want == nil {
				_, err := stream.Recv()
				info := wantReason(t, err, codes.FailedPrecondition, reasonCompacted)
				if got := info.Metadata["oldest_revision"]; got != "8" {
					t.Errorf("oldest_revision = %q, want 8", got)
				}
				return
			}
			got := recvN(t, stream, len(tc.want))
			if diff := cmp.Diff(tc.want, revisions(t, got)); diff != "" {
				t.Errorf("revisions (-want +got):\n%s", diff)
			}
		})
	}
	// A consumer told to start again from 0 gets a full snapshot.
	stream, _ := h.watch(t, 0)
	wantChange(t, recvN(t, stream, 13)[12], pb.ChangeKind_SNAPSHOT_END, 12)
}

func TestWatchAhead(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	createSerially(t, s, 1, 4)
	stream, _ := h.watch(t, 4)
	_, err := stream.Recv()
	info := wantReason(t, err, codes.FailedPrecondition, reasonAhead)
	if got := info.Metadata["head_revision"]; got != "3" {
		t.Errorf("head_revision = %q, want 3", got)
	}
	// At the head itself the stream waits for the next change.
	at, _ := h.watch(t, 3)
	createSerially(t, s, 4, 5)
	if got := recvN(t, at, 1)[0]; got.Revision != 4 {
		t.Errorf("first change from the head = %v", got)
	}
}

// TestWatchEndsOnShutdown: a graceful shutdown ends open watch streams with
// Unavailable at once, instead of waiting out the shutdown timeout: with
// a timeout longer than any test may run, a stop that waited for the
// streams would never return.
func TestWatchEndsOnShutdown(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	h := newHarness(t, s, harnessOptions{shutdownTimeout: 24 * time.Hour})
	createSerially(t, s, 1, 3)
	streams := make([]grpc.ServerStreamingClient[pb.WatchRetireesResponse], 3)
	for i := range streams {
		streams[i], _ = h.watch(t, 0)
		recvN(t, streams[i], 3) // idle after the snapshot
	}
	h.stop()
	for _, stream := range streams {
		_, err := stream.Recv()
		st := wantStatus(t, err, codes.Unavailable)
		if st.Message() != "server is shutting down" {
			t.Errorf("message = %q", st.Message())
		}
	}
}

// wantChange fails t unless the watch message got is of kind at revision
// rev.
func wantChange(t *testing.T, got *pb.WatchRetireesResponse, kind pb.ChangeKind, rev int64) {
	t.Helper()
	if got.Kind != kind || got.Revision != rev {
		t.Fatalf("watch message = %v, want %v at %d", got, kind, rev)
	}
}
