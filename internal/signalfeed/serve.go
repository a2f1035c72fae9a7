package signalfeed

import (
	"context"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// Reasons of the failures of a watch (ErrorInfo.reason), the same as
// registry's WatchRetirees. A Follower acts on them.
const (
	ReasonCompacted      = "REVISION_COMPACTED"
	ReasonAhead          = "REVISION_AHEAD"
	ReasonEpochChanged   = "EPOCH_CHANGED"
	ReasonTooManyWatches = "TOO_MANY_WATCHES"
)

// batch is how many entries one read transaction of a watch takes from
// the log or the open set: also most of what a stalled stream holds.
const batch = 64

// watcherRetry is how long a watch refused for want of a place should
// wait.
const watcherRetry = 5 * time.Second

// ErrStopping ends a watch when the server shuts down (UNAVAILABLE): the
// consumer reconnects to another instance or later.
var ErrStopping = status.Error(codes.Unavailable, "server is shutting down")

// Watch is one WatchWorkSignals call as Serve needs it.
type Watch struct {
	// SinceRevision and Epoch are the request's.
	SinceRevision int64
	Epoch         string
	// SendHeader sends the stream's headers (stream.SendHeader(nil)), so
	// that the consumer knows the watch is open while nothing changes.
	SendHeader func() error
	// Send sends one entry (wrapped in the service's response message).
	Send func(*feedv1.SignalEvent) error
	// Stopping, when closed, ends the watch with ErrStopping.
	Stopping <-chan struct{}
}

// Serve runs one watch of the feed until the consumer goes (ctx), the
// server stops, or an error. The handler checks the caller (role service
// or admin) first and maps the error it returns (fault errors, through
// apierror, as the service's other errors).
//
// SinceRevision 0 sends every open signal as SNAPSHOT (revision 0), in
// key order, in short read transactions, then SNAPSHOT_END carrying the
// head revision read before the snapshot began, then every change after
// it and live changes as they commit. A signal that changes during the
// snapshot may be sent in it and again as a change after SNAPSHOT_END; a
// consumer applies by key, so that is harmless. SinceRevision N sends the
// changes after N, then live ones. Every entry carries the epoch.
//
// Failures, all FAILED_PRECONDITION with an ErrorInfo reason, after the
// headers: EPOCH_CHANGED (Epoch is set and not the feed's),
// REVISION_COMPACTED (the changes after N were pruned), REVISION_AHEAD (N
// beyond the head). RESOURCE_EXHAUSTED TOO_MANY_WATCHES, with a retry
// delay, when MaxWatchers watches run already.
func (f *Feed) Serve(ctx context.Context, w Watch) error {
	if w.SinceRevision < 0 {
		return fault.Invalid("sinceRevision", "must not be negative")
	}
	select {
	case f.watchers <- struct{}{}:
		defer func() { <-f.watchers }()
	default:
		return fault.LimitRetry(ReasonTooManyWatches,
			fmt.Sprintf("%s serves at most %d work-signal watches at once; retry later", f.o.Source, cap(f.watchers)),
			watcherRetry, "max_watchers", strconv.Itoa(cap(f.watchers)))
	}
	if err := w.SendHeader(); err != nil {
		return err
	}
	if w.SinceRevision > 0 && w.Epoch != "" && w.Epoch != f.epoch {
		return fault.Rule(ReasonEpochChanged,
			"since_revision belongs to another epoch of the work-signal feed (restored from a backup, or not closed cleanly); restart from 0",
			"epoch", f.epoch)
	}
	cursor := uint64(w.SinceRevision)
	if cursor == 0 {
		head, err := f.sendSnapshot(w)
		if err != nil {
			return err
		}
		cursor = head
	}
	return f.sendChanges(ctx, w, cursor)
}

// sendChanges streams every change after cursor, from the log and then
// as changes commit.
func (f *Feed) sendChanges(ctx context.Context, w Watch, cursor uint64) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.Stopping:
			return ErrStopping
		default:
		}
		// Taken before reading, so that a change committed after the read
		// still wakes the stream.
		wake := f.changes.Wait()
		events, err := f.readChanges(cursor)
		if err != nil {
			return err
		}
		for _, ev := range events {
			if err := w.Send(ev); err != nil {
				return err
			}
			cursor = uint64(ev.Revision) //nolint:gosec // G115: appendSignal wrote it from a uint64
		}
		if len(events) == batch {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-w.Stopping:
			return ErrStopping
		}
	}
}

// readChanges reads up to batch changes after cursor, checking that the
// log can continue from it.
func (f *Feed) readChanges(cursor uint64) ([]*feedv1.SignalEvent, error) {
	var out []*feedv1.SignalEvent
	err := f.db.View(func(tx *bolt.Tx) error {
		head, oldest, err := revisions(tx)
		if err != nil {
			return err
		}
		if err := cursorInLog(cursor, head, oldest); err != nil {
			return err
		}
		c := tx.Bucket(bucketLog).Cursor()
		for k, v := c.Seek(boltstore.U64(cursor + 1)); k != nil && len(out) < batch; k, v = c.Next() {
			ev := new(feedv1.SignalEvent)
			if err := proto.Unmarshal(v, ev); err != nil {
				return err
			}
			ev.Epoch = f.epoch
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// cursorInLog checks that the log can continue from cursor.
func cursorInLog(cursor, head, oldest uint64) error {
	if cursor > head {
		return fault.Rule(ReasonAhead, "since_revision is ahead of the work-signal feed", "head_revision", strconv.FormatUint(head, 10))
	}
	if oldest > 0 && cursor+1 < oldest {
		return fault.Rule(ReasonCompacted, "revisions after since_revision were pruned; restart from 0", "oldest_revision", strconv.FormatUint(oldest, 10))
	}
	return nil
}

// sendSnapshot sends the open set in key order, then SNAPSHOT_END at the
// head read before it began, which it returns.
func (f *Feed) sendSnapshot(w Watch) (uint64, error) {
	var head uint64
	if err := f.db.View(func(tx *bolt.Tx) (err error) {
		head, _, err = revisions(tx)
		return err
	}); err != nil {
		return 0, err
	}
	var after []byte
	for {
		page, err := f.snapshotPage(after)
		if err != nil {
			return 0, err
		}
		for _, ev := range page {
			if err := w.Send(ev); err != nil {
				return 0, err
			}
			after = []byte(ev.Signal.Key)
		}
		if len(page) < batch {
			break
		}
	}
	end := &feedv1.SignalEvent{Revision: int64(head), Entry: feedv1.EntryKind_SNAPSHOT_END, Epoch: f.epoch} //nolint:gosec // G115: revisions count up by one from 1
	return head, w.Send(end)
}

// snapshotPage reads up to batch open signals after key after (nil: from
// the first) as SNAPSHOT entries.
func (f *Feed) snapshotPage(after []byte) ([]*feedv1.SignalEvent, error) {
	var out []*feedv1.SignalEvent
	err := f.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOpen).Cursor()
		k, v := c.First()
		if after != nil {
			if k, v = c.Seek(after); k != nil && string(k) == string(after) {
				k, v = c.Next()
			}
		}
		for ; k != nil && len(out) < batch; k, v = c.Next() {
			ev := new(feedv1.SignalEvent)
			if err := proto.Unmarshal(v, ev); err != nil {
				return err
			}
			ev.Revision, ev.Entry, ev.Epoch = 0, feedv1.EntryKind_SNAPSHOT, f.epoch
			out = append(out, ev)
		}
		return nil
	})
	return out, err
}

// Head returns the feed's head revision and the oldest kept (0, 0 when
// nothing was emitted yet).
func (f *Feed) Head() (head, oldest uint64, err error) {
	err = f.db.View(func(tx *bolt.Tx) (err error) {
		head, oldest, err = revisions(tx)
		return err
	})
	return head, oldest, err
}
