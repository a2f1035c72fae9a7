package pension

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture communities: the clerk of the tests works for communityA.
const (
	communityA = "210102001001"
	communityB = "210102001002"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

func testKeyer(t testing.TB) *idnumber.Keyer {
	t.Helper()
	k, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// idNumber returns the n-th distinct valid ID number of the tests.
func idNumber(t testing.TB, n int) idnumber.ID {
	t.Helper()
	birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n%9000)
	id, err := idnumber.Build("210102", birth, n/9000%1000)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

var retireeIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// retireeID returns the n-th retiree id, shaped like registry's and, like
// registry's random ones, in no particular order.
func retireeID(n int) string {
	var b [10]byte
	binary.BigEndian.PutUint64(b[:8], uint64(n)*0x9e3779b97f4a7c15)
	b[8], b[9] = byte(n>>8), byte(n)
	return retireeIDEncoding.EncodeToString(b[:])
}

// retiree returns the projected state of the n-th test retiree: living,
// in community, retired in 2010.
func retiree(t testing.TB, keyer *idnumber.Keyer, n int, community string) *registryv1.RetireeState {
	t.Helper()
	id := idNumber(t, n)
	return &registryv1.RetireeState{
		Id:             retireeID(n),
		IdNumberKey:    keyer.Key(id),
		CommunityId:    community,
		Status:         registryv1.RetireeStatus_LIVING,
		ManagementMode: registryv1.ManagementMode_COMMUNITY,
		BirthDate:      id.BirthDate().Format(time.DateOnly),
		RetirementDate: "2010-01-01",
	}
}

// fakeRegistry serves WatchRetirees from memory like registry does: since
// 0 gets a snapshot and its end at the head revision, then live changes;
// since > 0 gets the changes after it.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer

	mu      sync.Mutex
	states  map[string]*registryv1.RetireeState
	order   []string
	changes []*registryv1.WatchRetireesResponse
	head    int64
	wake    chan struct{}
	// sinces records the since_revision of every call.
	sinces []int64
}

// newFakeRegistry holds the given retirees at revision head (at least 1).
func newFakeRegistry(states []*registryv1.RetireeState) *fakeRegistry {
	f := &fakeRegistry{states: map[string]*registryv1.RetireeState{}, head: 1, wake: make(chan struct{})}
	for _, st := range states {
		f.states[st.Id] = st
		f.order = append(f.order, st.Id)
	}
	return f
}

// change records a change to a retiree and returns its revision.
func (f *fakeRegistry) change(st *registryv1.RetireeState, kind registryv1.ChangeKind) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head++
	if _, ok := f.states[st.Id]; !ok {
		f.order = append(f.order, st.Id)
	}
	st = proto.Clone(st).(*registryv1.RetireeState)
	f.states[st.Id] = st
	f.changes = append(f.changes, &registryv1.WatchRetireesResponse{Revision: f.head, Kind: kind, Retiree: st})
	close(f.wake)
	f.wake = make(chan struct{})
	return f.head
}

// state returns a copy of a retiree's current state.
func (f *fakeRegistry) state(id string) *registryv1.RetireeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.states[id]).(*registryv1.RetireeState)
}

func (f *fakeRegistry) calls() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.sinces...)
}

// WatchRetirees implements registryv1.RegistryServiceServer.
func (f *fakeRegistry) WatchRetirees(req *registryv1.WatchRetireesRequest, stream grpc.ServerStreamingServer[registryv1.WatchRetireesResponse]) error {
	f.mu.Lock()
	f.sinces = append(f.sinces, req.SinceRevision)
	since := req.SinceRevision
	var out []*registryv1.WatchRetireesResponse
	if since == 0 {
		for _, id := range f.order {
			out = append(out, &registryv1.WatchRetireesResponse{Kind: registryv1.ChangeKind_SNAPSHOT, Retiree: f.states[id]})
		}
		out = append(out, &registryv1.WatchRetireesResponse{Kind: registryv1.ChangeKind_SNAPSHOT_END, Revision: f.head})
		since = f.head
	}
	f.mu.Unlock()
	for {
		for _, m := range out {
			if err := stream.Send(m); err != nil {
				return err
			}
		}
		f.mu.Lock()
		out = nil
		for _, c := range f.changes {
			if c.Revision > since {
				out = append(out, c)
				since = c.Revision
			}
		}
		wake := f.wake
		f.mu.Unlock()
		if len(out) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// registryServer serves a fakeRegistry on bufconn listeners; it can be
// stopped (registry down) and started again, and its client reconnects.
type registryServer struct {
	t   testing.TB
	f   *fakeRegistry
	mu  sync.Mutex
	lis *bufconn.Listener
	srv *grpc.Server
}

// serveRegistry serves f and returns the server and a client of it.
func serveRegistry(t testing.TB, f *fakeRegistry) (*registryServer, registryv1.RegistryServiceClient) {
	t.Helper()
	r := &registryServer{t: t, f: f}
	r.start()
	conn, err := grpc.NewClient("passthrough:///registry",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			r.mu.Lock()
			lis := r.lis
			r.mu.Unlock()
			return lis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		r.stop()
	})
	return r, registryv1.NewRegistryServiceClient(conn)
}

// start serves on a fresh listener.
func (r *registryServer) start() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lis = bufconn.Listen(1 << 20)
	r.srv = grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(r.srv, r.f)
	go func(srv *grpc.Server, lis net.Listener) { _ = srv.Serve(lis) }(r.srv, r.lis)
}

// stop ends the server and its streams; dials fail until start.
func (r *registryServer) stop() {
	r.mu.Lock()
	srv := r.srv
	r.mu.Unlock()
	srv.Stop()
}

// env is a store whose projection follows a fake registry.
type env struct {
	t        testing.TB
	store    *Store
	registry *fakeRegistry
	keyer    *idnumber.Keyer
	path     string
	server   *registryServer
	cancel   context.CancelFunc
	done     chan struct{}
	// now is the store's clock; tests may move it.
	now *clock
}

// clock is a settable clock for the store and the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// newEnv opens a store in a temporary directory, starts its projection
// against a fake registry holding states, and waits until the projection
// has caught up.
func newEnv(t testing.TB, states ...*registryv1.RetireeState) *env {
	t.Helper()
	e := &env{t: t, registry: newFakeRegistry(states), keyer: testKeyer(t), path: filepath.Join(t.TempDir(), "pension.db"), now: &clock{t: testNow}}
	e.open()
	e.sync()
	return e
}

// open opens the store at e.path and runs its projection until close.
func (e *env) open() {
	e.t.Helper()
	server, client := serveRegistry(e.t, e.registry)
	e.server = server
	s, err := OpenStore(e.path, e.keyer, StoreOptions{
		Logger:               zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)),
		Now:                  e.now.Now,
		DurableReads:         true,
		Registry:             client,
		ProjectionMinBackoff: 5 * time.Millisecond,
		ProjectionMaxBackoff: 20 * time.Millisecond,
	})
	if err != nil {
		e.t.Fatal(err)
	}
	e.store = s
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan struct{})
	go func() {
		defer close(e.done)
		_ = s.Projection().Run(ctx)
	}()
	e.t.Cleanup(e.close)
}

// close stops the projection and closes the store; later calls do
// nothing.
func (e *env) close() {
	if e.store == nil {
		return
	}
	e.cancel()
	<-e.done
	if err := e.store.Close(); err != nil {
		e.t.Errorf("close store: %v", err)
	}
	e.store = nil
}

// sync waits until the projection has applied the registry's head.
func (e *env) sync() {
	e.t.Helper()
	e.registry.mu.Lock()
	head := e.registry.head
	e.registry.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.store.Projection().WaitFor(ctx, uint64(head)); err != nil {
		e.t.Fatalf("projection did not reach revision %d: %v", head, err)
	}
}

// change applies a registry change and waits for the projection.
func (e *env) change(st *registryv1.RetireeState, kind registryv1.ChangeKind) {
	e.t.Helper()
	e.registry.change(st, kind)
	e.sync()
}
