// Command pension runs the pension service: payments imported from
// social-security bureaus, certifications, entitlement and anomalies, over
// its own projection of registry's retirees.
package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/pension"
)

func main() {
	grpcserver.Main("pension", pension.ParseConfig, run)
}

func run(ctx context.Context, cfg *pension.Config, log *zap.Logger) error {
	conn, err := cfg.DialRegistry()
	if err != nil {
		return err
	}
	defer conn.Close()
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*pension.Store]{
		Open: func() (*pension.Store, error) {
			keyer, err := cfg.Keyer()
			if err != nil {
				return nil, err
			}
			return pension.OpenStore(cfg.DBPath(), keyer, pension.StoreOptions{
				Logger:       log,
				DurableReads: cfg.AuditDurableReads,
				Registry:     registryv1.NewRegistryServiceClient(conn),
			})
		},
		Setup: func(srv *grpcserver.Server, store *pension.Store) ([]grpcserver.Task, error) {
			registerProjectionMetrics(srv.Metrics(), store.Projection())
			pensionv1.RegisterPensionServiceServer(srv.GRPC(), pension.NewServer(store, pension.ServerOptions{
				Logger:           log,
				AmountDropShare:  cfg.AmountDropShare,
				MaxStreamRecords: cfg.MaxStreamRecords,
			}))
			return []grpcserver.Task{{Name: "retiree projection", Run: store.Projection().Run}}, nil
		},
	})
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
