package registry

import (
	"fmt"
	"time"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Config is the registry program's configuration, from flags or, for each
// flag, the environment variable REGISTRY_<FLAG> (e.g. REGISTRY_DATA_DIR).
// Registry calls no other service, so of the shared settings it has
// neither RegistryAddr nor ServiceTokenFile nor TLSCA; AuditDurableReads applies to
// every read (see StoreOptions.DurableReads).
type Config struct {
	grpcserver.ServiceConfig
	// Retention is how many change-log entries are kept for WatchRetirees.
	Retention uint64
	// SignalRetention is how many work-signal feed entries are kept for
	// WatchWorkSignals.
	SignalRetention uint64
	// MaxWatchers bounds the WatchRetirees streams open at once; one more
	// is refused with RESOURCE_EXHAUSTED.
	MaxWatchers int
	// TransferSweep is how often the proposed transfers past their lapse
	// time are recorded as lapsed (a read or an answer sees the lapse at
	// once anyway).
	TransferSweep time.Duration
	// MaxStreamRecords bounds the records of one ImportRetirees stream.
	MaxStreamRecords int64
	// HolidayCalendar is a file of the working-day calendar (see package
	// workdays); empty uses the calendar built in. Loaded at start.
	HolidayCalendar string
}

// DefaultTransferSweep is the default of Config.TransferSweep.
const DefaultTransferSweep = time.Minute

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	cmd := grpcserver.NewCommand("registry",
		"The registry service: communities, enterprises, retirees and their change log.",
		&c.ServiceConfig, "127.0.0.1:9101", "127.0.0.1:9201")
	cmd.TokenKey("")
	cmd.IDKey("")
	cmd.AuditDurableReads("a read")
	cmd.AuditKey()
	cmd.DataKey()
	cmd.FlagSet().Uint64Var(&c.Retention, "changelog-retention", DefaultRetention, "change-log entries kept for WatchRetirees consumers")
	cmd.Check("--changelog-retention must be at least 1000", func() bool { return c.Retention >= 1000 })
	cmd.FlagSet().Uint64Var(&c.SignalRetention, "signal-retention", signalfeed.DefaultRetention, "work-signal feed entries kept for WatchWorkSignals consumers")
	cmd.Check(fmt.Sprintf("--signal-retention must be at least %d", signalfeed.MinRetention), func() bool { return c.SignalRetention >= signalfeed.MinRetention })
	cmd.FlagSet().IntVar(&c.MaxWatchers, "max-watchers", DefaultMaxWatchers, "WatchRetirees streams open at once, and as many WatchWorkSignals streams; beyond them a watch is refused with RESOURCE_EXHAUSTED")
	cmd.Check(fmt.Sprintf("--max-watchers must be between 1 and %d", maxMaxWatchers), func() bool { return c.MaxWatchers >= 1 && c.MaxWatchers <= maxMaxWatchers })
	cmd.FlagSet().DurationVar(&c.TransferSweep, "transfer-sweep-interval", DefaultTransferSweep, "how often proposed transfers unanswered for 30 days are recorded as lapsed")
	cmd.Check("--transfer-sweep-interval must be between 1s and 24h", func() bool { return c.TransferSweep >= time.Second && c.TransferSweep <= 24*time.Hour })
	cmd.FlagSet().Int64Var(&c.MaxStreamRecords, "max-stream-records", DefaultMaxStreamRecords, "most records one ImportRetirees stream may carry")
	cmd.Check("--max-stream-records must be between 1 and 100000000", func() bool { return c.MaxStreamRecords >= 1 && c.MaxStreamRecords <= 100_000_000 })
	cmd.FlagSet().StringVar(&c.HolidayCalendar, "holiday-calendar", "", "file of public holidays and make-up working days (empty: the calendar built in), for the death-reporting duty")
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}
