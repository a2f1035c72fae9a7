package casework

import (
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

// Sweep moves the stored clock of every open item whose at-risk or due
// time has passed by the store's clock, recording CLOCK_CHANGED and
// escalating a breached item once, and returns how many items it moved.
func (s *Store) Sweep(ctx context.Context) (int, error) {
	total := 0
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
		}
		for _, id := range ids {
			old, err := getItem(tx, id)
			if err != nil {
				return err
			}
			if _, err := s.changeIn(tx, old, func(*bolt.Tx, *pb.WorkItem, time.Time) error { return nil }); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}
