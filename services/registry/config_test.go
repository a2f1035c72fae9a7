package registry

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/procflags"
)

func TestParseConfig(t *testing.T) {
	// The flags scripts/devrun starts the program with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9101", "--admin-addr", "127.0.0.1:9201", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--id-key", "var/dev-id.key", "--log-format", "console",
	}
	c, err := ParseConfig(devrun)
	if err != nil {
		t.Fatalf("the devrun flags: %v", err)
	}
	want := Config{
		ServiceConfig: grpcserver.ServiceConfig{
			Name: "registry",
			Server: grpcserver.Flags{
				GRPCAddr: "127.0.0.1:9101", AdminAddr: "127.0.0.1:9201", LogFormat: "console", LogLevel: "info",
				ShutdownTimeout: grpcserver.DefaultShutdownTimeout, GCPercent: procflags.DefaultGCPercent,
			},
			DataDir: "var", TokenKey: "var/dev-signing.key", IDKey: "var/dev-id.key", AuditDurableReads: true,
		},
		Retention: DefaultRetention,
	}
	if diff := cmp.Diff(want, *c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if c.DBPath() != "var/registry.db" {
		t.Errorf("DBPath = %q", c.DBPath())
	}

	t.Setenv("REGISTRY_AUDIT_DURABLE_READS", "false")
	if c, err := ParseConfig(devrun); err != nil || c.AuditDurableReads {
		t.Errorf("environment not read: %+v, %v", c, err)
	}

	base := []string{"--token-key", "k.pem", "--id-key", "id.key"}
	for _, tc := range []struct {
		name     string
		args     []string
		want     string
		isOption bool // a shared flag, whose error wraps grpcserver.ErrInvalidOption
	}{
		{"no keys", nil, "--token-key is required", false},
		{"no id key", []string{"--token-key", "k.pem"}, "--id-key is required", false},
		{"short retention", append(base, "--changelog-retention", "999"), "--changelog-retention must be at least 1000", false},
		{"no data directory", append(base, "--data-dir", ""), "--data-dir is required", false},
		{"no gRPC address", append(base, "--grpc-addr", ""), "--grpc-addr is required", true},
		{"gRPC address without port", append(base, "--grpc-addr", "localhost"), "--grpc-addr: address localhost: missing port in address", true},
		{"unknown log level", append(base, "--log-level", "loud"), "--log-level must be debug, info, warn or error", true},
		{"collector off", append(base, "--gc-percent", "-1"), "--gc-percent must not be negative", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseConfig(%q) = %v, want an error about %s", tc.args, err, tc.want)
			}
			if tc.isOption && !errors.Is(err, grpcserver.ErrInvalidOption) {
				t.Errorf("ParseConfig(%q) = %v, want it to wrap ErrInvalidOption", tc.args, err)
			}
		})
	}
	if _, err := ParseConfig([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}
}
