package casework

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/testclock"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// TestAnotherAtRiskShareRebuildsTheTransitions: a store reopened with
// another --at-risk-share moves clocks by the new share, and a sweep
// ends, leaves each item alone once moved and the index as large as
// the open items need.
func TestAnotherAtRiskShareRebuildsTheTransitions(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "casework.db")
	clock := testclock.New(testNow)
	open := func(share float64) *Store {
		s, err := OpenStore(path, nil, StoreOptions{Logger: zaptest.NewLogger(t), Now: clock.Now, AtRiskShare: share})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open(0.25)
	const n = sweepBatch + 100
	ids := make([]string, 0, n)
	err := s.Update(func(tx *bolt.Tx) error {
		for range n {
			it, _, err := s.openItem(tx, ItemSpec{Kind: pb.WorkKind_OTHER, CommunityID: communityA, Start: testNow,
				Due: testNow.Add(10 * time.Hour), Summary: "上门核实", Actor: "clerk-a"})
			if err != nil {
				return err
			}
			ids = append(ids, it.Id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(0.5)
	defer s.Close()
	clock.Set(testNow.Add(6 * time.Hour)) // at risk at 5 h with 0.5, at 7.5 h with 0.25
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if moved, err := s.Sweep(ctx); err != nil || moved != n {
		t.Fatalf("Sweep = %d, %v; want %d moved", moved, err, n)
	}
	etag := ""
	for _, id := range ids {
		it, err := s.GetItem(id, anyone)
		if err != nil {
			t.Fatal(err)
		}
		if it.Clock != pb.Clock_AT_RISK {
			t.Fatalf("item %s: clock %v, want AT_RISK by the new share", id, it.Clock)
		}
		etag = it.Etag
	}
	clock.Set(testNow.Add(7*time.Hour + 45*time.Minute)) // past the old share's time, before due
	if moved, err := s.Sweep(ctx); err != nil || moved != 0 {
		t.Errorf("second Sweep = %d, %v; want nothing left to move", moved, err)
	}
	if it, _ := s.GetItem(ids[len(ids)-1], anyone); it.GetEtag() != etag {
		t.Errorf("etag %s after a sweep with nothing to do, want %s", it.GetEtag(), etag)
	}
	err = s.DB().View(func(tx *bolt.Tx) error {
		if got := tx.Bucket(bucketTransitions).Stats().KeyN; got != n {
			t.Errorf("%d transition entries, want %d (one per open item)", got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
