// Command casework runs the casework service: the clerks' queue of work
// items with deadlines, with its own projection of registry's retirees
// and the sweeper that keeps the items' clocks.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/workdays"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework"
)

func main() {
	grpcserver.Main("casework", casework.ParseConfig, run)
}

func run(ctx context.Context, cfg *casework.Config, log *zap.Logger) error {
	conn, err := cfg.DialRegistry()
	if err != nil {
		return err
	}
	defer conn.Close()
	registry := registryv1.NewRegistryServiceClient(conn)
	var checkpoints audit.Checkpoints
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*casework.Store]{
		Methods: casework.Methods,
		Open: func() (*casework.Store, error) {
			calendar, err := workdays.Load(cfg.HolidayCalendar)
			if err != nil {
				return nil, err
			}
			if checkpoints, err = audit.CheckpointsOf(&cfg.ServiceConfig); err != nil {
				return nil, err
			}
			return casework.OpenStore(cfg.DBPath(), registry, casework.StoreOptions{
				Logger:       log,
				DurableReads: cfg.AuditDurableReads,
				Checkpoints:  checkpoints,
				AtRiskShare:  cfg.AtRiskShare,
				Calendar:     calendar,
			})
		},
		Starting: func(*casework.Store) []zap.Field {
			return append(checkpoints.StartingFields(), zap.Float64("at_risk_share", cfg.AtRiskShare))
		},
		Setup: func(srv *grpcserver.Server, store *casework.Store) ([]grpcserver.Task, error) {
			if err := projection.RegisterMetrics(srv.Metrics(), store.Projection()); err != nil {
				return nil, err
			}
			caseworkv1.RegisterCaseworkServiceServer(srv.GRPC(), casework.NewServer(store, casework.ServerOptions{Logger: log}))
			return []grpcserver.Task{
				// The projection follows registry for as long as the server runs.
				{Name: "retiree projection", Run: store.Projection().Run},
				store.SweepTask(cfg.SweepInterval),
			}, nil
		},
	})
}
