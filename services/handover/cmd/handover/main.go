// Command handover runs the handover service: enterprise-to-community
// handover packages, whose completions reach registry and activity
// through a transactional outbox.
package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/handover"
)

func main() {
	grpcserver.Main("handover", handover.ParseConfig, func(c *handover.Config) *grpcserver.Flags { return &c.Server }, run)
}

func run(ctx context.Context, cfg *handover.Config, log *zap.Logger) error {
	pub, err := authn.LoadPublicKey(cfg.TokenKey)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	creds, err := authn.CallCredentials(cfg.TokenKey, cfg.ServiceTokenFile, "handover")
	if err != nil {
		return fmt.Errorf("service credentials: %w", err)
	}
	registryConn, err := authn.Dial(cfg.RegistryAddr, creds)
	if err != nil {
		return fmt.Errorf("registry address: %w", err)
	}
	defer registryConn.Close()
	var activity activityv1.ActivityServiceClient
	if cfg.ActivityAddr != "" {
		activityConn, err := authn.Dial(cfg.ActivityAddr, creds)
		if err != nil {
			return fmt.Errorf("activity address: %w", err)
		}
		defer activityConn.Close()
		activity = activityv1.NewActivityServiceClient(activityConn)
	}
	registry := registryv1.NewRegistryServiceClient(registryConn)

	store, err := handover.OpenStore(cfg.DBPath(), handover.StoreOptions{Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()

	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "handover",
		GRPCAddr:        cfg.Server.GRPCAddr,
		AdminAddr:       cfg.Server.AdminAddr,
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		Subject:         authn.SubjectOf,
		AdminHandlers:   map[string]http.Handler{"/debug/backup": boltstore.BackupHandler(store.DB(), log)},
		ShutdownTimeout: cfg.Server.ShutdownTimeout,
	})
	handoverv1.RegisterHandoverServiceServer(srv.GRPC(), handover.NewServer(store, handover.ServerOptions{
		Registry:      registry,
		SubmitTimeout: cfg.SubmitTimeout,
	}))

	var dispatcher *handover.Dispatcher
	if !cfg.OutboxHold {
		dispatcher = handover.NewDispatcher(store, handover.DispatcherOptions{
			Registry:   registry,
			Activity:   activity,
			Logger:     log.Named("outbox"),
			MinBackoff: cfg.OutboxMinBackoff,
			MaxBackoff: cfg.OutboxMaxBackoff,
		})
	}
	if err := handover.RegisterMetrics(srv.Metrics(), store, dispatcher); err != nil {
		return err
	}

	log.Info("handover starting", zap.String("grpc_addr", cfg.Server.GRPCAddr), zap.String("admin_addr", cfg.Server.AdminAddr),
		zap.String("db", cfg.DBPath()), zap.String("registry_addr", cfg.RegistryAddr), zap.String("activity_addr", cfg.ActivityAddr),
		zap.Bool("outbox_hold", cfg.OutboxHold), zap.Int64("outbox_backlog", store.Backlog()))
	// The dispatcher stops with the server, even one that failed to
	// start, and is waited for before the store closes under it.
	dctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	if dispatcher != nil {
		wg.Go(func() { _ = dispatcher.Run(dctx) })
	} else {
		log.Warn("outbox hold: nothing will be delivered (a testing aid)")
	}
	err = srv.Run(ctx)
	cancel()
	wg.Wait()
	return err
}
