package pension

import (
	"fmt"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Config is the pension program's configuration, from flags or, for each
// flag, the environment variable PENSION_<FLAG> (e.g. PENSION_DATA_DIR).
// Of the shared settings, RegistryAddr is followed for the retiree
// projection, IDKey must be registry's, and AuditDurableReads applies to
// every read (see StoreOptions.DurableReads).
type Config struct {
	grpcserver.ServiceConfig
	// AmountDropShare is the AMOUNT_DROP threshold: a total more than this
	// share below the previous month's is an anomaly.
	AmountDropShare float64
	// MaxStreamRecords bounds the records of one import stream.
	MaxStreamRecords int64
	// HolidayCalendar is a working-day calendar file for due dates; empty
	// is the calendar built in (see internal/workdays).
	HolidayCalendar string
	// SignalRetention is how many work-signal feed entries are kept for
	// WatchWorkSignals.
	SignalRetention uint64
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	cmd := grpcserver.NewCommand("pension",
		"The pension service: payments imported from bureaus, certifications, entitlement and anomalies.",
		&c.ServiceConfig, "127.0.0.1:9103", "127.0.0.1:9203")
	cmd.TokenKey("registry")
	cmd.IDKey("registry")
	cmd.RegistryAddr("whose retirees are projected")
	cmd.ServiceTokenFile("registry")
	cmd.TLSCA("registry")
	cmd.AuditDurableReads("a read")
	cmd.AuditKey()
	cmd.DataKey()
	fs := cmd.FlagSet()
	fs.Float64Var(&c.AmountDropShare, "amount-drop-share", DefaultAmountDropShare, "a monthly total more than this share below the previous month's is an AMOUNT_DROP anomaly")
	fs.Int64Var(&c.MaxStreamRecords, "max-stream-records", DefaultMaxStreamRecords, "most records one import stream (payments, certifications, decisions) may carry")
	fs.StringVar(&c.HolidayCalendar, "holiday-calendar", "", "working-day calendar file for recovery due dates (empty: the calendar built in)")
	fs.Uint64Var(&c.SignalRetention, "signal-retention", signalfeed.DefaultRetention, "work-signal feed entries kept for WatchWorkSignals consumers")
	cmd.Check(fmt.Sprintf("--signal-retention must be at least %d", signalfeed.MinRetention), func() bool { return c.SignalRetention >= signalfeed.MinRetention })
	cmd.Check("--amount-drop-share must be between 0 and 1 (exclusive)", func() bool {
		return c.AmountDropShare > 0 && c.AmountDropShare < 1
	})
	cmd.Check("--max-stream-records must be between 1 and 100000000", func() bool {
		return c.MaxStreamRecords >= 1 && c.MaxStreamRecords <= 100_000_000
	})
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}
