// Command handover runs the handover service: enterprise-to-community
// handover packages, whose completions reach registry and activity
// through a transactional outbox.
package main

import (
	"context"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/workdays"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/handover"

	// Time zones and CA roots built in: the program runs on a scratch image.
	_ "github.com/socmgmt/socmgmt/internal/selfcontained"
)

func main() {
	grpcserver.Main("handover", handover.ParseConfig, run)
}

func run(ctx context.Context, cfg *handover.Config, log *zap.Logger) error {
	up, err := dialUpstreams(cfg)
	if err != nil {
		return err
	}
	defer up.close()
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*handover.Store]{
		Methods: handover.Methods,
		Open: func() (*handover.Store, error) {
			calendar, err := workdays.Load(cfg.HolidayCalendar)
			if err != nil {
				return nil, err
			}
			return handover.OpenStore(cfg.DBPath(), handover.StoreOptions{TracerProvider: cfg.TracerProvider, Logger: log, Registry: up.registry, Calendar: calendar, SignalRetention: cfg.SignalRetention})
		},
		Setup: func(srv *grpcserver.Server, store *handover.Store) ([]grpcserver.Task, error) {
			return setup(srv, cfg, store, up, log)
		},
		Starting: func(store *handover.Store) []zap.Field {
			return []zap.Field{zap.String("activity_addr", cfg.ActivityAddr),
				zap.Bool("outbox_hold", cfg.OutboxHold), zap.Int64("outbox_backlog", store.Backlog())}
		},
	})
}

// setup registers the handover service and its metrics on srv and returns
// its tasks: the retiree projection, which stops obligations at a verified
// death, and the outbox dispatcher unless the outbox is held.
func setup(srv *grpcserver.Server, cfg *handover.Config, store *handover.Store, up *upstreams, log *zap.Logger) ([]grpcserver.Task, error) {
	handoverv1.RegisterHandoverServiceServer(srv.GRPC(), handover.NewServer(store, handover.ServerOptions{
		Registry:      up.registry,
		SubmitTimeout: cfg.SubmitTimeout,
		FundsRequired: cfg.FundsRequired,
		Stopping:      srv.Stopping(),
	}))
	dispatcher := newDispatcher(cfg, store, up, log)
	if err := handover.RegisterMetrics(srv.Metrics(), store, dispatcher); err != nil {
		return nil, err
	}
	if err := projection.RegisterMetrics(srv.Metrics(), store.Projection()); err != nil {
		return nil, err
	}
	// The projection follows registry for as long as the server runs.
	tasks := []grpcserver.Task{{Name: "retiree projection", Run: store.Projection().Run}}
	if dispatcher == nil {
		log.Warn("outbox hold: nothing will be delivered (a testing aid)")
		return tasks, nil
	}
	return append(tasks, grpcserver.Task{Name: "outbox dispatcher", Run: dispatcher.Run}), nil
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
	registryConn, err := cfg.DialRegistry()
	if err != nil {
		return nil, err
	}
	up := &upstreams{registry: registryv1.NewRegistryServiceClient(registryConn), conns: []*grpc.ClientConn{registryConn}}
	if cfg.ActivityAddr != "" {
		activityConn, err := cfg.Dial("activity", cfg.ActivityAddr)
		if err != nil {
			up.close()
			return nil, err
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
		// The connections carry the trace on (ServiceConfig.Dial).
		TracerProvider: cfg.TracerProvider,
	})
}
