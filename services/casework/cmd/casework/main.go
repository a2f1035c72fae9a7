// Command casework runs the casework service: the clerks' queue of work
// items with deadlines, with its own projection of registry's retirees,
// the followers of the other services' work-signal feeds, the sweeper
// that keeps the items' clocks, and the sender of the text messages.
package main

import (
	"context"
	"errors"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	caseworkv1 "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework"
	"github.com/socmgmt/socmgmt/services/casework/sms"

	// Time zones and CA roots built in: the program runs on a scratch image.
	_ "github.com/socmgmt/socmgmt/internal/selfcontained"
)

func main() {
	grpcserver.Main("casework", casework.ParseConfig, run)
}

func run(ctx context.Context, cfg *casework.Config, log *zap.Logger) (err error) {
	conns, err := dialSources(cfg)
	defer func() {
		for _, c := range conns {
			err = errors.Join(err, c.Close())
		}
	}()
	if err != nil {
		return err
	}
	registry := registryv1.NewRegistryServiceClient(conns[casework.SourceRegistry])
	gateway, closeGateway, err := cfg.SMSGateway()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, closeGateway()) }()
	messages, err := cfg.MessageOptions()
	if err != nil {
		return err
	}
	var checkpoints audit.Checkpoints
	return grpcserver.RunService(ctx, &cfg.ServiceConfig, log, grpcserver.Service[*casework.Store]{
		Methods: casework.Methods,
		Open: func() (*casework.Store, error) {
			var err error
			checkpoints, err = audit.CheckpointsOf(&cfg.ServiceConfig)
			if err != nil {
				return nil, err
			}
			return openStore(cfg, log, registry, checkpoints, messages)
		},
		Starting: func(*casework.Store) []zap.Field {
			return append(checkpoints.StartingFields(), zap.Float64("at_risk_share", cfg.AtRiskShare),
				zap.Strings("sources", sourceNames(conns)), zap.Bool("sms_sender", gateway != nil))
		},
		Setup: func(srv *grpcserver.Server, store *casework.Store) ([]grpcserver.Task, error) {
			return serve(srv, store, conns, registry, gateway, cfg, log)
		},
	})
}

// serve registers the service on srv and returns the tasks that run
// beside it: the projection, the sweeper, the care tasks, a follower of
// each source, and the text-message sender when a gateway is configured.
func serve(srv *grpcserver.Server, store *casework.Store, conns map[string]*grpc.ClientConn, registry registryv1.RegistryServiceClient,
	gateway sms.Gateway, cfg *casework.Config, log *zap.Logger,
) ([]grpcserver.Task, error) {
	if err := projection.RegisterMetrics(srv.Metrics(), store.Projection()); err != nil {
		return nil, err
	}
	caseworkv1.RegisterCaseworkServiceServer(srv.GRPC(), casework.NewServer(store, casework.ServerOptions{Logger: log}))
	tasks := []grpcserver.Task{
		// The projection follows registry for as long as the server runs.
		{Name: "retiree projection", Run: store.Projection().Run},
		store.SweepTask(cfg.SweepInterval),
	}
	followers, err := followerTasks(srv, store, conns, log)
	if err != nil {
		return nil, err
	}
	tasks = append(append(tasks, careTasks(store, registry)...), followers...)
	if gateway == nil {
		return tasks, nil
	}
	sender, err := sms.NewSender(store.DB(), store.Outbox(), sms.SenderOptions{
		Phones: sms.RegistryPhoneBook{Registry: registry}, Gateway: gateway,
		Logger: log.Named("sms"), CallTimeout: cfg.SMS.Timeout,
	})
	return append(tasks, grpcserver.Task{Name: "sms sender", Run: sender.Run}), err
}

// careTasks are the care visits' tasks: the current month's visit items,
// at start and each day, and the registry calls of visits' outcomes,
// made with the service token.
func careTasks(store *casework.Store, registry registryv1.RegistryServiceClient) []grpcserver.Task {
	return []grpcserver.Task{
		store.ScheduleTask(casework.DefaultScheduleInterval),
		(&casework.CareDispatcher{Store: store, Registry: registry}).Task(),
	}
}

// openStore opens the store as the configuration says.
func openStore(cfg *casework.Config, log *zap.Logger, registry registryv1.RegistryServiceClient, checkpoints audit.Checkpoints,
	messages casework.MessageOptions,
) (*casework.Store, error) {
	calendar, err := workdays.Load(cfg.HolidayCalendar)
	if err != nil {
		return nil, err
	}
	return casework.OpenStore(cfg.DBPath(), registry, casework.StoreOptions{
		TracerProvider: cfg.TracerProvider,
		Logger:         log,
		DurableReads:   cfg.AuditDurableReads,
		Checkpoints:    checkpoints,
		AtRiskShare:    cfg.AtRiskShare,
		Calendar:       calendar,
		Messages:       messages,
	})
}

// dialSources connects to every source followed (registry always), with
// the service's credentials.
func dialSources(cfg *casework.Config) (map[string]*grpc.ClientConn, error) {
	conns := map[string]*grpc.ClientConn{}
	for _, src := range casework.Sources {
		addr := cfg.SourceAddr(src)
		if addr == "" {
			continue
		}
		conn, err := cfg.Dial(src, addr)
		if err != nil {
			return conns, err
		}
		conns[src] = conn
	}
	return conns, nil
}

// followerTasks makes a follower of each connected source, its metrics
// and its task.
func followerTasks(srv *grpcserver.Server, store *casework.Store, conns map[string]*grpc.ClientConn, log *zap.Logger) ([]grpcserver.Task, error) {
	var tasks []grpcserver.Task
	var followers []*signalfeed.Follower
	for _, src := range casework.Sources {
		conn, ok := conns[src]
		if !ok {
			continue
		}
		open, err := casework.OpenerOf(src, conn)
		if err != nil {
			return nil, err
		}
		f, err := store.NewFollower(src, open, log.Named("follow").With(zap.String("source", src)))
		if err != nil {
			return nil, err
		}
		followers = append(followers, f)
		tasks = append(tasks, grpcserver.Task{Name: src + " work signals", Run: f.Run})
	}
	return tasks, signalfeed.RegisterMetrics(srv.Metrics(), followers...)
}

// sourceNames lists the sources followed.
func sourceNames(conns map[string]*grpc.ClientConn) []string {
	var names []string
	for _, src := range casework.Sources {
		if _, ok := conns[src]; ok {
			names = append(names, src)
		}
	}
	return names
}
