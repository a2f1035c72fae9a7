// Command gateway serves socmgmt's REST API by forwarding to its gRPC
// services. Every flag can also be set as a GATEWAY_* environment variable,
// e.g. --registry-addr as GATEWAY_REGISTRY_ADDR; see --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/peterbourgon/ff/v3"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/logging"
	"github.com/socmgmt/socmgmt/internal/procflags"
	"github.com/socmgmt/socmgmt/internal/tracing"

	// Time zones and CA roots built in: the program runs on a scratch image.
	_ "github.com/socmgmt/socmgmt/internal/selfcontained"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run reads the configuration, builds the logger it names and runs the
// gateway until ctx is done. --help prints the flags and returns nil.
func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := parseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	procflags.ApplyGCPercent(cfg.GCPercent)
	logger, err := logging.New(cfg.LogFormat, cfg.LogLevel)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }() // at exit there is no one left to tell
	var flush func()
	cfg.TracerProvider, flush, err = tracing.StartFromEnv(ctx, "gateway", true, cfg.ShutdownTimeout, logger)
	if err != nil {
		return err
	}
	defer flush()
	return gateway.Run(ctx, cfg, logger)
}

// parseConfig reads flags, falling back to GATEWAY_* environment variables,
// and validates the result.
func parseConfig(args []string, stderr io.Writer) (gateway.Config, error) {
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: gateway [flags]\n\nServes socmgmt's REST API by forwarding to its gRPC services.\nEvery flag may also be set as GATEWAY_<FLAG>, e.g. GATEWAY_REGISTRY_ADDR.\n\n")
		fs.PrintDefaults()
	}
	var cfg gateway.Config
	cfg.RegisterFlags(fs)
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("GATEWAY")); err != nil {
		return gateway.Config{}, err
	}
	if fs.NArg() > 0 {
		return gateway.Config{}, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	return cfg, cfg.Validate()
}
