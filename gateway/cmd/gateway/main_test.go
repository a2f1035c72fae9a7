package main

import (
	"bytes"
	"context"
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    func(*gateway.Config)
		wantErr error
	}{
		{name: "defaults", want: func(*gateway.Config) {}},
		{
			name: "flags",
			args: []string{"--http-addr=127.0.0.1:18080", "--pension-addr", "127.0.0.1:9103", "--max-body-bytes=2048", "--shutdown-timeout=3s", "--log-format=console"},
			want: func(c *gateway.Config) {
				c.HTTPAddr, c.PensionAddr, c.MaxBodyBytes, c.ShutdownTimeout, c.LogFormat = "127.0.0.1:18080", "127.0.0.1:9103", 2048, 3*time.Second, "console"
			},
		},
		{
			name: "environment, overridden by flags",
			env:  map[string]string{"GATEWAY_ACTIVITY_ADDR": "127.0.0.1:9104", "GATEWAY_HTTP_ADDR": "127.0.0.1:1", "GATEWAY_LOG_LEVEL": "debug"},
			args: []string{"--http-addr=127.0.0.1:2"},
			want: func(c *gateway.Config) {
				c.ActivityAddr, c.HTTPAddr, c.LogLevel = "127.0.0.1:9104", "127.0.0.1:2", "debug"
			},
		},
		{
			name: "TLS",
			env:  map[string]string{"GATEWAY_TLS_CA": "ca.crt"},
			args: []string{"--tls-cert", "gw.crt", "--tls-key", "gw.key", "--tls-client-cert", "gateway.crt", "--tls-client-key", "gateway.key"},
			want: func(c *gateway.Config) {
				c.TLS = tlsfiles.Server{CertFile: "gw.crt", KeyFile: "gw.key"}
				c.UpstreamTLS = tlsfiles.Client{CAFile: "ca.crt", CertFile: "gateway.crt", KeyFile: "gateway.key"}
			},
		},
		{name: "help", args: []string{"--help"}, wantErr: flag.ErrHelp},
		{name: "invalid", args: []string{"--log-format=xml"}, wantErr: gateway.ErrInvalidConfig},
		{name: "invalid from environment", env: map[string]string{"GATEWAY_MAX_BODY_BYTES": "-1"}, wantErr: gateway.ErrInvalidConfig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var stderr bytes.Buffer
			got, err := parseConfig(tc.args, &stderr)
			if servicetest.WantErr(t, err, tc.wantErr) {
				return
			}
			want := gateway.DefaultConfig()
			tc.want(&want)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunHelp(t *testing.T) {
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"--help"}, &stderr); err != nil {
		t.Fatalf("run --help: %v", err)
	}
	for _, want := range []string{"-registry-addr", "-max-body-bytes", "GATEWAY_"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help lacks %q:\n%s", want, stderr.String())
		}
	}
}

func TestRunRejectsArguments(t *testing.T) {
	if err := run(context.Background(), []string{"serve"}, &bytes.Buffer{}); err == nil {
		t.Error("run accepted a positional argument")
	}
}
