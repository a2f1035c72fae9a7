package casework

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// The benchmark queue: a city's million open items over 500 communities
// (2,000 each), written once per run through the store's own index code.
const (
	benchItems       = 1_000_000
	benchCommunities = 500
	benchBatch       = 25_000
)

var (
	benchOnce  sync.Once
	benchDir   string
	benchStore *Store
	benchErr   error
)

// TestMain removes the benchmark's file after the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if benchStore != nil {
		benchStore.Close()
	}
	if benchDir != "" {
		os.RemoveAll(benchDir)
	}
	if cityStore != nil {
		cityStore.Close()
	}
	for _, dir := range cleanupDirs {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

// benchCommunity is the i-th community of the benchmark: 25 streets of
// 20 communities.
func benchCommunity(i int) string {
	return fmt.Sprintf("210102%03d%03d", 1+i/20, 1+i%20)
}

// queueStore returns the store of the benchmark queue, building it on
// first use: each item due within 30 days of its start, one in ten
// already claimed, the clocks swept to the benchmark's now.
func queueStore(b *testing.B) *Store {
	b.Helper()
	benchOnce.Do(func() {
		if benchDir, benchErr = os.MkdirTemp("", "casework-bench-"); benchErr != nil {
			return
		}
		now := testNow
		benchStore, benchErr = OpenStore(filepath.Join(benchDir, "casework.db"), nil, StoreOptions{Logger: zap.NewNop(), Now: func() time.Time { return now }})
		for start := 0; start < benchItems && benchErr == nil; start += benchBatch {
			benchErr = benchStore.Update(func(tx *bolt.Tx) error {
				for i := start; i < start+benchBatch; i++ {
					spec := ItemSpec{
						Kind: pb.WorkKind(1 + i%12), CommunityID: benchCommunity(i % benchCommunities),
						Start: now.Add(-time.Duration(i%(20*24)) * time.Hour), Due: now.Add(time.Duration(i%(30*24)) * time.Hour),
						Summary: "待核实的事项", Actor: serviceSubject,
					}
					it, _, err := benchStore.openItem(tx, spec)
					if err != nil {
						return err
					}
					if i%10 == 0 {
						old := cloneItem(it)
						it.Assignee, it.State = fmt.Sprintf("clerk-%d", i%benchCommunities), pb.WorkState_IN_PROGRESS
						if err := benchStore.put(tx, old, it); err != nil {
							return err
						}
					}
				}
				return nil
			})
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

// BenchmarkQueuePage is a clerk's first page of its community's queue: 50
// open items by due time with the counts by clock, from a queue of a
// million items. It reports the 99th percentile of the pages' times.
func BenchmarkQueuePage(b *testing.B) {
	s := queueStore(b)
	times := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		q := Query{Community: benchCommunity(i % benchCommunities)}
		start := time.Now()
		items, _, err := s.ListItems(q, 50, nil)
		if err != nil {
			b.Fatal(err)
		}
		c, err := s.Counts(q)
		if err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		if len(items) != 50 || c.OnTrack+c.AtRisk+c.Breached != benchItems/benchCommunities {
			b.Fatalf("page of %d items, counts %v", len(items), c)
		}
	}
	b.StopTimer()
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
}
