package activity

import (
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
)

func TestParseConfig(t *testing.T) {
	// The flags scripts/devrun starts the program with.
	devrun := []string{
		"--grpc-addr", "127.0.0.1:9104", "--admin-addr", "127.0.0.1:9204", "--data-dir", "var",
		"--token-key", "var/dev-signing.key", "--registry-addr", "127.0.0.1:9101", "--log-format", "console",
	}
	c, err := ParseConfig(devrun)
	if err != nil {
		t.Fatalf("the devrun flags: %v", err)
	}
	if c.RegistryAddr != "127.0.0.1:9101" || c.Server.GRPCAddr != "127.0.0.1:9104" || c.DBPath() != filepath.Join("var", "activity.db") {
		t.Errorf("config = %+v", c)
	}

	t.Setenv("ACTIVITY_SERVICE_TOKEN_FILE", "/run/secrets/activity.token")
	t.Setenv("ACTIVITY_AUDIT_DURABLE_READS", "false")
	c, err = ParseConfig(devrun)
	if err != nil {
		t.Fatal(err)
	}
	if c.ServiceTokenFile != "/run/secrets/activity.token" || c.AuditDurableReads {
		t.Errorf("environment not read: %+v", c)
	}

	_, err = ParseConfig([]string{"--registry-addr", ""})
	for _, want := range []string{"--token-key is required", "--registry-addr is required"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not say %q", err, want)
		}
	}
	if _, err := ParseConfig([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v, want flag.ErrHelp", err)
	}

	// The flags every service shares are checked by grpcserver.Flags.
	_, err = ParseConfig(append(devrun, "--log-format", "xml", "--grpc-addr", ""))
	for _, want := range []string{"--log-format must be json or console", "--grpc-addr is required"} {
		if !errors.Is(err, grpcserver.ErrInvalidOption) || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v, want ErrInvalidOption saying %q", err, want)
		}
	}
}
