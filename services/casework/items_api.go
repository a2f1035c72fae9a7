package casework

import (
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// This file is the Go API the other parts of the service (care visits,
// complaints, the feeds' followers) put work into the queue with. Each
// call runs in the caller's transaction, so that the work and what
// caused it are written together.

// ItemSpec is what a part of the service asks the queue to hold.
type ItemSpec struct {
	// Kind is what the item asks for.
	Kind pb.WorkKind
	// Subject is the object the item is about; nil for none.
	Subject *pb.Subject
	// RetireeID is the retiree concerned, if any: the item shows their
	// name and moves with them. CommunityID is the queue it goes to.
	RetireeID, CommunityID string
	// Start is when the work became actionable, Due when it is due.
	Start, Due time.Time
	// Priority orders items of equal due time; PRIORITY_NORMAL when
	// unspecified.
	Priority pb.Priority
	// Summary is what a queue shows (no ID or phone numbers).
	Summary string
	// Source and SourceKey name the signal the item answers: one item
	// ever per (Source, SourceKey). Empty for hand-made items.
	Source, SourceKey string
	// Actor is who made it: a token subject, or "casework".
	Actor string
	// IDs, when set, names the item from a group of ids made together
	// (one transaction of a bulk schedule): stored under ids with one
	// prefix, a transaction's items sit side by side in the B+tree and
	// dirty a few pages rather than one each.
	IDs *inputcheck.OpaqueIDGroup
	// Reopen: when the source opens again a cause it had resolved (a
	// package returned and submitted again, a certification due again in
	// another community), a new item is made; otherwise the closed item
	// is returned. An item a person closed is never reopened.
	Reopen bool
}

// closedAtSource reports whether an item was closed by its source.
func closedAtSource(it *pb.WorkItem) bool {
	for i := len(it.History) - 1; i >= 0; i-- {
		switch it.History[i].Kind {
		case pb.WorkEventKind_RESOLVED_AT_SOURCE:
			return true
		case pb.WorkEventKind_COMPLETED, pb.WorkEventKind_CANCELLED_BY_HAND:
			return false
		}
	}
	return false
}

// openItem creates the item of spec, or, when (Source, SourceKey)
// already has one, updates an OPEN one's due/summary (UPDATED_AT_SOURCE)
// and returns it with created=false; a closed one is returned unchanged
// (but see ItemSpec.Reopen).
// The caller validates spec; a retiree the projection knows lends the
// item its name.
func (s *Store) openItem(tx *bolt.Tx, spec ItemSpec) (it *pb.WorkItem, created bool, err error) {
	if spec.Source != "" {
		if id := tx.Bucket(bucketSources).Get(boltstore.Key(spec.Source, spec.SourceKey)); id != nil {
			it, err := s.updateAtSource(tx, string(id), spec)
			if err != nil || !spec.Reopen || isOpen(it.State) || !closedAtSource(it) {
				return it, false, err
			}
			// The source opened the cause again after it resolved it:
			// new work, a new item, which the key now names.
		}
	}
	now := s.now()
	it = &pb.WorkItem{
		Id: unusedID(tx.Bucket(bucketItems), spec.IDs), Kind: spec.Kind, Subject: spec.Subject,
		RetireeId: spec.RetireeID, CommunityId: spec.CommunityID, Priority: spec.Priority,
		State: pb.WorkState_OPEN, Clock: pb.Clock_ON_TRACK,
		StartTime: timestamppb.New(spec.Start), DueTime: timestamppb.New(spec.Due),
		Summary: spec.Summary, Source: spec.Source, SourceKey: spec.SourceKey,
		CreateTime: timestamppb.New(now), UpdateTime: timestamppb.New(now),
	}
	if it.Priority == pb.Priority_PRIORITY_UNSPECIFIED {
		it.Priority = pb.Priority_PRIORITY_NORMAL
	}
	if spec.RetireeID != "" {
		if st, err := retireeOf(tx, spec.RetireeID); err == nil {
			it.RetireeName = st.Name
		}
	}
	addEvent(it, pb.WorkEventKind_CREATED, now, spec.Actor, "")
	if c := s.clockAt(it, now); c != it.Clock {
		it.Clock = c
		if c == pb.Clock_BREACHED {
			escalate(it, now, serviceSubject, "due time passed")
		}
	}
	if spec.Source != "" {
		if err := tx.Bucket(bucketSources).Put(boltstore.Key(spec.Source, spec.SourceKey), []byte(it.Id)); err != nil {
			return nil, false, err
		}
	}
	return it, true, s.put(tx, nil, it)
}

// updateAtSource moves an open item's due time, summary and community to
// what its source now says; a closed item, or one unchanged, is returned as it is.
func (s *Store) updateAtSource(tx *bolt.Tx, id string, spec ItemSpec) (*pb.WorkItem, error) {
	old, err := getItem(tx, id)
	if err != nil {
		return nil, err
	}
	due := spec.Due.Add(time.Duration(old.PausedSeconds) * time.Second)
	community := old.CommunityId
	if spec.CommunityID != "" {
		community = spec.CommunityID
	}
	if !isOpen(old.State) || (old.DueTime.AsTime().Equal(due) && old.Summary == spec.Summary && old.CommunityId == community) {
		return old, nil
	}
	return s.changeIn(tx, old, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		// A cause that moved (its retiree did) takes its item to the
		// new community's queue.
		it.DueTime, it.Summary, it.CommunityId = timestamppb.New(due), spec.Summary, community
		addEvent(it, pb.WorkEventKind_UPDATED_AT_SOURCE, now, spec.Actor, "")
		return nil
	})
}

// resolveAtSource closes the open item of (source, key) as DONE with
// RESOLVED_AT_SOURCE and the resolution; no item or a closed one: nil,
// nil.
func (s *Store) resolveAtSource(tx *bolt.Tx, source, key, resolution string) (*pb.WorkItem, error) {
	id := tx.Bucket(bucketSources).Get(boltstore.Key(source, key))
	if id == nil {
		return nil, nil
	}
	old, err := getItem(tx, string(id))
	if err != nil || !isOpen(old.State) {
		return nil, err
	}
	return s.changeIn(tx, old, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
		closeItem(it, pb.WorkState_DONE, now, resolution)
		addEvent(it, pb.WorkEventKind_RESOLVED_AT_SOURCE, now, source, resolution)
		return nil
	})
}

// closeItem ends an item's work in state (DONE or CANCELLED).
func closeItem(it *pb.WorkItem, state pb.WorkState, now time.Time, outcome string) {
	it.State, it.Outcome, it.CloseTime = state, outcome, timestamppb.New(now)
	it.WaitingOn, it.WaitingReason, it.WaitStartTime = pb.WaitingOn_WAITING_ON_UNSPECIFIED, "", nil
}

// applyRetiree is the projection hook: a retiree who moves to another
// community takes their open items there (and the open tickets those
// items carry); the open visits of a retiree
// who died or moved out of the city are cancelled. All in the
// projection's transaction.
func (s *Store) applyRetiree(tx *bolt.Tx, old, cur *registryv1.RetireeState) error {
	if old == nil || cur == nil {
		return nil
	}
	moved := cur.CommunityId != old.CommunityId && cur.CommunityId != ""
	gone := cur.Status == registryv1.RetireeStatus_DECEASED || cur.Status == registryv1.RetireeStatus_MOVED_OUT
	if !moved && !gone && cur.Name == old.Name {
		return nil
	}
	ids, err := openItemsOf(tx, cur.Id)
	if err != nil {
		return err
	}
	for _, id := range ids {
		it, err := getItem(tx, id)
		if err != nil {
			return err
		}
		it, err = s.changeIn(tx, it, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
			followRetiree(it, cur, moved, gone, now)
			return nil
		})
		if err != nil {
			return err
		}
		if err := s.followItem(tx, it); err != nil {
			return err
		}
	}
	return nil
}

// followRetiree applies a retiree's new state to one of their open items.
func followRetiree(it *pb.WorkItem, cur *registryv1.RetireeState, moved, gone bool, now time.Time) {
	it.RetireeName = cur.Name
	visit := it.Kind == pb.WorkKind_CARE_VISIT || it.Kind == pb.WorkKind_CRISIS_VISIT
	if gone && visit {
		reason := map[registryv1.RetireeStatus]string{
			registryv1.RetireeStatus_DECEASED: "retiree deceased", registryv1.RetireeStatus_MOVED_OUT: "moved out",
		}[cur.Status]
		closeItem(it, pb.WorkState_CANCELLED, now, reason)
		addEvent(it, pb.WorkEventKind_CANCELLED_BY_HAND, now, serviceSubject, reason)
		return
	}
	if moved {
		note := "moved from " + it.CommunityId + " to " + cur.CommunityId
		it.CommunityId = cur.CommunityId
		if it.Assignee != "" {
			// The clerk of the old community works there no more.
			it.Assignee = ""
			if it.State == pb.WorkState_IN_PROGRESS {
				it.State = pb.WorkState_OPEN
			}
		}
		addEvent(it, pb.WorkEventKind_REASSIGNED, now, serviceSubject, note)
	}
}

// openItemsOf lists the ids of the open items about a retiree.
func openItemsOf(tx *bolt.Tx, retiree string) ([]string, error) {
	var ids []string
	prefix := boltstore.Prefix(retiree)
	err := boltstore.ScanPrefix(tx.Bucket(bucketOpenByRetiree).Cursor(), prefix, nil, func(k, _ []byte) (bool, error) {
		ids = append(ids, string(k[len(prefix):]))
		return true, nil
	})
	return ids, err
}

// cloneItem copies an item for a change.
func cloneItem(it *pb.WorkItem) *pb.WorkItem { return proto.Clone(it).(*pb.WorkItem) }
