package registry

import (
	"crypto/rand"
	"io"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// benchRoster returns n import records over the fixture communities,
// half of them managed by an enterprise.
func benchRoster(b *testing.B, n int) []*pb.RetireeRecord {
	b.Helper()
	communities := []string{communityA, communityB, communityC}
	modes := []pb.ManagementMode{pb.ManagementMode_COMMUNITY, pb.ManagementMode_ENTERPRISE}
	out := make([]*pb.RetireeRecord, n)
	for i := range out {
		r := newRetiree(b, i, communities[i%len(communities)], modes[i%len(modes)])
		out[i] = &pb.RetireeRecord{Index: int64(i + 1), Retiree: r}
	}
	return out
}

// openBenchImportStore opens a fresh store as the program runs it (sealed,
// audited) with the fixture references.
func openBenchImportStore(b *testing.B) *Store {
	b.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		b.Fatal(err)
	}
	s, err := OpenStore(filepath.Join(b.TempDir(), "registry.db"), keyer, StoreOptions{
		Logger:      zap.NewNop(),
		Now:         func() time.Time { return testNow },
		Checkpoints: audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
		DataKeys:    servicetest.DataKeys(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	seedRefs(b, s)
	return s
}

// BenchmarkImportRetirees streams a roster of b.N new retirees into an
// empty registry over one ImportRetirees stream (bufconn, a bureau
// token), each record durable at its acknowledgement: an op is one
// record. -benchtime=1000000x measures the roster of a million;
// the bench program's roster scenario does so through the real binary.
func BenchmarkImportRetirees(b *testing.B) {
	records := benchRoster(b, b.N)
	s := openBenchImportStore(b)
	client := serveBench(b, s)
	b.ResetTimer()
	res := importRoster(b.Context(), client, "bench-roster", records)
	b.StopTimer()
	if res.err != nil {
		b.Fatal(res.err)
	}
	if res.summary.Accepted != int64(b.N) {
		b.Fatalf("accepted %d of %d", res.summary.Accepted, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkRawBoltRoster is the reference for BenchmarkImportRetirees:
// bbolt alone making, for each of b.N records, the puts an imported
// retiree makes (the retiree, the ID-number key, the community and
// enterprise indexes, the counters, the change log, the history and the
// two birth-date indexes; a flag adds two more, not made here), of
// values of about the same size, in transactions of maxImportGroup
// records, with the registry's shapes of keys: ids sharing a random
// prefix per transaction, random ID-number keys.
func BenchmarkRawBoltRoster(b *testing.B) {
	records := benchRoster(b, 1)
	value, err := proto.Marshal(records[0].Retiree)
	if err != nil {
		b.Fatal(err)
	}
	db, err := boltstore.Open(filepath.Join(b.TempDir(), "raw.db"), boltstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	b.ResetTimer()
	if err := rawRoster(db, b.N, value); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// rawRoster writes n records' puts (see BenchmarkRawBoltRoster).
func rawRoster(db *bolt.DB, n int, value []byte) error {
	names := []string{"retirees", "idkeys", "community", "enterprise", "stats", "changes", "history", "birth", "community_birth"}
	var rev uint64
	for done := 0; done < n; done += maxImportGroup {
		err := db.Update(func(tx *bolt.Tx) error {
			bs := make([]*bolt.Bucket, len(names))
			for i, name := range names {
				var err error
				if bs[i], err = tx.CreateBucketIfNotExists([]byte(name)); err != nil {
					return err
				}
			}
			ids := inputcheck.NewOpaqueIDGroup()
			for i := done; i < min(done+maxImportGroup, n); i++ {
				id := []byte(ids.Next())
				var key [32]byte
				if _, err := io.ReadFull(rand.Reader, key[:]); err != nil {
					return err
				}
				rev++
				puts := [][2][]byte{
					{id, value}, {key[:], id},
					{append([]byte("210102001001\x00"), id...), nil}, {append([]byte("91210102MA0XXXXXX0\x00"), id...), nil},
					{[]byte("210102001001"), value[:32]}, {boltstore.U64(rev), value},
					{boltstore.AppendU64(append(id, 0), rev), value},
					{boltstore.Key(servicetest.IDNumber(i).BirthDate().Format(time.DateOnly), string(id)), nil},
					{boltstore.Key("210102001001", servicetest.IDNumber(i).BirthDate().Format(time.DateOnly), string(id)), nil},
				}
				for j, p := range puts {
					if err := bs[j].Put(p[0], p[1]); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}
