package casework

import (
	"flag"
	"time"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/workdays"
	"github.com/socmgmt/socmgmt/services/casework/sms"
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
	// PensionAddr, HandoverAddr and ActivityAddr are the sources whose
	// WatchWorkSignals casework follows besides registry's (called with
	// the service token and TLS CA); an empty one is not followed.
	PensionAddr, HandoverAddr, ActivityAddr string
	// SMS configures the messages; see SMSConfig.
	SMS SMSConfig
}

// SMSConfig is how messages go out: through the file gateway (File, for
// development) or the HTTP one (URL and its companions); neither runs no
// sender, and messages stay QUEUED.
type SMSConfig struct {
	File                               string
	URL, CredentialsFile, BodyTemplate string
	ContentType, CAFile                string
	Timeout                            time.Duration
	QuietHours, Signature              string
}

// sourceAddrs are the followed sources' addresses by name (registry's is
// required).
func (c *Config) sourceAddrs() map[string]string {
	return map[string]string{
		SourceRegistry: c.RegistryAddr, SourcePension: c.PensionAddr,
		SourceHandover: c.HandoverAddr, SourceActivity: c.ActivityAddr,
	}
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
	fs.StringVar(&c.PensionAddr, "pension-addr", "", "pension gRPC `host:port` whose work signals (certifications, anomalies, recovery cases) make work items; empty: not followed")
	fs.StringVar(&c.HandoverAddr, "handover-addr", "", "handover gRPC `host:port` whose work signals (steps, tasks) make work items; empty: not followed")
	fs.StringVar(&c.ActivityAddr, "activity-addr", "", "activity gRPC `host:port` whose notices (changed, cancelled, promoted) send messages; empty: not followed")
	smsFlags(fs, &c.SMS)
	cmd.Check("--at-risk-share must be greater than 0 and less than 1", func() bool { return c.AtRiskShare > 0 && c.AtRiskShare < 1 })
	cmd.Check("--sweep-interval must be between 1s and 1h", func() bool {
		return c.SweepInterval >= time.Second && c.SweepInterval <= time.Hour
	})
	cmd.Check("--sms-file and --sms-url exclude each other", func() bool { return c.SMS.File == "" || c.SMS.URL == "" })
	cmd.Check("--sms-quiet-hours must be HH:MM-HH:MM or none", func() bool {
		_, err := sms.ParseQuietHours(c.SMS.QuietHours, workdays.ChinaTime)
		return err == nil
	})
	if err := cmd.Parse(args); err != nil {
		return nil, err
	}
	return &c, cmd.Validate()
}

// smsFlags defines the --sms-* flags.
func smsFlags(fs *flag.FlagSet, c *SMSConfig) {
	fs.StringVar(&c.File, "sms-file", "", "development: append messages to this `file` (JSON lines) instead of sending them")
	fs.StringVar(&c.URL, "sms-url", "", "the SMS platform's HTTP API `URL` messages are POSTed to (https unless loopback)")
	fs.StringVar(&c.CredentialsFile, "sms-credentials-file", "", "`file` of the platform's credentials: user:password (basic) or a bearer token")
	fs.StringVar(&c.BodyTemplate, "sms-body-template", "", "Go template of the request body over .Phone, .Text, .IdempotencyKey (json, urlquery)")
	fs.StringVar(&c.ContentType, "sms-content-type", "", "content type of the body (default: JSON when the template starts with {, else form)")
	fs.StringVar(&c.CAFile, "sms-ca-file", "", "PEM `file` of the CAs that sign the platform's certificate (default: the system's)")
	fs.DurationVar(&c.Timeout, "sms-timeout", sms.DefaultCallTimeout, "bound of one phone look-up and platform call")
	fs.StringVar(&c.QuietHours, "sms-quiet-hours", sms.DefaultQuietHours, "daily HH:MM-HH:MM (China time) in which no message goes out; none for no quiet hours")
	fs.StringVar(&c.Signature, "sms-signature", sms.DefaultSignature, "the registered signature every message starts with")
}
