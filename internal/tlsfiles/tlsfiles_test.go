package tlsfiles

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/devca"
)

func TestServerRegister(t *testing.T) {
	t.Parallel()
	var s Server
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	s.Register(fs, "the gRPC port")
	if err := fs.Parse([]string{"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-client-ca", "ca.pem"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(Server{CertFile: "c.pem", KeyFile: "k.pem", ClientCAFile: "ca.pem"}, s); diff != "" {
		t.Errorf("flags (-want +got):\n%s", diff)
	}
}

func TestProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		server Server
		client Client
		want   []string
	}{
		{name: "plaintext"},
		{name: "TLS", server: Server{CertFile: "c", KeyFile: "k", ClientCAFile: "ca"}, client: Client{CAFile: "ca", CertFile: "c", KeyFile: "k"}},
		{name: "a client that only verifies", client: Client{CAFile: "ca"}},
		{name: "server certificate without key", server: Server{CertFile: "c"}, want: []string{"--tls-cert and --tls-key must be given together"}},
		{name: "server key without certificate", server: Server{KeyFile: "k"}, want: []string{"--tls-cert and --tls-key must be given together"}},
		{name: "client CA over plaintext", server: Server{ClientCAFile: "ca"}, want: []string{
			"--tls-client-ca needs --tls-cert: client certificates are asked for only over TLS",
		}},
		{name: "client certificate without key or CA", client: Client{CertFile: "c"}, want: []string{
			"--tls-client-cert and --tls-client-key must be given together",
			"--tls-client-cert needs --tls-ca: a client certificate is presented only over TLS",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := append(tc.server.Problems(), tc.client.Problems("tls-ca", "tls-client-cert", "tls-client-key")...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

// TestConfigDisabled: without files there is nothing to load, and no TLS.
func TestConfigDisabled(t *testing.T) {
	t.Parallel()
	if cfg, err := (Server{}).Config(); cfg != nil || err != nil {
		t.Errorf("Server{}.Config() = %v, %v; want nil, nil", cfg, err)
	}
	if creds, err := (Client{}).Credentials(); creds != nil || err != nil {
		t.Errorf("Client{}.Credentials() = %v, %v; want nil, nil", creds, err)
	}
}

// TestConfigErrors: a file that is missing or is not what it should be
// is an error at start that names the flag, not a handshake failing later.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(t.TempDir(), "registry")
	if err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing.pem")
	tests := []struct {
		name string
		load func() error
		want string
	}{
		{"server certificate missing", func() error {
			_, err := Server{CertFile: missing, KeyFile: d.Key("registry")}.Config()
			return err
		}, "--tls-cert and --tls-key: "},
		{"server key of another certificate", func() error {
			_, err := Server{CertFile: d.Cert("registry"), KeyFile: d.Key("ca")}.Config()
			return err
		}, "--tls-cert and --tls-key: "},
		{"client CA file holding a key", func() error {
			_, err := Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.Key("registry")}.Config()
			return err
		}, "--tls-client-ca: "},
		{"server key alone", func() error {
			_, err := Server{CertFile: d.Cert("registry")}.Config()
			return err
		}, "--tls-cert and --tls-key must be given together"},
		{"CA missing", func() error {
			_, err := Client{CAFile: missing}.Config()
			return err
		}, "TLS CA: "},
		{"client key missing", func() error {
			_, err := Client{CAFile: d.CA(), CertFile: d.Cert("registry"), KeyFile: missing}.Config()
			return err
		}, "TLS client certificate: "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.load()
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want one starting %q", err, tc.want)
			}
		})
	}
	if _, err := loadPool(d.Key("registry")); !errors.Is(err, errNoCertificates) {
		t.Errorf("loadPool(a key file) = %v, want errNoCertificates", err)
	}
}

// TestMutualTLS runs a gRPC server with a certificate and a client CA and
// calls it as different clients: only one that trusts the server's CA and
// presents a certificate of the client CA gets an answer.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(filepath.Join(t.TempDir(), "stack"), "registry", "pension")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := devca.Ensure(filepath.Join(t.TempDir(), "other"), "intruder")
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHealth(t, Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.CA()})

	tests := []struct {
		name   string
		client *Client // nil: plaintext
		want   codes.Code
	}{
		{name: "a certificate of the stack's CA", client: &Client{CAFile: d.CA(), CertFile: d.Cert("pension"), KeyFile: d.Key("pension")}, want: codes.OK},
		{name: "no client certificate", client: &Client{CAFile: d.CA()}, want: codes.Unavailable},
		{name: "a certificate of another CA", client: &Client{CAFile: d.CA(), CertFile: other.Cert("intruder"), KeyFile: other.Key("intruder")}, want: codes.Unavailable},
		{name: "a client that trusts another CA", client: &Client{CAFile: other.CA(), CertFile: d.Cert("pension"), KeyFile: d.Key("pension")}, want: codes.Unavailable},
		{name: "plaintext", want: codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := status.Code(checkHealth(t, addr, tc.client)); got != tc.want {
				t.Errorf("health check: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestServerWithoutClientCA: without --tls-client-ca the server takes any
// TLS client, with or without a certificate.
func TestServerWithoutClientCA(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(t.TempDir(), "registry")
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHealth(t, Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry")})
	if err := checkHealth(t, addr, &Client{CAFile: d.CA()}); err != nil {
		t.Errorf("TLS without a client certificate: %v", err)
	}
}

// serveHealth serves the gRPC health service with s's TLS on a loopback
// port until the test ends.
func serveHealth(t *testing.T, s Server) string {
	t.Helper()
	cfg, err := s.Config()
	if err != nil {
		t.Fatal(err)
	}
	lis, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(cfg)))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// checkHealth makes one health check at addr as c (nil: plaintext) on a
// connection of its own.
func checkHealth(t *testing.T, addr string, c *Client) error {
	t.Helper()
	transport := grpc.WithTransportCredentials(insecure.NewCredentials())
	if c != nil {
		creds, err := c.Credentials()
		if err != nil {
			t.Fatal(err)
		}
		transport = grpc.WithTransportCredentials(creds)
	}
	conn, err := grpc.NewClient(addr, transport)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_, err = healthpb.NewHealthClient(conn).Check(context.Background(), &healthpb.HealthCheckRequest{})
	return err
}

// TestMinVersion: neither side agrees to anything older than TLS 1.2.
func TestMinVersion(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(t.TempDir(), "registry")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry")}.Config()
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Client{CAFile: d.CA()}.Config()
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []*tls.Config{srv, cli} {
		if cfg.MinVersion < tls.VersionTLS12 {
			t.Errorf("MinVersion %x, want at least TLS 1.2", cfg.MinVersion)
		}
	}
}

// TestAdminConfigNeedsAClientCA: an admin port over TLS without a client
// CA would admit no remote caller to its admin routes, so it is refused
// where its configuration is built; disabled TLS is no TLS.
func TestAdminConfigNeedsAClientCA(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(t.TempDir(), "registry")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry")}).AdminConfig([]string{"backup"}); err == nil {
		t.Error("an admin port over TLS without a client CA: no error")
	}
	if cfg, err := (Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.CA()}).AdminConfig([]string{"backup"}); err != nil || cfg.ClientAuth != tls.VerifyClientCertIfGiven {
		t.Errorf("with a client CA: %v, %v", cfg, err)
	}
	if cfg, err := (Server{}).AdminConfig(nil); cfg != nil || err != nil {
		t.Errorf("without TLS: %v, %v", cfg, err)
	}
}
