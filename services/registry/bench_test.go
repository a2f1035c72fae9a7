package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// benchRetirees is how many retirees the benchmark store holds: enough
	// for a B+tree several levels deep, small enough to load in seconds.
	benchRetirees = 20_000
	// benchLoaders is how many goroutines load the fixture; the store
	// batches concurrent writes into shared transactions.
	benchLoaders = 64
	// benchPageSize is the page size of the list benchmark, the API default.
	benchPageSize = 50
	// benchClientsPerCPU is the RunParallel parallelism of the gRPC
	// benchmark: GetRetiree waits for a group-committed audit write, which
	// only amortises with many requests in flight, as in production.
	benchClientsPerCPU = 32
)

// benchFixture is a store loaded with benchRetirees retirees, shared by
// every benchmark of the process so that the load is paid once and not for
// each of the runs a benchmark function gets.
type benchFixture struct {
	store   *Store
	ids     []string
	numbers []idnumber.ID
}

var (
	benchOnce    sync.Once
	benchFixed   *benchFixture
	benchLoadErr error
)

// benchStore returns the shared fixture, building it on first use.
func benchStore(b *testing.B) *benchFixture {
	b.Helper()
	benchOnce.Do(func() {
		start := time.Now()
		benchFixed, benchLoadErr = newBenchFixture(b)
		if benchLoadErr == nil {
			b.Logf("loaded %d retirees in %v", benchRetirees, time.Since(start).Round(time.Millisecond))
		}
	})
	if benchLoadErr != nil {
		b.Fatal(benchLoadErr)
	}
	if benchFixed == nil {
		b.Fatal("the benchmark fixture failed to load in an earlier benchmark")
	}
	return benchFixed
}

// newBenchFixture opens a store in a fresh directory and loads it from
// benchLoaders goroutines. The directory is removed as soon as the store
// has it open: the fixture outlives the benchmark that built it, nothing
// would remove it later, and an open bbolt file works on unlinked.
func newBenchFixture(b *testing.B) (*benchFixture, error) {
	dir, err := os.MkdirTemp("", "registry-bench-")
	if err != nil {
		return nil, err
	}
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s, err := OpenStore(filepath.Join(dir, "registry.db"), keyer, StoreOptions{
		// Not zaptest: the store outlives the benchmark that opened it.
		Logger: zap.NewNop(),
		Now:    func() time.Time { return testNow },
		// Sealed and signed, as the program runs.
		Checkpoints: audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
		DataKeys:    servicetest.DataKeys(b),
	})
	if rmErr := os.RemoveAll(dir); err == nil && rmErr != nil {
		s.Close()
		return nil, rmErr
	}
	if err != nil {
		return nil, err
	}
	seedRefs(b, s)

	communities := []string{communityA, communityB, communityC}
	modes := []pb.ManagementMode{pb.ManagementMode_COMMUNITY, pb.ManagementMode_ENTERPRISE}
	f := &benchFixture{store: s, ids: make([]string, benchRetirees), numbers: make([]idnumber.ID, benchRetirees)}
	todo := make([]*pb.Retiree, benchRetirees)
	for n := range todo {
		todo[n] = newRetiree(b, n, communities[n%len(communities)], modes[n%len(modes)])
		todo[n].Flags = []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS}
	}

	var next atomic.Int64
	errs := make([]error, benchLoaders)
	var wg sync.WaitGroup
	for w := range benchLoaders {
		wg.Go(func() {
			for n := int(next.Add(1) - 1); n < benchRetirees; n = int(next.Add(1) - 1) {
				id, err := checkNewRetiree(todo[n], testNow)
				if err != nil {
					errs[w] = fmt.Errorf("retiree %d: %w", n, err)
					return
				}
				r, err := s.CreateRetiree(todo[n], id, Actor{Subject: "bench", Role: string(authn.RoleAdmin)})
				if err != nil {
					errs[w] = fmt.Errorf("create retiree %d: %w", n, err)
					return
				}
				f.ids[n], f.numbers[n] = r.Id, id
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.Close()
		return nil, err
	}
	return f, nil
}

// benchSpread maps the i-th request onto the fixture's retirees in an order
// that jumps around the file, as random reads do, without a random source
// in the timed loop. 7919 is prime and does not divide benchRetirees, so
// every retiree is visited.
func benchSpread(i int) int { return i * 7919 % benchRetirees }

func BenchmarkStoreGetRetiree(b *testing.B) {
	benchReads(b, func(f *benchFixture, n int) (*pb.Retiree, error) { return f.store.GetRetiree(f.ids[n]) })
}

func BenchmarkStoreLookupRetiree(b *testing.B) {
	benchReads(b, func(f *benchFixture, n int) (*pb.Retiree, error) { return f.store.LookupRetiree(f.numbers[n]) })
}

// benchReads times read of the fixture's retirees in benchSpread's order,
// checking that each read answers the retiree asked for.
func benchReads(b *testing.B, read func(f *benchFixture, n int) (*pb.Retiree, error)) {
	f := benchStore(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		n := benchSpread(i)
		r, err := read(f, n)
		if err != nil {
			b.Fatal(err)
		}
		if r.Id != f.ids[n] {
			b.Fatalf("read retiree %s, want %s", r.Id, f.ids[n])
		}
	}
}

// BenchmarkStoreListPage reads a community's retirees page after page,
// starting over after the last one, as a clerk's list screen does.
func BenchmarkStoreListPage(b *testing.B) {
	f := benchStore(b)
	filter := RetireeFilter{CommunityID: communityB}
	var after []byte
	b.ReportAllocs()
	for b.Loop() {
		page, next, err := f.store.ListRetirees(filter, benchPageSize, after)
		if err != nil {
			b.Fatal(err)
		}
		if len(page) == 0 {
			b.Fatal("ListRetirees returned an empty page")
		}
		if len(page) < benchPageSize && next != nil {
			b.Fatalf("ListRetirees returned %d retirees and a next page", len(page))
		}
		after = next
	}
}

// BenchmarkGetRetireeBufconn measures GetRetiree as a client sees it,
// through the shared server bootstrap and the token check, over an
// in-memory connection. Each call includes its durable audit record.
func BenchmarkGetRetireeBufconn(b *testing.B) {
	f := benchStore(b)
	client := serveBench(b, f.store)
	ctx := b.Context()
	var calls atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(benchClientsPerCPU)
	b.ResetTimer()
	b.RunParallel(func(p *testing.PB) {
		for p.Next() {
			want := f.ids[benchSpread(int(calls.Add(1)))]
			resp, err := client.GetRetiree(ctx, &pb.GetRetireeRequest{Id: want})
			if err != nil {
				b.Error(err)
				return
			}
			if got := resp.GetRetiree().GetId(); got != want {
				b.Errorf("GetRetiree returned retiree %s, want %s", got, want)
				return
			}
		}
	})
}

// serveBench serves store as the registry program does, minus the
// network, and returns a client that sends a bureau token.
func serveBench(b *testing.B, store *Store) pb.RegistryServiceClient {
	b.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "registry",
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		Subject:         benchSubject,
		ShutdownTimeout: time.Second,
	})
	pb.RegisterRegistryServiceServer(srv.GRPC(), NewServer(store, ServerOptions{Stopping: srv.Stopping()}))

	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeListener(ctx, lis) }()
	b.Cleanup(func() {
		cancel()
		if err := <-served; err != nil {
			b.Errorf("ServeListener: %v", err)
		}
	})

	token, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "bench", Role: authn.RoleBureau}, time.Hour, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(authn.BearerCredentials(token)),
	)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return pb.NewRegistryServiceClient(conn)
}

// benchSubject names the caller in the access log, as the program does.
func benchSubject(ctx context.Context) string {
	if p, ok := authn.FromContext(ctx); ok {
		return p.Subject
	}
	return ""
}
