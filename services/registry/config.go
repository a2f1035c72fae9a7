package registry

import (
	"errors"
	"flag"
	"fmt"
	"path/filepath"

	"github.com/peterbourgon/ff/v3"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// Config is the registry program's configuration, from flags or, for each
// flag, the environment variable REGISTRY_<FLAG> (e.g. REGISTRY_DATA_DIR).
type Config struct {
	// Server holds the listen addresses, logging and shutdown settings.
	Server grpcserver.Flags
	// DataDir is the directory of the registry's bbolt file, registry.db.
	DataDir string
	// TokenKey is the Ed25519 key file (public, or private from which the
	// public half is taken) that bearer tokens are verified with.
	TokenKey string
	// IDKey is the file of the HMAC key that indexes ID numbers; pension
	// must use the same one.
	IDKey string
	// Retention is how many change-log entries are kept for WatchRetirees.
	Retention uint64
	// AuditDurableReads makes each read wait until its audit record is on
	// disk before answering (see StoreOptions.DurableReads).
	AuditDurableReads bool
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	c.Server.Register(fs, "127.0.0.1:9101", "127.0.0.1:9201")
	fs.StringVar(&c.DataDir, "data-dir", "./var", "`directory` of registry.db")
	fs.StringVar(&c.TokenKey, "token-key", "", "Ed25519 key `file` (PEM) that verifies bearer tokens (required)")
	fs.StringVar(&c.IDKey, "id-key", "", "`file` of the hex HMAC key that indexes ID numbers (required)")
	fs.Uint64Var(&c.Retention, "changelog-retention", DefaultRetention, "change-log entries kept for WatchRetirees consumers")
	fs.BoolVar(&c.AuditDurableReads, "audit-durable-reads", false, "answer a read only after its audit record is on disk (slower); otherwise records are group-committed within milliseconds")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: registry [flags]\n\nThe registry service: communities, enterprises, retirees and their change log.\nEvery flag may also be set as REGISTRY_<FLAG>, e.g. REGISTRY_DATA_DIR.\n\n")
		fs.PrintDefaults()
	}
	if err := ff.Parse(fs, args, ff.WithEnvVarPrefix("REGISTRY")); err != nil {
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
	if c.IDKey == "" {
		errs = append(errs, errors.New("--id-key is required"))
	}
	if c.Retention < 1000 {
		errs = append(errs, errors.New("--changelog-retention must be at least 1000"))
	}
	return errors.Join(errs...)
}

// DBPath is the registry's database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "registry.db") }
