package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"
)

// config is devrun's configuration, from its flags.
type config struct {
	// BinDir holds the built programs (`make build` puts them in ./bin).
	BinDir string
	// DataDir holds the services' bbolt files and the development keys.
	DataDir string
	// StartTimeout bounds the wait for each process to become healthy.
	StartTimeout time.Duration
	// StopTimeout is how long a process may take to exit after SIGTERM
	// before it is killed.
	StopTimeout time.Duration
}

// parseConfig reads the flags in args. Usage and flag errors go to out.
// For -h and --help it returns flag.ErrHelp.
func parseConfig(args []string, out io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("devrun", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.Usage = func() {
		fmt.Fprint(out, `Usage: go run ./scripts/devrun [flags]

Starts the socmgmt stack on 127.0.0.1 for development, as "make run" does:
registry (gRPC :9101), then handover (:9102), pension (:9103), activity
(:9104) and casework (:9105) when they are built, then the gateway (HTTP :8080). It creates the
development keys in the data directory if they are missing (the signing
key, the ID-number key, the data key and each audited service's audit
key), and a development CA with a certificate for each program in
its tls directory: every gRPC port requires mutual TLS, and the gateway
and the services call each other with their certificates (the gateway's
REST port stays plain HTTP on loopback). It writes dev-identities.json
in the data directory, an admin and a bureau token for 12 hours (keeping
the still valid ones "socmgmt seed" added), which the gateway offers the
web console's sign-in (--dev-identities): development only. It waits
until every process is healthy, prints how to use the stack, and stops
everything on Ctrl-C or SIGTERM.

Flags:
`)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.BinDir, "bin", "./bin", "`directory` with the built programs (make build)")
	fs.StringVar(&cfg.DataDir, "data-dir", "./var", "`directory` for the services' data and the development keys")
	fs.DurationVar(&cfg.StartTimeout, "start-timeout", 30*time.Second, "how long each process may take to become healthy")
	fs.DurationVar(&cfg.StopTimeout, "stop-timeout", 15*time.Second, "how long each process may take to exit after SIGTERM before it is killed")
	if err := fs.Parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	return cfg, cfg.validate()
}

// validate checks the configuration before anything starts.
func (c config) validate() error {
	switch {
	case c.BinDir == "":
		return errors.New("--bin must not be empty")
	case c.DataDir == "":
		return errors.New("--data-dir must not be empty")
	case c.StartTimeout <= 0:
		return errors.New("--start-timeout must be positive")
	case c.StopTimeout <= 0:
		return errors.New("--stop-timeout must be positive")
	}
	return nil
}
