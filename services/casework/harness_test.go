package casework

import (
	"context"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/gatewaytest"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// The callers of the service tests, one per role; the clerk (clerk-a)
// works for communityA only.
var adminP, bureauP, clerkP, enterpriseP, serviceP = servicetest.Callers(communityA, servicetest.EnterpriseX, "handover")

// archivistP keeps the archives of the district of communities A and B.
var archivistP = servicetest.Archivist("archivist-heping", servicetest.DistrictAB)

// harness is an env served by the real bootstrap (grpcserver, the authn
// interceptors, Server over the store) on a loopback port, a gRPC client
// of it, and a REST gateway in front of it.
type harness struct {
	*env
	keys   servicetest.Keys
	client pb.CaseworkServiceClient
	rest   gatewaytest.Call
}

// newHarness serves a new env as cmd/casework does. The server stops
// before the env's store closes.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{env: newEnv(t), keys: servicetest.NewKeys(t)}
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "casework", Keys: h.keys, TCP: true,
		Register: func(srv *grpcserver.Server) {
			pb.RegisterCaseworkServiceServer(srv.GRPC(), NewServer(h.store, ServerOptions{
				Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
			}))
		},
	})
	h.client = pb.NewCaseworkServiceClient(srv.Conn())
	h.rest = gatewaytest.Client(t, func(c *gateway.Config) { c.CaseworkAddr = srv.Addr() })
	return h
}

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context { return h.keys.As(h.t, p) }
