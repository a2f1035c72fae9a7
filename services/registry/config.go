package registry

import (
	"errors"
	"path/filepath"

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
	cmd := grpcserver.NewCommand("registry",
		"The registry service: communities, enterprises, retirees and their change log.",
		&c.Server, "127.0.0.1:9101", "127.0.0.1:9201")
	cmd.DataDir(&c.DataDir)
	cmd.TokenKey(&c.TokenKey, "")
	cmd.IDKey(&c.IDKey, "")
	cmd.AuditDurableReads(&c.AuditDurableReads, "a read")
	cmd.FlagSet().Uint64Var(&c.Retention, "changelog-retention", DefaultRetention, "change-log entries kept for WatchRetirees consumers")
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, errors.Join(cmd.Validate(), c.validate())
}

// validate reports every problem of the registry's own flags at once; the
// shared ones are grpcserver.Command's.
func (c *Config) validate() error {
	if c.Retention < 1000 {
		return errors.New("--changelog-retention must be at least 1000")
	}
	return nil
}

// DBPath is the registry's database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "registry.db") }
