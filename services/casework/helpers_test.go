package casework

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture communities: a clerk of the tests works for communityA only.
const (
	communityA = servicetest.CommunityA
	communityB = servicetest.CommunityB
	communityC = servicetest.CommunityC
	// unknownID is shaped like an id and names nothing.
	unknownID = "aaaaaaaaaaaaaaaa"
)

// testNow is the fixed start of the tests' clock.
var testNow = time.Date(2026, 6, 15, 2, 0, 0, 0, time.UTC)

// env is a store on a fresh file whose projection follows a fake
// registry, and the clock it runs on.
type env struct {
	t              testing.TB
	store          *Store
	registry       *servicetest.FakeRegistry
	registryClient registryv1.RegistryServiceClient
	clock          *testclock.Clock
}

// newEnv opens a store in t.TempDir() with its projection following a
// fake registry; everything stops at the end of the test.
func newEnv(t testing.TB) *env {
	t.Helper()
	fake := servicetest.NewFakeRegistry()
	registry := servicetest.Serve(t, servicetest.Options{Name: "registry", Register: fake.Register})
	e := newEnvOn(t, registryv1.NewRegistryServiceClient(registry.Conn()))
	e.registry = fake
	return e
}

// newEnvOn is newEnv with the projection following the given registry.
func newEnvOn(t testing.TB, registry registryv1.RegistryServiceClient) *env {
	t.Helper()
	e := &env{t: t, registryClient: registry, clock: testclock.New(testNow)}
	store, err := OpenStore(filepath.Join(t.TempDir(), "casework.db"), e.registryClient, StoreOptions{
		Logger:       zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Now:          e.clock.Now,
		DurableReads: true,
		Checkpoints:  audit.Checkpoints{Service: "casework", Key: servicetest.AuditKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = store.Projection().Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	return e
}

// retirees publishes the states through the fake registry and waits until
// the projection has applied them.
func (e *env) retirees(states ...*registryv1.RetireeState) {
	e.t.Helper()
	var rev int64
	for _, st := range states {
		rev = e.registry.Change(st, registryv1.ChangeKind_UPDATED)
	}
	ctx, cancel := waitfor.Context(e.t)
	defer cancel()
	if err := e.store.Projection().WaitFor(ctx, uint64(rev)); err != nil {
		e.t.Fatalf("projection did not catch up: %v", err)
	}
}

// livingIn returns a new living retiree of a community.
func livingIn(community, name string) *registryv1.RetireeState {
	return &registryv1.RetireeState{
		Id: inputcheck.NewOpaqueID(), CommunityId: community, Status: registryv1.RetireeStatus_LIVING,
		BirthDate: "1945-03-01", ManagementMode: registryv1.ManagementMode_COMMUNITY, Name: name,
	}
}

// spec is an item of a community due in d from the clock's now.
func (e *env) spec(kind pb.WorkKind, community string, d time.Duration) ItemSpec {
	now := e.clock.Now()
	return ItemSpec{Kind: kind, CommunityID: community, Start: now, Due: now.Add(d), Summary: "上门核实", Actor: "clerk-a"}
}

// open stores an item of spec through openItem.
func (e *env) open(spec ItemSpec) *pb.WorkItem {
	e.t.Helper()
	var it *pb.WorkItem
	err := e.store.Update(func(tx *bolt.Tx) error {
		var err error
		it, _, err = e.store.openItem(tx, spec)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// item reads an item as stored.
func (e *env) item(id string) *pb.WorkItem {
	e.t.Helper()
	var it *pb.WorkItem
	err := e.store.DB().View(func(tx *bolt.Tx) error {
		var err error
		it, err = getItem(tx, id)
		return err
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return it
}

// sweep runs the sweeper at the clock's now.
func (e *env) sweep() int {
	e.t.Helper()
	n, err := e.store.Sweep(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// counts reads the counts of a query.
func (e *env) counts(q Query) *pb.ClockCounts {
	e.t.Helper()
	c, err := e.store.Counts(q)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// anyone lets every change through.
func anyone(*pb.WorkItem) error { return nil }

// clerkActor is the clerk of the tests as an actor.
var clerkActor = Actor{Subject: "clerk-a", Role: "clerk"}

// wantCode checks err's gRPC code (after the edge translation) and returns
// its status.
func wantCode(t testing.TB, err error, want codes.Code) *status.Status {
	t.Helper()
	return servicetest.WantCode(t, apierror.ToStatus(context.Background(), nil, err), want)
}

// kinds returns the kinds of a history.
func kinds(h []*pb.WorkEvent) []pb.WorkEventKind {
	out := make([]pb.WorkEventKind, len(h))
	for i, ev := range h {
		out[i] = ev.Kind
	}
	return out
}
