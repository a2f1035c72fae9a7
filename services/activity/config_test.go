package activity

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

func TestParseConfig(t *testing.T) {
	// The flags scripts/devrun starts the program with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9104", "--admin-addr", "127.0.0.1:9204", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--registry-addr", "127.0.0.1:9101", "--log-format", "console",
		"--audit-key", "var/dev-audit-activity.key",
	}
	c := servicetest.MustParseConfig(t, ParseConfig, devrun)
	if c.RegistryAddr != "127.0.0.1:9101" || c.Server.GRPCAddr != "127.0.0.1:9104" || c.DBPath() != filepath.Join("var", "activity.db") ||
		c.AuditKey != "var/dev-audit-activity.key" || c.AuditCheckpointEvery != 1000 || c.AuditCheckpointInterval != time.Minute ||
		c.SignalRetention != signalfeed.DefaultRetention {
		t.Errorf("config = %+v", c)
	}

	t.Setenv("ACTIVITY_SERVICE_TOKEN_FILE", "/run/secrets/activity.token")
	t.Setenv("ACTIVITY_AUDIT_DURABLE_READS", "true")
	c = servicetest.MustParseConfig(t, ParseConfig, devrun)
	if c.ServiceTokenFile != "/run/secrets/activity.token" || !c.AuditDurableReads {
		t.Errorf("environment not read: %+v", c)
	}

	// Both missing flags are named at once, and so are both bad shared
	// flags.
	bothShared := append(devrun, "--log-format", "xml", "--grpc-addr", "")
	servicetest.RefuseConfigs(t, ParseConfig, append([]servicetest.ConfigCase{
		{Name: "no keys, token", Args: []string{"--registry-addr", ""}, Want: "--token-key is required"},
		{Name: "no keys, registry", Args: []string{"--registry-addr", ""}, Want: "--registry-addr is required"},
		{Name: "no keys, audit", Args: []string{"--registry-addr", ""}, Want: "--audit-key is required"},
		{Name: "short signal retention", Args: append(devrun, "--signal-retention", "999"), Want: "--signal-retention must be at least 1000"},
		{Name: "no checkpoint count", Args: append(devrun, "--audit-checkpoint-every", "0"), Want: "--audit-checkpoint-every must be between 1 and 1000000"},
		{Name: "checkpoint interval too short", Args: append(devrun, "--audit-checkpoint-interval", "10ms"), Want: "--audit-checkpoint-interval must be between 1s and 24h"},
		{Name: "two shared, log format", Args: bothShared, Want: "--log-format must be json or console", Shared: true},
		{Name: "two shared, gRPC address", Args: bothShared, Want: "--grpc-addr is required", Shared: true},
	}, servicetest.SharedFlagCases(devrun)...))
}
