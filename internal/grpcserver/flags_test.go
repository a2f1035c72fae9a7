package grpcserver

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/procflags"
)

func TestFlagsRegister(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want Flags
	}{
		{
			name: "defaults",
			want: Flags{GRPCAddr: "127.0.0.1:9101", AdminAddr: "127.0.0.1:9201", LogFormat: "json", LogLevel: "info", ShutdownTimeout: DefaultShutdownTimeout, GCPercent: procflags.DefaultGCPercent, AdminClientNames: []string{"backup"}},
		},
		{
			name: "all set",
			args: []string{"-grpc-addr=:1", "-admin-addr=", "-log-format=console", "-log-level=debug", "-shutdown-timeout=3s", "-gc-percent=150", "-admin-tls", "-admin-client-names=ops"},
			want: Flags{GRPCAddr: ":1", AdminAddr: "", LogFormat: "console", LogLevel: "debug", ShutdownTimeout: 3 * time.Second, GCPercent: 150, AdminTLS: true, AdminClientNames: []string{"ops"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := parseFlags(t, tc.args)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("flags (-want +got):\n%s", diff)
			}
		})
	}
}

// TestFlagsValidate: the shared checks are reported with the flag's name,
// each wrapping ErrInvalidOption, and the defaults pass them.
func TestFlagsValidate(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want []string // the messages, one per line; none for valid
	}{
		{name: "defaults"},
		{name: "console debug, no admin port", args: []string{"-log-format=console", "-log-level=debug", "-admin-addr="}},
		{name: "no gRPC address", args: []string{"-grpc-addr="}, want: []string{"--grpc-addr is required"}},
		{name: "admin on the gRPC address", args: []string{"-admin-addr=127.0.0.1:9101"}, want: []string{"--admin-addr must differ from --grpc-addr"}},
		{name: "admin address without port", args: []string{"-admin-addr=localhost"}, want: []string{"--admin-addr: address localhost: missing port in address"}},
		{name: "unknown log format and level", args: []string{"-log-format=xml", "-log-level=loud"}, want: []string{
			"--log-format must be json or console", "--log-level must be debug, info, warn or error",
		}},
		{name: "zero shutdown timeout", args: []string{"-shutdown-timeout=0s"}, want: []string{"--shutdown-timeout must be positive"}},
		{name: "admin port over TLS", args: []string{"-admin-tls", "-tls-cert=c.pem", "-tls-key=k.pem", "-tls-client-ca=ca.pem"}},
		{name: "admin port over TLS without a client CA", args: []string{"-admin-tls", "-tls-cert=c.pem", "-tls-key=k.pem"}, want: []string{
			"--admin-tls needs --tls-client-ca: without it no caller's certificate is asked for, and no other machine is admitted",
		}},
		{name: "admin port over TLS without a certificate", args: []string{"-admin-tls"}, want: []string{
			"--admin-tls needs --tls-cert: the admin port is served with the gRPC port's certificate",
		}},
		{name: "admin port over TLS admitting no certificate", args: []string{"-admin-tls", "-tls-cert=c.pem", "-tls-key=k.pem", "-tls-client-ca=ca.pem", "-admin-client-names= , "}, want: []string{
			"--admin-client-names is empty: --admin-tls would admit no client certificate",
		}},
		{name: "collector off", args: []string{"-gc-percent=-1"}, want: []string{"--gc-percent must not be negative (0 keeps the runtime's setting)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := parseFlags(t, tc.args)
			err := f.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidOption) {
				t.Errorf("Validate = %v, want ErrInvalidOption", err)
			}
			if err == nil {
				return
			}
			if diff := cmp.Diff(tc.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("Validate messages (-want +got):\n%s", diff)
			}
		})
	}
}

// parseFlags registers Flags with the default gRPC and admin addresses of
// a service and parses args into them.
func parseFlags(t *testing.T, args []string) Flags {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var f Flags
	f.Register(fs, "127.0.0.1:9101", "127.0.0.1:9201")
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}
