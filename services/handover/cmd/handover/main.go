// Command handover runs the handover service: enterprise-to-community
// handover packages, whose completions reach registry and activity
// through a transactional outbox.
package main

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/handover"
)

func main() {
	grpcserver.Main("handover", handover.ParseConfig, run)
}

func run(ctx context.Context, cfg *handover.Config, log *zap.Logger) (err error) {
	verifier, err := cfg.Verifier()
	if err != nil {
		return err
	}
	up, err := dialUpstreams(cfg)
	if err != nil {
		return err
	}
	defer up.close()

	store, err := handover.OpenStore(cfg.DBPath(), handover.StoreOptions{Logger: log})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()

	srv := cfg.NewServer(verifier, store.DB(), log)
	handoverv1.RegisterHandoverServiceServer(srv.GRPC(), handover.NewServer(store, handover.ServerOptions{
		Registry:      up.registry,
		SubmitTimeout: cfg.SubmitTimeout,
	}))
	dispatcher := newDispatcher(cfg, store, up, log)
	if err := handover.RegisterMetrics(srv.Metrics(), store, dispatcher); err != nil {
		return err
	}

	cfg.LogStarting(log, zap.String("activity_addr", cfg.ActivityAddr),
		zap.Bool("outbox_hold", cfg.OutboxHold), zap.Int64("outbox_backlog", store.Backlog()))
	// The dispatcher stops with the server, even one that failed to
	// start, and is waited for before the store closes under it.
	if dispatcher != nil {
		stopDispatcher := grpcserver.StartTask(ctx, log, "outbox dispatcher", dispatcher.Run)
		defer stopDispatcher()
	} else {
		log.Warn("outbox hold: nothing will be delivered (a testing aid)")
	}
	return srv.Run(ctx)
}

// upstreams are the services handover calls, over connections carrying
// its service token.
type upstreams struct {
	registry registryv1.RegistryServiceClient
	// activity is nil when no activity address is configured.
	activity activityv1.ActivityServiceClient
	// conns are closed in reverse order by close.
	conns []*grpc.ClientConn
}

// dialUpstreams connects to registry, and to activity when its address is
// configured.
func dialUpstreams(cfg *handover.Config) (*upstreams, error) {
	creds, err := cfg.CallCredentials()
	if err != nil {
		return nil, err
	}
	registryConn, err := authn.Dial(cfg.RegistryAddr, creds)
	if err != nil {
		return nil, fmt.Errorf("registry address: %w", err)
	}
	up := &upstreams{registry: registryv1.NewRegistryServiceClient(registryConn), conns: []*grpc.ClientConn{registryConn}}
	if cfg.ActivityAddr != "" {
		activityConn, err := authn.Dial(cfg.ActivityAddr, creds)
		if err != nil {
			up.close()
			return nil, fmt.Errorf("activity address: %w", err)
		}
		up.conns = append(up.conns, activityConn)
		up.activity = activityv1.NewActivityServiceClient(activityConn)
	}
	return up, nil
}

// close closes the connections, the last dialled first.
func (u *upstreams) close() {
	for i := len(u.conns) - 1; i >= 0; i-- {
		_ = u.conns[i].Close()
	}
}

// newDispatcher returns the outbox dispatcher, or nil when the outbox is
// held.
func newDispatcher(cfg *handover.Config, store *handover.Store, up *upstreams, log *zap.Logger) *handover.Dispatcher {
	if cfg.OutboxHold {
		return nil
	}
	return handover.NewDispatcher(store, handover.DispatcherOptions{
		Registry:   up.registry,
		Activity:   up.activity,
		Logger:     log.Named("outbox"),
		MinBackoff: cfg.OutboxMinBackoff,
		MaxBackoff: cfg.OutboxMaxBackoff,
	})
}
