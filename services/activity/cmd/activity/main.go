// Command activity runs the activity service: venues, activities scheduled
// without clashes, registrations, attendance, participation reports and
// the calendar feed, with its own projection of registry's retirees.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/activity"

	// Time zones and CA roots built in: the program runs on a scratch image.
	_ "github.com/socmgmt/socmgmt/internal/selfcontained"
)

func main() {
	grpcserver.Main("activity", activity.ParseConfig, run)
}

func run(ctx context.Context, cfg *activity.Config, log *zap.Logger) error {
	conn, err := cfg.DialRegistry()
	if err != nil {
		return err
	}
	defer conn.Close()
	registry := registryv1.NewRegistryServiceClient(conn)
	var checkpoints audit.Checkpoints
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*activity.Store]{
		Methods: activity.Methods,
		Open: func() (*activity.Store, error) {
			var err error
			if checkpoints, err = audit.CheckpointsOf(&cfg.ServiceConfig); err != nil {
				return nil, err
			}
			return activity.OpenStore(cfg.DBPath(), registry, activity.StoreOptions{
				TracerProvider: cfg.TracerProvider,
				Logger:         log,
				DurableReads:   cfg.AuditDurableReads,
				Checkpoints:    checkpoints,

				SignalRetention: cfg.SignalRetention,
			})
		},
		Starting: func(*activity.Store) []zap.Field { return checkpoints.StartingFields() },
		Setup: func(srv *grpcserver.Server, store *activity.Store) ([]grpcserver.Task, error) {
			if err := projection.RegisterMetrics(srv.Metrics(), store.Projection()); err != nil {
				return nil, err
			}
			activityv1.RegisterActivityServiceServer(srv.GRPC(), activity.NewServer(store, activity.ServerOptions{Logger: log, Registry: registry, Stopping: srv.Stopping()}))
			// The projection follows registry for as long as the server runs.
			return []grpcserver.Task{{Name: "retiree projection", Run: store.Projection().Run}}, nil
		},
	})
}
