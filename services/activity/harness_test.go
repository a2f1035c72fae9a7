package activity

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// The callers of the service tests, one per role; the clerk works for
// communityA only.
var adminP, bureauP, clerkP, enterpriseP, serviceP = servicetest.Callers(communityA, servicetest.EnterpriseX, "handover")

// harness is an env served by the real bootstrap (grpcserver, the authn
// interceptors, Server over the store) on an in-memory listener, and a
// client of it.
type harness struct {
	*env
	keys   servicetest.Keys
	client pb.ActivityServiceClient
}

// newHarness serves a new env as cmd/activity does and returns a client.
// The server stops before the env's store closes.
func newHarness(t testing.TB) *harness {
	t.Helper()
	h := &harness{env: newEnv(t), keys: servicetest.NewKeys(t)}
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "activity", Keys: h.keys,
		Register: func(srv *grpcserver.Server) {
			pb.RegisterActivityServiceServer(srv.GRPC(), NewServer(h.store, ServerOptions{
				Logger:   zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
				Registry: h.registryClient,
			}))
		},
	})
	h.client = pb.NewActivityServiceClient(srv.Conn())
	return h
}

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context { return h.keys.As(h.t, p) }
