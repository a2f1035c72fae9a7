// Command activity runs the activity service: venues, activities scheduled
// without clashes, registrations, attendance, participation reports and
// the calendar feed, with its own projection of registry's retirees.
package main

import (
	"context"
	"errors"
	// The activities' time zones must load on any machine, with or without
	// a system zoneinfo database.
	_ "time/tzdata"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/activity"
)

func main() {
	grpcserver.Main("activity", activity.ParseConfig, run)
}

func run(ctx context.Context, cfg *activity.Config, log *zap.Logger) (err error) {
	verifier, err := cfg.Verifier()
	if err != nil {
		return err
	}
	conn, err := cfg.DialRegistry()
	if err != nil {
		return err
	}
	defer conn.Close()
	store, err := activity.OpenStore(cfg.DBPath(), registryv1.NewRegistryServiceClient(conn), activity.StoreOptions{
		Logger:       log,
		DurableReads: cfg.AuditDurableReads,
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	// The projection follows registry for as long as the server runs, and
	// stops before the store closes.
	stopProjection := grpcserver.StartTask(ctx, log, "retiree projection", store.Projection().Run)
	defer stopProjection()

	srv := cfg.NewServer(verifier, store.DB(), log)
	activityv1.RegisterActivityServiceServer(srv.GRPC(), activity.NewServer(store, activity.ServerOptions{Logger: log}))
	cfg.LogStarting(log)
	return srv.Run(ctx)
}
