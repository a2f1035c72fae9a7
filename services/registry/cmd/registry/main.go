// Command registry runs the registry service: communities, enterprises,
// retirees, their change log and audit.
package main

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

func main() {
	grpcserver.Main("registry", registry.ParseConfig, run)
}

func run(ctx context.Context, cfg *registry.Config, log *zap.Logger) error {
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*registry.Store]{
		Open: func() (*registry.Store, error) {
			keyer, err := cfg.Keyer()
			if err != nil {
				return nil, err
			}
			return registry.OpenStore(cfg.DBPath(), keyer, registry.StoreOptions{Retention: cfg.Retention, Logger: log, DurableReads: cfg.AuditDurableReads})
		},
		Setup: func(srv *grpcserver.Server, store *registry.Store) ([]grpcserver.Task, error) {
			registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.NewServer(store, registry.ServerOptions{
				Logger:   log,
				Stopping: srv.Stopping(),
			}))
			return nil, nil
		},
	})
}
