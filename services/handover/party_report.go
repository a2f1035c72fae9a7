package handover

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// The party transfer report reads counters kept beside the handovers
// rather than the handovers themselves: bucketPartyCounts holds, for each
// street and enterprise with transfers, how many there are and how many
// are confirmed, twice — under "S", street, enterprise for the rows per
// street and under "E", enterprise, street for the rows per enterprise —
// so that a page of either is a prefix scan of one row per key, and a
// supervisor's rows are those of the streets of its area. txn.save moves
// the counters in the same transaction as the handover.

// The first parts of the counters' keys.
const (
	partyByStreet     = "S"
	partyByEnterprise = "E"
)

// partyReportExamined bounds the counters one page of the report reads.
// A row per enterprise sums one counter per street; past this bound a
// page ends inside a row, which goes on on the next page under the same
// key.
const partyReportExamined = 20_000

// partyTally is the transfers and the confirmed ones of one street and
// enterprise.
type partyTally struct{ transfers, confirmed int64 }

// partyPair is a street and an enterprise.
type partyPair struct{ street, enterprise string }

// partyTallies are what h adds to the report: the transfers of a
// submitted handover (returned and completed ones too), by the street of
// the community each retiree is allocated to, or the receiving unit's
// code while it is not allocated. Drafts and withdrawn handovers add
// nothing.
func partyTallies(h *pb.Handover) map[partyPair]partyTally {
	if h == nil || len(h.PartyTransfers) == 0 || h.SubmitTime == nil || h.State == pb.Handover_WITHDRAWN {
		return nil
	}
	alloc := retireeCommunities(h)
	out := map[partyPair]partyTally{}
	for _, t := range h.PartyTransfers {
		street := receiverOf(h)
		if c := alloc[t.RetireeId]; len(c) >= 9 {
			street = c[:9]
		}
		k := partyPair{street: street, enterprise: h.EnterpriseCreditCode}
		n := out[k]
		n.transfers++
		if t.State == pb.PartyTransfer_CONFIRMED {
			n.confirmed++
		}
		out[k] = n
	}
	return out
}

// countParty moves the report's counters from what old added to what h
// adds; old is nil for a new handover.
func (w *txn) countParty(old, h *pb.Handover) error {
	before, after := partyTallies(old), partyTallies(h)
	if len(before) == 0 && len(after) == 0 {
		return nil
	}
	b := w.tx.Bucket(bucketPartyCounts)
	for k, n := range after {
		o := before[k]
		if err := addPartyTally(b, k, partyTally{n.transfers - o.transfers, n.confirmed - o.confirmed}); err != nil {
			return err
		}
	}
	for k, o := range before {
		if _, ok := after[k]; !ok {
			if err := addPartyTally(b, k, partyTally{-o.transfers, -o.confirmed}); err != nil {
				return err
			}
		}
	}
	return nil
}

// addPartyTally adds d to both counters of k, deleting them at zero.
func addPartyTally(b *bolt.Bucket, k partyPair, d partyTally) error {
	if d == (partyTally{}) {
		return nil
	}
	for _, key := range [][]byte{
		boltstore.Key(partyByStreet, k.street, k.enterprise),
		boltstore.Key(partyByEnterprise, k.enterprise, k.street),
	} {
		n, err := decodePartyTally(b.Get(key))
		if err != nil {
			return err
		}
		n.transfers += d.transfers
		n.confirmed += d.confirmed
		if n.transfers <= 0 {
			if err := b.Delete(key); err != nil {
				return err
			}
			continue
		}
		if err := b.Put(key, encodePartyTally(n)); err != nil {
			return err
		}
	}
	return nil
}

func encodePartyTally(n partyTally) []byte {
	out := make([]byte, 0, 16)
	out = binary.BigEndian.AppendUint64(out, uint64(n.transfers))  //nolint:gosec // G115: counts are never negative when stored
	return binary.BigEndian.AppendUint64(out, uint64(n.confirmed)) //nolint:gosec // G115: as above
}

func decodePartyTally(v []byte) (partyTally, error) {
	switch len(v) {
	case 0:
		return partyTally{}, nil
	case 16:
		return partyTally{int64(binary.BigEndian.Uint64(v[:8])), int64(binary.BigEndian.Uint64(v[8:]))}, nil //nolint:gosec // G115: written by encodePartyTally
	}
	return partyTally{}, fmt.Errorf("party transfer counter of %d bytes: %w", len(v), boltstore.ErrBadKey)
}

// PartyReportFilter selects the rows of the party transfer report.
type PartyReportFilter struct {
	// ByStreet makes one row per street, else one per enterprise.
	ByStreet bool
	// Area, when set, keeps the transfers of the streets whose codes
	// start with it: a supervisor's street office or district.
	Area string
}

// PartyTransferReport returns a page of at most size rows of the party
// transfer report in key order, after the counter key after, and the key
// to resume after when the report goes on.
func (s *Store) PartyTransferReport(f PartyReportFilter, size int, after []byte) ([]*pb.PartyTransferReportRow, []byte, error) {
	prefix := boltstore.Prefix(partyByEnterprise)
	if f.ByStreet {
		prefix = append(boltstore.Prefix(partyByStreet), f.Area...)
	}
	var rows []*pb.PartyTransferReportRow
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketPartyCounts).Cursor()
		k, v := c.Seek(prefix)
		if after != nil {
			if k, v = c.Seek(after); bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		var last []byte
		for examined := 0; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if examined++; examined > partyReportExamined {
				next = bytes.Clone(last)
				break
			}
			parts := bytes.SplitN(k[len(boltstore.Prefix(partyByStreet)):], []byte{0}, 2)
			if len(parts) != 2 {
				return fmt.Errorf("party transfer counter key %q: %w", k, boltstore.ErrBadKey)
			}
			key, street := string(parts[0]), string(parts[0])
			if !f.ByStreet {
				street = string(parts[1])
			}
			if !strings.HasPrefix(street, f.Area) {
				last = bytes.Clone(k)
				continue
			}
			if len(rows) == 0 || rows[len(rows)-1].Key != key {
				if len(rows) == size {
					next = bytes.Clone(last)
					break
				}
				rows = append(rows, &pb.PartyTransferReportRow{Key: key})
			}
			n, err := decodePartyTally(v)
			if err != nil {
				return err
			}
			rows[len(rows)-1].Transfers += n.transfers
			rows[len(rows)-1].Confirmed += n.confirmed
			last = bytes.Clone(k)
		}
		return nil
	})
	for _, r := range rows {
		r.RatePermille = r.Confirmed * 1000 / r.Transfers
	}
	return rows, next, err
}
