// Command pension runs the pension service: payments imported from
// social-security bureaus, certifications, entitlement and anomalies, over
// its own projection of registry's retirees.
package main

import (
	"context"
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
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/pension"
)

func main() {
	grpcserver.Main("pension", pension.ParseConfig, func(c *pension.Config) *grpcserver.Flags { return &c.Server }, run)
}

func run(ctx context.Context, cfg *pension.Config, log *zap.Logger) error {
	pub, err := authn.LoadPublicKey(cfg.TokenKey)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	idKey, err := idnumber.LoadKeyFile(cfg.IDKey)
	if err != nil {
		return err
	}
	keyer, err := idnumber.NewKeyer(idKey)
	if err != nil {
		return err
	}
	creds, err := authn.CallCredentials(cfg.TokenKey, cfg.ServiceTokenFile, "pension")
	if err != nil {
		return fmt.Errorf("credentials for registry: %w", err)
	}
	// Dial does not connect yet: the projection connects, and reconnects,
	// on its own schedule, so the service starts while registry is down.
	conn, err := authn.Dial(cfg.RegistryAddr, creds)
	if err != nil {
		return fmt.Errorf("registry address: %w", err)
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
	defer store.Close()

	projCtx, stopProjection := context.WithCancel(ctx)
	var projDone sync.WaitGroup
	projDone.Go(func() { _ = store.Projection().Run(projCtx) })
	// The store closes after the projection has stopped writing to it.
	defer projDone.Wait()
	defer stopProjection()

	verifier := authn.NewVerifier(pub)
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
	proj := store.Projection()
	srv.Metrics().MustRegister(
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
	pensionv1.RegisterPensionServiceServer(srv.GRPC(), pension.NewServer(store, pension.ServerOptions{
		Logger:           log,
		AmountDropShare:  cfg.AmountDropShare,
		MaxStreamRecords: cfg.MaxStreamRecords,
	}))
	log.Info("pension starting", zap.String("grpc_addr", cfg.Server.GRPCAddr), zap.String("admin_addr", cfg.Server.AdminAddr),
		zap.String("db", cfg.DBPath()), zap.String("registry_addr", cfg.RegistryAddr))
	return srv.Run(ctx)
}
