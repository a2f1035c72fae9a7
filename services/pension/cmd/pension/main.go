// Command pension runs the pension service: payments imported from
// social-security bureaus, certifications, entitlement and anomalies, over
// its own projection of registry's retirees.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/pension"

	// Time zones and CA roots built in: the program runs on a scratch image.
	_ "github.com/socmgmt/socmgmt/internal/selfcontained"
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
	var checkpoints audit.Checkpoints
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*pension.Store]{
		Methods: pension.Methods,
		Open: func() (*pension.Store, error) {
			keyer, err := cfg.Keyer()
			if err != nil {
				return nil, err
			}
			dataKeys, err := cfg.DataKeys()
			if err != nil {
				return nil, err
			}
			if checkpoints, err = audit.CheckpointsOf(&cfg.ServiceConfig); err != nil {
				return nil, err
			}
			return pension.OpenStore(cfg.DBPath(), keyer, pension.StoreOptions{
				TracerProvider: cfg.TracerProvider,
				Logger:         log,
				DurableReads:   cfg.AuditDurableReads,
				Registry:       registryv1.NewRegistryServiceClient(conn),
				Checkpoints:    checkpoints,
				DataKeys:       dataKeys,

				SignalRetention: cfg.SignalRetention,
				AmountDropShare: cfg.AmountDropShare,
			})
		},
		Starting: func(*pension.Store) []zap.Field { return checkpoints.StartingFields() },
		Setup: func(srv *grpcserver.Server, store *pension.Store) ([]grpcserver.Task, error) {
			if err := projection.RegisterMetrics(srv.Metrics(), store.Projection()); err != nil {
				return nil, err
			}
			calendar, err := workdays.Load(cfg.HolidayCalendar)
			if err != nil {
				return nil, err
			}
			pensionv1.RegisterPensionServiceServer(srv.GRPC(), pension.NewServer(store, pension.ServerOptions{
				Logger:           log,
				AmountDropShare:  cfg.AmountDropShare,
				MaxStreamRecords: cfg.MaxStreamRecords,
				Calendar:         calendar,
				Stopping:         srv.Stopping(),
			}))
			return []grpcserver.Task{
				{Name: "retiree projection", Run: store.Projection().Run},
				{Name: "work-signal sweeps", Run: store.RunSignalSweeps},
			}, nil
		},
	})
}
