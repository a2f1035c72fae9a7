package servicetest

import (
	"context"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/signalfeed"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// SignalWatch opens a service's WatchWorkSignals from since (with epoch)
// and returns how to receive its next entry: each service's test wraps
// its generated client in one.
type SignalWatch func(ctx context.Context, since int64, epoch string) (recv func() (*feedv1.SignalEvent, error), err error)

// ReadSignals reads, as the caller of ctx, n entries of a work-signal feed from since, failing
// the test when they do not come within 10 seconds.
func ReadSignals(t testing.TB, ctx context.Context, watch SignalWatch, since int64, epoch string, n int) []*feedv1.SignalEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	recv, err := watch(ctx, since, epoch)
	if err != nil {
		t.Fatal(err)
	}
	var out []*feedv1.SignalEvent
	for len(out) < n {
		ev, err := recv()
		if err != nil {
			t.Fatalf("after %d entries: %v", len(out), err)
		}
		out = append(out, ev)
	}
	return out
}

// SnapshotKeys reads, as the caller of ctx, a feed's snapshot from 0 and returns the keys of its
// open signals, in the feed's (key) order, and the SNAPSHOT_END entry.
func SnapshotKeys(t testing.TB, ctx context.Context, watch SignalWatch) ([]string, *feedv1.SignalEvent) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	recv, err := watch(ctx, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for {
		ev, err := recv()
		if err != nil {
			t.Fatalf("after %d snapshot entries: %v", len(keys), err)
		}
		if ev.Entry == feedv1.EntryKind_SNAPSHOT_END {
			return keys, ev
		}
		if ev.Entry != feedv1.EntryKind_SNAPSHOT || ev.Signal.Resolved {
			t.Fatalf("snapshot entry %v", ev)
		}
		keys = append(keys, ev.Signal.Key)
	}
}

// FeedOpen returns the open signals of f by key, read through Serve's
// snapshot as a consumer reads them, and the revision the snapshot ends
// at: what a store's feed holds, without a server.
func FeedOpen(t testing.TB, f *signalfeed.Feed) (map[string]*feedv1.WorkSignal, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := map[string]*feedv1.WorkSignal{}
	var end int64 = -1
	err := f.Serve(ctx, signalfeed.Watch{
		SendHeader: func() error { return nil },
		Send: func(ev *feedv1.SignalEvent) error {
			switch ev.Entry {
			case feedv1.EntryKind_SNAPSHOT:
				open[ev.Signal.Key] = ev.Signal
			case feedv1.EntryKind_SNAPSHOT_END:
				end = ev.Revision
				cancel()
			}
			return nil
		},
	})
	if end < 0 {
		t.Fatalf("no snapshot end: %v", err)
	}
	return open, end
}
