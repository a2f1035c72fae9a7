package grpcserver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
	"github.com/socmgmt/socmgmt/internal/tracing"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// ServiceConfig is the part of a service program's Config that several
// services share. Each service's Config embeds it; NewCommand fills Name
// and Server, and the Command's methods define the flags of those other
// fields the service has. A field the service defines no flag for stays
// empty.
type ServiceConfig struct {
	// Name is the service's short name ("registry"): it names the
	// database file, the environment variables and the subject of the
	// service's own tokens.
	Name string
	// Server holds the listen addresses, logging and shutdown settings.
	Server Flags
	// DataDir is the directory of the service's bbolt file, <Name>.db.
	DataDir string
	// TokenKey is the Ed25519 key file (PEM) that bearer tokens are
	// verified with. When it holds the private key (development), a
	// service that calls others also mints its own service tokens from it.
	TokenKey string
	// IDKey is the file of the HMAC key that indexes ID numbers; registry
	// and pension must use the same one.
	IDKey string
	// RegistryAddr is registry's gRPC host:port, for the services that
	// follow or call it.
	RegistryAddr string
	// ServiceTokenFile holds a pre-issued service token for the calls to
	// other services, for deployments that give the service only the
	// public half of TokenKey; empty means minting them with TokenKey.
	ServiceTokenFile string
	// AuditDurableReads makes each audited read wait until its audit
	// record is on disk before answering (see audit.Log.Read).
	AuditDurableReads bool
	// Tokens bound the bearer tokens the service accepts and say how it
	// keeps its keys and revocation list current.
	Tokens authn.TokenPolicy
	// TLSCA is the PEM file of the CAs that sign the certificates of the
	// services this one calls: set, its calls go over TLS and present
	// Server.TLS's certificate as the client certificate, so that one
	// certificate is the service's identity both ways. Empty, its calls
	// are plaintext.
	TLSCA string
	// AuditKey is the Ed25519 private key file (PEM) that signs the
	// audit log's checkpoints: the service's own, apart from the token
	// key (see AuditSigningKey).
	AuditKey string
	// AuditCheckpointEvery and AuditCheckpointInterval are how many
	// entries, or how long, may follow the last checkpoint before the
	// next (see audit.Checkpoints).
	AuditCheckpointEvery    int
	AuditCheckpointInterval time.Duration
	// DataKey is the file of the data keys that seal the personal data
	// the service stores (see package datakey).
	DataKey string
	// Limits are the per-caller budgets of each role (--rate-limits);
	// NewCommand starts them at limits.DefaultConfig.
	Limits limits.Config
	// TracerProvider traces the server's calls and the service's calls
	// to others; nil (tracing off) traces nothing. Not a flag: Main sets
	// it from the OTEL_* environment (see package tracing).
	TracerProvider trace.TracerProvider
}

// serviceConfig is what Main needs of a service's Config: the pointer
// to a Config that embeds ServiceConfig has it.
type serviceConfig interface {
	serverFlags() *Flags
	service() *ServiceConfig
}

func (c *ServiceConfig) serverFlags() *Flags { return &c.Server }

func (c *ServiceConfig) service() *ServiceConfig { return c }

// DBPath is the service's database file, <Name>.db in DataDir.
func (c *ServiceConfig) DBPath() string { return filepath.Join(c.DataDir, c.Name+".db") }

// Verifier loads TokenKey and returns the verifier of the bearer tokens
// the service is called with, refusing those on revoked (nil: a list of
// its own).
func (c *ServiceConfig) Verifier(revoked *authn.Revocations) (*authn.Verifier, error) {
	v, err := c.Tokens.NewVerifier(c.TokenKey, c.Name, revoked)
	if err != nil {
		return nil, fmt.Errorf("token key: %w", err)
	}
	return v, nil
}

// Keyer loads IDKey and returns the keyer that ID numbers are looked up
// by.
func (c *ServiceConfig) Keyer() (*idnumber.Keyer, error) {
	key, err := idnumber.LoadKeyFile(c.IDKey)
	if err != nil {
		return nil, err
	}
	return idnumber.NewKeyer(key)
}

// CallCredentials returns the per-RPC credentials of the service's calls
// to the service named callee: the token in ServiceTokenFile, or tokens
// of subject Name for callee alone, minted with TokenKey.
func (c *ServiceConfig) CallCredentials(callee string) (credentials.PerRPCCredentials, error) {
	creds, err := authn.CallCredentials(c.TokenKey, c.ServiceTokenFile, c.Name, callee)
	if err != nil {
		return nil, fmt.Errorf("service credentials: %w", err)
	}
	return creds, nil
}

// DialRegistry returns a connection to registry at RegistryAddr; see
// Dial. A projection connects, and reconnects, on its own schedule, so
// the service starts while registry is down.
func (c *ServiceConfig) DialRegistry() (*grpc.ClientConn, error) {
	return c.Dial("registry", c.RegistryAddr)
}

// ClientTLS is the TLS of the service's calls to others: TLSCA verifies
// them, and the service's own certificate is its client certificate.
func (c *ServiceConfig) ClientTLS() tlsfiles.Client {
	if c.TLSCA == "" {
		return tlsfiles.Client{}
	}
	return tlsfiles.Client{CAFile: c.TLSCA, CertFile: c.Server.TLS.CertFile, KeyFile: c.Server.TLS.KeyFile}
}

// Dial returns a connection to the service named service at addr,
// carrying the service's CallCredentials, over TLS when TLSCA is set (see
// ClientTLS), its calls carrying their trace on when TracerProvider is
// set. Dial does not connect yet.
func (c *ServiceConfig) Dial(service, addr string) (*grpc.ClientConn, error) {
	creds, err := c.CallCredentials(service)
	if err != nil {
		return nil, err
	}
	transport, err := c.ClientTLS().Credentials()
	if err != nil {
		return nil, fmt.Errorf("--tls-ca: %w", err)
	}
	conn, err := authn.Dial(addr, transport, creds, tracing.DialOptions(c.TracerProvider)...)
	if err != nil {
		return nil, fmt.Errorf("%s address: %w", service, err)
	}
	return conn, nil
}

// NewServer returns the service's Server: its gRPC port over TLS when
// Server.TLS says so, every call but health and reflection authenticated
// by verifier, then charged to its caller's budgets (Limits) by the class
// methods gives it, the caller's subject in the access log, and on the
// admin port an online backup of the store's database at /debug/backup and
// the store's own AdminRoutes, which like the profiles need an admin token
// that verifier accepts. It fails only when the TLS files cannot be used.
func (c *ServiceConfig) NewServer(verifier *authn.Verifier, store Store, log *zap.Logger, methods limits.Table) (*Server, error) {
	tlsConfigs, err := c.tlsConfigs()
	if err != nil {
		return nil, err
	}
	return c.newServer(verifier, store, log, tlsConfigs, methods), nil
}

// serverTLS are the loaded TLS configurations of a service's two ports;
// nil is plaintext.
type serverTLS struct{ grpc, admin *tls.Config }

// tlsConfigs loads the TLS files of the gRPC port and, with --admin-tls,
// of the admin port.
func (c *ServiceConfig) tlsConfigs() (serverTLS, error) {
	var t serverTLS
	var err error
	if t.grpc, err = c.Server.TLS.Config(); err != nil {
		return t, err
	}
	if c.Server.AdminTLS {
		t.admin, err = c.Server.TLS.AdminConfig(c.Server.AdminClientNames)
	}
	return t, err
}

// newServer is NewServer with the TLS files loaded.
func (c *ServiceConfig) newServer(verifier *authn.Verifier, store Store, log *zap.Logger, tlsConfigs serverTLS, methods limits.Table) *Server {
	admin := map[string]http.Handler{"/debug/backup": boltstore.BackupHandler(store.DB(), log)}
	maps.Copy(admin, store.AdminRoutes(log))
	reg := prometheus.NewRegistry()
	limiter := limits.New(limits.Options{Config: c.Limits, Methods: methods, Registerer: reg})
	srv := New(Options{
		Name:            c.Name,
		GRPCAddr:        c.Server.GRPCAddr,
		AdminAddr:       c.Server.AdminAddr,
		Logger:          log,
		Registry:        reg,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor(), limiter.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor(), limiter.StreamInterceptor()},
		Subject:         authn.SubjectOf,
		AdminHandlers:   admin,
		AdminVerifier:   verifier,
		ShutdownTimeout: c.Server.ShutdownTimeout,
		TLS:             tlsConfigs.grpc,
		AdminTLS:        tlsConfigs.admin,
		TracerProvider:  c.TracerProvider,
	})
	srv.tokens = verifier
	return srv
}

// Tokens returns the verifier of the bearer tokens the server's calls
// carry (its keys and revocation list), or nil for a server not built by
// ServiceConfig.NewServer.
func (s *Server) Tokens() *authn.Verifier { return s.tokens }

// LogStarting writes the line "<Name> starting" with the addresses, the
// database, registry's address when the service has one, and extra.
func (c *ServiceConfig) LogStarting(log *zap.Logger, extra ...zap.Field) {
	fields := []zap.Field{
		zap.String("grpc_addr", c.Server.GRPCAddr), zap.String("admin_addr", c.Server.AdminAddr), zap.String("db", c.DBPath()),
		zap.String("grpc_tls", tlsMode(c.Server.TLS)),
	}
	if c.RegistryAddr != "" {
		fields = append(fields, zap.String("registry_addr", c.RegistryAddr))
	}
	log.Info(c.Name+" starting", append(fields, extra...)...)
}

// tlsMode says how the gRPC port is served, for the "starting" line:
// "mutual" (client certificates required), "server" or "off".
func tlsMode(s tlsfiles.Server) string {
	switch {
	case s.ClientCAFile != "":
		return "mutual"
	case s.Enabled():
		return "server"
	default:
		return "off"
	}
}

// StartTask runs task, work a service does beside serving (following
// registry, delivering an outbox), until the returned stop is called;
// stop returns once task has returned. A main defers stop after the
// store's Close, so that the task stops writing before the store closes.
// An error task returns is logged as "<name> stopped".
func StartTask(ctx context.Context, log *zap.Logger, name string, task func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var done sync.WaitGroup
	done.Go(func() {
		if err := task(ctx); err != nil {
			log.Error(name+" stopped", zap.Error(err))
		}
	})
	return func() {
		cancel()
		done.Wait()
	}
}

// ErrUnclassifiedMethod is wrapped by RunService's error when the
// service registers a method its Service.Methods does not class: such a
// method would be limited as a personal-data read without anyone having
// decided so.
var ErrUnclassifiedMethod = errors.New("grpcserver: method without a limits class")

// Store is what RunService needs of a service's store: the database that
// /debug/backup copies, the store's own admin routes (a data-key
// rotation), and Close. servicedb.Base, which every store embeds, has
// them.
type Store interface {
	DB() *bolt.DB
	AdminRoutes(log *zap.Logger) map[string]http.Handler
	Close() error
}

// Task is work a service does beside serving, named for the log; see
// StartTask.
type Task struct {
	Name string
	Run  func(context.Context) error
}

// Service is one service's part of RunService's start-up.
type Service[S Store] struct {
	// Open opens the service's store, after the token key has loaded; it
	// loads any other key the store needs first, so that a bad key file
	// is reported before the database is touched.
	Open func() (S, error)
	// Setup registers the service's gRPC services and metrics on srv and
	// returns its Tasks, which run while srv does.
	Setup func(srv *Server, store S) ([]Task, error)
	// Starting, if not nil, returns the fields of the "starting" line
	// beyond those LogStarting writes.
	Starting func(store S) []zap.Field
	// Revocations, when set, is the list of revoked tokens the service
	// keeps itself: registry, which holds the list, fills it. Unset, the
	// service follows registry's list at RegistryAddr.
	Revocations *authn.Revocations
	// Methods classes every method Setup registers, for the per-caller
	// limits; RunService refuses to serve a method it does not class.
	Methods limits.Table
}

// RunService runs a service program until ctx ends: it loads the token
// key and the TLS files, opens the store, builds the server on it with
// svc.Setup, logs "<Name> starting", starts the tasks and serves. On the way out the
// tasks stop before the store closes, so that none writes to a closed
// database; an error from Close joins the one returned.
func RunService[S Store](ctx context.Context, c *ServiceConfig, log *zap.Logger, svc Service[S]) (err error) {
	revoked := svc.Revocations
	if revoked == nil {
		revoked = authn.NewRevocations()
	}
	verifier, err := c.Verifier(revoked)
	if err != nil {
		return err
	}
	// Like the keys, the certificate is checked before the database is
	// touched.
	tlsConfigs, err := c.tlsConfigs()
	if err != nil {
		return err
	}
	tokenTasks, closeTasks, err := c.tokenTasks(verifier, svc.Revocations == nil, log)
	if err != nil {
		return err
	}
	defer closeTasks()
	store, err := svc.Open()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	srv := c.newServer(verifier, store, log, tlsConfigs, svc.Methods)
	tasks, err := svc.Setup(srv, store)
	if err != nil {
		return err
	}
	if missing := svc.Methods.Unclassified(srv.GRPC().GetServiceInfo()); len(missing) > 0 {
		return fmt.Errorf("%w: no limits class for %s", ErrUnclassifiedMethod, strings.Join(missing, ", "))
	}
	var extra []zap.Field
	if svc.Starting != nil {
		extra = svc.Starting(store)
	}
	c.LogStarting(log, extra...)
	for _, t := range append(tokenTasks, tasks...) {
		stop := StartTask(ctx, log, t.Name, t.Run)
		defer stop()
	}
	return srv.Run(ctx)
}

// tokenTasks are the tasks that keep verifier current: one reads the
// token key file again (a key rotation), and, when follow is set, one
// follows registry's revocation list over a connection of its own, which
// closeConn closes.
func (c *ServiceConfig) tokenTasks(verifier *authn.Verifier, follow bool, log *zap.Logger) (tasks []Task, closeConn func(), err error) {
	tasks = []Task{{Name: "token keys", Run: func(ctx context.Context) error {
		return authn.WatchKeySet(ctx, c.TokenKey, verifier, c.Tokens.KeyReload, log)
	}}}
	if !follow {
		return tasks, func() {}, nil
	}
	if c.RegistryAddr == "" {
		log.Warn("no registry address: revoked tokens are not refused")
		return tasks, func() {}, nil
	}
	conn, err := c.DialRegistry()
	if err != nil {
		return nil, nil, err
	}
	client := registryv1.NewRegistryServiceClient(conn)
	tasks = append(tasks, Task{Name: "revocation list", Run: func(ctx context.Context) error {
		return authn.FollowRevocations(ctx, client, verifier.Revocations(), authn.FollowOptions{Interval: c.Tokens.RevocationPoll, Logger: log})
	}})
	return tasks, func() { _ = conn.Close() }, nil
}
