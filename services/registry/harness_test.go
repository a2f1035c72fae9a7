package registry

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/requestid"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The callers of the service tests, one per role; the clerk works for
// communityA only and the enterprise is enterpriseX.
var adminP, bureauP, clerkP, enterpriseP, serviceP = servicetest.Callers(communityA, enterpriseX, "handover")

// The supervisors of the fixtures' areas: streetP and districtP oversee
// communityA and communityB, streetCP and districtCP communityC.
var (
	streetP    = servicetest.Street("street-beishichang", servicetest.StreetAB)
	districtP  = servicetest.District("district-heping", servicetest.DistrictAB)
	streetCP   = servicetest.Street("street-wulihe", servicetest.StreetC)
	districtCP = servicetest.District("district-shenhe", servicetest.DistrictC)
)

// harness is a registry served by the real bootstrap (grpcserver, the authn
// interceptors, Server over a real store) on an in-memory listener, and a
// client of it.
type harness struct {
	t      testing.TB
	store  *Store
	keys   servicetest.Keys
	server *servicetest.Server
	client pb.RegistryServiceClient
	// revoked is the revocation list the server's verifier refuses and
	// RevokeToken adds to, as in cmd/registry.
	revoked *authn.Revocations
}

// harnessOptions tunes newHarness; the zero value is fine.
type harnessOptions struct {
	// keys verify tokens; new ones when zero, so that a restarted server
	// can share them with the one before.
	keys servicetest.Keys
	// shutdownTimeout bounds the graceful stop; 10 s when zero.
	shutdownTimeout time.Duration
	// limiter charges the callers' budgets, as the program does; nil
	// limits nothing.
	limiter *limits.Limiter
	// maxWatchers bounds the watches open at once; the default when zero.
	maxWatchers int
}

// newHarness serves store as cmd/registry does and returns a client. The
// server stops at the end of the test (or at h.stop), before the store is
// closed by the cleanup newTestStore registered earlier.
func newHarness(t testing.TB, store *Store, o harnessOptions) *harness {
	t.Helper()
	if o.keys.Signer == nil {
		o.keys = servicetest.NewKeys(t)
	}
	h := &harness{t: t, store: store, keys: o.keys, revoked: authn.NewRevocations()}
	tokens := authn.NewVerifier(o.keys.Public, authn.WithRevocations(h.revoked))
	h.server = servicetest.Serve(t, servicetest.Options{
		Name: "registry", Keys: o.keys, ShutdownTimeout: o.shutdownTimeout, Revocations: h.revoked, Limiter: o.limiter,
		Register: func(srv *grpcserver.Server) {
			pb.RegisterRegistryServiceServer(srv.GRPC(), NewServer(store, ServerOptions{
				Logger:      zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
				Now:         func() time.Time { return testNow },
				Stopping:    srv.Stopping(),
				Tokens:      tokens,
				MaxWatchers: o.maxWatchers,
			}))
		},
	})
	h.client = pb.NewRegistryServiceClient(h.server.Conn())
	return h
}

// newServed returns a fresh store with the fixture communities and
// enterprises, served by a harness with the default options.
func newServed(t testing.TB) (*Store, *harness) {
	t.Helper()
	s := seededStore(t, 0)
	return s, newHarness(t, s, harnessOptions{})
}

// stop shuts the server down gracefully and waits for it. Later calls do
// nothing.
func (h *harness) stop() { h.server.Stop() }

// token signs a token for p, valid for an hour from now.
func (h *harness) token(p authn.Principal) string { return h.keys.Token(h.t, p) }

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context { return h.keys.As(h.t, p) }

// withRequestID adds the request id the bootstrap records for the call:
// rid(label).
func withRequestID(ctx context.Context, label string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, requestid.Key, rid(label))
}

// rid is the request id a test sends for label: a UUID made from it, the
// shape of id the bootstrap keeps.
func rid(label string) string {
	h := sha256.Sum256([]byte(label))
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// openStoreAt opens a registry store at path; the caller closes it.
func openStoreAt(t testing.TB, path string, retention uint64) *Store {
	t.Helper()
	return openStoreClock(t, path, retention, func() time.Time { return testNow })
}

// openStoreClock is openStoreAt with the clock now.
func openStoreClock(t testing.TB, path string, retention uint64, now func() time.Time) *Store {
	t.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(path, keyer, StoreOptions{
		Retention: retention,
		Logger:    zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Now:       now,
		// The tests read the audit log right after the reads it records.
		DurableReads: true,
		Checkpoints:  audit.Checkpoints{Service: "registry", Key: servicetest.AuditKey},
		DataKeys:     servicetest.DataKeys(t),
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// seededStore returns a fresh store with the fixture communities and
// enterprises.
func seededStore(t testing.TB, retention uint64) *Store {
	t.Helper()
	s := newTestStore(t, retention)
	seedRefs(t, s)
	return s
}

// createMany stores the given new retirees concurrently (the store groups
// concurrent writes into shared transactions) and returns them as stored,
// in the order given.
func createMany(t testing.TB, s *Store, in []*pb.Retiree) []*pb.Retiree {
	t.Helper()
	const workers = 32
	out := make([]*pb.Retiree, len(in))
	ids := make([]idnumber.ID, len(in))
	for i, r := range in {
		id, err := checkNewRetiree(r, testNow)
		if err != nil {
			t.Fatalf("fixture %d: %v", i, err)
		}
		ids[i] = id
	}
	next := make(chan int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				r, err := s.CreateRetiree(in[i], ids[i], Actor{Subject: "fixture", Role: "admin"})
				if err != nil {
					errs <- err
					return
				}
				out[i] = r
			}
		}()
	}
	var failed error
feed:
	for i := range in {
		select {
		case next <- i:
		case failed = <-errs:
			break feed
		}
	}
	close(next)
	wg.Wait()
	close(errs)
	if failed == nil {
		failed = <-errs
	}
	if failed != nil {
		t.Fatalf("creating fixtures: %v", failed)
	}
	return out
}

// retirees returns the fixtures newRetiree makes for n in [from, to).
func retirees(t testing.TB, from, to int, community string, mode pb.ManagementMode) []*pb.Retiree {
	t.Helper()
	var out []*pb.Retiree
	for n := from; n < to; n++ {
		out = append(out, newRetiree(t, n, community, mode))
	}
	return out
}

// personalData are values no error may carry: ID numbers the tests use
// (valid and invalid) and the fixtures' phone number.
var personalData = []string{
	"11010519491231002X", "500105195801012713", "110105194912310021", "110105194902300020",
	"13812345678",
}

// wantStatus checks err's code and that the status (message and details)
// carries no ID number or phone number; it returns the status.
func wantStatus(t testing.TB, err error, want codes.Code, secrets ...string) *status.Status {
	t.Helper()
	return servicetest.WantCode(t, err, want, append(slices.Clone(personalData), secrets...)...)
}

// badFields returns the fields the BadRequest detail of st names, sorted.
func badFields(st *status.Status) []string { return servicetest.Fields(st) }

// wantFields checks that err is InvalidArgument naming exactly the fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	wantStatus(t, err, codes.InvalidArgument)
	servicetest.WantFields(t, err, fields...)
}

// wantReason checks err's code and ErrorInfo reason and returns the
// ErrorInfo.
func wantReason(t testing.TB, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	wantStatus(t, err, code)
	return servicetest.WantReason(t, err, code, reason)
}

// recvN receives n messages from a watch stream, failing on an error.
func recvN(t testing.TB, stream grpc.ServerStreamingClient[pb.WatchRetireesResponse], n int) []*pb.WatchRetireesResponse {
	t.Helper()
	return servicetest.RecvN(t, stream, n)
}
