package registry

import (
	"strconv"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// watchBatch is how many entries one read transaction of a watch stream
// takes from the change log or the snapshot.
const watchBatch = 512

// Reasons of WatchRetirees failures a consumer acts on.
const (
	reasonCompacted = "REVISION_COMPACTED"
	reasonAhead     = "REVISION_AHEAD"
)

// WatchRetirees implements pb.RegistryServiceServer: a snapshot when
// since_revision is 0, then every change after the cursor, then live
// changes as they commit. A consumer that falls behind the retention bound
// gets FAILED_PRECONDITION REVISION_COMPACTED and starts again from 0.
func (s *Server) WatchRetirees(req *pb.WatchRetireesRequest, stream pb.RegistryService_WatchRetireesServer) error {
	ctx := stream.Context()
	if _, err := authn.Require(ctx, authn.RoleService, authn.RoleAdmin); err != nil {
		return err
	}
	if req.SinceRevision < 0 {
		return s.fail(ctx, fault.Invalid("sinceRevision", "must not be negative"))
	}
	// Headers go out at once, so the consumer knows the watch is open even
	// while nothing changes.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	cursor := uint64(req.SinceRevision)
	if cursor == 0 {
		head, err := s.sendSnapshot(stream)
		if err != nil {
			return s.fail(ctx, err)
		}
		cursor = head
	}
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
		wake := s.store.Changed()
		changes, head, oldest, err := s.store.ReadChanges(cursor, watchBatch)
		if err != nil {
			return s.fail(ctx, err)
		}
		if cursor > head {
			return s.fail(ctx, fault.Rule(reasonAhead,
				"since_revision is ahead of the registry's change log", "head_revision", strconv.FormatUint(head, 10)))
		}
		if cursor+1 < oldest {
			return s.fail(ctx, fault.Rule(reasonCompacted,
				"revisions after since_revision were pruned; restart from 0", "oldest_revision", strconv.FormatUint(oldest, 10)))
		}
		for _, c := range changes {
			if err := stream.Send(c); err != nil {
				return err
			}
			cursor = uint64(c.Revision)
		}
		if len(changes) == watchBatch {
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

// sendSnapshot streams every retiree's state in short read transactions,
// then SNAPSHOT_END carrying the head revision read before the snapshot
// began: changes made during the snapshot are replayed after it, so the
// consumer ends up current.
func (s *Server) sendSnapshot(stream pb.RegistryService_WatchRetireesServer) (uint64, error) {
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
			if err := stream.Send(&pb.WatchRetireesResponse{Kind: pb.ChangeKind_SNAPSHOT, Retiree: st}); err != nil {
				return 0, err
			}
			after = st.Id
		}
		if len(states) < watchBatch {
			break
		}
	}
	return head, stream.Send(&pb.WatchRetireesResponse{Kind: pb.ChangeKind_SNAPSHOT_END, Revision: int64(head)})
}
