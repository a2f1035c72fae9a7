package casework

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/servicetest"
)

func TestParseConfig(t *testing.T) {
	// The flags scripts/devrun starts the program with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9105", "--admin-addr", "127.0.0.1:9205", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--registry-addr", "127.0.0.1:9101", "--log-format", "console",
		"--audit-key", "var/dev-audit-casework.key",
	}
	c := servicetest.MustParseConfig(t, ParseConfig, devrun)
	if c.RegistryAddr != "127.0.0.1:9101" || c.Server.GRPCAddr != "127.0.0.1:9105" || c.DBPath() != filepath.Join("var", "casework.db") ||
		c.AtRiskShare != DefaultAtRiskShare || c.SweepInterval != DefaultSweepInterval || c.HolidayCalendar != "" {
		t.Errorf("config = %+v", c)
	}

	t.Setenv("CASEWORK_AT_RISK_SHARE", "0.4")
	t.Setenv("CASEWORK_HOLIDAY_CALENDAR", "/etc/socmgmt/holidays.txt")
	c = servicetest.MustParseConfig(t, ParseConfig, append(devrun, "--sweep-interval", "10s"))
	if c.AtRiskShare != 0.4 || c.HolidayCalendar != "/etc/socmgmt/holidays.txt" || c.SweepInterval != 10*time.Second {
		t.Errorf("environment and flags not read: %+v", c)
	}

	c = servicetest.MustParseConfig(t, ParseConfig, append(devrun, "--pension-addr", "127.0.0.1:9103", "--handover-addr", "127.0.0.1:9102",
		"--activity-addr", "127.0.0.1:9104", "--sms-file", "var/casework-sms.jsonl", "--sms-quiet-hours", "none"))
	if c.SourceAddr(SourcePension) != "127.0.0.1:9103" || c.SourceAddr(SourceHandover) != "127.0.0.1:9102" ||
		c.SourceAddr(SourceActivity) != "127.0.0.1:9104" || c.SourceAddr(SourceRegistry) != "127.0.0.1:9101" ||
		c.SMS.File != "var/casework-sms.jsonl" || c.SMS.QuietHours != "none" {
		t.Errorf("sources and sms flags not read: %+v", c)
	}
	if c = servicetest.MustParseConfig(t, ParseConfig, devrun); c.SourceAddr(SourcePension) != "" || c.SMS.QuietHours != "21:00-08:00" || c.SMS.File != "" {
		t.Errorf("defaults: %+v", c)
	}

	servicetest.RefuseConfigs(t, ParseConfig, append([]servicetest.ConfigCase{
		{Name: "two gateways", Args: append(devrun, "--sms-file", "a", "--sms-url", "https://sms.example/send"), Want: "--sms-file and --sms-url exclude each other"},
		{Name: "bad quiet hours", Args: append(devrun, "--sms-quiet-hours", "21-8"), Want: "--sms-quiet-hours must be HH:MM-HH:MM or none"},
		{Name: "no registry", Args: []string{"--registry-addr", ""}, Want: "--registry-addr is required"},
		{Name: "no audit key", Args: []string{"--registry-addr", ""}, Want: "--audit-key is required"},
		{Name: "share zero", Args: append(devrun, "--at-risk-share", "0"), Want: "--at-risk-share must be greater than 0 and less than 1"},
		{Name: "share one", Args: append(devrun, "--at-risk-share", "1"), Want: "--at-risk-share must be greater than 0 and less than 1"},
		{Name: "share not a number", Args: append(devrun, "--at-risk-share", "much"), Want: "at-risk-share"},
		{Name: "sweep too often", Args: append(devrun, "--sweep-interval", "10ms"), Want: "--sweep-interval must be between 1s and 1h"},
	}, servicetest.SharedFlagCases(devrun)...))
}
