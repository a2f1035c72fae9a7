package registry

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/procflags"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

func TestParseConfig(t *testing.T) {
	// The flags scripts/devrun starts the program with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9101", "--admin-addr", "127.0.0.1:9201", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--id-key", "var/dev-id.key", "--log-format", "console",
		"--audit-key", "var/dev-audit-registry.key", "--data-key", "var/dev-data.key",
	}
	c := servicetest.MustParseConfig(t, ParseConfig, devrun)
	want := Config{
		ServiceConfig: grpcserver.ServiceConfig{
			Name: "registry",
			Server: grpcserver.Flags{
				GRPCAddr: "127.0.0.1:9101", AdminAddr: "127.0.0.1:9201", LogFormat: "console", LogLevel: "info",
				ShutdownTimeout: grpcserver.DefaultShutdownTimeout, GCPercent: procflags.DefaultGCPercent,
				AdminClientNames: []string{"backup"},
			},
			DataDir: "var", TokenKey: "var/dev-signing.key", IDKey: "var/dev-id.key",
			Tokens: authn.TokenPolicy{
				MaxLifetime: authn.DefaultMaxLifetime, MaxServiceLifetime: authn.DefaultMaxServiceLifetime, KeyReload: authn.DefaultKeyReload,
			},
			AuditKey: "var/dev-audit-registry.key", AuditCheckpointEvery: 1000, AuditCheckpointInterval: time.Minute,
			DataKey: "var/dev-data.key",
			Limits:  limits.DefaultConfig(),
		},
		Retention:        DefaultRetention,
		SignalRetention:  signalfeed.DefaultRetention,
		MaxWatchers:      DefaultMaxWatchers,
		TransferSweep:    DefaultTransferSweep,
		MaxStreamRecords: DefaultMaxStreamRecords,
	}
	if diff := cmp.Diff(want, *c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if c.DBPath() != "var/registry.db" {
		t.Errorf("DBPath = %q", c.DBPath())
	}

	t.Setenv("REGISTRY_AUDIT_DURABLE_READS", "true")
	if c, err := ParseConfig(devrun); err != nil || !c.AuditDurableReads {
		t.Errorf("environment not read: %+v, %v", c, err)
	}

	base := []string{"--token-key", "k.pem", "--id-key", "id.key", "--audit-key", "audit.pem", "--data-key", "data.key"}
	servicetest.RefuseConfigs(t, ParseConfig, append([]servicetest.ConfigCase{
		{Name: "no keys", Want: "--token-key is required"},
		{Name: "no id key", Args: []string{"--token-key", "k.pem"}, Want: "--id-key is required"},
		{Name: "no audit key", Args: []string{"--token-key", "k.pem"}, Want: "--audit-key is required"},
		{Name: "no data key", Args: []string{"--token-key", "k.pem"}, Want: "--data-key is required"},
		{Name: "short retention", Args: append(base, "--changelog-retention", "999"), Want: "--changelog-retention must be at least 1000"},
		{Name: "short signal retention", Args: append(base, "--signal-retention", "999"), Want: "--signal-retention must be at least 1000"},
		{Name: "no watchers", Args: append(base, "--max-watchers", "0"), Want: "--max-watchers must be between 1 and 10000"},
		{Name: "sweep too often", Args: append(base, "--transfer-sweep-interval", "10ms"), Want: "--transfer-sweep-interval must be between 1s and 24h"},
		{Name: "no data directory", Args: append(base, "--data-dir", ""), Want: "--data-dir is required"},
	}, servicetest.SharedFlagCases(base)...))
}
