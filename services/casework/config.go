package casework

import (
	"time"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

// DefaultAtRiskShare is the share of an item's time left below which its
// clock is AT_RISK.
const DefaultAtRiskShare = 0.25

// DefaultSweepInterval is how often the sweeper moves the stored clocks.
const DefaultSweepInterval = 30 * time.Second

// Config is the casework program's configuration, from flags or, for each
// flag, the environment variable CASEWORK_<FLAG> (e.g. CASEWORK_DATA_DIR).
// Of the shared settings, RegistryAddr's WatchRetirees feeds the retiree
// projection, called with the service token and TLS CA; reads of
// retirees' items are audited.
type Config struct {
	grpcserver.ServiceConfig
	// AtRiskShare is the share of an item's time (due less start, less
	// the time paused) left at which its clock turns AT_RISK, in (0, 1).
	AtRiskShare float64
	// SweepInterval is how often the sweeper moves the stored clocks.
	SweepInterval time.Duration
	// HolidayCalendar is a file of the working-day calendar (see package
	// workdays) that deadlines in working days count in; empty for the
	// calendar built in.
	HolidayCalendar string
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	cmd := grpcserver.NewCommand("casework",
		"The casework service: the clerks' queue of work items with deadlines, care\n"+
			"visits, complaints and messages to retirees and families.",
		&c.ServiceConfig, "127.0.0.1:9105", "127.0.0.1:9205")
	cmd.TokenKey("registry")
	cmd.RegistryAddr("whose WatchRetirees feeds the retiree projection")
	cmd.ServiceTokenFile("registry")
	cmd.TLSCA("registry")
	cmd.AuditDurableReads("a read of a retiree's items")
	cmd.AuditKey()
	fs := cmd.FlagSet()
	fs.Float64Var(&c.AtRiskShare, "at-risk-share", DefaultAtRiskShare, "share of an item's time left, in (0, 1), at which its clock turns AT_RISK")
	fs.DurationVar(&c.SweepInterval, "sweep-interval", DefaultSweepInterval, "how often the stored clocks of open items are moved on")
	fs.StringVar(&c.HolidayCalendar, "holiday-calendar", "", "file of public holidays and make-up working days (empty: the calendar built in), for deadlines in working days")
	cmd.Check("--at-risk-share must be greater than 0 and less than 1", func() bool { return c.AtRiskShare > 0 && c.AtRiskShare < 1 })
	cmd.Check("--sweep-interval must be between 1s and 1h", func() bool {
		return c.SweepInterval >= time.Second && c.SweepInterval <= time.Hour
	})
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}
