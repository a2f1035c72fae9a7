package authn

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// TestDialPresentsCredentials: a service's connection carries its own
// token on every call; the gateway's (nil credentials) carries none of its
// own, only what the caller put in the context.
func TestDialPresentsCredentials(t *testing.T) {
	pub, priv := newKey(t)
	v := NewVerifier(pub)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan []string, 1)
	srv := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		seen <- md.Get(authorizationKey)
		return handler(ctx, req)
	}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	go srv.Serve(lis)
	defer srv.Stop()

	tests := []struct {
		name     string
		creds    *ServiceCredentials
		outgoing string // an authorization the caller forwards, if any
		wantRole Role   // the role the server sees; "" for no token
	}{
		{name: "a service as itself", creds: NewServiceCredentials(NewSigner(priv), "handover", time.Hour), wantRole: RoleService},
		{name: "the gateway forwarding nothing"},
		{name: "the gateway forwarding a client's token", outgoing: "Bearer " + mustSign(t, priv, Principal{Subject: "clerk", Role: RoleClerk, Communities: []string{"210102001001"}}, time.Hour, time.Now()), wantRole: RoleClerk},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var creds credentials.PerRPCCredentials
			if tc.creds != nil {
				creds = tc.creds
			}
			conn, err := Dial(lis.Addr().String(), nil, creds)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx := context.Background()
			if tc.outgoing != "" {
				ctx = metadata.AppendToOutgoingContext(ctx, authorizationKey, tc.outgoing)
			}
			if _, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatal(err)
			}
			got := <-seen
			if tc.wantRole == "" {
				if len(got) != 0 {
					t.Fatalf("authorization %q, want none", got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("authorization %q, want one", got)
			}
			tok, _ := parseBearer(got[0])
			p, err := v.Verify(tok)
			if err != nil || p.Role != tc.wantRole {
				t.Errorf("principal %+v, %v; want role %s", p, err, tc.wantRole)
			}
		})
	}
}

// TestDialBackoffIsCapped: gRPC's default backoff grows to two minutes,
// so that a client would take that long to notice a restarted service.
// The cap is configuration, checked here as such rather than by timing a
// reconnect.
func TestDialBackoffIsCapped(t *testing.T) {
	if got := reconnect.Backoff.MaxDelay; got <= 0 || got > 5*time.Second {
		t.Errorf("reconnect backoff capped at %v, want a few seconds", got)
	}
	if got := reconnect.Backoff.BaseDelay; got <= 0 || got > reconnect.Backoff.MaxDelay {
		t.Errorf("reconnect backoff starts at %v, want a positive delay below the cap", got)
	}
}

// TestDialReconnectsAfterRestart stops a server, lets the client fail a
// few calls, starts the server again on the same address and expects the
// same connection to come back by itself.
func TestDialReconnectsAfterRestart(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	serve := func(lis net.Listener) *grpc.Server {
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, health.NewServer())
		go s.Serve(lis)
		return s
	}
	srv := serve(lis)
	conn, err := Dial(addr, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	check := func(ctx context.Context) error {
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	waitfor.NoError(t, "the first health check", check)
	srv.Stop()
	for i := 0; i < 3; i++ {
		if err := check(context.Background()); err == nil {
			t.Fatal("check succeeded while the server was down")
		}
	}
	lis, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("address taken meanwhile: %v", err)
	}
	srv = serve(lis)
	defer srv.Stop()
	waitfor.NoError(t, "the connection to come back after the restart", check)
}
