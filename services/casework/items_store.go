package casework

import (
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// maxHistory is how many events an item keeps, the newest.
const maxHistory = 50

// isOpen reports whether an item in state st still asks for work.
func isOpen(st pb.WorkState) bool {
	return st == pb.WorkState_OPEN || st == pb.WorkState_IN_PROGRESS || st == pb.WorkState_WAITING
}

// paused reports whether an item's clock stands still: it waits on the
// family.
func paused(it *pb.WorkItem) bool {
	return it.State == pb.WorkState_WAITING && it.WaitingOn == pb.WaitingOn_FAMILY
}

// atRiskTime is when an item's clock turns AT_RISK: when what is left of
// its time (due less start, less the time paused) is share of it. Both
// it and the due time move on by the time the clock is paused.
func (s *Store) atRiskTime(it *pb.WorkItem) time.Time {
	due := it.DueTime.AsTime()
	span := due.Sub(it.StartTime.AsTime()) - time.Duration(it.PausedSeconds)*time.Second
	span = max(span, 0)
	return due.Add(-time.Duration(float64(span) * s.share))
}

// clockAt is an item's clock at now: a closed or paused item keeps the
// clock it closed or paused with.
func (s *Store) clockAt(it *pb.WorkItem, now time.Time) pb.Clock {
	if !isOpen(it.State) || paused(it) {
		return it.Clock
	}
	if now.After(it.DueTime.AsTime()) {
		return pb.Clock_BREACHED
	}
	if !now.Before(s.atRiskTime(it)) {
		return pb.Clock_AT_RISK
	}
	return pb.Clock_ON_TRACK
}

// nextTransition is when the stored clock of an item next changes, and
// false when it does not (closed, paused, breached).
func (s *Store) nextTransition(it *pb.WorkItem) (time.Time, bool) {
	if !isOpen(it.State) || paused(it) {
		return time.Time{}, false
	}
	switch it.Clock {
	case pb.Clock_ON_TRACK:
		return ceilSeconds(s.atRiskTime(it)), true
	case pb.Clock_AT_RISK:
		return ceilSeconds(it.DueTime.AsTime().Add(time.Nanosecond)), true
	default:
		return time.Time{}, false
	}
}

// advance brings an item's stored clock to now, recording the change;
// a clock that turns BREACHED escalates the item once, by the service.
func (s *Store) advance(it *pb.WorkItem, now time.Time) bool {
	c := s.clockAt(it, now)
	if c == it.Clock {
		return false
	}
	it.Clock = c
	addEvent(it, pb.WorkEventKind_CLOCK_CHANGED, now, serviceSubject, c.String())
	if c == pb.Clock_BREACHED {
		escalate(it, now, serviceSubject, "due time passed")
	}
	return true
}

// escalate raises an item one level and its priority one step.
func escalate(it *pb.WorkItem, now time.Time, actor, reason string) {
	it.EscalationLevel++
	if it.Priority < pb.Priority_PRIORITY_URGENT {
		it.Priority++
	}
	addEvent(it, pb.WorkEventKind_ESCALATED, now, actor, reason)
}

// addEvent appends an event to an item's history, keeping the last
// maxHistory.
func addEvent(it *pb.WorkItem, kind pb.WorkEventKind, now time.Time, actor, note string) {
	it.History = append(it.History, &pb.WorkEvent{Kind: kind, Time: timestamppb.New(now), Actor: actor, Note: note})
	if n := len(it.History); n > maxHistory {
		it.History = append([]*pb.WorkEvent(nil), it.History[n-maxHistory:]...)
	}
}

// etagOf is the etag of an item's revision.
func etagOf(rev uint64) string { return "r" + strconv.FormatUint(rev, 10) }

// revisionOf reads the revision back from an etag; 0 for none.
func revisionOf(etag string) uint64 {
	n, _ := strconv.ParseUint(strings.TrimPrefix(etag, "r"), 10, 64)
	return n
}

// put writes cur, the new state of old (nil for a new item), with its
// indexes and counters, in tx.
func (s *Store) put(tx *bolt.Tx, old, cur *pb.WorkItem) error {
	if old != nil {
		if err := s.unindex(tx, old); err != nil {
			return err
		}
		if err := addCounts(tx, old, -1); err != nil {
			return err
		}
	}
	cur.Etag = etagOf(revisionOf(old.GetEtag()) + 1)
	if err := boltstore.PutProto(tx.Bucket(bucketItems), []byte(cur.Id), cur); err != nil {
		return err
	}
	if err := s.index(tx, cur); err != nil {
		return err
	}
	return addCounts(tx, cur, 1)
}

// indexEntry is one index entry of an item.
type indexEntry struct {
	bucket, key, value []byte
}

// entries are the index entries of an item in its state.
func (s *Store) entries(it *pb.WorkItem) []indexEntry {
	if !isOpen(it.State) {
		return []indexEntry{{bucketClosedByCommunity, closedKey(it.CommunityId, it.CloseTime.AsTime(), it.Id), nil}}
	}
	due, v := it.DueTime.AsTime(), valueOf(it)
	out := []indexEntry{
		{bucketOpenByDue, queueKey(it.CommunityId, due, it.Id), v},
		{bucketOpenByClock, clockKey(it.CommunityId, it.Clock, due, it.Id), v},
	}
	if it.Assignee != "" {
		out = append(out, indexEntry{bucketOpenByAssignee, queueKey(it.Assignee, due, it.Id), v})
	}
	if it.RetireeId != "" {
		out = append(out, indexEntry{bucketOpenByRetiree, append(boltstore.Prefix(it.RetireeId), it.Id...), nil})
	}
	if at, ok := s.nextTransition(it); ok {
		out = append(out, indexEntry{bucketTransitions, transitionKey(at, it.Id), nil})
	}
	return out
}

func (s *Store) index(tx *bolt.Tx, it *pb.WorkItem) error {
	for _, e := range s.entries(it) {
		if err := tx.Bucket(e.bucket).Put(e.key, e.value); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) unindex(tx *bolt.Tx, it *pb.WorkItem) error {
	for _, e := range s.entries(it) {
		if err := tx.Bucket(e.bucket).Delete(e.key); err != nil {
			return err
		}
	}
	return nil
}

// addCounts adds delta times an open item to the counters of its
// community and kind, and of its assignee there.
func addCounts(tx *bolt.Tx, it *pb.WorkItem, delta int64) error {
	if !isOpen(it.State) {
		return nil
	}
	slot := map[pb.Clock]int{pb.Clock_ON_TRACK: 0, pb.Clock_AT_RISK: 1, pb.Clock_BREACHED: 2}[it.Clock]
	b := tx.Bucket(bucketCounts)
	keys := [][]byte{countKey("", it.CommunityId, 0), countKey("", it.CommunityId, it.Kind)}
	if it.Assignee != "" {
		keys = append(keys, countKey(it.Assignee, it.CommunityId, 0), countKey(it.Assignee, it.CommunityId, it.Kind))
	}
	for _, k := range keys {
		c, err := decodeCounts(b.Get(k))
		if err != nil {
			return err
		}
		c[slot] += delta
		if it.State == pb.WorkState_WAITING {
			c[3] += delta
		}
		if c == (counts{}) {
			err = b.Delete(k)
		} else {
			err = b.Put(k, c.encode())
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// change reads the item id for a change that allowed guards (it sees nil
// for an item that does not exist; see boltstore.GetForChange), brings
// its clock to now, applies fn, settles the clock again (fn may move the
// due time) and writes the item, all in one transaction.
func (s *Store) change(id, etag string, allowed func(*pb.WorkItem) error, fn func(tx *bolt.Tx, it *pb.WorkItem, now time.Time) error) (*pb.WorkItem, error) {
	var out *pb.WorkItem
	err := s.Update(func(tx *bolt.Tx) error {
		old, err := boltstore.GetForChange(tx.Bucket(bucketItems), id, inputcheck.IsOpaqueID(id), errItemNotFound, etag, allowed)
		if err != nil {
			return err
		}
		out, err = s.changeIn(tx, old, fn)
		return err
	})
	return out, err
}

// changeIn is change for an item read already.
func (s *Store) changeIn(tx *bolt.Tx, old *pb.WorkItem, fn func(tx *bolt.Tx, it *pb.WorkItem, now time.Time) error) (*pb.WorkItem, error) {
	now := s.now()
	it := cloneItem(old)
	s.advance(it, now)
	if err := fn(tx, it, now); err != nil {
		return nil, err
	}
	s.advance(it, now)
	it.UpdateTime = timestamppb.New(now)
	if err := s.put(tx, old, it); err != nil {
		return nil, err
	}
	return it, nil
}

// getItem reads an item in tx.
func getItem(tx *bolt.Tx, id string) (*pb.WorkItem, error) {
	it := new(pb.WorkItem)
	if err := boltstore.GetProto(tx.Bucket(bucketItems), []byte(id), it, errItemNotFound); err != nil {
		return nil, err
	}
	return it, nil
}

// unusedID returns a new id that is not yet a key of b: of group when
// one is given, else random.
func unusedID(b *bolt.Bucket, group *inputcheck.OpaqueIDGroup) string {
	for {
		id := ""
		if group != nil {
			id = group.Next()
		} else {
			id = inputcheck.NewOpaqueID()
		}
		if b.Get([]byte(id)) == nil {
			return id
		}
	}
}
