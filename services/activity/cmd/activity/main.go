// Command activity runs the activity service: venues, activities scheduled
// without clashes, registrations, attendance, participation reports and
// the calendar feed, with its own projection of registry's retirees.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	// The activities' time zones must load on any machine, with or without
	// a system zoneinfo database.
	_ "time/tzdata"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/activity"
)

func main() {
	grpcserver.Main("activity", activity.ParseConfig, func(c *activity.Config) *grpcserver.Flags { return &c.Server }, run)
}

func run(ctx context.Context, cfg *activity.Config, log *zap.Logger) (err error) {
	pub, err := authn.LoadPublicKey(cfg.TokenKey)
	if err != nil {
		return fmt.Errorf("token key: %w", err)
	}
	creds, err := authn.CallCredentials(cfg.TokenKey, cfg.ServiceTokenFile, "activity")
	if err != nil {
		return fmt.Errorf("credentials for registry: %w", err)
	}
	conn, err := authn.Dial(cfg.RegistryAddr, creds)
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
	defer func() { err = errors.Join(err, store.Close()) }()

	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "activity",
		GRPCAddr:        cfg.Server.GRPCAddr,
		AdminAddr:       cfg.Server.AdminAddr,
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		Subject:         authn.SubjectOf,
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
