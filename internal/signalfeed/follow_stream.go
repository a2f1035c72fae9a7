package signalfeed

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/gather"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// follow runs one stream from the cursor, applying what arrives in
// batched transactions. It reports whether anything was applied.
func (f *Follower) follow(ctx context.Context) (progressed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	snapshot := f.Cursor() == 0
	if snapshot {
		if err := f.startGeneration(); err != nil {
			return false, err
		}
	}
	stream, err := f.o.Open(ctx, int64(f.Cursor()), f.epoch) //nolint:gosec // G115: apply stores only revisions it checked are not negative
	if err != nil {
		return false, err
	}
	if _, err := stream.Header(); err != nil {
		return false, err
	}
	f.connected.Store(true)
	events, recvErr := receive(ctx, stream, f.o.MaxBatch)
	batch := make([]*feedv1.SignalEvent, 0, f.o.MaxBatch)
	for ev := range events {
		batch = gather.Queued(append(batch[:0], ev), events, f.o.MaxBatch)
		if snapshot, err = f.apply(batch, snapshot); err != nil {
			if errors.Is(err, errEpochChanged) {
				return f.streamEnded(err, progressed)
			}
			return progressed, fmt.Errorf("apply: %w", err)
		}
		progressed = true
	}
	return f.streamEnded(<-recvErr, progressed)
}

// startGeneration stores the next snapshot generation before a stream
// from 0 opens: a snapshot broken off is started again under a new one.
func (f *Follower) startGeneration() error {
	gen := f.Generation() + 1
	err := f.db.Update(func(tx *bolt.Tx) error {
		return PutCursor(tx, f.o.Source, Cursor{Generation: gen})
	})
	if err == nil {
		f.generation.Store(gen)
		f.epoch = ""
	}
	return err
}

// receive starts the goroutine that reads the stream, so that the next
// entries arrive while a batch is applied. It closes the event channel
// when it stops, then sends why on the error channel.
func receive(ctx context.Context, stream Stream, size int) (<-chan *feedv1.SignalEvent, <-chan error) {
	events := make(chan *feedv1.SignalEvent, size)
	recvErr := make(chan error, 1)
	go func() {
		defer close(events)
		for {
			ev, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case events <- ev:
			case <-ctx.Done():
				recvErr <- ctx.Err()
				return
			}
		}
	}()
	return events, recvErr
}

// errEpochChanged stops a stream whose changes are of another epoch than
// the cursor's: the source checks the epoch when the watch starts, so
// this only guards against one that did not.
var errEpochChanged = errors.New("the source sent a change of another epoch")

// apply applies one batch and stores the cursor in one transaction.
// snapshot says whether the stream is in its snapshot; apply returns
// whether it still is after the batch.
func (f *Follower) apply(batch []*feedv1.SignalEvent, snapshot bool) (bool, error) {
	cur := Cursor{Revision: f.Cursor(), Generation: f.Generation(), Epoch: f.epoch}
	applied := 0
	err := f.db.Update(func(tx *bolt.Tx) error {
		for _, ev := range batch {
			n, err := f.applyOne(tx, ev, &cur, &snapshot)
			if err != nil {
				return err
			}
			applied += n
		}
		return PutCursor(tx, f.o.Source, cur)
	})
	if err != nil {
		return false, err
	}
	f.cursor.Store(cur.Revision)
	f.epoch = cur.Epoch
	f.applied.Add(uint64(applied)) //nolint:gosec // G115: a count of entries
	f.mu.Lock()
	close(f.done)
	f.done = make(chan struct{})
	f.mu.Unlock()
	return snapshot, nil
}

// applyOne applies one entry within apply's transaction, moving cur. It
// returns how many entries reached Apply (0 or 1).
func (f *Follower) applyOne(tx *bolt.Tx, ev *feedv1.SignalEvent, cur *Cursor, snapshot *bool) (int, error) {
	if ev.Revision < 0 {
		return 0, fmt.Errorf("%s sent revision %d", f.o.Source, ev.Revision)
	}
	switch ev.Entry {
	case feedv1.EntryKind_SNAPSHOT_END:
		if !*snapshot {
			return 0, fmt.Errorf("%s sent SNAPSHOT_END outside a snapshot", f.o.Source)
		}
		if f.o.EndSnapshot != nil {
			if err := f.o.EndSnapshot(tx, cur.Generation); err != nil {
				return 0, err
			}
		}
		cur.Revision, cur.Epoch, *snapshot = uint64(ev.Revision), ev.Epoch, false
		return 0, nil
	case feedv1.EntryKind_SNAPSHOT:
		if !*snapshot {
			return 0, fmt.Errorf("%s sent SNAPSHOT outside a snapshot", f.o.Source)
		}
	case feedv1.EntryKind_CHANGE:
		if *snapshot {
			return 0, fmt.Errorf("%s sent a change before SNAPSHOT_END", f.o.Source)
		}
		if cur.Epoch != "" && ev.Epoch != cur.Epoch {
			return 0, errEpochChanged
		}
		if uint64(ev.Revision) <= cur.Revision {
			return 0, nil // applied already (a replay after reconnecting)
		}
		cur.Revision = uint64(ev.Revision)
	default:
		return 0, fmt.Errorf("%s sent entry kind %v", f.o.Source, ev.Entry)
	}
	if ev.Signal == nil {
		return 0, fmt.Errorf("%s sent %v without a signal", f.o.Source, ev.Entry)
	}
	return 1, f.o.Apply(tx, ev, cur.Generation)
}

// streamEnded handles the error a stream ended with. When the source
// refuses the cursor it resets it, so that the next stream starts from a
// snapshot; that counts as progress.
func (f *Follower) streamEnded(err error, progressed bool) (bool, error) {
	reason := ErrorReason(err)
	if errors.Is(err, errEpochChanged) {
		reason = ReasonEpochChanged
	}
	switch reason {
	case ReasonCompacted, ReasonAhead, ReasonEpochChanged:
	default:
		return progressed, err
	}
	f.o.Logger.Warn("cursor not in the source's work-signal feed; starting again from a snapshot",
		zap.String("source", f.o.Source), zap.String("reason", reason), zap.Uint64("cursor", f.Cursor()))
	serr := f.db.Update(func(tx *bolt.Tx) error {
		return PutCursor(tx, f.o.Source, Cursor{Generation: f.Generation()})
	})
	if serr != nil {
		return progressed, serr
	}
	f.cursor.Store(0)
	f.epoch = ""
	return true, err
}

// ErrorReason returns the ErrorInfo reason of a FAILED_PRECONDITION
// status error, or "".
func ErrorReason(err error) string {
	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.FailedPrecondition {
		return ""
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason
		}
	}
	return ""
}
