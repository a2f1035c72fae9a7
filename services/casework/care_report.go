package casework

import (
	"encoding/binary"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// The visit report counts, per month and community, the eligible elders
// (those with a HIGH or KEY period item in the month, the tier at the
// item's making) and those visited as scheduled (every one of their
// period items of the month closed by a visit within its period). The
// counters change in the transactions that make and close the items, so
// the report never scans visits.

// reportEntry is one retiree's standing in a month's report.
type reportEntry struct {
	items, visited uint32
	community      string
}

func (e reportEntry) encode() []byte {
	b := binary.BigEndian.AppendUint32(nil, e.items)
	b = binary.BigEndian.AppendUint32(b, e.visited)
	return append(b, e.community...)
}

func decodeEntry(v []byte) (reportEntry, error) {
	if len(v) < 8 {
		return reportEntry{}, fmt.Errorf("%w: report entry of %d bytes", boltstore.ErrBadKey, len(v))
	}
	return reportEntry{binary.BigEndian.Uint32(v), binary.BigEndian.Uint32(v[4:]), string(v[8:])}, nil
}

// complete reports whether every item of the entry was visited in time.
func (e reportEntry) complete() bool { return e.items > 0 && e.visited == e.items }

// addReport adds to a community's counters of a month.
func addReport(tx *bolt.Tx, month, community string, eligible, visited int64) error {
	b := tx.Bucket(bucketReportCounts)
	k := boltstore.Key(month, community)
	var c [2]int64
	if v := b.Get(k); v != nil {
		if len(v) != 16 {
			return fmt.Errorf("%w: report counter of %d bytes", boltstore.ErrBadKey, len(v))
		}
		c[0], c[1] = int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:])) //nolint:gosec // G115: written from int64
	}
	c[0] += eligible
	c[1] += visited
	out := binary.BigEndian.AppendUint64(nil, uint64(c[0]))           //nolint:gosec // G115: a count, never negative
	return b.Put(k, binary.BigEndian.AppendUint64(out, uint64(c[1]))) //nolint:gosec // G115: a count, never negative
}

// reportItemMade counts a new period item of month ("" for a quarter,
// which the report does not count).
func reportItemMade(tx *bolt.Tx, it *pb.WorkItem, month string) error {
	if month == "" {
		return nil
	}
	b := tx.Bucket(bucketReportRetirees)
	k := boltstore.Key(month, it.RetireeId)
	e := reportEntry{community: it.CommunityId}
	var eligible, visited int64
	if v := b.Get(k); v != nil {
		var err error
		if e, err = decodeEntry(v); err != nil {
			return err
		}
		if e.complete() {
			visited = -1
		}
	} else {
		eligible = 1
	}
	e.items++
	if err := b.Put(k, e.encode()); err != nil {
		return err
	}
	return addReport(tx, month, e.community, eligible, visited)
}

// reportItemVisited counts a period item that a visit at vt closed: when
// vt lies within its period and it was the retiree's last item of the
// month not yet visited, the retiree counts as visited as scheduled.
func reportItemVisited(tx *bolt.Tx, it *pb.WorkItem, vt time.Time) error {
	_, month, ok := periodOfKey(it.SourceKey)
	if !ok || month == "" || it.Source != careSource || vt.Before(it.StartTime.AsTime()) || vt.After(it.DueTime.AsTime()) {
		return nil
	}
	b := tx.Bucket(bucketReportRetirees)
	k := boltstore.Key(month, it.RetireeId)
	v := b.Get(k)
	if v == nil {
		return nil
	}
	e, err := decodeEntry(v)
	if err != nil || e.visited >= e.items {
		return err
	}
	e.visited++
	if err := b.Put(k, e.encode()); err != nil {
		return err
	}
	if e.complete() {
		return addReport(tx, month, e.community, 0, 1)
	}
	return nil
}

// VisitReport reads one page of a month's rows, communities in order,
// that keep admits, after the key after.
func (s *Store) VisitReport(month string, keep func(community string) bool, size int, after []byte) ([]*pb.VisitReportRow, []byte, error) {
	var rows []*pb.VisitReportRow
	var last []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		prefix := boltstore.Prefix(month)
		scan := boltstore.Scan{Prefix: prefix, After: after, Size: size}
		var err error
		last, err = scan.Page(tx.Bucket(bucketReportCounts).Cursor(), func(k, v []byte) (bool, error) {
			community := string(k[len(prefix):])
			if !keep(community) || len(v) != 16 {
				return false, nil
			}
			row := &pb.VisitReportRow{
				CommunityId:        community,
				Eligible:           int64(binary.BigEndian.Uint64(v)),     //nolint:gosec // G115: written from int64
				VisitedAsScheduled: int64(binary.BigEndian.Uint64(v[8:])), //nolint:gosec // G115: written from int64
			}
			if row.Eligible > 0 {
				row.RateBasisPoints = int32(row.VisitedAsScheduled * 10000 / row.Eligible) //nolint:gosec // G115: at most 10000
			}
			rows = append(rows, row)
			return true, nil
		})
		return err
	})
	return rows, last, err
}
