package casework

import (
	"bytes"
	"encoding/binary"
	"math"

	bolt "go.etcd.io/bbolt"
)

// metaAtRiskShare holds the at-risk share the transition index was built
// with (the float64's bits, 8 bytes big-endian). An entry of
// bucketTransitions is when an item's stored clock next changes, which
// depends on the share (--at-risk-share); the entries are not stored in
// the items, so they must agree with the share the store runs with.
var metaAtRiskShare = []byte("casework_at_risk_share")

// keepTransitionsAtShare rebuilds the transition index when the store
// opens with another at-risk share than the one the index was built
// with: otherwise unindexing an item would recompute a key that was
// never written and leave the old one to the sweeper for ever. Stored
// clocks then move as the sweeper reaches the new times; a clock that a
// larger share had already turned AT_RISK stays so until the item is due
// or changes.
func (s *Store) keepTransitionsAtShare() error {
	want := binary.BigEndian.AppendUint64(nil, math.Float64bits(s.share))
	return s.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if bytes.Equal(meta.Get(metaAtRiskShare), want) {
			return nil
		}
		if err := tx.DeleteBucket(bucketTransitions); err != nil {
			return err
		}
		if _, err := tx.CreateBucket(bucketTransitions); err != nil {
			return err
		}
		c := tx.Bucket(bucketOpenByDue).Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			id, err := idOfKey(k)
			if err != nil {
				return err
			}
			it, err := getItem(tx, id)
			if err != nil {
				return err
			}
			if err := s.putTransition(tx, it); err != nil {
				return err
			}
		}
		return meta.Put(metaAtRiskShare, want)
	})
}
