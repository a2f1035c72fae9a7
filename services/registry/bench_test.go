package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
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
		todo[n].Flags = []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE}
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

// The roster benchmark: a city-sized registry listed by special group.
const (
	// rosterBenchSize is the retirees of the roster benchmark's store, a
	// large city's.
	rosterBenchSize = 1_000_000
	// rosterBenchBatch is how many retirees one transaction of its load
	// writes.
	rosterBenchBatch = 10_000
	// rosterBenchCommunities is how many communities share them.
	rosterBenchCommunities = 500
)

// BenchmarkListRetireesByFlagsAndAge lists "living alone, aged 80+,
// aged 80 to 95" on a store of rosterBenchSize retirees, page after page
// of 50 and over again from the start, and reports the latency of a page
// as p50 and p99 (ns/page). The list walks the LIVING_ALONE index within
// the birth dates of the ages, so a page reads about 50 index keys and 50
// records whatever the size of the city.
func BenchmarkListRetireesByFlagsAndAge(b *testing.B) {
	s := rosterBenchStore(b, rosterBenchSize)
	f := RetireeFilter{Flags: []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS}, MinAge: 80, MaxAge: 95}
	var after []byte
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		page, next, err := s.ListRetirees(f, benchPageSize, after)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(page) < benchPageSize && next != nil {
			b.Fatalf("a page of %d retirees with a next page: the index walk was cut short", len(page))
		}
		for _, r := range page {
			if !slices.Contains(r.Flags, pb.RetireeFlag_LIVING_ALONE) || !atLeast(r.BirthDate, testNow, 80) || atLeast(r.BirthDate, testNow, 96) {
				b.Fatalf("listed a retiree born %s with flags %v", r.BirthDate, r.Flags)
			}
		}
		after = next
	}
	reportPercentiles(b, lat, "page")
}

// BenchmarkListRetireesByFlagsAndAgeBufconn is the same list as a client
// sees it: through the server bootstrap, the token check, the validation
// and the read audit of the 50 retirees listed (queued for the next group
// commit, as the program runs by default), over an in-memory connection.
func BenchmarkListRetireesByFlagsAndAgeBufconn(b *testing.B) {
	s := rosterBenchStore(b, rosterBenchSize)
	client := serveBench(b, s)
	req := &pb.ListRetireesRequest{
		Flags:  []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_80_PLUS},
		MinAge: 80, MaxAge: 95, PageSize: benchPageSize,
	}
	var lat []time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		resp, err := client.ListRetirees(b.Context(), req)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if len(resp.Retirees) < benchPageSize && resp.NextPageToken != "" {
			b.Fatalf("a page of %d retirees with a next page", len(resp.Retirees))
		}
		req.PageToken = resp.NextPageToken
	}
	reportPercentiles(b, lat, "page")
}

// reportPercentiles reports the 50th and 99th percentiles of lat as
// p50-ns/unit and p99-ns/unit.
func reportPercentiles(b *testing.B, lat []time.Duration, unit string) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[int(q*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns/"+unit)
	b.ReportMetric(at(0.99), "p99-ns/"+unit)
}

// rosterBenchStore opens a store of size retirees, loading it the first
// time: the file is kept under the system's temporary directory, named by
// size and storage version, so that later runs start at once. A load
// writes a file beside it and renames it into place when complete.
func rosterBenchStore(b *testing.B, size int) *Store {
	b.Helper()
	path := filepath.Join(os.TempDir(), fmt.Sprintf("socmgmt-registry-bench-roster-%d-v%d.db", size, storageSchema.Version))
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		start := time.Now()
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if err := loadRosterBench(b, tmp, size); err != nil {
			b.Fatal(errors.Join(err, os.Remove(tmp)))
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		b.Logf("loaded %d retirees into %s in %v", size, path, time.Since(start).Round(time.Second))
	}
	s := openRosterBench(b, path)
	b.Cleanup(func() { s.Close() })
	return s
}

func openRosterBench(b *testing.B, path string) *Store {
	b.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		b.Fatal(err)
	}
	s, err := OpenStore(path, keyer, StoreOptions{
		Logger:      zap.NewNop(),
		Now:         func() time.Time { return testNow },
		Checkpoints: audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
		DataKeys:    servicetest.DataKeys(b),
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// loadRosterBench writes a store of size retirees at path through the
// store's own change path (records sealed, indexes, change log, history,
// audit), rosterBenchBatch retirees to a transaction.
func loadRosterBench(b *testing.B, path string, size int) error {
	s := openRosterBench(b, path)
	defer s.Close()
	communities, err := createBenchCommunities(s)
	if err != nil {
		return err
	}
	gen := newRosterGen(communities)
	actor := Actor{Subject: "bench", Role: string(authn.RoleAdmin)}
	for done := 0; done < size; {
		batch := gen.next(min(rosterBenchBatch, size-done))
		err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
			for _, r := range batch {
				id, err := idnumber.Parse(r.IdNumber)
				if err != nil {
					return err
				}
				if err := tx.Bucket(bucketRetireeByIDKey).Put(s.keyer.Key(id), []byte(r.Id)); err != nil {
					return err
				}
				if err := w.apply(nil, r, pb.ChangeKind_CREATED, actor, "CreateRetiree", ""); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("load retirees %d to %d: %w", done, done+len(batch), err)
		}
		done += len(batch)
	}
	return nil
}

// createBenchCommunities creates rosterBenchCommunities communities in
// five districts of ten streets each and returns their ids.
func createBenchCommunities(s *Store) ([]string, error) {
	var ids []string
	for i := range rosterBenchCommunities {
		id := fmt.Sprintf("21010%d%03d%03d", 2+i/100, 1+i/10%10, 1+i%10)
		c := &pb.Community{Id: id, Name: "社区" + id[9:], District: "区" + id[:6], Street: "街道" + id[:9], Kind: pb.CommunityKind_BLOCK}
		if _, err := s.CreateCommunity(c); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// rosterGen draws retirees with a city's ages and special groups: ages 60
// to 100 with about 15% aged 80 or more, 8% living alone, a fifth with
// the children away, a few disabled, with dementia, veterans.
type rosterGen struct {
	rng         *mrand.Rand
	communities []string
	// seq counts the ID numbers given out per birth date.
	seq map[string]int
}

func newRosterGen(communities []string) *rosterGen {
	return &rosterGen{rng: mrand.New(mrand.NewPCG(2026, 10)), communities: communities, seq: map[string]int{}} //nolint:gosec // G404: fixtures, not secrets
}

// rosterAges are the age bands of the retirees, with their shares in
// thousandths.
var rosterAges = []struct{ from, to, share int }{
	{60, 69, 450}, {70, 79, 400}, {80, 89, 125}, {90, 100, 25},
}

// rosterFlags are the clerk-set flags drawn, with their shares in
// thousandths.
var rosterFlags = []struct {
	flag  pb.RetireeFlag
	share int
}{
	{pb.RetireeFlag_LIVING_ALONE, 80}, {pb.RetireeFlag_EMPTY_NEST, 200}, {pb.RetireeFlag_DISABLED, 30},
	{pb.RetireeFlag_DEMENTIA, 15}, {pb.RetireeFlag_VETERAN, 10}, {pb.RetireeFlag_HARDSHIP, 30},
}

// next returns n new retirees, ready for changeWriter.apply.
func (g *rosterGen) next(n int) []*pb.Retiree {
	out := make([]*pb.Retiree, n)
	for i := range out {
		birth := g.birth()
		key := dateOnly(birth)
		id, err := idnumber.Build("210102", birth, g.seq[key])
		if err != nil {
			panic(err) // the dates and sequence numbers are in range
		}
		g.seq[key]++
		r := &pb.Retiree{
			Id: inputcheck.NewOpaqueID(), IdNumber: id.Digits(), Name: "退休人员", Sex: pbSex(id.Sex()), BirthDate: key,
			RetirementDate: dateOnly(birth.AddDate(60, 1, 0)), CommunityId: g.communities[g.rng.IntN(len(g.communities))],
			ManagementMode: pb.ManagementMode_COMMUNITY, Status: pb.RetireeStatus_LIVING, Phone: "13812345678",
			ResidenceAddress: "和平区北市场街1号", CreateTime: timestamppb.New(testNow),
		}
		for _, f := range rosterFlags {
			if g.rng.IntN(1000) < f.share {
				r.Flags = append(r.Flags, f.flag)
			}
		}
		slices.Sort(r.Flags)
		syncResidence(r)
		out[i] = r
	}
	return out
}

// birth draws a birth date for the age bands on testNow.
func (g *rosterGen) birth() time.Time {
	pick := g.rng.IntN(1000)
	for _, band := range rosterAges {
		if pick < band.share {
			age := band.from + g.rng.IntN(band.to-band.from+1)
			return testNow.AddDate(-age-1, 0, 1+g.rng.IntN(365)).Truncate(24 * time.Hour)
		}
		pick -= band.share
	}
	return testNow.AddDate(-65, 0, 0).Truncate(24 * time.Hour)
}
