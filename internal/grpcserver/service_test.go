package grpcserver

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/adminhttp/adminhttptest"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// TestServiceConfigKeys: the keys and credentials load from the files the
// flags name, and a missing file is an error saying which setting failed.
func TestServiceConfigKeys(t *testing.T) {
	dir := t.TempDir()
	c := ServiceConfig{
		Name:     "pension",
		DataDir:  dir,
		TokenKey: filepath.Join(dir, "signing.key"),
		IDKey:    filepath.Join(dir, "id.key"),
	}
	if got, want := c.DBPath(), filepath.Join(dir, "pension.db"); got != want {
		t.Errorf("DBPath = %q, want %q", got, want)
	}
	if _, err := c.Verifier(nil); err == nil || !strings.HasPrefix(err.Error(), "token key: ") {
		t.Errorf("Verifier without a key file = %v, want a token key error", err)
	}
	if _, err := c.CallCredentials("registry"); err == nil || !strings.HasPrefix(err.Error(), "service credentials: ") {
		t.Errorf("CallCredentials without a key file = %v, want a service credentials error", err)
	}
	if _, err := c.Keyer(); err == nil {
		t.Error("Keyer without a key file = nil error")
	}

	if _, err := authn.GenerateKeyFile(c.TokenKey); err != nil {
		t.Fatal(err)
	}
	if _, _, err := idnumber.LoadOrCreateKeyFile(c.IDKey); err != nil {
		t.Fatal(err)
	}
	if v, err := c.Verifier(nil); err != nil || v == nil {
		t.Errorf("Verifier = %v, %v", v, err)
	}
	if creds, err := c.CallCredentials("registry"); err != nil || creds == nil {
		t.Errorf("CallCredentials = %v, %v", creds, err)
	}
	if k, err := c.Keyer(); err != nil || k == nil {
		t.Errorf("Keyer = %v, %v", k, err)
	}
}

// TestLogStarting: the start line names the service and carries the
// registry address only for a service that has one.
func TestLogStarting(t *testing.T) {
	for _, tc := range []struct {
		registry string
		want     []string
	}{
		{"", []string{"grpc_addr", "admin_addr", "db", "grpc_tls", "extra"}},
		{"127.0.0.1:9101", []string{"grpc_addr", "admin_addr", "db", "grpc_tls", "registry_addr", "extra"}},
	} {
		core, logs := observer.New(zapcore.InfoLevel)
		c := ServiceConfig{Name: "activity", RegistryAddr: tc.registry}
		c.LogStarting(zap.New(core), zap.Bool("extra", true))
		entries := logs.All()
		if len(entries) != 1 || entries[0].Message != "activity starting" {
			t.Fatalf("logged %+v", entries)
		}
		var keys []string
		for _, f := range entries[0].Context {
			keys = append(keys, f.Key)
		}
		if strings.Join(keys, " ") != strings.Join(tc.want, " ") {
			t.Errorf("registry %q: fields %v, want %v", tc.registry, keys, tc.want)
		}
	}
}

// TestStartTask: stop ends the task's context and returns only once the
// task has returned; a task's error is logged.
func TestStartTask(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	returned := make(chan struct{})
	stop := StartTask(t.Context(), zap.New(core), "follower", func(ctx context.Context) error {
		defer close(returned)
		<-ctx.Done()
		return errors.New("gave up")
	})
	select {
	case <-returned:
		t.Fatal("the task returned before stop")
	default:
	}
	stop()
	select {
	case <-returned:
	default:
		t.Fatal("stop returned before the task")
	}
	if entries := logs.FilterMessage("follower stopped").All(); len(entries) != 1 {
		t.Errorf("logged %+v, want one \"follower stopped\"", logs.All())
	}
}

// stepLog records the steps of a RunService run in order; it holds more
// than any run takes.
type stepLog chan string

func (l stepLog) add(step string) { l <- step }

// all returns the steps so far.
func (l stepLog) all() []string {
	var steps []string
	for {
		select {
		case s := <-l:
			steps = append(steps, s)
		default:
			return steps
		}
	}
}

// fakeStore is a Store over a real bbolt file that logs its Close.
type fakeStore struct {
	db     *bolt.DB
	log    stepLog
	routes map[string]http.Handler
}

func (s *fakeStore) DB() *bolt.DB { return s.db }

func (s *fakeStore) AdminRoutes(*zap.Logger) map[string]http.Handler { return s.routes }

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
	steps := make(stepLog, 10)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	serving := make(chan *Server, 1)
	core, logs := observer.New(zapcore.InfoLevel)
	svc := Service[*fakeStore]{
		Open: func() (*fakeStore, error) {
			steps.add("open")
			db, err := bolt.Open(c.DBPath(), 0o600, nil)
			return &fakeStore{db: db, log: steps}, err
		},
		Setup: func(srv *Server, _ *fakeStore) ([]Task, error) {
			steps.add("setup")
			return []Task{{Name: "task", Run: func(ctx context.Context) error {
				steps.add("task started")
				serving <- srv
				<-ctx.Done()
				// Stop only once the server has: a store closed before
				// the task's stop would show in the steps.
				waitLogged(logs, "gRPC stopped")
				steps.add("task stopped")
				return nil
			}}}, nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- RunService(ctx, c, zap.New(core), svc) }()

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

// waitLogged waits until logs hold a line saying msg.
func waitLogged(logs *observer.ObservedLogs, msg string) {
	for logs.FilterMessage(msg).Len() == 0 {
		time.Sleep(time.Millisecond)
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

// TestRunServiceFailures: a bad token key or TLS certificate stops the
// start before the store opens; a failed Setup closes the store and
// starts no task.
func TestRunServiceFailures(t *testing.T) {
	setupErr := errors.New("setup failed")
	tests := []struct {
		name     string
		noKey    bool
		noCert   bool
		setupErr error
		// unclassified registers a service whose method has no class.
		unclassified bool
		wantErr      string
		wantSteps    []string
	}{
		{name: "no token key", noKey: true, wantErr: "token key: ", wantSteps: nil},
		{name: "no TLS certificate", noCert: true, wantErr: "--tls-cert and --tls-key: ", wantSteps: nil},
		{name: "setup fails", setupErr: setupErr, wantErr: setupErr.Error(), wantSteps: []string{"open", "setup", "close"}},
		{name: "a method without a limits class", unclassified: true, wantErr: ErrUnclassifiedMethod.Error() + ": no limits class for /test.Svc/Do", wantSteps: []string{"open", "setup", "close"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := runServiceConfig(t, t.TempDir())
			if tc.noKey {
				c.TokenKey = filepath.Join(c.DataDir, "missing.key")
			}
			if tc.noCert {
				c.Server.TLS = tlsfiles.Server{CertFile: filepath.Join(c.DataDir, "missing.crt"), KeyFile: filepath.Join(c.DataDir, "missing.key")}
			}
			steps := make(stepLog, 10)
			svc := Service[*fakeStore]{
				Open: func() (*fakeStore, error) {
					steps.add("open")
					db, err := bolt.Open(c.DBPath(), 0o600, nil)
					return &fakeStore{db: db, log: steps}, err
				},
				Setup: func(srv *Server, _ *fakeStore) ([]Task, error) {
					steps.add("setup")
					if tc.unclassified {
						srv.GRPC().RegisterService(&grpc.ServiceDesc{
							ServiceName: "test.Svc", HandlerType: (*any)(nil),
							Methods: []grpc.MethodDesc{{MethodName: "Do", Handler: nil}},
						}, struct{}{})
					}
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

// TestServiceAdminPortNeedsAdminToken: a service's admin port, as
// NewServer builds it, serves the backup and the profiles to an admin on
// this machine only: a local caller without a token, or with a clerk's,
// bureau's, enterprise's or service's token, is refused. Metrics and
// health stay open to anyone.
func TestServiceAdminPortNeedsAdminToken(t *testing.T) {
	dir := t.TempDir()
	c := ServiceConfig{Name: "registry", DataDir: dir, TokenKey: filepath.Join(dir, "signing.key")}
	priv, err := authn.GenerateKeyFile(c.TokenKey)
	if err != nil {
		t.Fatal(err)
	}
	verifier, err := c.Verifier(nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(c.DBPath(), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &fakeStore{db: db, routes: map[string]http.Handler{
		"/debug/store-route": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) }),
	}}
	srv, err := c.NewServer(verifier, store, zaptest.NewLogger(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	admin := srv.AdminHandler()

	signer := authn.NewSigner(priv)
	adminhttptest.Check(t, admin, signer, "/debug/backup")
	adminhttptest.Check(t, admin, signer, "/debug/store-route")
	adminhttptest.Check(t, admin, signer, "/debug/pprof/heap")
	for _, path := range []string{"/metrics", "/healthz"} {
		// /healthz says 503 before serving; what matters is that it answers.
		if rec := adminhttptest.Get(admin, path, "10.1.2.3:5000"); rec.Code == http.StatusUnauthorized || rec.Code == http.StatusForbidden {
			t.Errorf("GET %s from another machine without a token: %d, want it open", path, rec.Code)
		}
	}
}

// TestServiceMutualTLS runs a service with --tls-cert, --tls-key and
// --tls-client-ca: a client with a certificate of the CA gets health and
// reflection over TLS, and the service's own connections (Dial with
// --tls-ca) present its certificate; a plaintext client, one without a
// certificate and one with a certificate of another CA are refused.
func TestServiceMutualTLS(t *testing.T) {
	dir := t.TempDir()
	pki, _, err := devca.Ensure(filepath.Join(dir, "tls"), "test", "cli")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := devca.Ensure(filepath.Join(dir, "other"), "intruder")
	if err != nil {
		t.Fatal(err)
	}
	c := runServiceConfig(t, dir)
	c.Server.GRPCAddr = freeAddr(t)
	c.Server.TLS = tlsfiles.Server{CertFile: pki.Cert("test"), KeyFile: pki.Key("test"), ClientCAFile: pki.CA()}
	c.TLSCA = pki.CA()
	startService(t, c)

	dialAs := func(client *tlsfiles.Client) *grpc.ClientConn {
		transport, err := client.Credentials()
		if err != nil {
			t.Fatal(err)
		}
		conn, err := authn.Dial(c.Server.GRPCAddr, transport, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		return conn
	}
	own, err := c.Dial("test", c.Server.GRPCAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	for name, conn := range map[string]*grpc.ClientConn{
		"a client of the CA":     dialAs(&tlsfiles.Client{CAFile: pki.CA(), CertFile: pki.Cert("cli"), KeyFile: pki.Key("cli")}),
		"the service's own Dial": own,
	} {
		if err := checkServing(conn); err != nil {
			t.Errorf("%s: health %v", name, err)
		}
	}
	names, err := listServices(dialAs(&tlsfiles.Client{CAFile: pki.CA(), CertFile: pki.Cert("cli"), KeyFile: pki.Key("cli")}))
	if err != nil || !slices.Contains(names, "grpc.health.v1.Health") {
		t.Errorf("reflection over TLS lists %v, %v; want the health service", names, err)
	}

	for name, client := range map[string]*tlsfiles.Client{
		"plaintext":                   {},
		"no client certificate":       {CAFile: pki.CA()},
		"a certificate of another CA": {CAFile: pki.CA(), CertFile: other.Cert("intruder"), KeyFile: other.Key("intruder")},
	} {
		if err := checkServing(dialAs(client)); status.Code(err) != codes.Unavailable {
			t.Errorf("%s: health %v, want Unavailable", name, err)
		}
	}
}

// startService runs c as a service with an empty store until the test
// ends, and waits until it serves.
func startService(t *testing.T, c *ServiceConfig) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	serving := make(chan *Server, 1)
	done := make(chan error, 1)
	go func() {
		done <- RunService(ctx, c, zaptest.NewLogger(t), Service[*fakeStore]{
			Open: func() (*fakeStore, error) {
				db, err := bolt.Open(c.DBPath(), 0o600, nil)
				return &fakeStore{db: db, log: make(stepLog, 10)}, err
			},
			Setup: func(srv *Server, _ *fakeStore) ([]Task, error) {
				serving <- srv
				return nil, nil
			},
		})
	}()
	waitServing(t, <-serving)
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunService = %v", err)
		}
	})
}

// checkServing makes one health check over conn.
func checkServing(conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// listServices asks reflection over conn for the services.
func listServices(conn *grpc.ClientConn) ([]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rs, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := rs.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		return nil, err
	}
	resp, err := rs.Recv()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	return names, rs.CloseSend()
}

// TestServiceAdminTLS: with --admin-tls the admin port speaks TLS with
// the gRPC port's certificate; /healthz answers a client without a
// certificate (a kubelet probe), and plain HTTP is refused.
func TestServiceAdminTLS(t *testing.T) {
	dir := t.TempDir()
	pki, _, err := devca.Ensure(filepath.Join(dir, "tls"), "test", "cli")
	if err != nil {
		t.Fatal(err)
	}
	c := runServiceConfig(t, dir)
	c.Server.GRPCAddr = freeAddr(t)
	c.Server.AdminAddr = freeAddr(t)
	c.Server.TLS = tlsfiles.Server{CertFile: pki.Cert("test"), KeyFile: pki.Key("test"), ClientCAFile: pki.CA()}
	c.Server.AdminTLS = true
	c.Server.AdminClientNames = []string{"cli"}
	startService(t, c)

	cfg, err := (tlsfiles.Client{CAFile: pki.CA()}).Config()
	if err != nil {
		t.Fatal(err)
	}
	get := func(client *http.Client, url string) (int, error) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_ = resp.Body.Close()
		return resp.StatusCode, nil
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer tlsClient.CloseIdleConnections()
	if code, err := get(tlsClient, "https://"+c.Server.AdminAddr+"/healthz"); err != nil || code != http.StatusOK {
		t.Errorf("GET https /healthz without a client certificate: %d, %v; want 200", code, err)
	}
	if code, err := get(http.DefaultClient, "http://"+c.Server.AdminAddr+"/healthz"); err == nil && code == http.StatusOK {
		t.Errorf("GET http /healthz of a TLS admin port: %d, want a refusal", code)
	}
}
