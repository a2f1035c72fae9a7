package activity

import (
	"fmt"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Config is the activity program's configuration, from flags or, for each
// flag, the environment variable ACTIVITY_<FLAG> (e.g. ACTIVITY_DATA_DIR).
// Every setting of the activity service is one that several services
// share: the token key, registry's address, whose WatchRetirees feeds the
// retiree projection, the service token and the TLS CA for calling it,
// the TLS of its own gRPC port, and whether reads
// of registrations wait for their audit records (see
// StoreOptions.DurableReads).
type Config struct {
	grpcserver.ServiceConfig
	// SignalRetention is how many work-signal feed entries are kept for
	// WatchWorkSignals.
	SignalRetention uint64
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	cmd := grpcserver.NewCommand("activity",
		"The activity service: venues, activities without clashes, registrations,\n"+
			"attendance, participation reports and the calendar feed.",
		&c.ServiceConfig, "127.0.0.1:9104", "127.0.0.1:9204")
	cmd.TokenKey("registry")
	cmd.RegistryAddr("whose WatchRetirees feeds the retiree projection")
	cmd.ServiceTokenFile("registry")
	cmd.TLSCA("registry")
	cmd.AuditDurableReads("a read of registrations")
	cmd.AuditKey()
	cmd.FlagSet().Uint64Var(&c.SignalRetention, "signal-retention", signalfeed.DefaultRetention, "work-signal feed entries kept for WatchWorkSignals consumers")
	cmd.Check(fmt.Sprintf("--signal-retention must be at least %d", signalfeed.MinRetention), func() bool { return c.SignalRetention >= signalfeed.MinRetention })
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}
