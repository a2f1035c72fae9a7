package handover

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

func TestParseConfig(t *testing.T) {
	// The arguments scripts/devrun starts the service with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9102", "--admin-addr", "127.0.0.1:9202", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--registry-addr", "127.0.0.1:9101",
		"--activity-addr", "127.0.0.1:9104", "--log-format", "console",
	}
	c, err := ParseConfig(devrun)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		ServiceConfig: grpcserver.ServiceConfig{
			Name: "handover", DataDir: "var", TokenKey: "var/dev-signing.key", RegistryAddr: "127.0.0.1:9101",
		},
		ActivityAddr:  "127.0.0.1:9104",
		SubmitTimeout: DefaultSubmitTimeout, OutboxMinBackoff: DefaultMinBackoff, OutboxMaxBackoff: DefaultMaxBackoff,
	}
	want.Server = c.Server
	if diff := cmp.Diff(want, *c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if c.Server.GRPCAddr != "127.0.0.1:9102" || c.Server.LogFormat != "console" || c.DBPath() != "var/handover.db" {
		t.Errorf("server %+v, db %s", c.Server, c.DBPath())
	}

	t.Setenv("HANDOVER_OUTBOX_HOLD", "true")
	t.Setenv("HANDOVER_SERVICE_TOKEN_FILE", "/run/secrets/handover.token")
	c, err = ParseConfig(devrun)
	if err != nil {
		t.Fatal(err)
	}
	if !c.OutboxHold || c.ServiceTokenFile != "/run/secrets/handover.token" {
		t.Errorf("environment not read: hold %v, token file %q", c.OutboxHold, c.ServiceTokenFile)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--registry-addr", ""}, "--token-key is required"},
		{[]string{"--token-key", "k", "--registry-addr", ""}, "--registry-addr is required"},
		{[]string{"--token-key", "k", "--outbox-min-backoff", "2s", "--outbox-max-backoff", "1s"}, "--outbox-min-backoff"},
		{[]string{"--token-key", "k", "--submit-timeout", "0s"}, "--submit-timeout"},
		// The flags every service shares, checked by grpcserver.Flags.
		{[]string{"--token-key", "k", "--grpc-addr", ""}, "--grpc-addr is required"},
		{[]string{"--token-key", "k", "--log-level", "loud"}, "--log-level must be debug, info, warn or error"},
		{[]string{"--token-key", "k", "--shutdown-timeout", "0s"}, "--shutdown-timeout must be positive"},
	} {
		_, err := ParseConfig(tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v, want an error about %s", tc.args, err, tc.want)
		}
	}
}
