package activity

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// signalWatch is activity's WatchWorkSignals for servicetest's readers.
func signalWatch(c pb.ActivityServiceClient, opts ...grpc.CallOption) servicetest.SignalWatch {
	return func(ctx context.Context, since int64, epoch string) (func() (*feedv1.SignalEvent, error), error) {
		stream, err := c.WatchWorkSignals(ctx, &pb.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch}, opts...)
		if err != nil {
			return nil, err
		}
		return func() (*feedv1.SignalEvent, error) {
			m, err := stream.Recv()
			return m.GetEvent(), err
		}, nil
	}
}

// watchSignalsOnce opens the feed from 0 and reads its first entry.
func watchSignalsOnce(ctx context.Context, c pb.ActivityServiceClient) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	recv, err := signalWatch(c)(ctx, 0, "")
	if err != nil {
		return err
	}
	_, err = recv()
	return err
}

// A promotion from the waiting list and a cancelled activity are notices:
// resolved at once, one per retiree told, with the activity's
// particulars, and never in the snapshot.
func TestNoticeSignals(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	venue := h.mustVenue(communityA, 2)
	a := h.mustActivity(oneOff(venue, sh(2026, 7, 1, 9, 0), time.Hour))
	rs := livingIn(communityA, 4)
	h.retirees(rs...)
	actor := Actor{Subject: "clerk", Role: "clerk"}
	// A watch open from the start sees the changes live.
	ctx, cancel := context.WithTimeout(h.as(serviceP), 10*time.Second)
	defer cancel()
	recv, err := signalWatch(h.client)(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := recv(); err != nil || ev.Entry != feedv1.EntryKind_SNAPSHOT_END {
		t.Fatalf("first entry %v (%v), want the end of an empty snapshot", ev, err)
	}
	for _, r := range rs[:3] {
		if _, err := h.store.Register(a.Id, r.Id, actor, allow); err != nil {
			t.Fatal(err)
		}
	}
	// rs[0] and rs[1] hold the places, rs[2] waits; rs[3] registers and
	// cancels, so it is not told of the cancellation.
	if _, err := h.store.Register(a.Id, rs[3].Id, actor, allow); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.store.CancelRegistration(a.Id, rs[3].Id, actor, allow); err != nil {
		t.Fatal(err)
	}
	if _, promoted, err := h.store.CancelRegistration(a.Id, rs[0].Id, actor, allow); err != nil || promoted.GetRetireeId() != rs[2].Id {
		t.Fatalf("promoted %v (%v), want %s", promoted, err, rs[2].Id)
	}
	if _, err := h.store.CancelActivity(a.Id, "场地维修", allow); err != nil {
		t.Fatal(err)
	}

	var changes []*feedv1.SignalEvent
	for range 3 {
		ev, err := recv()
		if err != nil {
			t.Fatal(err)
		}
		changes = append(changes, ev)
	}
	want := []struct {
		kind feedv1.SignalKind
		key  string
	}{
		{feedv1.SignalKind_WAITLIST_PROMOTED, "promoted/" + a.Id + "/" + rs[2].Id + "/3"},
		{feedv1.SignalKind_ACTIVITY_CANCELLED, "activity-cancelled/" + a.Id + "/" + rs[1].Id},
		{feedv1.SignalKind_ACTIVITY_CANCELLED, "activity-cancelled/" + a.Id + "/" + rs[2].Id},
	}
	for i, ev := range changes {
		sig := ev.Signal
		if ev.Entry != feedv1.EntryKind_CHANGE || sig.Kind != want[i].kind || sig.Key != want[i].key || !sig.Resolved ||
			sig.SubjectKind != feedv1.SubjectKind_ACTIVITY || sig.SubjectId != a.Id || sig.CommunityId != communityA {
			t.Errorf("change %d: %v, want %v %s", i, ev, want[i].kind, want[i].key)
		}
		if sig.Details[signalfeed.DetailTitle] != "太极拳" || sig.Details[signalfeed.DetailStart] != a.StartTime || sig.Details[signalfeed.DetailPlace] != venue.Name {
			t.Errorf("change %d details %v", i, sig.Details)
		}
	}
	// Notices never sit in the open set.
	if keys, end := servicetest.SnapshotKeys(t, h.as(serviceP), signalWatch(h.client)); len(keys) != 0 || end.Revision != 3 {
		t.Errorf("snapshot %v up to %d, want nothing open up to revision 3", keys, end.Revision)
	}
	servicetest.WantCode(t, watchSignalsOnce(h.as(clerkP), h.client), codes.PermissionDenied)
}

// A retiree promoted from the waiting list, who cancels, registers again,
// waits again and is promoted again, is told twice: each promotion is a
// notice of its own.
func TestSecondPromotionIsNoticed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	venue := h.mustVenue(communityA, 2)
	a := h.mustActivity(oneOff(venue, sh(2026, 7, 1, 9, 0), time.Hour))
	rs := livingIn(communityA, 3)
	h.retirees(rs...)
	actor := Actor{Subject: "clerk", Role: "clerk"}
	ctx, stop := context.WithTimeout(h.as(serviceP), 10*time.Second)
	defer stop()
	recv, err := signalWatch(h.client)(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := recv(); err != nil || ev.Entry != feedv1.EntryKind_SNAPSHOT_END {
		t.Fatalf("first entry %v (%v), want the end of an empty snapshot", ev, err)
	}
	register := func(r int) {
		t.Helper()
		if _, err := h.store.Register(a.Id, rs[r].Id, actor, allow); err != nil {
			t.Fatal(err)
		}
	}
	cancel := func(r int, want string) {
		t.Helper()
		_, promoted, err := h.store.CancelRegistration(a.Id, rs[r].Id, actor, allow)
		if err != nil || promoted.GetRetireeId() != want {
			t.Fatalf("promoted %v (%v), want %q", promoted, err, want)
		}
	}
	register(0)
	register(1)
	register(2) // waits
	cancel(0, rs[2].Id)
	cancel(2, "") // gives the place back: nobody waits
	register(0)
	register(2) // waits again
	cancel(1, rs[2].Id)

	var keys []string
	_, head := servicetest.FeedOpen(t, h.store.Signals())
	for range head {
		ev, err := recv()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Signal.Kind == feedv1.SignalKind_WAITLIST_PROMOTED && ev.Signal.RetireeId == rs[2].Id {
			keys = append(keys, ev.Signal.Key)
		}
	}
	if len(keys) != 2 || keys[0] == keys[1] {
		t.Fatalf("promotion notices %v, want two under different keys", keys)
	}
}
