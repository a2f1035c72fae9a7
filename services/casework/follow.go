package casework

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// This file makes work items of the other services' work-signal feeds
// (socmgmt.feed.v1): one signalfeed.Follower per source, whose Apply and
// EndSnapshot run here in the follower's transaction, so that the item,
// the message it queues and the source's cursor are written together.
//
// A signal names its cause by (source, key). Open, it opens the item of
// that cause (or brings an open one's due time and summary up to date);
// resolved, it closes the item as DONE with RESOLVED_AT_SOURCE. A signal
// whose start time is still ahead waits in bucketPendingByStart until the
// sweeper opens it (Sweep calls openPending). A notice (the activity
// kinds) makes no item: it queues the retiree's message once.
//
// Every key the store holds open for a source carries the snapshot
// generation that last named it (bucketFollowKeys); at the end of a
// snapshot the keys an older generation named are closed: the source no
// longer has them open ("no longer open at source").

// The sources casework follows, by the names their items carry in
// WorkItem.source and their cursors in the file.
const (
	SourceRegistry = "registry"
	SourcePension  = "pension"
	SourceHandover = "handover"
	SourceActivity = "activity"
)

// Sources are the sources casework can follow, in the order they start.
var Sources = []string{SourceRegistry, SourcePension, SourceHandover, SourceActivity}

// ResolutionGoneAtSource is the outcome of an item whose key a snapshot of
// its source no longer held.
const ResolutionGoneAtSource = "no longer open at source"

// signalRule is how a kind of signal becomes a work item: its kind, the
// priority, and the time it is due in when the signal gives no due time,
// counted from its start.
type signalRule struct {
	kind     pb.WorkKind
	priority pb.Priority
	due      time.Duration
	summary  string
}

// signalRules are the work-making kinds. The defaults (when the signal has
// no due_time):
//
//   - CERTIFICATION_DUE: 30 days (the window pension announces a
//     certification in), normal priority, and the retiree is sent
//     CERTIFICATION_DUE_SOON when the item opens;
//   - ANOMALY_UNEXPLAINED: 5 days, high (a payment may be wrong);
//   - DEATH_REPORT_UNVERIFIED: 3 days, urgent (a pension may be paid to
//     the dead; DOMAIN "Death");
//   - RECOVERY_CASE_DUE: 14 days, normal;
//   - HANDOVER_STEP: 5 days, high (a retiree waits between communities);
//   - HANDOVER_TASK_OPEN: 14 days, normal (first visit, data check).
var signalRules = map[feedv1.SignalKind]signalRule{
	feedv1.SignalKind_CERTIFICATION_DUE:       {pb.WorkKind_CERTIFICATION_DUE, pb.Priority_PRIORITY_NORMAL, 30 * day, "协助办理领取资格认证"},
	feedv1.SignalKind_ANOMALY_UNEXPLAINED:     {pb.WorkKind_PAYMENT_ANOMALY, pb.Priority_PRIORITY_HIGH, 5 * day, "核查待遇发放异常"},
	feedv1.SignalKind_DEATH_REPORT_UNVERIFIED: {pb.WorkKind_DEATH_REPORT_VERIFICATION, pb.Priority_PRIORITY_URGENT, 3 * day, "核实死亡报告"},
	feedv1.SignalKind_RECOVERY_CASE_DUE:       {pb.WorkKind_RECOVERY_FOLLOW_UP, pb.Priority_PRIORITY_NORMAL, 14 * day, "跟进待遇追回"},
	feedv1.SignalKind_HANDOVER_STEP:           {pb.WorkKind_HANDOVER_STEP, pb.Priority_PRIORITY_HIGH, 5 * day, "办理移交步骤"},
	feedv1.SignalKind_HANDOVER_TASK_OPEN:      {pb.WorkKind_HANDOVER_TASK, pb.Priority_PRIORITY_NORMAL, 14 * day, "完成移交后续任务"},
}

// noticeEvents are the notice kinds and the message each sends.
var noticeEvents = map[feedv1.SignalKind]pb.MessageEvent{
	feedv1.SignalKind_ACTIVITY_CHANGED:   pb.MessageEvent_ACTIVITY_CHANGED,
	feedv1.SignalKind_ACTIVITY_CANCELLED: pb.MessageEvent_ACTIVITY_CANCELLED,
	feedv1.SignalKind_WAITLIST_PROMOTED:  pb.MessageEvent_WAITLIST_PROMOTED,
}

const day = 24 * time.Hour

// NewFollower returns the follower of source's feed through open, whose
// entries this store applies. The caller runs it (FollowTask).
func (s *Store) NewFollower(source string, open signalfeed.Opener, log *zap.Logger) (*signalfeed.Follower, error) {
	return signalfeed.NewFollower(s.DB(), signalfeed.FollowerOptions{
		Source: source,
		Open:   open,
		Apply: func(tx *bolt.Tx, ev *feedv1.SignalEvent, gen uint64) error {
			return s.applySignal(tx, source, ev, gen)
		},
		EndSnapshot: func(tx *bolt.Tx, gen uint64) error { return s.endSnapshot(tx, source, gen) },
		Logger:      log,
	})
}

// applySignal applies one entry of source's feed in the follower's
// transaction.
func (s *Store) applySignal(tx *bolt.Tx, source string, ev *feedv1.SignalEvent, gen uint64) error {
	sig := ev.Signal
	if err := signalfeed.Validate(sig); err != nil {
		// The source checks its signals before they enter its feed; one
		// that is malformed all the same (another build) is skipped, not
		// stalled over, and never reaches a key.
		s.log.Warn("malformed work signal ignored", zap.String("source", source), zap.Error(err))
		return nil
	}
	if event, ok := noticeEvents[sig.Kind]; ok {
		return s.notice(tx, source, ev, event)
	}
	if _, ok := signalRules[sig.Kind]; !ok {
		// A kind of a newer source than this build: nothing to do, and
		// nothing to stall the feed over.
		s.log.Warn("work signal of an unknown kind ignored", zap.String("source", source), zap.Stringer("kind", sig.Kind))
		return nil
	}
	fk := boltstore.Key(source, sig.Key)
	if err := s.dropPending(tx, fk); err != nil {
		return err
	}
	if sig.Resolved {
		if err := tx.Bucket(bucketFollowKeys).Delete(fk); err != nil {
			return err
		}
		_, err := s.resolveAtSource(tx, source, sig.Key, resolutionOf(sig))
		return err
	}
	if err := tx.Bucket(bucketFollowKeys).Put(fk, boltstore.U64(gen)); err != nil {
		return err
	}
	if start := sig.GetStartTime(); start != nil && start.AsTime().After(s.now()) {
		return s.putPending(tx, fk, start.AsTime(), sig)
	}
	return s.openSignal(tx, source, sig)
}

// resolutionOf is a resolved signal's resolution, or a default.
func resolutionOf(sig *feedv1.WorkSignal) string {
	if sig.Resolution != "" {
		return sig.Resolution
	}
	return "resolved at source"
}

// specOf is the item a work signal of source asks for. The community is
// the signal's, else that of the retiree as the projection knows them.
func (s *Store) specOf(tx *bolt.Tx, source string, sig *feedv1.WorkSignal) ItemSpec {
	rule := signalRules[sig.Kind]
	now := s.now()
	start := now
	if t := sig.GetStartTime(); t != nil && t.AsTime().Before(now) {
		start = t.AsTime()
	}
	due := start.Add(rule.due)
	if t := sig.GetDueTime(); t != nil {
		due = t.AsTime()
	}
	spec := ItemSpec{
		Kind: rule.kind, RetireeID: sig.RetireeId, CommunityID: sig.CommunityId,
		Start: start, Due: due, Priority: rule.priority, Summary: sig.Summary,
		Source: source, SourceKey: sig.Key, Actor: source, Reopen: true,
	}
	if sig.SubjectId != "" {
		spec.Subject = &pb.Subject{Kind: sig.SubjectKind, Id: sig.SubjectId}
	}
	if spec.Summary == "" {
		spec.Summary = rule.summary
	}
	if spec.CommunityID == "" && sig.RetireeId != "" {
		if st, err := retireeOf(tx, sig.RetireeId); err == nil {
			spec.CommunityID = st.CommunityId
		}
	}
	return spec
}

// openSignal opens (or updates) the item of an open signal whose start
// has come, and queues what opening it sends.
func (s *Store) openSignal(tx *bolt.Tx, source string, sig *feedv1.WorkSignal) error {
	spec := s.specOf(tx, source, sig)
	it, created, err := s.openItem(tx, spec)
	if err != nil || !created {
		return err
	}
	if it.Kind == pb.WorkKind_CERTIFICATION_DUE {
		return s.certificationDue(tx, it)
	}
	return nil
}

// putPending holds a signal until its start time.
func (s *Store) putPending(tx *bolt.Tx, fk []byte, start time.Time, sig *feedv1.WorkSignal) error {
	v, err := proto.Marshal(sig)
	if err != nil {
		return err
	}
	if err := tx.Bucket(bucketPending).Put(fk, append(keyTime(start), v...)); err != nil {
		return err
	}
	return tx.Bucket(bucketPendingByStart).Put(append(keyTime(start), fk...), nil)
}

// dropPending forgets the waiting signal of fk, if any.
func (s *Store) dropPending(tx *bolt.Tx, fk []byte) error {
	b := tx.Bucket(bucketPending)
	v := b.Get(fk)
	if v == nil {
		return nil
	}
	if len(v) < 8 {
		return fmt.Errorf("pending signal %q: %d bytes", fk, len(v))
	}
	if err := tx.Bucket(bucketPendingByStart).Delete(append(bytes.Clone(v[:8]), fk...)); err != nil {
		return err
	}
	return b.Delete(fk)
}

// openPending opens up to sweepBatch waiting signals whose start time is
// at or before now, and returns how many it opened.
func (s *Store) openPending(now time.Time) (int, error) {
	n := 0
	err := s.Update(func(tx *bolt.Tx) error {
		n = 0
		limit := keyTime(now)
		var due [][]byte
		c := tx.Bucket(bucketPendingByStart).Cursor()
		for k, _ := c.First(); k != nil && len(due) < sweepBatch && bytes.Compare(k[:8], limit) <= 0; k, _ = c.Next() {
			due = append(due, bytes.Clone(k[8:]))
		}
		for _, fk := range due {
			if err := s.openPendingKey(tx, fk); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// openPendingKey opens the waiting signal of fk.
func (s *Store) openPendingKey(tx *bolt.Tx, fk []byte) error {
	v := tx.Bucket(bucketPending).Get(fk)
	if len(v) < 8 {
		return fmt.Errorf("pending signal %q: %d bytes", fk, len(v))
	}
	sig := new(feedv1.WorkSignal)
	if err := proto.Unmarshal(v[8:], sig); err != nil {
		return fmt.Errorf("pending signal %q: %w", fk, err)
	}
	source, _, ok := bytes.Cut(fk, []byte{0})
	if !ok {
		return fmt.Errorf("pending signal key %q without a source", fk)
	}
	if err := s.dropPending(tx, fk); err != nil {
		return err
	}
	return s.openSignal(tx, string(source), sig)
}

// endSnapshot closes what the store holds open for source that the
// snapshot of generation gen did not name: resolved while casework was
// not following.
func (s *Store) endSnapshot(tx *bolt.Tx, source string, gen uint64) error {
	prefix := boltstore.Prefix(source)
	var gone [][]byte
	err := boltstore.ScanPrefix(tx.Bucket(bucketFollowKeys).Cursor(), prefix, nil, func(k, v []byte) (bool, error) {
		stamp, err := boltstore.ParseU64(v)
		if err != nil {
			return false, err
		}
		if stamp < gen {
			gone = append(gone, bytes.Clone(k))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, fk := range gone {
		if err := s.dropPending(tx, fk); err != nil {
			return err
		}
		if err := tx.Bucket(bucketFollowKeys).Delete(fk); err != nil {
			return err
		}
		if _, err := s.resolveAtSource(tx, source, string(fk[len(prefix):]), ResolutionGoneAtSource); err != nil {
			return err
		}
	}
	return nil
}
