// Command activity runs the activity service: venues, activities scheduled
// without clashes, registrations, attendance, participation reports and
// the calendar feed, with its own projection of registry's retirees.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	// The activities' time zones must load on any machine, with or without
	// a system zoneinfo database.
	_ "time/tzdata"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/activity"
)

func main() {
	cfg, err := activity.ParseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "activity:", err)
		os.Exit(2)
	}
	cfg.Server.ApplyRuntime()
	log, err := grpcserver.NewLogger(cfg.Server.LogFormat, cfg.Server.LogLevel)
	if err != nil {
		fmt.Fprintln(os.Stderr, "activity:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, cfg, log); err != nil {
		log.Error("activity stopped", zap.Error(err))
		_ = log.Sync()
		os.Exit(1)
	}
	_ = log.Sync()
}

func run(ctx context.Context, cfg *activity.Config, log *zap.Logger) error {
	pub, err := authn.LoadPublicKey(cfg.TokenKey)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	creds, err := authn.CallCredentials(cfg.TokenKey, cfg.ServiceTokenFile, "activity")
	if err != nil {
		return fmt.Errorf("credentials for registry: %w", err)
	}
	conn, err := projection.Dial(cfg.RegistryAddr, creds)
	if err != nil {
		return fmt.Errorf("registry address: %w", err)
	}
	defer conn.Close()
	store, err := activity.OpenStore(cfg.DBPath(), registryv1.NewRegistryServiceClient(conn), activity.StoreOptions{
		Logger:       log,
		DurableReads: cfg.AuditDurableReads,
	})
	if err != nil {
		return err
	}
	defer store.Close()

	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "activity",
		GRPCAddr:        cfg.Server.GRPCAddr,
		AdminAddr:       cfg.Server.AdminAddr,
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		Subject:         subjectOf,
		AdminHandlers:   map[string]http.Handler{"/debug/backup": boltstore.BackupHandler(store.DB(), log)},
		ShutdownTimeout: cfg.Server.ShutdownTimeout,
	})
	activityv1.RegisterActivityServiceServer(srv.GRPC(), activity.NewServer(store, activity.ServerOptions{Logger: log}))

	// The projection follows registry for as long as the server runs, and
	// stops before the store closes.
	followCtx, stopFollowing := context.WithCancel(ctx)
	var following sync.WaitGroup
	following.Go(func() {
		if err := store.Projection().Run(followCtx); err != nil {
			log.Error("retiree projection stopped", zap.Error(err))
		}
	})
	defer following.Wait()
	defer stopFollowing()

	log.Info("activity starting", zap.String("grpc_addr", cfg.Server.GRPCAddr), zap.String("admin_addr", cfg.Server.AdminAddr),
		zap.String("db", cfg.DBPath()), zap.String("registry_addr", cfg.RegistryAddr))
	return srv.Run(ctx)
}

// subjectOf names the caller in the access log.
func subjectOf(ctx context.Context) string {
	if p, ok := authn.FromContext(ctx); ok {
		return p.Subject
	}
	return ""
}
