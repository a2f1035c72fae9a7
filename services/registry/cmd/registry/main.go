// Command registry runs the registry service: communities, enterprises,
// retirees, their change log and audit, and the revocation list of bearer
// tokens that every program follows.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/workdays"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"

	// Time zones and CA roots built in: the program runs on a scratch image.
	_ "github.com/socmgmt/socmgmt/internal/selfcontained"
)

func main() {
	grpcserver.Main("registry", registry.ParseConfig, run)
}

func run(ctx context.Context, cfg *registry.Config, log *zap.Logger) error {
	// Registry holds the revocation list: its verifier reads it from the
	// store, and RevokeToken adds to it, rather than following itself.
	revoked := authn.NewRevocations()
	var checkpoints audit.Checkpoints
	var calendar *workdays.Calendar
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*registry.Store]{
		Revocations: revoked,
		Methods:     registry.Methods,
		Open: func() (*registry.Store, error) {
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
			if calendar, err = workdays.Load(cfg.HolidayCalendar); err != nil {
				return nil, err
			}
			return registry.OpenStore(cfg.DBPath(), keyer, registry.StoreOptions{
				Retention: cfg.Retention, Logger: log, DurableReads: cfg.AuditDurableReads,
				Checkpoints: checkpoints, DataKeys: dataKeys,
				SignalRetention: cfg.SignalRetention, MaxSignalWatchers: cfg.MaxWatchers, Calendar: calendar,
			})
		},
		Setup: func(srv *grpcserver.Server, store *registry.Store) ([]grpcserver.Task, error) {
			list, err := store.Revocations()
			if err != nil {
				return nil, err
			}
			revoked.Add(list...)
			registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.NewServer(store, registry.ServerOptions{
				Logger:           log,
				Stopping:         srv.Stopping(),
				Tokens:           srv.Tokens(),
				MaxWatchers:      cfg.MaxWatchers,
				MaxStreamRecords: cfg.MaxStreamRecords,
				Calendar:         calendar,
			}))
			return []grpcserver.Task{{Name: "transfer lapses", Run: store.LapseLoop(cfg.TransferSweep, log)}}, nil
		},
		Starting: func(store *registry.Store) []zap.Field {
			return append(checkpoints.StartingFields(),
				zap.String("changelog_epoch", store.Epoch()), zap.Int("revoked_tokens", revoked.Len()))
		},
	})
}
