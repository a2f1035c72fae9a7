package grpcserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/logging"
	"github.com/socmgmt/socmgmt/internal/tracing"
)

// Main is the whole main of a service program: it parses the command line
// with parse (help exits 0, a bad flag 2), applies the runtime settings,
// builds the logger and the tracer provider (from the OTEL_* environment,
// see package tracing), and calls run with a context that ends on SIGINT
// or SIGTERM; an error from run is logged and exits 1. The spans still
// queued are sent before the program exits. C is a pointer to the
// service's Config, which embeds ServiceConfig.
func Main[C serviceConfig](name string, parse func(args []string) (C, error), run func(context.Context, C, *zap.Logger) error) {
	cfg, err := parse(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	f := cfg.serverFlags()
	f.ApplyRuntime()
	log, err := logging.New(f.LogFormat, f.LogLevel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	flush, err := startTracing(ctx, name, cfg.service(), log)
	if err == nil {
		err = run(ctx, cfg, log)
		flush()
	}
	stop()
	if err != nil {
		log.Error(name+" stopped", zap.Error(err))
		_ = log.Sync()
		os.Exit(1)
	}
	_ = log.Sync()
}

// startTracing sets c.TracerProvider as the environment says and returns
// the function that sends the spans still queued, within the shutdown
// timeout.
func startTracing(ctx context.Context, name string, c *ServiceConfig, log *zap.Logger) (flush func(), err error) {
	c.TracerProvider, flush, err = tracing.StartFromEnv(ctx, name, false, c.Server.ShutdownTimeout, log)
	return flush, err
}
