package casework

import (
	"bytes"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// Query selects a queue: the items of one community (Area false), or of
// every community whose id starts with Community (Area true: a
// supervisor's area, or "" for all), optionally one assignee's, in one
// state, clock or kind.
type Query struct {
	Community string
	Area      bool
	Assignee  string
	State     pb.WorkState
	Clock     pb.Clock
	Kind      pb.WorkKind
}

// matches reports whether an open item's index entry is in q.
func (q Query) matches(v idxValue) bool {
	return (q.State == 0 || v.state == q.State) && (q.Clock == 0 || v.clock == q.Clock) &&
		(q.Kind == 0 || v.kind == q.Kind) && q.inCommunity(v.community)
}

func (q Query) inCommunity(c string) bool {
	if q.Area {
		return strings.HasPrefix(c, q.Community)
	}
	return c == q.Community
}

// communityPrefix is the key prefix of q's communities in a
// community-first index.
func (q Query) communityPrefix() []byte {
	if q.Area {
		return []byte(q.Community)
	}
	return boltstore.Prefix(q.Community)
}

// ListItems returns a page of q's items: open ones by due time (a single
// community's of one clock through the clock index; an area's by
// community, then due time), closed ones newest first. A filter that
// matches little ends a page short with a token (see boltstore.Scan).
func (s *Store) ListItems(q Query, size int, after []byte) ([]*pb.WorkItem, []byte, error) {
	var out []*pb.WorkItem
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		items := tx.Bucket(bucketItems)
		load := func(k []byte) error {
			id, err := idOfKey(k)
			if err != nil {
				return err
			}
			it := new(pb.WorkItem)
			if err := boltstore.GetProto(items, []byte(id), it, errItemNotFound); err != nil {
				// Not wrapped: corruption must not read as 404.
				return fmt.Errorf("work item index inconsistent: %v", err) //nolint:errorlint // see above
			}
			out = append(out, it)
			return nil
		}
		var err error
		if q.State == pb.WorkState_DONE || q.State == pb.WorkState_CANCELLED {
			next, err = s.listClosed(tx, q, size, after, &out)
			return err
		}
		bucket, scan := s.openScan(q, size, after)
		next, err = scan.Page(tx.Bucket(bucket).Cursor(), func(k, v []byte) (bool, error) {
			iv, err := parseValue(v)
			if err != nil || !q.matches(iv) {
				return false, err
			}
			return true, load(k)
		})
		return err
	})
	return out, next, err
}

// openScan chooses the index and prefix of an open queue.
func (s *Store) openScan(q Query, size int, after []byte) ([]byte, boltstore.Scan) {
	switch {
	case q.Assignee != "":
		return bucketOpenByAssignee, boltstore.Scan{Prefix: boltstore.Prefix(q.Assignee), After: after, Size: size}
	case q.Clock != 0 && !q.Area:
		return bucketOpenByClock, boltstore.Scan{Prefix: append(boltstore.Prefix(q.Community), enumByte(q.Clock)), After: after, Size: size}
	default:
		return bucketOpenByDue, boltstore.Scan{Prefix: q.communityPrefix(), After: after, Size: size}
	}
}

// listClosed pages q's closed items, newest first.
func (s *Store) listClosed(tx *bolt.Tx, q Query, size int, after []byte, out *[]*pb.WorkItem) ([]byte, error) {
	items := tx.Bucket(bucketItems)
	scan := boltstore.Scan{Prefix: q.communityPrefix(), After: after, Size: size, Reverse: true}
	return scan.Page(tx.Bucket(bucketClosedByCommunity).Cursor(), func(k, _ []byte) (bool, error) {
		id, err := idOfKey(k)
		if err != nil {
			return false, err
		}
		it := new(pb.WorkItem)
		if err := boltstore.GetProto(items, []byte(id), it, errItemNotFound); err != nil {
			return false, fmt.Errorf("closed item index inconsistent: %v", err) //nolint:errorlint // corruption is not a 404
		}
		if it.State != q.State || (q.Kind != 0 && it.Kind != q.Kind) || (q.Clock != 0 && it.Clock != q.Clock) ||
			(q.Assignee != "" && it.Assignee != q.Assignee) {
			return false, nil
		}
		*out = append(*out, it)
		return true, nil
	})
}

// Counts returns the counters of q's open items by clock (q's state and
// clock aside): one read for a community, one per community of an area.
func (s *Store) Counts(q Query) (*pb.ClockCounts, error) {
	var total counts
	err := s.DB().View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCounts)
		if !q.Area {
			c, err := decodeCounts(b.Get(countKey(q.Assignee, q.Community, q.Kind)))
			total = c
			return err
		}
		prefix := boltstore.Prefix("c")
		if q.Assignee != "" {
			prefix = boltstore.Prefix("a", q.Assignee)
		}
		prefix = append(prefix, q.Community...)
		cur := b.Cursor()
		for k, v := cur.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = cur.Next() {
			if k[len(k)-1] != enumByte(q.Kind) || k[len(k)-2] != 0 {
				continue
			}
			c, err := decodeCounts(v)
			if err != nil {
				return err
			}
			for i := range total {
				total[i] += c[i]
			}
		}
		return nil
	})
	return total.proto(), err
}
