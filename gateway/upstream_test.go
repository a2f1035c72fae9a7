package gateway

import (
	"context"
	"crypto/ed25519"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// stalledGRPC is a gRPC server that accepts every call and never answers
// it: a service that is alive but stuck (a stalled disk, a deadlock).
func stalledGRPC(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		<-stream.Context().Done()
		return stream.Context().Err()
	}))
	go srv.Serve(lis) //nolint:errcheck // ends with Stop
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// stalledTCP accepts connections and never says a word: not even the
// HTTP/2 handshake completes.
func stalledTCP(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// TestStalledUpstreamIs504: a call to an upstream that does not answer
// ends at --upstream-timeout with 504, Retry-After and a status body, not
// when the client or the write timeout gives up.
func TestStalledUpstreamIs504(t *testing.T) {
	t.Parallel()
	for name, start := range map[string]func(*testing.T) string{
		"gRPC server that never answers": stalledGRPC,
		"listener that never speaks":     stalledTCP,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(start(t))
			cfg.UpstreamTimeout = 300 * time.Millisecond
			_, url := startGateway(t, cfg, zaptest.NewLogger(t))
			ctx, cancel := waitfor.Context(t)
			defer cancel()
			req := newRequest(t, http.MethodGet, url+"/v1/communities/210102001001", "", map[string]string{"Authorization": "Bearer x.y.z"})
			resp := sendWant(t, req.WithContext(ctx), http.StatusGatewayTimeout)
			if got := resp.header.Get("Retry-After"); got != "1" {
				t.Errorf("Retry-After = %q, want 1 (the timeout in whole seconds)", got)
			}
			st := decodeStatus(t, resp.body)
			if st.Code != codes.DeadlineExceeded || !strings.Contains(st.Message, "did not answer in time") {
				t.Errorf("status %v %q, want DeadlineExceeded saying the service did not answer in time", st.Code, st.Message)
			}
			if got := resp.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
		})
	}
}

// TestAPIAnswersAreNoStore: every answer of the API, data or error, is
// Cache-Control: no-store; the OpenAPI document, which carries no
// personal data, is not. (/healthz chooses its own: a probe must not be
// answered from a cache.)
func TestAPIAnswersAreNoStore(t *testing.T) {
	t.Parallel()
	_, url := startBehindGateway(t)
	auth := map[string]string{"Authorization": "Bearer x.y.z"}
	tests := []struct {
		method, path, body string
		noStore            bool
	}{
		{http.MethodGet, "/v1/retirees/r-1", "", true},
		{http.MethodGet, "/v1/retirees/code-5", "", true},
		{http.MethodPost, "/v1/retirees:lookup", `{"idNumber":"11010519491231002X"}`, true},
		{http.MethodGet, "/v1/no/such/route", "", true},
		{http.MethodGet, "/openapi.json", "", false},
	}
	for _, tc := range tests {
		resp := send(t, newRequest(t, tc.method, url+tc.path, tc.body, auth))
		got := resp.header.Get("Cache-Control")
		if tc.noStore && got != "no-store" {
			t.Errorf("%s %s (%d): Cache-Control %q, want no-store", tc.method, tc.path, resp.code, got)
		}
		if !tc.noStore && strings.Contains(got, "no-store") {
			t.Errorf("%s %s (%d): Cache-Control %q, want it cacheable", tc.method, tc.path, resp.code, got)
		}
	}
}

// revocationRegistry serves a revocation list, and checks that its
// callers present a service token meant for registry.
type revocationRegistry struct {
	registryv1.UnimplementedRegistryServiceServer
	verifier *authn.Verifier

	mu      sync.Mutex
	revoked []*registryv1.RevokedToken
	refused error
}

func (r *revocationRegistry) ListRevokedTokens(ctx context.Context, req *registryv1.ListRevokedTokensRequest) (*registryv1.ListRevokedTokensResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	tok, _ := authn.ParseBearer(strings.Join(md.Get("authorization"), ""))
	p, err := r.verifier.Verify(tok)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil || p.Role != authn.RoleService || p.Subject != "gateway" {
		r.refused = errors.Join(errors.New("caller refused"), err)
		return nil, status.Error(codes.Unauthenticated, "not the gateway's service token")
	}
	resp := &registryv1.ListRevokedTokensResponse{Epoch: "E"}
	for _, e := range r.revoked {
		if e.Sequence > req.AfterSequence {
			resp.RevokedTokens = append(resp.RevokedTokens, e)
		}
	}
	return resp, nil
}

// TestAdminTokensFollowRevocations: the gateway's admin port, like the
// services, refuses a token once registry lists it as revoked; it reads
// the list with a service token it mints for registry alone.
func TestAdminTokensFollowRevocations(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	reg := &revocationRegistry{verifier: authn.NewVerifier(priv.Public().(ed25519.PublicKey), authn.WithAudience(authn.ServiceAudience("registry")))}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(srv, reg)
	go srv.Serve(lis) //nolint:errcheck // ends with Stop
	t.Cleanup(srv.Stop)

	cfg := testConfig(lis.Addr().String())
	cfg.TokenKey = keyFile
	cfg.Tokens.RevocationPoll = 10 * time.Millisecond
	g, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	stop := g.startTokenTasks(t.Context())
	defer stop()

	admin, err := authn.NewSigner(priv).Issue(authn.Principal{Subject: "ops", Role: authn.RoleAdmin}, nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.adminTokens.Verify(admin.Token); err != nil {
		t.Fatalf("admin token before the revocation: %v", err)
	}
	reg.mu.Lock()
	reg.revoked = append(reg.revoked, &registryv1.RevokedToken{TokenId: admin.ID, ExpireTime: timestamppb.New(admin.Expires), Sequence: 1})
	reg.mu.Unlock()
	waitfor.True(t, "the admin port to refuse the revoked token", func() bool {
		_, err := g.adminTokens.Verify(admin.Token)
		return errors.Is(err, authn.ErrTokenRevoked)
	})
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if reg.refused != nil {
		t.Errorf("registry refused the gateway's call: %v", reg.refused)
	}
}
