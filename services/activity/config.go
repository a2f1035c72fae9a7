package activity

import (
	"path/filepath"

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
// validates it. Every flag of the activity service is one that several
// services share.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	cmd := grpcserver.NewCommand("activity",
		"The activity service: venues, activities without clashes, registrations,\n"+
			"attendance, participation reports and the calendar feed.",
		&c.Server, "127.0.0.1:9104", "127.0.0.1:9204")
	cmd.DataDir(&c.DataDir)
	cmd.TokenKey(&c.TokenKey, "registry")
	cmd.RegistryAddr(&c.RegistryAddr, "whose WatchRetirees feeds the retiree projection")
	cmd.ServiceTokenFile(&c.ServiceTokenFile, "registry")
	cmd.AuditDurableReads(&c.AuditDurableReads, "a read of registrations")
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}

// DBPath is the activity service's database file.
func (c *Config) DBPath() string { return filepath.Join(c.DataDir, "activity.db") }
