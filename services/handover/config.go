package handover

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/peterbourgon/ff/v3"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// Config is the handover program's configuration, from flags or, for each
// flag, the environment variable HANDOVER_<FLAG> (e.g. HANDOVER_DATA_DIR).
type Config struct {
	// Server holds the listen addresses, logging and shutdown settings.
	Server grpcserver.Flags
	// DataDir is the directory of the handover's bbolt file, handover.db.
	DataDir string
	// TokenKey is the Ed25519 key file that bearer tokens are verified
	// with; when it is the private key, the service also mints its own
	// service tokens from it for its calls to registry and activity.
	TokenKey string
	// ServiceTokenFile holds a pre-issued service token for the calls to
	// registry and activity, for deployments that give the service only
	// the public key.
	ServiceTokenFile string
	// RegistryAddr is the registry's gRPC host:port: submit checks and
	// the outbox's assignments.
	RegistryAddr string
	// ActivityAddr is the activity service's gRPC host:port, where
	// accepted premises become venues; empty keeps those commands waiting.
	ActivityAddr string
	// SubmitTimeout bounds the registry checks of one submit.
	SubmitTimeout time.Duration
	// OutboxHold, a testing aid, runs no dispatcher: completions queue
	// their commands and nothing is delivered until a restart without it.
	OutboxHold bool
	// OutboxMinBackoff and OutboxMaxBackoff bound the wait between
	// attempts at a failing command.
	OutboxMinBackoff, OutboxMaxBackoff time.Duration
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	fs := flag.NewFlagSet("handover", flag.ContinueOnError)
	c.Server.Register(fs, "127.0.0.1:9102", "127.0.0.1:9202")
	fs.StringVar(&c.DataDir, "data-dir", "./var", "`directory` of handover.db")
	fs.StringVar(&c.TokenKey, "token-key", "", "Ed25519 key `file` (PEM) that verifies bearer tokens; a private key also signs the service's own calls (required)")
	fs.StringVar(&c.ServiceTokenFile, "service-token-file", "", "`file` with a service token for calls to registry and activity (default: mint them with --token-key)")
	fs.StringVar(&c.RegistryAddr, "registry-addr", "127.0.0.1:9101", "registry gRPC `host:port`")
	fs.StringVar(&c.ActivityAddr, "activity-addr", "", "activity gRPC `host:port`; empty keeps venue commands waiting")
	fs.DurationVar(&c.SubmitTimeout, "submit-timeout", DefaultSubmitTimeout, "bound on the registry checks of one submit")
	fs.BoolVar(&c.OutboxHold, "outbox-hold", false, "testing aid: deliver nothing from the outbox (completions still queue their commands)")
	fs.DurationVar(&c.OutboxMinBackoff, "outbox-min-backoff", DefaultMinBackoff, "first wait before retrying a failed delivery")
	fs.DurationVar(&c.OutboxMaxBackoff, "outbox-max-backoff", DefaultMaxBackoff, "longest wait between retries of a failed delivery")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: handover [flags]\n\nThe handover service: enterprise-to-community handover packages, delivered to\nregistry and activity through a transactional outbox.\nEvery flag may also be set as HANDOVER_<FLAG>, e.g. HANDOVER_DATA_DIR.\n\n")
		fs.PrintDefaults()
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("HANDOVER")); err != nil {
		return nil, err
	}
	return &c, c.validate()
}

// validate reports every problem at once: those of the flags every
// service shares, then those of the service's own.
func (c *Config) validate() error {
	errs := []error{c.Server.Validate()}
	if c.DataDir == "" {
		errs = append(errs, errors.New("--data-dir is required"))
	}
	if c.TokenKey == "" {
		errs = append(errs, errors.New("--token-key is required"))
	}
	if c.RegistryAddr == "" {
		errs = append(errs, errors.New("--registry-addr is required"))
	}
	if c.SubmitTimeout <= 0 {
		errs = append(errs, errors.New("--submit-timeout must be positive"))
	}
	if c.OutboxMinBackoff <= 0 || c.OutboxMaxBackoff < c.OutboxMinBackoff {
		errs = append(errs, errors.New("--outbox-min-backoff must be positive and at most --outbox-max-backoff"))
	}
	return errors.Join(errs...)
}

// DBPath is the handover's database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "handover.db") }
