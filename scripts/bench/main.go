// Command bench is the load harness of `make bench`: it starts the built
// programs on loopback ports with a throw-away data directory, drives them
// with a load generator on the same machine, measures each figure of
// DESIGN.md's Performance section beside its reference, and prints a
// markdown table.
//
//	go run ./scripts/bench --bin ./bin [--retirees 200000] [--duration 10s] [--concurrency 64] [--reps 3]
//
// Each scenario (see scenarios.go) is one function that starts what it
// needs and returns its rows.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"runtime"
	"syscall"
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && args[0] == bareServerArg {
		os.Exit(bareMain(args[1:]))
	}
	cfg, err := parseConfig(args, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, cfg, os.Stdout, log.New(os.Stderr, "bench: ", log.Ltime))
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run starts the harness, runs the chosen scenarios and prints their table
// to out. Whatever happens, the children are stopped and the temporary
// directory is removed before it returns.
func run(ctx context.Context, cfg config, out io.Writer, logger *log.Logger) (err error) {
	ctx, cancel := context.WithTimeoutCause(ctx, cfg.Timeout, fmt.Errorf("the run took longer than --timeout %v", cfg.Timeout))
	defer cancel()
	h, err := newHarness(cfg, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.close(err != nil)) }()
	h.out = out

	var rows []row
	for _, sc := range selectScenarios(cfg.Scenarios) {
		logger.Printf("scenario %s", sc.name)
		got, err := sc.run(ctx, h)
		rows = append(rows, got...)
		if err != nil {
			// Print what was measured before the failure: it is still true.
			printTable(out, cfg, rows)
			if ctx.Err() != nil {
				// Interrupted or out of time: that, not the calls it broke, is
				// the reason.
				err = context.Cause(ctx)
			}
			return fmt.Errorf("scenario %s: %w", sc.name, err)
		}
	}
	printTable(out, cfg, rows)
	return nil
}

// printTable writes the run's settings and the rows as markdown.
func printTable(out io.Writer, cfg config, rows []row) {
	if len(rows) == 0 {
		return
	}
	transport := "mutual TLS"
	if !cfg.TLS {
		transport = "plaintext"
	}
	fmt.Fprintf(out, "\nsocmgmt performance: %d CPUs (GOMAXPROCS %d), %s; %d retirees; %d workers over %d %s connections; %v per measurement after %v warm-up\n\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.Version(), cfg.Retirees, cfg.Concurrency, cfg.Conns, transport, cfg.Duration, cfg.Warmup)
	writeTable(out, rows)
}
