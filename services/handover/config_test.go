package handover

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

func TestParseConfig(t *testing.T) {
	// The arguments scripts/devrun starts the service with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9102", "--admin-addr", "127.0.0.1:9202", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--registry-addr", "127.0.0.1:9101",
		"--activity-addr", "127.0.0.1:9104", "--log-format", "console",
	}
	c := servicetest.MustParseConfig(t, ParseConfig, devrun)
	want := Config{
		ServiceConfig: grpcserver.ServiceConfig{
			Name: "handover", DataDir: "var", TokenKey: "var/dev-signing.key", RegistryAddr: "127.0.0.1:9101",
			Limits: limits.DefaultConfig(),
		},
		ActivityAddr:  "127.0.0.1:9104",
		SubmitTimeout: DefaultSubmitTimeout, OutboxMinBackoff: DefaultMinBackoff, OutboxMaxBackoff: DefaultMaxBackoff,
		SignalRetention: signalfeed.DefaultRetention,
	}
	want.Server, want.Tokens = c.Server, c.Tokens
	if diff := cmp.Diff(want, *c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if c.Server.GRPCAddr != "127.0.0.1:9102" || c.Server.LogFormat != "console" || c.DBPath() != "var/handover.db" {
		t.Errorf("server %+v, db %s", c.Server, c.DBPath())
	}

	t.Setenv("HANDOVER_OUTBOX_HOLD", "true")
	t.Setenv("HANDOVER_SERVICE_TOKEN_FILE", "/run/secrets/handover.token")
	t.Setenv("HANDOVER_HOLIDAY_CALENDAR", "/etc/socmgmt/holidays.txt")
	c = servicetest.MustParseConfig(t, ParseConfig, devrun)
	if !c.OutboxHold || c.ServiceTokenFile != "/run/secrets/handover.token" || c.HolidayCalendar != "/etc/socmgmt/holidays.txt" {
		t.Errorf("environment not read: hold %v, token file %q, calendar %q", c.OutboxHold, c.ServiceTokenFile, c.HolidayCalendar)
	}

	base := []string{"--token-key", "k"}
	servicetest.RefuseConfigs(t, ParseConfig, append([]servicetest.ConfigCase{
		{Name: "no keys", Args: []string{"--registry-addr", ""}, Want: "--token-key is required"},
		{Name: "no registry", Args: append(base, "--registry-addr", ""), Want: "--registry-addr is required"},
		{Name: "backoffs crossed", Args: append(base, "--outbox-min-backoff", "2s", "--outbox-max-backoff", "1s"), Want: "--outbox-min-backoff"},
		{Name: "short signal retention", Args: append(base, "--signal-retention", "999"), Want: "--signal-retention must be at least 1000"},
		{Name: "no submit timeout", Args: append(base, "--submit-timeout", "0s"), Want: "--submit-timeout"},
	}, servicetest.SharedFlagCases(base)...))
}

func TestFundsRequiredRegions(t *testing.T) {
	c := servicetest.MustParseConfig(t, ParseConfig, []string{"--funds-required-regions", "2101, 110105001", "--token-key", "k", "--data-dir", "var"})
	if !slices.Equal(c.FundsRequired, FundsRule{"2101", "110105001"}) {
		t.Errorf("rule %v", c.FundsRequired)
	}
	for _, bad := range []string{"210", "21x1", "2101020010011"} {
		if _, err := ParseConfig([]string{"--funds-required-regions", bad}); err == nil || !strings.Contains(err.Error(), "division-code prefix") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}
