package activity

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// The callers of the service tests, one per role; the clerk works for
// communityA only.
var (
	adminP      = authn.Principal{Subject: "admin-1", Role: authn.RoleAdmin}
	bureauP     = authn.Principal{Subject: "bureau-shenyang", Role: authn.RoleBureau}
	clerkP      = authn.Principal{Subject: "clerk-a", Role: authn.RoleClerk, Communities: []string{communityA}}
	enterpriseP = authn.Principal{Subject: "enterprise-x", Role: authn.RoleEnterprise, Enterprise: "91350100M000100Y43"}
	serviceP    = authn.Principal{Subject: "handover", Role: authn.RoleService}
)

// harness is an env served by the real bootstrap (grpcserver, the authn
// interceptors, Server over the store) on a bufconn listener, and a client
// of it.
type harness struct {
	*env
	signer *authn.Signer
	client pb.ActivityServiceClient
}

// newHarness serves a new env as cmd/activity does and returns a client.
func newHarness(t testing.TB) *harness {
	t.Helper()
	e := newEnv(t)
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	verifier := authn.NewVerifier(pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:   "activity",
		Logger: log,
		Unary:  []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream: []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
	})
	pb.RegisterActivityServiceServer(srv.GRPC(), NewServer(e.store, ServerOptions{Logger: log}))
	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.ServeListener(ctx, lis) }()
	conn, err := grpc.NewClient("passthrough:///activity",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Registered after newEnv's cleanup, so it runs first: the server
	// stops before the store closes.
	t.Cleanup(func() {
		conn.Close()
		cancel()
		if err := <-served; err != nil {
			t.Errorf("ServeListener: %v", err)
		}
	})
	return &harness{env: e, signer: authn.NewSigner(priv), client: pb.NewActivityServiceClient(conn)}
}

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context {
	h.t.Helper()
	tok, err := h.signer.Sign(p, time.Hour, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}
