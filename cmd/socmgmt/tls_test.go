package main

import (
	"context"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// TestTLSFlags: seed and import dial with TLS by default, trusting make
// run's development CA and presenting the operator's certificate; the
// environment or the flags name other files, and --plaintext, which no
// TLS flag may accompany, turns TLS off.
func TestTLSFlags(t *testing.T) {
	makeRun := tlsfiles.Client{CAFile: defaultTLSCA, CertFile: defaultTLSCert, KeyFile: defaultTLSKey}
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		want    tlsFlags
		wantErr string
	}{
		{name: "make run's files", want: tlsFlags{Client: makeRun}},
		{name: "environment", env: map[string]string{envTLSCA: "/etc/socmgmt/ca.crt", envTLSCert: "/etc/socmgmt/op.crt", envTLSKey: "/etc/socmgmt/op.key"},
			want: tlsFlags{Client: tlsfiles.Client{CAFile: "/etc/socmgmt/ca.crt", CertFile: "/etc/socmgmt/op.crt", KeyFile: "/etc/socmgmt/op.key"}}},
		{name: "flags over environment", env: map[string]string{envTLSCA: "/etc/socmgmt/ca.crt"}, args: []string{"--tls-ca", "ca.pem"},
			want: tlsFlags{Client: tlsfiles.Client{CAFile: "ca.pem", CertFile: defaultTLSCert, KeyFile: defaultTLSKey}}},
		{name: "plaintext", args: []string{"--plaintext"}, want: tlsFlags{Client: makeRun, plaintext: true}},
		{name: "plaintext and a CA", args: []string{"--plaintext", "--tls-ca", "ca.pem"}, wantErr: "plaintext"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := env{getenv: func(k string) string { return tc.env[k] }}
			var got *tlsFlags
			seed := seedCommand(e, func(_ context.Context, cfg seedConfig, _, _ io.Writer) error {
				got = &cfg.tls
				return nil
			})
			seed.SetArgs(tc.args)
			seed.SetOut(io.Discard)
			seed.SetErr(io.Discard)
			err := seed.ExecuteContext(t.Context())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || got != nil {
					t.Fatalf("err = %v (seeded: %v), want an error about %s and no seed", err, got != nil, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, *got, cmp.AllowUnexported(tlsFlags{})); diff != "" {
				t.Errorf("seed's TLS (-want +got):\n%s", diff)
			}
			// import takes the same flags with the same defaults.
			imp := newImportKindCmd(e, paymentsImport, "", "", "")
			if err := imp.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]string{"tls-ca": tc.want.CAFile, "tls-cert": tc.want.CertFile, "tls-key": tc.want.KeyFile} {
				if got := imp.Flags().Lookup(name).Value.String(); got != want {
					t.Errorf("import --%s = %q, want %q", name, got, want)
				}
			}
		})
	}
}

// TestDialRequiredOverMutualTLS: against a service that requires client
// certificates, the CLI gets through with make run's kind of files and
// not with --plaintext; a missing CA file says what to do.
func TestDialRequiredOverMutualTLS(t *testing.T) {
	d, _, err := devca.Ensure(filepath.Join(t.TempDir(), "tls"), "registry", "cli")
	if err != nil {
		t.Fatal(err)
	}
	addr := serveMutualTLSHealth(t, d)
	ctx := t.Context()

	good := tlsFlags{Client: tlsfiles.Client{CAFile: d.CA(), CertFile: d.Cert("cli"), KeyFile: d.Key("cli")}}
	conn, err := dialRequired(ctx, "registry", addr, good, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("with the stack's certificates: %v", err)
	}
	conn.Close()

	if _, err := dialRequired(ctx, "registry", addr, tlsFlags{plaintext: true}, nil, 300*time.Millisecond); !errors.Is(err, errNotReachable) {
		t.Errorf("--plaintext against mutual TLS: %v, want not reachable", err)
	}
	missing := tlsFlags{Client: tlsfiles.Client{CAFile: filepath.Join(t.TempDir(), "ca.crt"), CertFile: d.Cert("cli"), KeyFile: d.Key("cli")}}
	if _, err := dialRequired(ctx, "registry", addr, missing, nil, time.Second); err == nil || !strings.Contains(err.Error(), "--plaintext") {
		t.Errorf("a missing CA: %v, want a hint at the flags", err)
	}
}

// serveMutualTLSHealth serves a health service that requires a client
// certificate of d's CA until the test ends.
func serveMutualTLSHealth(t *testing.T, d devca.Dir) string {
	t.Helper()
	cfg, err := tlsfiles.Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.CA()}.Config()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := new(net.ListenConfig).Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}
