package signalfeed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

func keys(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

func wantOpen(t *testing.T, c *consumer, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(c.open()); !slices.Equal(got, want) {
		t.Fatalf("open items %v, want %v", got, want)
	}
}

func TestSnapshotThenLive(t *testing.T) {
	src := newSource(t, Options{})
	src.emit(signal("a"))
	src.emit(signal("b"))
	src.emit(signal("c"))
	src.resolve("c")
	c := newConsumer(t)
	f, _ := c.follow(&opener{src: src}, FollowerOptions{})
	waitfor.NoError(t, "snapshot applied", func(ctx context.Context) error { return f.WaitFor(ctx, 4) })
	wantOpen(t, c, "a", "b")
	if got := c.appliedCounts(); len(got) != 0 {
		t.Fatalf("a snapshot applied changes %v", got)
	}

	src.emit(signal("d"))
	src.resolve("a")
	waitfor.NoError(t, "live changes applied", func(ctx context.Context) error { return f.WaitFor(ctx, 6) })
	wantOpen(t, c, "b", "d")
	if got := c.appliedCounts(); !maps.Equal(got, map[uint64]int{5: 1, 6: 1}) {
		t.Fatalf("applied %v, want revisions 5 and 6 once", got)
	}
}

// collect runs Serve from since until it has sent n entries, then ends
// the watch; it returns the entries.
func collect(t *testing.T, f *Feed, since int64, epoch string, n int) ([]*feedv1.SignalEvent, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []*feedv1.SignalEvent
	err := f.Serve(ctx, Watch{
		SinceRevision: since, Epoch: epoch, SendHeader: func() error { return nil },
		Send: func(ev *feedv1.SignalEvent) error {
			got = append(got, ev)
			if len(got) == n {
				cancel()
			}
			return nil
		},
	})
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return got, err
}

func TestReplayFromCursor(t *testing.T) {
	src := newSource(t, Options{})
	for i := range 5 {
		src.emit(signal(fmt.Sprint("k", i)))
	}
	got, err := collect(t, src.feed, 2, src.feed.Epoch(), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range got {
		if ev.Revision != int64(i+3) || ev.Entry != feedv1.EntryKind_CHANGE || ev.Epoch != src.feed.Epoch() || ev.Signal.Key != fmt.Sprint("k", i+2) {
			t.Fatalf("entry %d: %v", i, ev)
		}
	}
	snap, err := collect(t, src.feed, 0, "", 6)
	if err != nil {
		t.Fatal(err)
	}
	end := snap[5]
	if end.Entry != feedv1.EntryKind_SNAPSHOT_END || end.Revision != 5 {
		t.Fatalf("snapshot end %v", end)
	}
	for _, ev := range snap[:5] {
		if ev.Entry != feedv1.EntryKind_SNAPSHOT || ev.Revision != 0 {
			t.Fatalf("snapshot entry %v", ev)
		}
	}
}

func ruleReason(err error) string {
	var re *fault.RuleError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func TestCursorRefused(t *testing.T) {
	src := newSource(t, Options{Retention: 3})
	for i := range 6 {
		src.emit(signal(fmt.Sprint("k", i)))
	}
	for _, tc := range []struct {
		since  int64
		epoch  string
		reason string
	}{
		{since: 99, reason: ReasonAhead},
		{since: 1, reason: ReasonCompacted},
		{since: 5, epoch: "other", reason: ReasonEpochChanged},
	} {
		_, err := collect(t, src.feed, tc.since, tc.epoch, 1)
		if got := ruleReason(err); got != tc.reason {
			t.Errorf("since %d epoch %q: %v, want %s", tc.since, tc.epoch, err, tc.reason)
		}
	}
	if _, err := collect(t, src.feed, 3, src.feed.Epoch(), 3); err != nil {
		t.Errorf("a cursor at the oldest kept less one: %v", err)
	}
}

func TestIdenticalEmitAddsNoRevision(t *testing.T) {
	src := newSource(t, Options{})
	src.emit(signal("a"))
	src.emit(signal("a"))
	if h := src.head(); h != 1 {
		t.Fatalf("head %d after an identical emit, want 1", h)
	}
	changed := signal("a")
	changed.Summary = "另一个"
	src.emit(changed)
	resolved := signal("a")
	resolved.Resolved, resolved.Resolution = true, "verified"
	src.emit(resolved)
	src.emit(resolved)
	if h := src.head(); h != 3 {
		t.Fatalf("head %d, want 3 (open, changed, resolved)", h)
	}
	notice := signal("n")
	notice.Kind, notice.Resolved = feedv1.SignalKind_ACTIVITY_CHANGED, true
	src.emit(notice)
	src.emit(notice)
	if h := src.head(); h != 4 {
		t.Fatalf("head %d, want 4: a notice once", h)
	}
	if err := src.db.Update(func(tx *bolt.Tx) error {
		ok, err := src.feed.Resolve(tx, "never", "x")
		if ok {
			t.Error("Resolve of a key never open reported it open")
		}
		return err
	}); err != nil || src.head() != 4 {
		t.Fatalf("Resolve of a key never open: %v, head %d", err, src.head())
	}
}

func TestInvalidEmitChangesNothing(t *testing.T) {
	src := newSource(t, Options{})
	bad := signal("a")
	bad.Summary = "致电 13800138000"
	err := src.db.Update(func(tx *bolt.Tx) error { return src.feed.Emit(tx, bad) })
	var ve *fault.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("emit with a phone number: %v", err)
	}
	if src.head() != 0 {
		t.Fatal("an invalid emit wrote")
	}
}

func TestTooManyWatches(t *testing.T) {
	src := newSource(t, Options{MaxWatchers: 1})
	ctx, cancel := context.WithCancel(context.Background())
	started, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		_ = src.feed.Serve(ctx, Watch{SendHeader: func() error { close(started); return nil }, Send: func(*feedv1.SignalEvent) error { return nil }})
	}()
	<-started
	_, err := collect(t, src.feed, 0, "", 1)
	if got := ruleReason(err); got != ReasonTooManyWatches {
		t.Errorf("second watch: %v", err)
	}
	cancel()
	<-done
	if _, err := collect(t, src.feed, 0, "", 1); err != nil {
		t.Errorf("after the first ended: %v", err)
	}
}

// A storage migration backfills before the feed is opened; the first
// snapshot holds what it emitted, and emitting it again adds nothing.
func TestBackfillBeforeNew(t *testing.T) {
	path := t.TempDir() + "/backfill.db"
	db := openDB(t, path)
	defer db.Close()
	for range 2 {
		if err := db.Update(func(tx *bolt.Tx) error { return Backfill(tx, signal("old"), t0) }); err != nil {
			t.Fatal(err)
		}
	}
	f, err := New(db, Options{Source: "test"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := collect(t, f, 0, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Signal.GetKey() != "old" || got[1].Entry != feedv1.EntryKind_SNAPSHOT_END || got[1].Revision != 1 {
		t.Fatalf("snapshot %v", got)
	}
}

// TestCompactionKeepsTheRetention: a log is compacted in steps of its
// slack, never holding more than retention+slack entries nor fewer than
// the retention once it has them; what is dropped leaves the log, and a
// resolve of a key whose entries were compacted is still a change.
func TestCompactionKeepsTheRetention(t *testing.T) {
	const retention = MinRetention
	slack := compactSlack(retention)
	if slack == 0 {
		t.Fatalf("no slack at retention %d", retention)
	}
	src := newSource(t, Options{Retention: retention})
	compacted, slacked := false, false
	for i := range retention + 3*int(slack) {
		src.emit(signal(fmt.Sprint("k", i)))
		head, oldest, err := src.feed.Head()
		if err != nil {
			t.Fatal(err)
		}
		kept := head - oldest + 1
		if kept > retention+slack || (head >= retention && kept < retention) {
			t.Fatalf("after %d entries the log keeps %d (oldest %d), want %d to %d", head, kept, oldest, retention, retention+slack)
		}
		compacted = compacted || oldest > 1
		slacked = slacked || kept > retention
	}
	if !compacted || !slacked {
		t.Fatalf("compacted %v, held more than the retention between compactions %v: want both", compacted, slacked)
	}
	var logged int
	if err := src.db.View(func(tx *bolt.Tx) error {
		logged = tx.Bucket(bucketLog).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if head, oldest, _ := src.feed.Head(); uint64(logged) != head-oldest+1 {
		t.Errorf("the log holds %d entries, revisions say %d", logged, head-oldest+1)
	}
	before := src.head()
	src.resolve("k0")
	if src.head() != before+1 {
		t.Errorf("resolving a key whose entries were compacted: head %d, want %d", src.head(), before+1)
	}
}
