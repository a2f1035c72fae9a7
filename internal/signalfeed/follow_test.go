package signalfeed

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/waitfor"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// A consumer whose cursor was compacted away starts again from 0 and
// ends with exactly the open set: what was resolved while it was away is
// closed by the snapshot's end.
func TestCompactedCursorRestartsFromSnapshot(t *testing.T) {
	src := newSource(t, Options{Retention: 4})
	for _, k := range []string{"a", "b", "c"} {
		src.emit(signal(k))
	}
	c := newConsumer(t)
	op := &opener{src: src}
	f, stop := c.follow(op, FollowerOptions{})
	waitfor.NoError(t, "first snapshot", func(ctx context.Context) error { return f.WaitFor(ctx, 3) })
	stop()
	gen := f.Generation()

	src.resolve("a")
	src.resolve("b")
	for i := range 8 {
		src.emit(signal(fmt.Sprint("n", i)))
	}
	for i := range 6 {
		src.resolve(fmt.Sprint("n", i))
	}
	head := src.head()
	f, _ = c.follow(op, FollowerOptions{})
	waitfor.NoError(t, "caught up", func(ctx context.Context) error { return f.WaitFor(ctx, head) })
	wantOpen(t, c, "c", "n6", "n7")
	if f.Generation() <= gen {
		t.Errorf("generation %d after a restart from 0, was %d", f.Generation(), gen)
	}
	asked := op.cursors()
	if !slices.Contains(asked, 3) || asked[len(asked)-1] != 0 {
		t.Errorf("cursors asked %v: want 3 refused, then 0", asked)
	}
}

// A source restored from a copy of its running file (here: opened again
// without Close) starts a new epoch; the consumer's cursor is refused
// and it resynchronises, even though the restored head is where it was.
func TestEpochChangeRestartsFromSnapshot(t *testing.T) {
	src := newSource(t, Options{})
	src.emit(signal("a"))
	src.emit(signal("b"))
	c := newConsumer(t)
	op := &opener{src: src}
	f, stop := c.follow(op, FollowerOptions{})
	waitfor.NoError(t, "first snapshot", func(ctx context.Context) error { return f.WaitFor(ctx, 2) })
	stop()
	old := src.feed.Epoch()

	// What the consumer saw, then a restore that lost "b" and made "x".
	src.resolve("b")
	op.mu.Lock()
	src.crash()
	op.mu.Unlock()
	if src.feed.Epoch() == old {
		t.Fatal("a file not closed kept its epoch")
	}
	src.emit(signal("x"))
	f, _ = c.follow(op, FollowerOptions{})
	waitfor.True(t, "resynchronised", func() bool {
		return f.Cursor() == src.head() && slices.Equal(keys(c.open()), []string{"a", "x"})
	})
	epochs := op.epochs
	if !slices.Contains(epochs, old) {
		t.Errorf("epochs sent %v: want the old one refused", epochs)
	}

	// A clean close keeps the epoch.
	e := src.feed.Epoch()
	if err := src.feed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.db.Close(); err != nil {
		t.Fatal(err)
	}
	src.open()
	if src.feed.Epoch() != e {
		t.Error("a clean close started a new epoch")
	}
}

// A consumer stopped mid-stream, or whose transaction failed, applies
// every change exactly once: the cursor is in the same transaction as
// what it applied.
func TestStoppedConsumerAppliesEachChangeOnce(t *testing.T) {
	src := newSource(t, Options{})
	c := newConsumer(t)
	op := &opener{src: src}
	// A snapshot at revision 1: at 0 the cursor would read as "start
	// from a snapshot" again.
	src.emit(signal("first"))
	f, stop := c.follow(op, FollowerOptions{})
	waitfor.NoError(t, "the snapshot applied", func(ctx context.Context) error { return f.WaitFor(ctx, 1) })
	stop()
	for i := range 60 {
		src.emit(signal(fmt.Sprint("k", i)))
		if i%3 == 0 {
			src.resolve(fmt.Sprint("k", i))
		}
	}
	head := src.head()

	stopped := make(chan struct{})
	var stopOnce, failOnce sync.Once
	apply := func(tx *bolt.Tx, ev *feedv1.SignalEvent, gen uint64) error {
		if ev.Revision == 17 {
			stopOnce.Do(func() { close(stopped) })
		}
		if ev.Revision == 53 {
			var err error
			failOnce.Do(func() { err = errors.New("the consumer's disk is full") })
			if err != nil {
				return err
			}
		}
		return c.apply(tx, ev, gen)
	}
	f, stop = c.follow(op, FollowerOptions{Apply: apply, MaxBatch: 7})
	waitfor.Receive(t, "revision 17 applied", stopped)
	stop()
	if mid := f.Cursor(); mid >= head {
		t.Fatalf("stopped at %d, the head: not mid-stream", mid)
	}
	f, _ = c.follow(op, FollowerOptions{Apply: apply, MaxBatch: 7})
	waitfor.NoError(t, "caught up", func(ctx context.Context) error { return f.WaitFor(ctx, head) })
	counts := c.appliedCounts()
	for rev := uint64(2); rev <= head; rev++ {
		if counts[rev] != 1 {
			t.Errorf("revision %d applied %d times", rev, counts[rev])
		}
	}
	if len(counts) != int(head)-1 {
		t.Errorf("%d revisions applied, want %d", len(counts), head-1)
	}
	if n := len(c.open()); n != 41 {
		t.Errorf("%d open items, want 41", n)
	}
	if f.Generation() != 1 {
		t.Errorf("generation %d: the consumer resynchronised", f.Generation())
	}
}
