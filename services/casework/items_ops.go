package casework

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// Allowed is the object check of a change: it sees the item, or nil
// when there is none, and returns nil to go on or the error to answer.
type Allowed func(*pb.WorkItem) error

// feedSources are the services whose feeds make items; such an item
// closes when its source says so, not by hand.
var feedSources = map[string]bool{"registry": true, "pension": true, "handover": true, "activity": true}

// CreateItem stores a hand-made item of a validated spec. With a request
// key (already scoped to its caller), a repeated request returns the
// item the key first created, and the key used for a different item is a
// REQUEST_KEY_REUSED failure. A retiree it names must live in its
// community.
func (s *Store) CreateItem(spec ItemSpec, requestKey string) (*pb.WorkItem, error) {
	fp := specFingerprint(spec)
	var out *pb.WorkItem
	err := s.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketRequestKeys)
		if requestKey != "" {
			if rec := keys.Get([]byte(requestKey)); rec != nil {
				if len(rec) != len(fp)+idLen || !bytes.Equal(rec[:len(fp)], fp) {
					return fault.Rule(ReasonRequestKeyReused, "this request key was used for a different work item")
				}
				var err error
				out, err = getItem(tx, string(rec[len(fp):]))
				return err
			}
		}
		if spec.RetireeID != "" {
			st, err := retireeOf(tx, spec.RetireeID)
			if err != nil || st.CommunityId != spec.CommunityID {
				return fault.Rule(ReasonRetireeNotInCommunity, "the retiree does not live in this community", "field", "item.retireeId")
			}
		}
		var err error
		if out, _, err = s.openItem(tx, spec); err != nil {
			return err
		}
		if requestKey != "" {
			return keys.Put([]byte(requestKey), append(fp, out.Id...))
		}
		return nil
	})
	return out, err
}

// specFingerprint identifies a hand-made item's content.
func specFingerprint(spec ItemSpec) []byte {
	h := sha256.New()
	for _, s := range []string{spec.Kind.String(), spec.RetireeID, spec.CommunityID, spec.Summary, spec.Priority.String(), spec.Subject.GetId(), spec.Subject.GetKind().String()} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	h.Write(keyTime(spec.Due))
	return h.Sum(nil)
}

// GetItem returns an item the caller may see, with its clock as of now.
func (s *Store) GetItem(id string, allowed Allowed) (*pb.WorkItem, error) {
	var out *pb.WorkItem
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		out, err = boltstore.GetForChange(tx.Bucket(bucketItems), id, len(id) == idLen, errItemNotFound, "", allowed)
		return err
	})
	if err != nil {
		return nil, err
	}
	out.Clock = s.clockAt(out, s.now())
	return out, nil
}

// mustBeOpen refuses a change to a closed item.
func mustBeOpen(it *pb.WorkItem) error {
	if !isOpen(it.State) {
		return fault.Rule(ReasonItemClosed, "the work item is closed")
	}
	return nil
}

// wrongState refuses a change the item's state does not allow.
func wrongState(what string) error { return fault.Rule(ReasonWrongState, what) }

// Claim assigns an OPEN item to the actor and starts it.
func (s *Store) Claim(id, etag string, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, etag, allowed, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if err := mustBeOpen(it); err != nil {
			return err
		}
		if it.State != pb.WorkState_OPEN {
			return wrongState("only an OPEN item in the community's queue can be claimed")
		}
		it.State, it.Assignee = pb.WorkState_IN_PROGRESS, actor.Subject
		addEvent(it, pb.WorkEventKind_CLAIMED, now, actor.Subject, "")
		return nil
	})
}

// Release gives an assigned item back to the community's queue: an item
// in progress becomes OPEN, one that waits waits on unassigned.
func (s *Store) Release(id, etag, reason string, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, etag, allowed, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if err := mustBeOpen(it); err != nil {
			return err
		}
		if it.Assignee == "" {
			return wrongState("the item is not assigned")
		}
		it.Assignee = ""
		if it.State == pb.WorkState_IN_PROGRESS {
			it.State = pb.WorkState_OPEN
		}
		addEvent(it, pb.WorkEventKind_RELEASED, now, actor.Subject, reason)
		return nil
	})
}

// Escalate raises an open item one level and its priority one step.
func (s *Store) Escalate(id, reason string, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, "", allowed, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if err := mustBeOpen(it); err != nil {
			return err
		}
		escalate(it, now, actor.Subject, reason)
		return nil
	})
}

// Wait puts an open item in WAITING on someone; waiting on the family
// pauses its clock from now.
func (s *Store) Wait(id, etag string, on pb.WaitingOn, reason string, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, etag, allowed, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if err := mustBeOpen(it); err != nil {
			return err
		}
		if it.State == pb.WorkState_WAITING {
			return wrongState("the item waits already")
		}
		it.State, it.WaitingOn, it.WaitingReason, it.WaitStartTime = pb.WorkState_WAITING, on, reason, timestamppb.New(now)
		addEvent(it, pb.WorkEventKind_WAITING_STARTED, now, actor.Subject, on.String()+": "+reason)
		return nil
	})
}

// Resume takes an item out of WAITING; when it waited on the family, its
// due time moves on by the whole seconds its clock was paused.
func (s *Store) Resume(id, etag string, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, etag, allowed, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if it.State != pb.WorkState_WAITING {
			return wrongState("the item does not wait")
		}
		note := ""
		if paused(it) {
			secs := int64(now.Sub(it.WaitStartTime.AsTime()) / time.Second)
			it.PausedSeconds += secs
			it.DueTime = timestamppb.New(it.DueTime.AsTime().Add(time.Duration(secs) * time.Second))
			note = "clock paused " + (time.Duration(secs) * time.Second).String()
		}
		it.State = pb.WorkState_OPEN
		if it.Assignee != "" {
			it.State = pb.WorkState_IN_PROGRESS
		}
		it.WaitingOn, it.WaitingReason, it.WaitStartTime = pb.WaitingOn_WAITING_ON_UNSPECIFIED, "", nil
		addEvent(it, pb.WorkEventKind_RESUMED, now, actor.Subject, note)
		return nil
	})
}

// Complete closes an open item as DONE with an outcome; claim, when set,
// assigns an unassigned item to the actor in the same step. What the
// item's kind does on completion (see onComplete) happens in the same
// transaction.
func (s *Store) Complete(id, etag, outcome string, claim bool, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, etag, allowed, s.completeStep(outcome, claim, actor))
}

// completeStep is the change of Complete, for a caller that runs it with
// changeIn in a transaction of its own (ResolveTicket).
func (s *Store) completeStep(outcome string, claim bool, actor Actor) func(tx *bolt.Tx, it *pb.WorkItem, now time.Time) error {
	return func(tx *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if err := mustBeOpen(it); err != nil {
			return err
		}
		if claim && it.Assignee == "" {
			it.Assignee = actor.Subject
			addEvent(it, pb.WorkEventKind_CLAIMED, now, actor.Subject, "")
		}
		closeItem(it, pb.WorkState_DONE, now, outcome)
		addEvent(it, pb.WorkEventKind_COMPLETED, now, actor.Subject, outcome)
		if fn := s.completionOf(it.Kind); fn != nil {
			return fn(tx, it, actor)
		}
		return nil
	}
}

// Cancel closes an open item as CANCELLED with a reason; an item from a
// feed closes at its source instead, and a ticket's with the ticket (a
// follow-up item of a call-back may be cancelled).
func (s *Store) Cancel(id, etag, reason string, actor Actor, allowed Allowed) (*pb.WorkItem, error) {
	return s.change(id, etag, allowed, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		if err := mustBeOpen(it); err != nil {
			return err
		}
		if feedSources[it.Source] {
			return fault.Rule(ReasonClosedAtSource, "an item from "+it.Source+" closes when "+it.Source+" resolves it")
		}
		if isTicketItem(it) {
			return fault.Rule(ReasonClosedAtSource, "a ticket's item closes when the ticket is resolved")
		}
		closeItem(it, pb.WorkState_CANCELLED, now, reason)
		addEvent(it, pb.WorkEventKind_CANCELLED_BY_HAND, now, actor.Subject, reason)
		return nil
	})
}

// MaxReassign is the most items one ReassignWorkItems moves.
const MaxReassign = 500

// Reassign assigns open items to assignee, all or none: an OPEN one
// starts (IN_PROGRESS), the others keep their state.
func (s *Store) Reassign(ids []string, assignee, reason string, actor Actor, allowed Allowed) ([]*pb.WorkItem, error) {
	out := make([]*pb.WorkItem, 0, len(ids))
	err := s.Update(func(tx *bolt.Tx) error {
		out = out[:0]
		for _, id := range ids {
			old, err := boltstore.GetForChange(tx.Bucket(bucketItems), id, len(id) == idLen, errItemNotFound, "", allowed)
			if err != nil {
				return err
			}
			it, err := s.changeIn(tx, old, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
				if err := mustBeOpen(it); err != nil {
					return err
				}
				it.Assignee = assignee
				if it.State == pb.WorkState_OPEN {
					it.State = pb.WorkState_IN_PROGRESS
				}
				addEvent(it, pb.WorkEventKind_REASSIGNED, now, actor.Subject, "to "+assignee+": "+reason)
				return nil
			})
			if err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	})
	return out, err
}
