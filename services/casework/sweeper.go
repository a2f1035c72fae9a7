package casework

import (
	"bytes"
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// sweepBatch bounds the items one sweep transaction moves, so that the
// sweeper never holds the write lock for long.
const sweepBatch = 500

// SweepTask is the sweeper as a task of the server: it moves the stored
// clocks every interval until ctx ends.
func (s *Store) SweepTask(interval time.Duration) grpcserver.Task {
	return grpcserver.Task{Name: "clock sweeper", Run: func(ctx context.Context) error {
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			if _, err := s.Sweep(ctx); err != nil {
				s.log.Warn("sweep failed", zap.Error(err))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-t.C:
			}
		}
	}}
}

// Sweep opens the items of the waiting work signals whose start time has
// come (see follow.go), then moves the stored clock of every open item
// whose at-risk or due time has passed by the store's clock, recording
// CLOCK_CHANGED and escalating a breached item once, and returns how many
// items it opened and moved.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := s.openPending(s.now())
		total += n
		if err != nil {
			return total, err
		}
		if n < sweepBatch {
			break
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		n, err := s.sweepOnce(s.now())
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
	}
}

// sweepOnce moves up to sweepBatch items whose transition is due at now.
func (s *Store) sweepOnce(now time.Time) (int, error) {
	n := 0
	err := s.Update(func(tx *bolt.Tx) error {
		n = 0
		limit := keyTime(now)
		var ids []string
		var keys [][]byte
		c := tx.Bucket(bucketTransitions).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < sweepBatch; k, _ = c.Next() {
			if string(k[:8]) > string(limit) {
				break
			}
			id, err := idOfKey(k)
			if err != nil {
				return err
			}
			ids = append(ids, id)
			keys = append(keys, bytes.Clone(k))
		}
		for i, id := range ids {
			// The entry read goes whatever the item's state: an entry
			// the item no longer accounts for must not come round again.
			if err := tx.Bucket(bucketTransitions).Delete(keys[i]); err != nil {
				return err
			}
			n++
			old, err := getItem(tx, id)
			if err != nil {
				return err
			}
			if !isOpen(old.State) {
				continue
			}
			if s.clockAt(old, now) == old.Clock {
				// An entry the item does not account for (the item's own
				// is later): the item keeps its own entry.
				if err := s.putTransition(tx, old); err != nil {
					return err
				}
				continue
			}
			if _, err := s.changeIn(tx, old, func(*bolt.Tx, *pb.WorkItem, time.Time) error { return nil }); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

// putTransition writes an item's own entry of the transition index.
func (s *Store) putTransition(tx *bolt.Tx, it *pb.WorkItem) error {
	if at, ok := s.nextTransition(it); ok {
		return tx.Bucket(bucketTransitions).Put(transitionKey(at, it.Id), nil)
	}
	return nil
}
