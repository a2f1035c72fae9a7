package casework

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The schedule benchmark's city: 200,000 living retirees over 500
// communities, 5 % HIGH, 25 % KEY, the rest REGULAR.
const (
	cityRetirees = 200_000
	cityPerIter  = 100
)

var (
	cityOnce  sync.Once
	cityStore *Store
	cityErr   error
)

// scheduleStore builds the projection of the city directly in a bbolt file
// (the projection's bucket, as pension's migration tests do), in batches.
func scheduleStore(b *testing.B) *Store {
	b.Helper()
	cityOnce.Do(func() {
		dir, err := os.MkdirTemp("", "casework-city-")
		if cityErr = err; err != nil {
			return
		}
		now := time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)
		cityStore, cityErr = OpenStore(filepath.Join(dir, "casework.db"), nil, StoreOptions{Logger: zap.NewNop(), Now: func() time.Time { return now }})
		for start := 0; start < cityRetirees && cityErr == nil; start += 20_000 {
			cityErr = cityStore.Update(func(tx *bolt.Tx) error {
				bk := tx.Bucket([]byte("projection_retirees"))
				for i := start; i < start+20_000; i++ {
					v, err := proto.Marshal(cityRetiree(i))
					if err != nil {
						return err
					}
					if err := bk.Put([]byte(cityRetiree(i).Id), v); err != nil {
						return err
					}
				}
				return nil
			})
		}
		cleanupDirs = append(cleanupDirs, dir)
	})
	if cityErr != nil {
		b.Fatal(cityErr)
	}
	return cityStore
}

// cleanupDirs are removed by TestMain after the run.
var cleanupDirs []string

// cityRetiree is the i-th retiree of the city.
func cityRetiree(i int) *registryv1.RetireeState {
	st := &registryv1.RetireeState{
		Id: fmt.Sprintf("r%015d", i), CommunityId: benchCommunity(i % benchCommunities), Status: registryv1.RetireeStatus_LIVING,
		BirthDate: "1956-03-01", Name: "退休人员",
	}
	switch i % 20 {
	case 0:
		st.Flags = []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_DISABLED}
	case 1, 2, 3, 4, 5:
		st.Flags = []registryv1.RetireeFlag{registryv1.RetireeFlag_EMPTY_NEST}
	}
	return st
}

// BenchmarkScheduleMonth schedules July 2026 (a quarter's first month:
// every retiree gets an item) for the city as the service does, in
// transactions of scheduleBatch retirees: each iteration stands for 100
// retirees, and every scheduleBatch/100 iterations the next batch is
// scheduled, so 2,000 iterations are the whole city. It reports the
// seconds a whole city's month takes.
func BenchmarkScheduleMonth(b *testing.B) {
	s := scheduleStore(b)
	month, _ := parseMonth("2026-07")
	after := ""
	var created int64
	run := func(n int) {
		r, next, err := s.ScheduleBatch(month, after, n)
		if err != nil {
			b.Fatal(err)
		}
		created += r.Created
		after = next
	}
	per := scheduleBatch / cityPerIter
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		if (i+1)%per == 0 {
			run(scheduleBatch)
		}
	}
	if rest := b.N % per; rest > 0 {
		run(rest * cityPerIter)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(elapsed.Seconds()/float64(b.N)*cityRetirees/cityPerIter, "s/city-month")
	b.ReportMetric(float64(created), "items")
}
