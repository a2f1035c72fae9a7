package pension

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture communities: the clerk of the tests works for communityA.
const (
	communityA = servicetest.CommunityA
	communityB = servicetest.CommunityB
)

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

func testKeyer(t testing.TB) *idnumber.Keyer {
	t.Helper()
	k, err := idnumber.NewKeyer(servicetest.IDKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// idNumber returns the n-th distinct valid ID number of the tests.
func idNumber(_ testing.TB, n int) idnumber.ID { return servicetest.IDNumber(n) }

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

// env is a store whose projection follows a fake registry.
type env struct {
	t        testing.TB
	store    *Store
	registry *servicetest.FakeRegistry
	keyer    *idnumber.Keyer
	path     string
	// server serves registry; a test stops it to take registry down.
	server *servicetest.Server
	cancel context.CancelFunc
	done   chan struct{}
	// now is the store's clock; tests may move it.
	now *testclock.Clock
}

// newEnv opens a store in a temporary directory, starts its projection
// against a fake registry holding states, and waits until the projection
// has caught up.
func newEnv(t testing.TB, states ...*registryv1.RetireeState) *env {
	t.Helper()
	e := &env{
		t: t, registry: servicetest.NewFakeRegistry(states...), keyer: testKeyer(t),
		path: filepath.Join(t.TempDir(), "pension.db"), now: testclock.New(testNow),
	}
	e.server = servicetest.Serve(t, servicetest.Options{
		Name:     "registry",
		Register: e.registry.Register,
	})
	e.open()
	e.sync()
	return e
}

// open opens the store at e.path and runs its projection until close;
// registry serves again if it was stopped.
func (e *env) open() {
	e.t.Helper()
	e.server.Start()
	s, err := OpenStore(e.path, e.keyer, StoreOptions{
		Logger:               zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)),
		Now:                  e.now.Now,
		DurableReads:         true,
		Registry:             registryv1.NewRegistryServiceClient(e.server.Conn()),
		ProjectionMinBackoff: 5 * time.Millisecond,
		ProjectionMaxBackoff: 20 * time.Millisecond,
		Checkpoints:          audit.Checkpoints{Service: "pension", Key: servicetest.AuditKey},
		DataKeys:             servicetest.DataKeys(e.t),
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
	head := e.registry.Head()
	ctx, cancel := waitfor.Context(e.t)
	defer cancel()
	if err := e.store.Projection().WaitFor(ctx, uint64(head)); err != nil {
		e.t.Fatalf("projection did not reach revision %d: %v", head, err)
	}
}

// change applies a registry change and waits for the projection.
func (e *env) change(st *registryv1.RetireeState, kind registryv1.ChangeKind) {
	e.t.Helper()
	e.registry.Change(st, kind)
	e.sync()
}
