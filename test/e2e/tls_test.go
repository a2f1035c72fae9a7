package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// TestServicesRequireClientCertificates: with mutual TLS on, as make run
// and this stack run it, every service refuses a plaintext client, a TLS
// client without a certificate, and one whose certificate another CA
// signed, during the handshake, before any call is made; a client with a
// certificate of the stack's CA is served, and the services' own calls
// (projections, the outbox, the gateway) go through, which the other
// tests of the stack show.
func TestServicesRequireClientCertificates(t *testing.T) {
	s := startStack(t)
	other, _, err := devca.Ensure(filepath.Join(t.TempDir(), "other-ca"), "intruder")
	if err != nil {
		t.Fatal(err)
	}
	clients := []struct {
		name   string
		client *tlsfiles.Client // nil: plaintext
		want   codes.Code
	}{
		{name: "a certificate of the stack's CA", client: &tlsfiles.Client{CAFile: s.tls.CA(), CertFile: s.tls.Cert(cliCert), KeyFile: s.tls.Key(cliCert)}, want: codes.OK},
		{name: "plaintext", want: codes.Unavailable},
		{name: "no client certificate", client: &tlsfiles.Client{CAFile: s.tls.CA()}, want: codes.Unavailable},
		{name: "a certificate of another CA", client: &tlsfiles.Client{CAFile: s.tls.CA(), CertFile: other.Cert("intruder"), KeyFile: other.Key("intruder")}, want: codes.Unavailable},
	}
	services := map[string]string{"registry": s.registryAddr, "pension": s.pensionAddr, "activity": s.activityAddr, "handover": s.handoverAddr}
	for service, addr := range services {
		for _, c := range clients {
			t.Run(service+"/"+c.name, func(t *testing.T) {
				err := healthCheck(t, addr, c.client)
				if got := status.Code(err); got != c.want {
					t.Errorf("health check: %v, want %v", err, c.want)
				}
			})
		}
	}

	// Each service says in its start line that it requires client
	// certificates, so that an operator can see it.
	for name, p := range map[string]interface{ Log() string }{"registry": s.registry, "pension": s.pension, "activity": s.activity, "handover": s.handover} {
		data, err := os.ReadFile(p.Log())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), `"grpc_tls":"mutual"`) {
			t.Errorf("%s's start line does not say grpc_tls mutual", name)
		}
	}
}

// healthCheck makes one health check at addr as client (nil: plaintext)
// on a connection of its own.
func healthCheck(t *testing.T, addr string, client *tlsfiles.Client) error {
	t.Helper()
	transport := grpc.WithTransportCredentials(insecure.NewCredentials())
	if client != nil {
		creds, err := client.Credentials()
		if err != nil {
			t.Fatal(err)
		}
		transport = grpc.WithTransportCredentials(creds)
	}
	conn, err := grpc.NewClient(addr, transport)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// A refusal is immediate; the bound is for a stack gone wrong.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}
