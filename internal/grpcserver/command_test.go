package grpcserver

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// commandConfig is a service configuration with every shared flag.
type commandConfig struct {
	ServiceConfig
	Own int
}

func newTestCommand(c *commandConfig) *Command {
	cmd := NewCommand("pension", "The pension service.", &c.ServiceConfig, "127.0.0.1:9103", "127.0.0.1:9203")
	cmd.TokenKey("registry")
	cmd.IDKey("registry")
	cmd.RegistryAddr("whose retirees are projected")
	cmd.ServiceTokenFile("registry")
	cmd.TLSCA("registry")
	cmd.AuditDurableReads("a read")
	cmd.FlagSet().IntVar(&c.Own, "own", 7, "a flag of the service's own")
	cmd.Check("--own must be positive", func() bool { return c.Own > 0 })
	return cmd
}

func TestCommandParse(t *testing.T) {
	t.Setenv("PENSION_SERVICE_TOKEN_FILE", "/run/token")
	t.Setenv("PENSION_OWN", "8")
	t.Setenv("PENSION_TLS_CA", "ca.crt")
	t.Setenv("PENSION_RATE_LIMITS", "clerk.read=1/s:2")
	var c commandConfig
	cmd := newTestCommand(&c)
	if err := cmd.Parse([]string{"--token-key", "k.pem", "--id-key", "id.key", "--audit-durable-reads",
		"--tls-cert", "pension.crt", "--tls-key", "pension.key", "--tls-client-ca", "ca.crt"}); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Validate(); err != nil {
		t.Errorf("Validate = %v", err)
	}
	want := commandConfig{
		ServiceConfig: ServiceConfig{
			Name: "pension", DataDir: "./var", TokenKey: "k.pem", IDKey: "id.key", RegistryAddr: DefaultRegistryAddr,
			ServiceTokenFile: "/run/token", AuditDurableReads: true, TLSCA: "ca.crt",
			Tokens: authn.TokenPolicy{
				MaxLifetime: authn.DefaultMaxLifetime, MaxServiceLifetime: authn.DefaultMaxServiceLifetime,
				RevocationPoll: authn.DefaultRevocationPoll, KeyReload: authn.DefaultKeyReload,
			},
		},
		Own: 8,
	}
	want.Limits = limits.DefaultConfig()
	clerk := want.Limits.Roles[authn.RoleClerk]
	clerk.Read = limits.Budget{Rate: 1, Burst: 2}
	want.Limits.Roles[authn.RoleClerk] = clerk
	want.Server = c.Server
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if c.Server.GRPCAddr != "127.0.0.1:9103" || c.Server.AdminAddr != "127.0.0.1:9203" {
		t.Errorf("server flags %+v", c.Server)
	}
	wantTLS := tlsfiles.Server{CertFile: "pension.crt", KeyFile: "pension.key", ClientCAFile: "ca.crt"}
	if c.Server.TLS != wantTLS {
		t.Errorf("TLS %+v, want %+v", c.Server.TLS, wantTLS)
	}
	// The service calls others with its own certificate.
	if got, want := c.ClientTLS(), (tlsfiles.Client{CAFile: "ca.crt", CertFile: "pension.crt", KeyFile: "pension.key"}); got != want {
		t.Errorf("ClientTLS = %+v, want %+v", got, want)
	}
}

// TestCommandValidate: every problem at once, those of Flags first, then
// each empty required flag in the order defined, then the failed checks
// of the service's own flags, all ErrInvalidOption.
func TestCommandValidate(t *testing.T) {
	var c commandConfig
	cmd := newTestCommand(&c)
	if err := cmd.Parse([]string{"--data-dir", "", "--registry-addr", "", "--log-level", "loud", "--own", "0", "--tls-key", "k.pem",
		"--max-token-lifetime", "0", "--max-service-token-lifetime", "9000h", "--revocation-poll", "2m", "--token-key-reload", "-1s"}); err != nil {
		t.Fatal(err)
	}
	err := cmd.Validate()
	want := []string{
		"--log-level must be debug, info, warn or error",
		"--tls-cert and --tls-key must be given together",
		"--max-token-lifetime must be positive and at most 8784h0m0s",
		"--max-service-token-lifetime must be positive and at most 8784h0m0s",
		"--token-key-reload must be at most 1h (0: the default)",
		"--revocation-poll must be at most 1m (0: the default)",
		"--data-dir is required",
		"--token-key is required",
		"--id-key is required",
		"--registry-addr is required",
		"--own must be positive",
	}
	if err == nil {
		t.Fatal("Validate = nil")
	}
	if diff := cmp.Diff(want, strings.Split(err.Error(), "\n")); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !errors.Is(err, ErrInvalidOption) {
		t.Errorf("Validate = %v, want ErrInvalidOption", err)
	}
}

// TestCommandRateLimits: without --rate-limits a service has the default
// budgets, never none; a bad setting is refused naming what is wrong.
func TestCommandRateLimits(t *testing.T) {
	var c commandConfig
	if err := newTestCommand(&c).Parse(nil); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(limits.DefaultConfig(), c.Limits); diff != "" {
		t.Errorf("limits without the flag (-want +got):\n%s", diff)
	}
	cmd := newTestCommand(&commandConfig{})
	cmd.FlagSet().SetOutput(io.Discard)
	err := cmd.Parse([]string{"--rate-limits", "clerk.read=5/s:0"})
	if err == nil || !strings.Contains(err.Error(), "-rate-limits") || !strings.Contains(err.Error(), "burst: want a count between 1") {
		t.Errorf("a zero burst: %v, want an error naming the flag and the burst", err)
	}
}

func TestCommandHelp(t *testing.T) {
	var c commandConfig
	cmd := newTestCommand(&c)
	var out strings.Builder
	cmd.FlagSet().SetOutput(&out)
	if err := cmd.Parse([]string{"--help"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("--help: %v, want flag.ErrHelp", err)
	}
	for _, want := range []string{
		"Usage: pension [flags]\n\nThe pension service.\nEvery flag may also be set as PENSION_<FLAG>, e.g. PENSION_DATA_DIR.\n\n",
		"directory of pension.db",
		"verifies bearer tokens; a private key also signs the service's own tokens for registry; a directory",
		"longest lifetime (exp - iat) accepted in a token of a person's role",
		"how often registry's list of revoked tokens is read",
		"indexes ID numbers, the same as registry's (required)",
		"registry gRPC host:port whose retirees are projected",
		"service token for calls to registry (default: mint them with --token-key)",
		"answer a read only after its audit record is on disk",
		"PEM certificate chain file to serve the gRPC port with TLS",
		"CAs whose client certificates the gRPC port requires (mutual TLS; needs --tls-cert)",
		"CAs that sign registry's certificates: calls to them go over TLS, presenting --tls-cert",
		"per-caller budgets over the defaults",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, out.String())
		}
	}
}
