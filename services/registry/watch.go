package registry

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// watchBatch is how many entries one read transaction of a watch stream
// takes from the change log or the snapshot. It is also most of what a
// stream holds while its consumer does not read: one batch decoded,
// beside what gRPC queues for the stream (its write quota, 64 KiB). A
// batch of 512 held about 200 KiB, which 1,000 stalled watchers turned
// into a gigabyte.
const watchBatch = 64

// watcherRetry is how long a watch refused for want of a place should
// wait: places free up as consumers restart or go.
const watcherRetry = 5 * time.Second

// Reasons of WatchRetirees failures a consumer acts on.
const (
	reasonCompacted      = "REVISION_COMPACTED"
	reasonAhead          = "REVISION_AHEAD"
	reasonEpochChanged   = "EPOCH_CHANGED"
	reasonTooManyWatches = "TOO_MANY_WATCHES"
)

// WatchRetirees implements pb.RegistryServiceServer: a snapshot when
// since_revision is 0, then every change after the cursor, then live
// changes as they commit. A consumer that falls behind the retention bound
// gets FAILED_PRECONDITION REVISION_COMPACTED and starts again from 0, as
// does one whose cursor belongs to another epoch of the change log
// (EPOCH_CHANGED: registry was restored from a backup). Every message
// carries the epoch.
func (s *Server) WatchRetirees(req *pb.WatchRetireesRequest, stream pb.RegistryService_WatchRetireesServer) error {
	ctx := stream.Context()
	if _, err := authn.Require(ctx, authn.RoleService, authn.RoleAdmin); err != nil {
		return err
	}
	if req.SinceRevision < 0 {
		return s.fail(ctx, fault.Invalid("sinceRevision", "must not be negative"))
	}
	select {
	case s.watchers <- struct{}{}:
		defer func() { <-s.watchers }()
	default:
		return s.fail(ctx, fault.LimitRetry(reasonTooManyWatches,
			fmt.Sprintf("registry serves at most %d watches at once (--max-watchers); retry later", cap(s.watchers)),
			watcherRetry, "max_watchers", strconv.Itoa(cap(s.watchers))))
	}
	// Headers go out at once, so the consumer knows the watch is open even
	// while nothing changes.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	// After the headers, as the other refusals of a cursor come, so that
	// a consumer meets them all in the same place.
	epoch := s.store.Epoch()
	if req.SinceRevision > 0 && req.Epoch != "" && req.Epoch != epoch {
		return s.fail(ctx, fault.Rule(reasonEpochChanged,
			"since_revision belongs to another epoch of the registry's change log (restored from a backup, or not closed cleanly); restart from 0",
			"epoch", epoch))
	}
	cursor := uint64(req.SinceRevision)
	if cursor == 0 {
		head, err := s.sendSnapshot(stream, epoch)
		if err != nil {
			return s.fail(ctx, err)
		}
		cursor = head
	}
	return s.sendChanges(ctx, stream, cursor, epoch)
}

// sendChanges streams every change after cursor, from the change log and
// then as changes commit, until the consumer goes or the server stops.
func (s *Server) sendChanges(ctx context.Context, stream pb.RegistryService_WatchRetireesServer, cursor uint64, epoch string) error {
	for {
		// Checked on every round, not only when idle: a consumer replaying a
		// long backlog must not hold up a graceful shutdown.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			return errStreamStopping
		default:
		}
		// Taken before reading, so that a change committed after the read
		// still wakes the stream.
		wake := s.store.Changed()
		var full bool
		var err error
		if cursor, full, err = s.sendChangeBatch(ctx, stream, cursor, epoch); err != nil {
			return err
		}
		if full {
			continue
		}
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.stopping:
			return errStreamStopping
		}
	}
}

// sendChangeBatch sends up to watchBatch changes after cursor from the
// change log. It returns the revision of the last one sent (cursor when
// none was) and whether the batch was full, so that more may wait.
func (s *Server) sendChangeBatch(ctx context.Context, stream pb.RegistryService_WatchRetireesServer, cursor uint64, epoch string) (next uint64, full bool, err error) {
	changes, head, oldest, err := s.store.ReadChanges(cursor, watchBatch)
	if err != nil {
		return cursor, false, s.fail(ctx, err)
	}
	if err := cursorInLog(cursor, head, oldest); err != nil {
		return cursor, false, s.fail(ctx, err)
	}
	for _, c := range changes {
		c.Epoch = epoch
		if err := stream.Send(c); err != nil {
			return cursor, false, err
		}
		cursor = uint64(c.Revision) //nolint:gosec // G115: apiRevision wrote it from a uint64
	}
	return cursor, len(changes) == watchBatch, nil
}

// cursorInLog checks that the change log can continue from cursor: it is
// not ahead of the log's head, and the changes after it were not pruned.
func cursorInLog(cursor, head, oldest uint64) error {
	if cursor > head {
		return fault.Rule(reasonAhead,
			"since_revision is ahead of the registry's change log", "head_revision", strconv.FormatUint(head, 10))
	}
	if cursor+1 < oldest {
		return fault.Rule(reasonCompacted,
			"revisions after since_revision were pruned; restart from 0", "oldest_revision", strconv.FormatUint(oldest, 10))
	}
	return nil
}

// sendSnapshot streams every retiree's state in short read transactions,
// then SNAPSHOT_END carrying the head revision read before the snapshot
// began: changes made during the snapshot are replayed after it, so the
// consumer ends up current.
func (s *Server) sendSnapshot(stream pb.RegistryService_WatchRetireesServer, epoch string) (uint64, error) {
	head, _, err := s.store.Head()
	if err != nil {
		return 0, err
	}
	after := ""
	for {
		states, err := s.store.SnapshotPage(after, watchBatch)
		if err != nil {
			return 0, err
		}
		for _, st := range states {
			if err := stream.Send(&pb.WatchRetireesResponse{Kind: pb.ChangeKind_SNAPSHOT, Retiree: st, Epoch: epoch}); err != nil {
				return 0, err
			}
			after = st.Id
		}
		if len(states) < watchBatch {
			break
		}
	}
	return head, stream.Send(&pb.WatchRetireesResponse{Kind: pb.ChangeKind_SNAPSHOT_END, Revision: apiRevision(head), Epoch: epoch})
}

// DefaultMaxWatchers is the default of --max-watchers: the consumers of a
// deployment (pension, activity and handover follow registry) with room
// for restarts, replicas and operators' tools.
const DefaultMaxWatchers = 64

// maxMaxWatchers bounds --max-watchers.
const maxMaxWatchers = 10_000

// WatchWorkSignals implements pb.RegistryServiceServer: registry's
// work-signal feed (death reports waiting for verification, see
// signals.go) under the contract of socmgmt.feed.v1, served by
// signalfeed.Feed.Serve. Role service or admin.
func (s *Server) WatchWorkSignals(req *pb.WatchWorkSignalsRequest, stream pb.RegistryService_WatchWorkSignalsServer) error {
	return s.store.Signals().Handle(stream.Context(), signalfeed.Handler{
		SinceRevision: req.SinceRevision, Epoch: req.Epoch,
		SendHeader: func() error { return stream.SendHeader(nil) },
		Send: func(ev *feedv1.SignalEvent) error {
			return stream.Send(&pb.WatchWorkSignalsResponse{Event: ev})
		},
		Stopping: s.stopping,
		Fail:     s.fail,
	})
}
