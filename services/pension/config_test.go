package pension

import (
	"testing"

	"github.com/socmgmt/socmgmt/internal/servicetest"
)

func TestParseConfig(t *testing.T) {
	base := []string{"--token-key", "k.pem", "--id-key", "id.key", "--audit-key", "audit.pem", "--data-key", "data.key"}
	t.Run("defaults", func(t *testing.T) {
		c := servicetest.MustParseConfig(t, ParseConfig, base)
		if c.Server.GRPCAddr != "127.0.0.1:9103" || c.Server.AdminAddr != "127.0.0.1:9203" || c.RegistryAddr != "127.0.0.1:9101" ||
			c.AmountDropShare != 0.2 || c.MaxStreamRecords != 2_000_000 || c.AuditDurableReads || c.DBPath() != "var/pension.db" {
			t.Errorf("defaults: %+v", c)
		}
	})
	t.Run("holiday calendar", func(t *testing.T) {
		c := servicetest.MustParseConfig(t, ParseConfig, append(base, "--holiday-calendar", "/etc/socmgmt/holidays.txt"))
		if c.HolidayCalendar != "/etc/socmgmt/holidays.txt" {
			t.Errorf("HolidayCalendar = %q", c.HolidayCalendar)
		}
	})
	t.Run("devrun's flags", func(t *testing.T) {
		c, err := ParseConfig([]string{"--grpc-addr", "127.0.0.1:9103", "--admin-addr", "127.0.0.1:9203", "--data-dir", "/d",
			"--token-key", "/d/dev-signing.key", "--id-key", "/d/dev-id.key", "--registry-addr", "127.0.0.1:9101", "--log-format", "console",
			"--audit-key", "/d/dev-audit-pension.key", "--data-key", "/d/dev-data.key"})
		if err != nil || c.DBPath() != "/d/pension.db" || c.Server.LogFormat != "console" || c.AuditKey != "/d/dev-audit-pension.key" || c.DataKey != "/d/dev-data.key" {
			t.Errorf("ParseConfig = %+v, %v", c, err)
		}
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv("PENSION_AMOUNT_DROP_SHARE", "0.3")
		t.Setenv("PENSION_AUDIT_DURABLE_READS", "true")
		c, err := ParseConfig(base)
		if err != nil || c.AmountDropShare != 0.3 || !c.AuditDurableReads {
			t.Errorf("ParseConfig = %+v, %v", c, err)
		}
	})
	servicetest.RefuseConfigs(t, ParseConfig, append([]servicetest.ConfigCase{
		{Name: "no keys", Want: "--token-key is required"},
		{Name: "no audit key", Args: []string{"--token-key", "k.pem", "--id-key", "id.key"}, Want: "--audit-key is required"},
		{Name: "no data key", Args: []string{"--token-key", "k.pem", "--id-key", "id.key"}, Want: "--data-key is required"},
		{Name: "share too big", Args: append(base, "--amount-drop-share", "1"), Want: "--amount-drop-share"},
		{Name: "share zero", Args: append(base, "--amount-drop-share", "0"), Want: "--amount-drop-share"},
		{Name: "short signal retention", Args: append(base, "--signal-retention", "999"), Want: "--signal-retention must be at least 1000"},
		{Name: "no records", Args: append(base, "--max-stream-records", "0"), Want: "--max-stream-records"},
		{Name: "no registry", Args: append(base, "--registry-addr", ""), Want: "--registry-addr"},
		// pension's own default gRPC address, where admin may not listen.
		{Name: "admin on the gRPC address", Args: append(base, "--admin-addr", "127.0.0.1:9103"), Want: "--admin-addr must differ from --grpc-addr", Shared: true},
	}, servicetest.SharedFlagCases(base)...))
}
