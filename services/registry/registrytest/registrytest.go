// Package registrytest serves a real registry, its store on a bbolt file
// and its server on a loopback port, for the tests of the services and
// packages that call registry. It can be stopped and started again on
// the same address and file, as a restarted process would be.
//
// It is imported by _test.go files only.
package registrytest

import (
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

// Options say how to start a Registry.
type Options struct {
	// Keys verify the callers' tokens.
	Keys servicetest.Keys
	// Retention is the store's change-log retention; registry's default
	// when zero.
	Retention uint64
	// TracerProvider traces registry's calls; nil traces nothing.
	TracerProvider trace.TracerProvider
}

// Registry is a running registry holding the fixture communities and
// enterprises of servicetest. Its embedded Server gives its address and
// connections to it.
type Registry struct {
	*servicetest.Server
	t         testing.TB
	path      string
	keyer     *idnumber.Keyer
	retention uint64
	// store is nil while the registry is stopped.
	store *registry.Store
}

// Start opens a registry store on a fresh file, creates the fixture
// communities and enterprises and serves it. It stops at the end of the
// test.
func Start(t testing.TB, o Options) *Registry {
	t.Helper()
	keyer, err := idnumber.NewKeyer(servicetest.IDKey)
	if err != nil {
		t.Fatal(err)
	}
	r := &Registry{t: t, path: filepath.Join(t.TempDir(), "registry.db"), keyer: keyer, retention: o.Retention}
	r.open()
	servicetest.CreateFixtures(t, r.store)
	// Registered before Serve's cleanup, so that it runs after it: the
	// server stops before its store closes.
	t.Cleanup(r.close)
	r.Server = servicetest.Serve(t, servicetest.Options{
		Name: "registry", Keys: o.Keys, TCP: true, TracerProvider: o.TracerProvider,
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
		Register: func(srv *grpcserver.Server) {
			registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.NewServer(r.store, registry.ServerOptions{
				Logger:   zaptest.NewLogger(t, zaptest.Level(zap.ErrorLevel)),
				Stopping: srv.Stopping(),
			}))
		},
	})
	return r
}

func (r *Registry) open() {
	r.t.Helper()
	s, err := registry.OpenStore(r.path, r.keyer, registry.StoreOptions{
		Retention: r.retention,
		Logger:    zaptest.NewLogger(r.t, zaptest.Level(zap.WarnLevel)),
		// The tests read what a call did right after it.
		DurableReads: true,
		Checkpoints:  audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
		DataKeys:     servicetest.DataKeys(r.t),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = s
}

func (r *Registry) close() {
	r.t.Helper()
	if r.store == nil {
		return
	}
	if err := r.store.Close(); err != nil {
		r.t.Errorf("close registry store: %v", err)
	}
	r.store = nil
}

// Store is the registry's store, for fixtures a test writes directly;
// nil while the registry is stopped.
func (r *Registry) Store() *registry.Store { return r.store }

// Path is the registry's store file, which a test may replace while the
// registry is stopped.
func (r *Registry) Path() string { return r.path }

// Keyer is the key registry files ID numbers under.
func (r *Registry) Keyer() *idnumber.Keyer { return r.keyer }

// Stop shuts the server down gracefully and closes the store, as a
// registry process ending on SIGTERM does. Stopping a stopped registry
// does nothing.
func (r *Registry) Stop() {
	r.t.Helper()
	r.Server.Stop()
	r.close()
}

// Start reopens the store file of a stopped registry and serves it on the
// same address; it does nothing while the registry runs.
func (r *Registry) Start() {
	r.t.Helper()
	if r.store == nil {
		r.open()
	}
	r.Server.Start()
}
