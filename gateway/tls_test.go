package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// startMutualTLSUpstream starts a fake upstream that requires a client
// certificate of d's CA, serving with d's certificate "registry".
func startMutualTLSUpstream(t *testing.T, d devca.Dir) *testUpstream {
	t.Helper()
	cfg, err := tlsfiles.Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.CA()}.Config()
	if err != nil {
		t.Fatal(err)
	}
	return startUpstream(t, grpc.Creds(credentials.NewTLS(cfg)))
}

// TestUpstreamMutualTLS: with --tls-ca and a client certificate the
// gateway reaches an upstream that requires mutual TLS, for health and
// REST alike; without the client certificate, or without TLS, the
// upstream is unreachable and nothing reaches it.
func TestUpstreamMutualTLS(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(filepath.Join(t.TempDir(), "tls"), "registry", "gateway")
	if err != nil {
		t.Fatal(err)
	}
	up := startMutualTLSUpstream(t, d)
	tests := []struct {
		name     string
		upstream tlsfiles.Client
		want     string
	}{
		{name: "mutual TLS", upstream: tlsfiles.Client{CAFile: d.CA(), CertFile: d.Cert("gateway"), KeyFile: d.Key("gateway")}, want: "SERVING"},
		{name: "no client certificate", upstream: tlsfiles.Client{CAFile: d.CA()}, want: "UNREACHABLE"},
		{name: "plaintext", want: "UNREACHABLE"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(up.addr)
			cfg.UpstreamTLS = tc.upstream
			_, url := startGateway(t, cfg, zaptest.NewLogger(t))
			resp := send(t, newRequest(t, http.MethodGet, url+"/healthz", "", nil))
			var got healthReport
			if err := json.Unmarshal(resp.body, &got); err != nil {
				t.Fatalf("body: %v\n%s", err, resp.body)
			}
			if diff := cmp.Diff(map[string]string{"registry": tc.want}, got.Upstreams); diff != "" {
				t.Errorf("upstreams (-want +got):\n%s", diff)
			}
			if tc.want != "SERVING" {
				return
			}
			calls := up.fake.callCount()
			sendWant(t, newRequest(t, http.MethodGet, url+"/v1/retirees/r-1", "", nil), http.StatusOK)
			if up.fake.callCount() != calls+1 {
				t.Errorf("GetRetiree did not reach the upstream over mutual TLS")
			}
		})
	}
}

// TestRunServesTLS: with --tls-cert and --tls-key the REST port speaks
// HTTPS (HTTP/2 offered), answers a plain-HTTP request 400, and the admin
// port stays plain HTTP.
func TestRunServesTLS(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(filepath.Join(t.TempDir(), "tls"), "gateway")
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.HTTPAddr, cfg.AdminAddr = freeAddr(t), freeAddr(t)
	cfg.TLS = tlsfiles.Server{CertFile: d.Cert("gateway"), KeyFile: d.Key("gateway")}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg, zaptest.NewLogger(t)) }()
	defer func() {
		cancel()
		if err := waitfor.Receive(t, "Run to return after cancel", done); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	client := httpsClient(t, d.CA())
	waitfor.NoError(t, "GET https://…/healthz", func(context.Context) error {
		resp, err := client.Get("https://" + cfg.HTTPAddr + "/healthz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 {
			return fmt.Errorf("status %d over %s, want 200 over HTTP/2", resp.StatusCode, resp.Proto)
		}
		return nil
	})
	resp, err := http.Get("http://" + cfg.HTTPAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("plain HTTP to the TLS port: status %d, want 400", resp.StatusCode)
	}
	resp, err = http.Get("http://" + cfg.AdminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin port over plain HTTP: status %d, want 200", resp.StatusCode)
	}
}

// TestNewRefusesUnusableTLSFiles: a certificate or CA that cannot be
// loaded fails New, naming the flag, rather than every request later.
func TestNewRefusesUnusableTLSFiles(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.pem")
	for name, change := range map[string]func(*Config){
		"--tls-cert": func(c *Config) { c.TLS = tlsfiles.Server{CertFile: missing, KeyFile: missing} },
		"--tls-ca":   func(c *Config) { c.UpstreamTLS = tlsfiles.Client{CAFile: missing} },
	} {
		cfg := testConfig("127.0.0.1:1")
		change(&cfg)
		_, err := New(cfg, zaptest.NewLogger(t))
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s of a missing file: New = %v, want a not-exist error naming the flag", name, err)
		}
	}
}

// httpsClient is an HTTP client that trusts the CA in caFile only.
func httpsClient(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(pem)
	transport := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}, ForceAttemptHTTP2: true}
	t.Cleanup(transport.CloseIdleConnections)
	return &http.Client{Transport: transport}
}
