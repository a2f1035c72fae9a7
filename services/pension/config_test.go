package pension

import (
	"errors"
	"flag"
	"strings"
	"testing"
)

func TestParseConfig(t *testing.T) {
	base := []string{"--token-key", "k.pem", "--id-key", "id.key"}
	t.Run("defaults", func(t *testing.T) {
		c, err := ParseConfig(base)
		if err != nil {
			t.Fatal(err)
		}
		if c.Server.GRPCAddr != "127.0.0.1:9103" || c.Server.AdminAddr != "127.0.0.1:9203" || c.RegistryAddr != "127.0.0.1:9101" ||
			c.AmountDropShare != 0.2 || c.MaxStreamRecords != 2_000_000 || !c.AuditDurableReads || c.DBPath() != "var/pension.db" {
			t.Errorf("defaults: %+v", c)
		}
	})
	t.Run("devrun's flags", func(t *testing.T) {
		c, err := ParseConfig([]string{"--grpc-addr", "127.0.0.1:9103", "--admin-addr", "127.0.0.1:9203", "--data-dir", "/d",
			"--token-key", "/d/dev-signing.key", "--id-key", "/d/dev-id.key", "--registry-addr", "127.0.0.1:9101", "--log-format", "console"})
		if err != nil || c.DBPath() != "/d/pension.db" || c.Server.LogFormat != "console" {
			t.Errorf("ParseConfig = %+v, %v", c, err)
		}
	})
	t.Run("environment", func(t *testing.T) {
		t.Setenv("PENSION_AMOUNT_DROP_SHARE", "0.3")
		t.Setenv("PENSION_AUDIT_DURABLE_READS", "false")
		c, err := ParseConfig(base)
		if err != nil || c.AmountDropShare != 0.3 || c.AuditDurableReads {
			t.Errorf("ParseConfig = %+v, %v", c, err)
		}
	})
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no keys", nil, "--token-key is required"},
		{"share too big", append(base, "--amount-drop-share", "1"), "--amount-drop-share"},
		{"share zero", append(base, "--amount-drop-share", "0"), "--amount-drop-share"},
		{"no records", append(base, "--max-stream-records", "0"), "--max-stream-records"},
		{"no registry", append(base, "--registry-addr", ""), "--registry-addr"},
		// The flags every service shares, checked by grpcserver.Flags.
		{"no gRPC address", append(base, "--grpc-addr", ""), "--grpc-addr is required"},
		{"admin on the gRPC address", append(base, "--admin-addr", "127.0.0.1:9103"), "--admin-addr must differ from --grpc-addr"},
		{"unknown log format", append(base, "--log-format", "xml"), "--log-format must be json or console"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseConfig(tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseConfig(%q) = %v, want an error about %s", tc.args, err, tc.want)
			}
		})
	}
	if _, err := ParseConfig([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: %v", err)
	}
}
