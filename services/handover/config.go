package handover

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Config is the handover program's configuration, from flags or, for each
// flag, the environment variable HANDOVER_<FLAG> (e.g. HANDOVER_DATA_DIR).
// Of the shared settings, RegistryAddr is where submit checks and the
// outbox's assignments go, and the service's own tokens (minted with
// TokenKey, or ServiceTokenFile) and TLSCA are for registry and activity.
type Config struct {
	grpcserver.ServiceConfig
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
	// FundsRequired lists the regions (division-code prefixes) whose rule
	// requires funds with a handover; elsewhere a package may carry none.
	FundsRequired FundsRule
	// HolidayCalendar is a file of the working-day calendar (see package
	// workdays) the due dates of the tasks after a handover count in;
	// empty for the calendar built in.
	HolidayCalendar string
	// SignalRetention is how many work-signal feed entries are kept for
	// WatchWorkSignals.
	SignalRetention uint64
}

// ParseConfig reads the configuration from args and the environment and
// validates it.
func ParseConfig(args []string) (*Config, error) {
	var c Config
	cmd := grpcserver.NewCommand("handover",
		"The handover service: enterprise-to-community handover packages, delivered to\n"+
			"registry and activity through a transactional outbox.",
		&c.ServiceConfig, "127.0.0.1:9102", "127.0.0.1:9202")
	cmd.TokenKey("registry and activity")
	cmd.ServiceTokenFile("registry and activity")
	cmd.TLSCA("registry and activity")
	cmd.RegistryAddr("")
	fs := cmd.FlagSet()
	fs.StringVar(&c.ActivityAddr, "activity-addr", "", "activity gRPC `host:port`; empty keeps venue commands waiting")
	fs.DurationVar(&c.SubmitTimeout, "submit-timeout", DefaultSubmitTimeout, "bound on the registry checks of one submit")
	fs.BoolVar(&c.OutboxHold, "outbox-hold", false, "testing aid: deliver nothing from the outbox (completions still queue their commands)")
	fs.DurationVar(&c.OutboxMinBackoff, "outbox-min-backoff", DefaultMinBackoff, "first wait before retrying a failed delivery")
	fs.DurationVar(&c.OutboxMaxBackoff, "outbox-max-backoff", DefaultMaxBackoff, "longest wait between retries of a failed delivery")
	fs.Func("funds-required-regions", "comma-separated division-code `prefixes` (2, 4, 6 or 9 digits) of the regions whose rule requires funds with a handover; empty: none does", func(v string) error {
		rule, err := parseFundsRule(v)
		c.FundsRequired = rule
		return err
	})
	fs.StringVar(&c.HolidayCalendar, "holiday-calendar", "", "file of public holidays and make-up working days (empty: the calendar built in), for the due dates of the tasks after a handover")
	fs.Uint64Var(&c.SignalRetention, "signal-retention", signalfeed.DefaultRetention, "work-signal feed entries kept for WatchWorkSignals consumers")
	cmd.Check(fmt.Sprintf("--signal-retention must be at least %d", signalfeed.MinRetention), func() bool { return c.SignalRetention >= signalfeed.MinRetention })
	cmd.Check("--submit-timeout must be positive", func() bool { return c.SubmitTimeout > 0 })
	cmd.Check("--outbox-min-backoff must be positive and at most --outbox-max-backoff", func() bool {
		return c.OutboxMinBackoff > 0 && c.OutboxMaxBackoff >= c.OutboxMinBackoff
	})
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}

// parseFundsRule reads the --funds-required-regions list.
func parseFundsRule(v string) (FundsRule, error) {
	var rule FundsRule
	for _, prefix := range strings.Split(v, ",") {
		prefix = strings.TrimSpace(prefix)
		if prefix == "" {
			continue
		}
		if !slices.Contains([]int{2, 4, 6, 9}, len(prefix)) || strings.Trim(prefix, "0123456789") != "" {
			return nil, fmt.Errorf("%q is not a division-code prefix of 2, 4, 6 or 9 digits", prefix)
		}
		rule = append(rule, prefix)
	}
	return rule, nil
}
