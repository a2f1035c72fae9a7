package gateway

import (
	"errors"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // a fragment of the error, "" for valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"all upstreams", func(c *Config) {
			c.HandoverAddr, c.PensionAddr, c.ActivityAddr, c.CaseworkAddr = "127.0.0.1:9102", "127.0.0.1:9103", "127.0.0.1:9104", "127.0.0.1:9105"
		}, ""},
		{"metrics disabled", func(c *Config) { c.AdminAddr = "" }, ""},
		{"no http address", func(c *Config) { c.HTTPAddr = "" }, "--http-addr is required"},
		{"http address without port", func(c *Config) { c.HTTPAddr = "localhost" }, "--http-addr: address localhost: missing port"},
		{"admin address without port", func(c *Config) { c.AdminAddr = "localhost" }, "--admin-addr"},
		{"collector off", func(c *Config) { c.GCPercent = -1 }, "--gc-percent must not be negative"},
		{"address without port", func(c *Config) { c.RegistryAddr = "localhost" }, "--registry-addr"},
		{"port out of range", func(c *Config) { c.PensionAddr = "127.0.0.1:70000" }, "--pension-addr"},
		{"admin on the API port", func(c *Config) { c.AdminAddr = c.HTTPAddr }, "--admin-addr must differ from --http-addr"},
		{"no upstream", func(c *Config) { c.RegistryAddr = "" }, "no upstream"},
		{"zero body limit", func(c *Config) { c.MaxBodyBytes = 0 }, "--max-body-bytes"},
		{"unknown log format", func(c *Config) { c.LogFormat = "xml" }, "--log-format"},
		{"unknown log level", func(c *Config) { c.LogLevel = "loud" }, "--log-level"},
		{"zero shutdown timeout", func(c *Config) { c.ShutdownTimeout = 0 }, "--shutdown-timeout"},
		{"TLS on both sides", func(c *Config) {
			c.TLS = tlsfiles.Server{CertFile: "gw.crt", KeyFile: "gw.key"}
			c.UpstreamTLS = tlsfiles.Client{CAFile: "ca.crt", CertFile: "gateway.crt", KeyFile: "gateway.key"}
		}, ""},
		{"REST certificate without its key", func(c *Config) { c.TLS.CertFile = "gw.crt" }, "--tls-cert and --tls-key must be given together"},
		{"client CA over plain HTTP", func(c *Config) { c.TLS.ClientCAFile = "ca.crt" }, "--tls-client-ca needs --tls-cert"},
		{"client certificate without a CA", func(c *Config) {
			c.UpstreamTLS = tlsfiles.Client{CertFile: "gateway.crt", KeyFile: "gateway.key"}
		}, "--tls-client-cert needs --tls-ca"},
		{"client key without its certificate", func(c *Config) {
			c.UpstreamTLS = tlsfiles.Client{CAFile: "ca.crt", KeyFile: "gateway.key"}
		}, "--tls-client-cert and --tls-client-key must be given together"},
		{"cors origins", func(c *Config) { c.CORSOrigins = []string{"https://console.example.org", "http://127.0.0.1:5173"} }, ""},
		{"cors origin with a path", func(c *Config) { c.CORSOrigins = []string{"https://console.example.org/app"} }, "--cors-origins"},
		{"cors origin with a trailing slash", func(c *Config) { c.CORSOrigins = []string{"https://console.example.org/"} }, "--cors-origins"},
		{"cors wildcard", func(c *Config) { c.CORSOrigins = []string{"*"} }, "--cors-origins"},
		{"cors wildcard host", func(c *Config) { c.CORSOrigins = []string{"https://*.example.org"} }, "--cors-origins"},
		{"cors origin without scheme", func(c *Config) { c.CORSOrigins = []string{"console.example.org"} }, "--cors-origins"},
		{"cors origin of another scheme", func(c *Config) { c.CORSOrigins = []string{"ftp://console.example.org"} }, "--cors-origins"},
		{"no upstream timeout", func(c *Config) { c.UpstreamTimeout = 0 }, "--upstream-timeout"},
		{"upstream timeout past the write timeout", func(c *Config) { c.UpstreamTimeout = writeTimeout }, "--upstream-timeout"},
		{"token lifetime of zero", func(c *Config) { c.Tokens.MaxLifetime = 0 }, "--max-token-lifetime"},
		{"slow revocation poll", func(c *Config) { c.Tokens.RevocationPoll = time.Hour }, "--revocation-poll"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tc.change(&cfg)
			err := cfg.Validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate: %v, want ErrInvalidConfig mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestCORSOriginsFlag(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"default none", nil, nil},
		{"list", []string{"--cors-origins", "https://a.example.org, http://127.0.0.1:5173,"}, []string{"https://a.example.org", "http://127.0.0.1:5173"}},
		{"empty", []string{"--cors-origins", ""}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
			var cfg Config
			cfg.RegisterFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, cfg.CORSOrigins); diff != "" {
				t.Errorf("CORSOrigins (-want +got):\n%s", diff)
			}
		})
	}
}
