package main

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

func TestStackProcs(t *testing.T) {
	cfg := config{BinDir: "/opt/bin", DataDir: "/srv/var"}
	// Every service serves mutual TLS with its own certificate.
	serves := func(name string) []string {
		return []string{"--tls-cert", "/srv/var/tls/" + name + ".crt", "--tls-key", "/srv/var/tls/" + name + ".key", "--tls-client-ca", "/srv/var/tls/ca.crt"}
	}
	registryArgs := slices.Concat([]string{
		"--grpc-addr", "127.0.0.1:9101", "--admin-addr", "127.0.0.1:9201", "--data-dir", "/srv/var",
		"--token-key", "/srv/var/dev-signing.key"}, serves("registry"), []string{
		"--id-key", "/srv/var/dev-id.key", "--audit-key", "/srv/var/dev-audit-registry.key", "--data-key", "/srv/var/dev-data.key",
		"--log-format", "console",
	})
	gatewayTLS := []string{"--tls-ca", "/srv/var/tls/ca.crt", "--tls-client-cert", "/srv/var/tls/gateway.crt", "--tls-client-key", "/srv/var/tls/gateway.key"}
	type want struct {
		name string
		path string
		args []string
	}
	for _, tc := range []struct {
		name     string
		programs []string
		want     []want
		wantErr  string
	}{
		{
			name:     "registry and gateway only",
			programs: []string{"registry", "gateway", "socmgmt"},
			want: []want{
				{"registry", "/opt/bin/registry", registryArgs},
				{"gateway", "/opt/bin/gateway", slices.Concat([]string{
					"--http-addr", "127.0.0.1:8080", "--registry-addr", "127.0.0.1:9101",
					"--admin-addr", "127.0.0.1:9200", "--token-key", "/srv/var/dev-signing.key"}, gatewayTLS, []string{"--log-format", "console", "--dev-identities", "/srv/var/dev-identities.json"})},
			},
		},
		{
			name:     "the whole stack",
			programs: []string{"registry", "handover", "pension", "activity", "casework", "gateway"},
			want: []want{
				{"registry", "/opt/bin/registry", registryArgs},
				{"handover", "/opt/bin/handover", slices.Concat([]string{
					"--grpc-addr", "127.0.0.1:9102", "--admin-addr", "127.0.0.1:9202", "--data-dir", "/srv/var",
					"--token-key", "/srv/var/dev-signing.key"}, serves("handover"), []string{
					"--registry-addr", "127.0.0.1:9101", "--activity-addr", "127.0.0.1:9104", "--tls-ca", "/srv/var/tls/ca.crt", "--log-format", "console",
				})},
				{"pension", "/opt/bin/pension", slices.Concat([]string{
					"--grpc-addr", "127.0.0.1:9103", "--admin-addr", "127.0.0.1:9203", "--data-dir", "/srv/var",
					"--token-key", "/srv/var/dev-signing.key"}, serves("pension"), []string{"--id-key", "/srv/var/dev-id.key",
					"--audit-key", "/srv/var/dev-audit-pension.key", "--data-key", "/srv/var/dev-data.key",
					"--registry-addr", "127.0.0.1:9101", "--tls-ca", "/srv/var/tls/ca.crt", "--log-format", "console",
				})},
				{"activity", "/opt/bin/activity", slices.Concat([]string{
					"--grpc-addr", "127.0.0.1:9104", "--admin-addr", "127.0.0.1:9204", "--data-dir", "/srv/var",
					"--token-key", "/srv/var/dev-signing.key"}, serves("activity"), []string{
					"--audit-key", "/srv/var/dev-audit-activity.key",
					"--registry-addr", "127.0.0.1:9101", "--tls-ca", "/srv/var/tls/ca.crt", "--log-format", "console",
				})},
				{"casework", "/opt/bin/casework", slices.Concat([]string{
					"--grpc-addr", "127.0.0.1:9105", "--admin-addr", "127.0.0.1:9205", "--data-dir", "/srv/var",
					"--token-key", "/srv/var/dev-signing.key"}, serves("casework"), []string{
					"--audit-key", "/srv/var/dev-audit-casework.key",
					"--registry-addr", "127.0.0.1:9101", "--pension-addr", "127.0.0.1:9103", "--handover-addr", "127.0.0.1:9102",
					"--activity-addr", "127.0.0.1:9104", "--tls-ca", "/srv/var/tls/ca.crt",
					"--sms-file", "/srv/var/casework-sms.jsonl", "--log-format", "console",
				})},
				{"gateway", "/opt/bin/gateway", slices.Concat([]string{
					"--http-addr", "127.0.0.1:8080", "--registry-addr", "127.0.0.1:9101",
					"--handover-addr", "127.0.0.1:9102", "--pension-addr", "127.0.0.1:9103", "--activity-addr", "127.0.0.1:9104",
					"--casework-addr", "127.0.0.1:9105", "--admin-addr", "127.0.0.1:9200", "--token-key", "/srv/var/dev-signing.key"}, gatewayTLS, []string{"--log-format", "console", "--dev-identities", "/srv/var/dev-identities.json"})},
			},
		},
		{
			name:     "handover without activity",
			programs: []string{"registry", "handover", "gateway"},
			want: []want{
				{"registry", "/opt/bin/registry", registryArgs},
				{"handover", "/opt/bin/handover", slices.Concat([]string{
					"--grpc-addr", "127.0.0.1:9102", "--admin-addr", "127.0.0.1:9202", "--data-dir", "/srv/var",
					"--token-key", "/srv/var/dev-signing.key"}, serves("handover"), []string{
					"--registry-addr", "127.0.0.1:9101", "--tls-ca", "/srv/var/tls/ca.crt", "--log-format", "console",
				})},
				{"gateway", "/opt/bin/gateway", slices.Concat([]string{
					"--http-addr", "127.0.0.1:8080", "--registry-addr", "127.0.0.1:9101", "--handover-addr", "127.0.0.1:9102",
					"--admin-addr", "127.0.0.1:9200", "--token-key", "/srv/var/dev-signing.key"}, gatewayTLS, []string{"--log-format", "console", "--dev-identities", "/srv/var/dev-identities.json"})},
			},
		},
		{name: "no registry", programs: []string{"gateway", "pension"}, wantErr: "/opt/bin/registry not found: build the programs first (make build)"},
		{name: "no gateway", programs: []string{"registry"}, wantErr: "/opt/bin/gateway not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exists := func(path string) bool {
				for _, p := range tc.programs {
					if path == filepath.Join(cfg.BinDir, p) {
						return true
					}
				}
				return false
			}
			procs, err := stackProcs(cfg, exists)
			if !errorMatches(err, tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			var got []want
			for _, p := range procs {
				got = append(got, want{p.name, p.path, p.args})
				if p.health == nil {
					t.Errorf("%s has no health check", p.name)
				}
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("processes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIsProgram(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "registry")
	plain := filepath.Join(dir, "README")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(plain, []byte("text"), 0o644); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]bool{exe: true, plain: false, dir: false, filepath.Join(dir, "none"): false} {
		if got := isProgram(path); got != want {
			t.Errorf("isProgram(%s) = %v, want %v", path, got, want)
		}
	}
}

func TestParseConfig(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		want    config
		wantErr string
	}{
		{name: "defaults", want: config{BinDir: "./bin", DataDir: "./var", StartTimeout: 30 * time.Second, StopTimeout: 15 * time.Second}},
		{
			name: "as make run calls it",
			args: []string{"--bin", "/w/bin", "--data-dir", "/w/var"},
			want: config{BinDir: "/w/bin", DataDir: "/w/var", StartTimeout: 30 * time.Second, StopTimeout: 15 * time.Second},
		},
		{name: "stray argument", args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{name: "empty data dir", args: []string{"--data-dir", ""}, wantErr: "--data-dir"},
		{name: "zero stop timeout", args: []string{"--stop-timeout", "0s"}, wantErr: "--stop-timeout"},
		{name: "unknown flag", args: []string{"--port", "1"}, wantErr: "flag provided but not defined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			got, err := parseConfig(tc.args, &out)
			if !errorMatches(err, tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}

	var out bytes.Buffer
	if _, err := parseConfig([]string{"--help"}, &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("--help: err = %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(out.String(), "make run") || !strings.Contains(out.String(), "-data-dir") {
		t.Errorf("--help output lacks the description or the flags:\n%s", out.String())
	}
}

func TestPrepareDataDir(t *testing.T) {
	cfg := config{DataDir: filepath.Join(t.TempDir(), "var")}
	var logged []string
	logf := func(format string, args ...any) { logged = append(logged, format) }

	if err := prepareDataDir(cfg, []string{"registry", "cli"}, logf); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o700 {
		t.Errorf("data directory mode %v, want 0700", perm)
	}
	signing, err := os.ReadFile(filepath.Join(cfg.DataDir, signingKeyName))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{idKeyName, dataKeyName, auditKeyName("registry"), auditKeyName("pension"), auditKeyName("activity"), auditKeyName("casework")} {
		if fi, err := os.Stat(filepath.Join(cfg.DataDir, name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want a file of mode 0600", name, fi, err)
		}
	}
	if len(logged) != 8 {
		t.Errorf("logged %q, want the creation of seven keys and of the certificates", logged)
	}
	tls := cfg.tlsDir()
	if _, err := (tlsfiles.Client{CAFile: tls.CA(), CertFile: tls.Cert("cli"), KeyFile: tls.Key("cli")}).Config(); err != nil {
		t.Errorf("the cli certificate: %v", err)
	}
	if _, err := (tlsfiles.Server{CertFile: tls.Cert("registry"), KeyFile: tls.Key("registry"), ClientCAFile: tls.CA()}).Config(); err != nil {
		t.Errorf("registry's certificate: %v", err)
	}
	certBefore, err := os.ReadFile(tls.Cert("registry"))
	if err != nil {
		t.Fatal(err)
	}

	// A second start keeps the keys: tokens minted before stay valid.
	logged = nil
	if err := prepareDataDir(cfg, []string{"registry", "cli"}, logf); err != nil {
		t.Fatal(err)
	}
	certAfter, err := os.ReadFile(tls.Cert("registry"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(certBefore, certAfter) {
		t.Error("registry's certificate changed on the second start")
	}
	again, err := os.ReadFile(filepath.Join(cfg.DataDir, signingKeyName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(signing, again) {
		t.Error("the signing key changed on the second start")
	}
	if len(logged) != 0 {
		t.Errorf("second start logged %q, want nothing", logged)
	}
}

func TestPrintBanner(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	procs, err := stackProcs(config{BinDir: filepath.Join(wd, "bin"), DataDir: filepath.Join(wd, "var")}, func(string) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		dataDir string
		want    []string
	}{
		{"default data dir", filepath.Join(wd, "var"), []string{
			"Stack is up",
			"Console:             http://127.0.0.1:8080/\n",
			"bin/socmgmt token --key var/dev-signing.key --role admin",
			`curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8080/v1/communities`,
			"Load the demo city:  bin/socmgmt seed\n",
			".tools/bin/grpcurl -cacert var/tls/ca.crt -cert var/tls/cli.crt -key var/tls/cli.key 127.0.0.1:9101 list",
			"registry  127.0.0.1:9101 (gRPC, mutual TLS)",
			"registry  127.0.0.1:9101",
			"activity  127.0.0.1:9104",
		}},
		{"other data dir", "/elsewhere/data", []string{
			"bin/socmgmt token --key /elsewhere/data/dev-signing.key --role admin",
			"bin/socmgmt seed --key /elsewhere/data/dev-signing.key --tls-ca /elsewhere/data/tls/ca.crt --tls-cert /elsewhere/data/tls/cli.crt --tls-key /elsewhere/data/tls/cli.key\n",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			printBanner(&out, config{BinDir: filepath.Join(wd, "bin"), DataDir: tc.dataDir}, procs)
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("banner lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

func TestRunNeedsBuiltPrograms(t *testing.T) {
	var out, errOut bytes.Buffer
	dataDir := filepath.Join(t.TempDir(), "var")
	err := run(t.Context(), []string{"--bin", t.TempDir(), "--data-dir", dataDir}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "make build") {
		t.Fatalf("err = %v, want a hint to run make build", err)
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Error("the data directory was created although nothing could start")
	}
}

// errorMatches reports whether err is what a test case wants: nil when
// want is empty, else an error whose message contains want.
func errorMatches(err error, want string) bool {
	if want == "" {
		return err == nil
	}
	return err != nil && strings.Contains(err.Error(), want)
}
