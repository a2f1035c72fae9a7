// Command pension runs the pension service: payments imported from
// social-security bureaus, certifications, entitlement and anomalies, over
// its own projection of registry's retirees.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/projection"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/pension"
)

func main() {
	grpcserver.Main("pension", pension.ParseConfig, func(c *pension.Config) *grpcserver.Flags { return &c.Server }, run)
}

func run(ctx context.Context, cfg *pension.Config, log *zap.Logger) (err error) {
	pub, err := authn.LoadPublicKey(cfg.TokenKey)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	keyer, err := loadKeyer(cfg.IDKey)
	if err != nil {
		return err
	}
	conn, err := dialRegistry(cfg)
	if err != nil {
		return err
	}
	defer conn.Close()

	store, err := pension.OpenStore(cfg.DBPath(), keyer, pension.StoreOptions{
		Logger:       log,
		DurableReads: cfg.AuditDurableReads,
		Registry:     registryv1.NewRegistryServiceClient(conn),
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	// The store closes after the projection has stopped writing to it.
	stopProjection := startProjection(ctx, store.Projection())
	defer stopProjection()

	srv := newServer(cfg, authn.NewVerifier(pub), store, log)
	log.Info("pension starting", zap.String("grpc_addr", cfg.Server.GRPCAddr), zap.String("admin_addr", cfg.Server.AdminAddr),
		zap.String("db", cfg.DBPath()), zap.String("registry_addr", cfg.RegistryAddr))
	return srv.Run(ctx)
}

// loadKeyer reads the key that ID numbers are looked up by.
func loadKeyer(path string) (*idnumber.Keyer, error) {
	idKey, err := idnumber.LoadKeyFile(path)
	if err != nil {
		return nil, err
	}
	return idnumber.NewKeyer(idKey)
}

// dialRegistry returns a connection to registry carrying pension's service
// token. Dial does not connect yet: the projection connects, and
// reconnects, on its own schedule, so the service starts while registry is
// down.
func dialRegistry(cfg *pension.Config) (*grpc.ClientConn, error) {
	creds, err := authn.CallCredentials(cfg.TokenKey, cfg.ServiceTokenFile, "pension")
	if err != nil {
		return nil, fmt.Errorf("credentials for registry: %w", err)
	}
	conn, err := authn.Dial(cfg.RegistryAddr, creds)
	if err != nil {
		return nil, fmt.Errorf("registry address: %w", err)
	}
	return conn, nil
}

// startProjection runs the retiree projection until the returned function
// is called; that function returns once the projection has stopped.
func startProjection(ctx context.Context, proj *projection.Projection) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var done sync.WaitGroup
	done.Go(func() { _ = proj.Run(ctx) })
	return func() {
		cancel()
		done.Wait()
	}
}

// newServer builds the gRPC server with the pension service, the store's
// backup on the admin port and the projection's gauges.
func newServer(cfg *pension.Config, verifier *authn.Verifier, store *pension.Store, log *zap.Logger) *grpcserver.Server {
	srv := grpcserver.New(grpcserver.Options{
		Name:            "pension",
		GRPCAddr:        cfg.Server.GRPCAddr,
		AdminAddr:       cfg.Server.AdminAddr,
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		Subject:         authn.SubjectOf,
		AdminHandlers:   map[string]http.Handler{"/debug/backup": boltstore.BackupHandler(store.DB(), log)},
		ShutdownTimeout: cfg.Server.ShutdownTimeout,
	})
	registerProjectionMetrics(srv.Metrics(), store.Projection())
	pensionv1.RegisterPensionServiceServer(srv.GRPC(), pension.NewServer(store, pension.ServerOptions{
		Logger:           log,
		AmountDropShare:  cfg.AmountDropShare,
		MaxStreamRecords: cfg.MaxStreamRecords,
	}))
	return srv
}

// registerProjectionMetrics exports how far the projection has followed
// registry and whether it is following now.
func registerProjectionMetrics(reg *prometheus.Registry, proj *projection.Projection) {
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pension_projection_revision",
			Help: "The registry revision the retiree projection has applied through.",
		}, func() float64 { return float64(proj.Cursor()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "pension_projection_connected",
			Help: "1 while the projection's WatchRetirees stream is open.",
		}, func() float64 {
			if proj.Connected() {
				return 1
			}
			return 0
		}),
	)
}
