// Command registry runs the registry service: communities, enterprises,
// retirees, their change log and audit.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
)

func main() {
	grpcserver.Main("registry", registry.ParseConfig, func(c *registry.Config) *grpcserver.Flags { return &c.Server }, run)
}

func run(ctx context.Context, cfg *registry.Config, log *zap.Logger) (err error) {
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
	store, err := registry.OpenStore(cfg.DBPath(), keyer, registry.StoreOptions{Retention: cfg.Retention, Logger: log, DurableReads: cfg.AuditDurableReads})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "registry",
		GRPCAddr:        cfg.Server.GRPCAddr,
		AdminAddr:       cfg.Server.AdminAddr,
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		Subject:         authn.SubjectOf,
		AdminHandlers:   map[string]http.Handler{"/debug/backup": boltstore.BackupHandler(store.DB(), log)},
		ShutdownTimeout: cfg.Server.ShutdownTimeout,
	})
	registryv1.RegisterRegistryServiceServer(srv.GRPC(), registry.NewServer(store, registry.ServerOptions{
		Logger:   log,
		Stopping: srv.Stopping(),
	}))
	log.Info("registry starting", zap.String("grpc_addr", cfg.Server.GRPCAddr), zap.String("admin_addr", cfg.Server.AdminAddr), zap.String("db", cfg.DBPath()))
	return srv.Run(ctx)
}
