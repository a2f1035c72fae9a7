package handover

import (
	"cmp"
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Handover's work signals (see WatchWorkSignals):
//
//   - HANDOVER_TASK_OPEN under "task/<task id>": every task a completion
//     files (contact card, data check, first visit) for the community of
//     its retiree, due at the end of its due day, opened in the
//     completion's transaction and resolved in the one that records it
//     done.
//   - HANDOVER_STEP under "handover/<id>/receive": a package addressed to
//     one community (community_id), submitted, waits for that
//     community's clerk to receive it, due 20 working days after the
//     submission; resolved when it completes, is returned or withdrawn.
//
// Party membership transfers waiting for a community's clerk are left
// out: casework shows a community's items to all its clerks and to the
// supervisors of its area, and the item's retiree and key would tell
// them of a membership that only the clerk of the retiree's community and
// the receiving unit's supervisor may read (PartyTransfer is restricted).

// receiveWorkdays is the working days a community has to receive a
// package submitted to it.
const receiveWorkdays = 20

// metaSignalBackfill, while present, says that the open tasks and the
// submitted packages filed before the feed existed are still to be
// emitted (see backfillSignals).
var metaSignalBackfill = []byte("signal_backfill")

func taskSignalKey(id string) string    { return "task/" + id }
func receiveSignalKey(id string) string { return "handover/" + id + "/receive" }
func taskSummary(k pb.HandoverTask_Kind) string {
	switch k {
	case pb.HandoverTask_CONTACT_CARD:
		return "发放联系卡：向新移交的退休人员发放社区联系卡"
	case pb.HandoverTask_DATA_CHECK:
		return "核对信息：核对新移交退休人员的登记信息"
	case pb.HandoverTask_FIRST_VISIT:
		return "首次走访：走访新移交的退休人员"
	}
	return "处理移交后续任务"
}

// taskSignal is the signal of task t: open while t is, resolved once done.
func taskSignal(t *pb.HandoverTask) (*feedv1.WorkSignal, error) {
	due, err := time.ParseInLocation(time.DateOnly, t.DueOn, workdays.ChinaTime)
	if err != nil {
		return nil, fmt.Errorf("task %s: due date %q: %w", t.Id, t.DueOn, err)
	}
	sig := &feedv1.WorkSignal{
		Key: taskSignalKey(t.Id), Kind: feedv1.SignalKind_HANDOVER_TASK_OPEN,
		SubjectKind: feedv1.SubjectKind_HANDOVER_TASK, SubjectId: t.Id,
		RetireeId: t.RetireeId, CommunityId: t.CommunityId,
		DueTime: timestamppb.New(workdays.EndOfDay(due)), Summary: taskSummary(t.Kind),
	}
	if t.State == pb.HandoverTask_DONE {
		sig.Resolved, sig.Resolution = true, "task completed"
	}
	return sig, nil
}

// signalTask emits t's signal in w's transaction.
func (w *txn) signalTask(t *pb.HandoverTask) error {
	sig, err := taskSignal(t)
	if err != nil {
		return err
	}
	return w.s.signals.Emit(w.tx, sig)
}

// signalReceive keeps the receive step of h, a package addressed to one
// community, in step with it: open while SUBMITTED, resolved when it
// leaves that state.
func (w *txn) signalReceive(old, h *pb.Handover) error {
	if h.CommunityId == "" {
		return nil
	}
	if h.State == pb.Handover_SUBMITTED {
		return w.s.signals.Emit(w.tx, receiveSignal(h, w.s.calendar))
	}
	if old.GetState() != pb.Handover_SUBMITTED {
		return nil
	}
	resolution := map[pb.Handover_State]string{
		pb.Handover_COMPLETED: "received", pb.Handover_RETURNED: "returned", pb.Handover_WITHDRAWN: "withdrawn",
	}[h.State]
	_, err := w.s.signals.Resolve(w.tx, receiveSignalKey(h.Id), cmp.Or(resolution, "left the submitted state"))
	return err
}

// receiveSignal is the open receive step of submitted h.
func receiveSignal(h *pb.Handover, cal *workdays.Calendar) *feedv1.WorkSignal {
	submitted := h.SubmitTime.AsTime()
	due, _ := cal.AddWorkingDays(workdays.Today(submitted), receiveWorkdays)
	return &feedv1.WorkSignal{
		Key: receiveSignalKey(h.Id), Kind: feedv1.SignalKind_HANDOVER_STEP,
		SubjectKind: feedv1.SubjectKind_HANDOVER, SubjectId: h.Id, CommunityId: h.CommunityId,
		StartTime: timestamppb.New(submitted), DueTime: timestamppb.New(workdays.EndOfDay(due)),
		Summary: fmt.Sprintf("接收移交：企业移交的%d名退休人员的材料待本社区接收", len(h.RetireeIds)),
	}
}

// signalBackfillBatch is how many records one transaction of the
// backfill examines.
const signalBackfillBatch = 500

// backfillSignals emits, once, the signals of the open tasks and the
// submitted community packages that a build without the feed left, after
// the migration that made the feed marked the file (the calendar of the
// due dates is known only to the store). Emitting is idempotent, so a
// backfill broken off starts again at the next open without duplicates.
func (s *Store) backfillSignals() error {
	var pending bool
	if err := s.DB().View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(bucketMeta).Get(metaSignalBackfill) != nil
		return nil
	}); err != nil || !pending {
		return err
	}
	if err := s.backfillBucket(bucketTasks, func(w *txn, v []byte) error {
		t := new(pb.HandoverTask)
		if err := proto.Unmarshal(v, t); err != nil || t.State != pb.HandoverTask_OPEN {
			return err
		}
		return w.signalTask(t)
	}); err != nil {
		return fmt.Errorf("emit the work signals of open handover tasks: %w", err)
	}
	if err := s.backfillBucket(bucketHandovers, func(w *txn, v []byte) error {
		h := new(pb.Handover)
		if err := proto.Unmarshal(v, h); err != nil {
			return err
		}
		return w.signalReceive(nil, h)
	}); err != nil {
		return fmt.Errorf("emit the work signals of submitted handovers: %w", err)
	}
	return s.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(metaSignalBackfill) })
}

// backfillBucket calls emit on every record of bucket, signalBackfillBatch
// records a transaction.
func (s *Store) backfillBucket(bucket []byte, emit func(w *txn, v []byte) error) error {
	var after []byte
	for {
		var next []byte
		err := s.update(func(w *txn) error {
			var err error
			next, err = boltstore.Scan{After: after, Size: signalBackfillBatch, MaxExamined: signalBackfillBatch}.Page(
				w.tx.Bucket(bucket).Cursor(), func(_, v []byte) (bool, error) { return true, emit(w, v) })
			return err
		})
		if err != nil || next == nil {
			return err
		}
		after = next
	}
}

// Signals is the store's work-signal feed.
func (s *Store) Signals() *signalfeed.Feed { return s.signals }

// WatchWorkSignals implements pb.HandoverServiceServer: handover's
// work-signal feed (the tasks and steps above) under the contract of
// socmgmt.feed.v1. Role service or admin.
func (s *Server) WatchWorkSignals(req *pb.WatchWorkSignalsRequest, stream pb.HandoverService_WatchWorkSignalsServer) error {
	return s.store.Signals().Handle(stream.Context(), signalfeed.Handler{
		SinceRevision: req.SinceRevision, Epoch: req.Epoch,
		SendHeader: func() error { return stream.SendHeader(nil) },
		Send: func(ev *feedv1.SignalEvent) error {
			return stream.Send(&pb.WatchWorkSignalsResponse{Event: ev})
		},
		Stopping: s.stopping,
		Fail:     func(ctx context.Context, err error) error { return s.fail(ctx, err) },
	})
}
