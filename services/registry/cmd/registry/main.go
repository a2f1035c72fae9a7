// Command registry runs the registry service: communities, enterprises,
// retirees, their change log and audit.
package main

import (
	"context"
	"errors"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

func main() {
	grpcserver.Main("registry", registry.ParseConfig, run)
}

func run(ctx context.Context, cfg *registry.Config, log *zap.Logger) (err error) {
	verifier, err := cfg.Verifier()
	if err != nil {
		return err
	}
	keyer, err := cfg.Keyer()
	if err != nil {
		return err
	}
	store, err := registry.OpenStore(cfg.DBPath(), keyer, registry.StoreOptions{Retention: cfg.Retention, Logger: log, DurableReads: cfg.AuditDurableReads})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	srv := cfg.NewServer(verifier, store.DB(), log)
	registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.NewServer(store, registry.ServerOptions{
		Logger:   log,
		Stopping: srv.Stopping(),
	}))
	cfg.LogStarting(log)
	return srv.Run(ctx)
}
