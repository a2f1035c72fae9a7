// Command pension runs the pension service: payments imported from
// social-security bureaus, certifications, entitlement and anomalies, over
// its own projection of registry's retirees.
package main

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/pension"
)

func main() {
	grpcserver.Main("pension", pension.ParseConfig, run)
}

func run(ctx context.Context, cfg *pension.Config, log *zap.Logger) (err error) {
	verifier, err := cfg.Verifier()
	if err != nil {
		return err
	}
	keyer, err := cfg.Keyer()
	if err != nil {
		return err
	}
	conn, err := cfg.DialRegistry()
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
	stopProjection := grpcserver.StartTask(ctx, log, "retiree projection", store.Projection().Run)
	defer stopProjection()

	srv := newServer(cfg, verifier, store, log)
	cfg.LogStarting(log)
	return srv.Run(ctx)
}

// newServer builds the gRPC server with the pension service and the
// projection's gauges.
func newServer(cfg *pension.Config, verifier *authn.Verifier, store *pension.Store, log *zap.Logger) *grpcserver.Server {
	srv := cfg.NewServer(verifier, store.DB(), log)
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
