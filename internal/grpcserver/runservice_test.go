package grpcserver

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// stepLog records the steps of a RunService run in order.
type stepLog struct {
	mu    sync.Mutex
	steps []string
}

func (l *stepLog) add(step string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.steps = append(l.steps, step)
}

func (l *stepLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.steps)
}

// fakeStore is a Store over a real bbolt file that logs its Close.
type fakeStore struct {
	db  *bolt.DB
	log *stepLog
}

func (s *fakeStore) DB() *bolt.DB { return s.db }

func (s *fakeStore) Close() error {
	s.log.add("close")
	return s.db.Close()
}

// runServiceConfig is a ServiceConfig on free ports with a fresh token
// key in dir.
func runServiceConfig(t *testing.T, dir string) *ServiceConfig {
	t.Helper()
	c := &ServiceConfig{Name: "test", DataDir: dir, TokenKey: filepath.Join(dir, "signing.key")}
	c.Server.GRPCAddr = "127.0.0.1:0"
	c.Server.ShutdownTimeout = time.Second
	if _, err := authn.GenerateKeyFile(c.TokenKey); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRunServiceOrder: the store opens after the keys, the task runs
// while the server serves, and it has stopped before the store closes.
func TestRunServiceOrder(t *testing.T) {
	c := runServiceConfig(t, t.TempDir())
	var steps stepLog
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	serving := make(chan *Server, 1)
	svc := Service[*fakeStore]{
		Open: func() (*fakeStore, error) {
			steps.add("open")
			db, err := bolt.Open(c.DBPath(), 0o600, nil)
			return &fakeStore{db: db, log: &steps}, err
		},
		Setup: func(srv *Server, _ *fakeStore) ([]Task, error) {
			steps.add("setup")
			return []Task{{Name: "task", Run: func(ctx context.Context) error {
				steps.add("task started")
				serving <- srv
				<-ctx.Done()
				steps.add("task stopped")
				return nil
			}}}, nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- RunService(ctx, c, zaptest.NewLogger(t), svc) }()

	srv := <-serving
	waitServing(t, srv)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunService = %v", err)
	}
	want := []string{"open", "setup", "task started", "task stopped", "close"}
	if diff := cmp.Diff(want, steps.all()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

// waitServing waits until srv's health says SERVING.
func waitServing(t *testing.T, srv *Server) {
	t.Helper()
	for {
		resp, err := srv.Health().Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// TestRunServiceFailures: a bad token key stops the start before the
// store opens; a failed Setup closes the store and starts no task.
func TestRunServiceFailures(t *testing.T) {
	setupErr := errors.New("setup failed")
	tests := []struct {
		name      string
		noKey     bool
		setupErr  error
		wantErr   string
		wantSteps []string
	}{
		{name: "no token key", noKey: true, wantErr: "token key: ", wantSteps: nil},
		{name: "setup fails", setupErr: setupErr, wantErr: setupErr.Error(), wantSteps: []string{"open", "setup", "close"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := runServiceConfig(t, t.TempDir())
			if tc.noKey {
				c.TokenKey = filepath.Join(c.DataDir, "missing.key")
			}
			var steps stepLog
			svc := Service[*fakeStore]{
				Open: func() (*fakeStore, error) {
					steps.add("open")
					db, err := bolt.Open(c.DBPath(), 0o600, nil)
					return &fakeStore{db: db, log: &steps}, err
				},
				Setup: func(*Server, *fakeStore) ([]Task, error) {
					steps.add("setup")
					return []Task{{Name: "task", Run: func(context.Context) error {
						steps.add("task started")
						return nil
					}}}, tc.setupErr
				},
			}
			err := RunService(t.Context(), c, zaptest.NewLogger(t), svc)
			if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
				t.Errorf("RunService = %v, want an error starting %q", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.wantSteps, steps.all()); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}
