package activity

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/peterbourgon/ff/v3"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// Config is the activity program's configuration, from flags or, for each
// flag, the environment variable ACTIVITY_<FLAG> (e.g. ACTIVITY_DATA_DIR).
type Config struct {
	// Server holds the listen addresses, logging and shutdown settings.
	Server grpcserver.Flags
	// DataDir is the directory of the activity service's bbolt file,
	// activity.db.
	DataDir string
	// TokenKey is the Ed25519 key file that bearer tokens are verified
	// with. When it holds the private key (development), the service also
	// mints its own service tokens for calling registry.
	TokenKey string
	// RegistryAddr is the registry's gRPC address, whose WatchRetirees
	// feeds the retiree projection.
	RegistryAddr string
	// ServiceTokenFile is a pre-issued token of role service to call
	// registry with; empty means minting them with TokenKey.
	ServiceTokenFile string
	// AuditDurableReads makes each read of registrations wait until its
	// audit record is on disk before answering (see
	// StoreOptions.DurableReads).
	AuditDurableReads bool
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	fs := flag.NewFlagSet("activity", flag.ContinueOnError)
	c.Server.Register(fs, "127.0.0.1:9104", "127.0.0.1:9204")
	fs.StringVar(&c.DataDir, "data-dir", "./var", "`directory` of activity.db")
	fs.StringVar(&c.TokenKey, "token-key", "", "Ed25519 key `file` (PEM) that verifies bearer tokens (required); a private key also signs the service's own tokens for registry")
	fs.StringVar(&c.RegistryAddr, "registry-addr", "127.0.0.1:9101", "registry gRPC `host:port` whose WatchRetirees feeds the retiree projection")
	fs.StringVar(&c.ServiceTokenFile, "service-token-file", "", "`file` holding a token of role service for calls to registry (default: mint them with --token-key)")
	fs.BoolVar(&c.AuditDurableReads, "audit-durable-reads", false, "answer a read of registrations only after its audit record is on disk (slower); otherwise records are group-committed within milliseconds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: activity [flags]\n\nThe activity service: venues, activities without clashes, registrations,\nattendance, participation reports and the calendar feed.\nEvery flag may also be set as ACTIVITY_<FLAG>, e.g. ACTIVITY_DATA_DIR.\n\n")
		fs.PrintDefaults()
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("ACTIVITY")); err != nil {
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
	return errors.Join(errs...)
}

// DBPath is the activity service's database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "activity.db") }
