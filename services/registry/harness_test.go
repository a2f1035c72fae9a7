package registry

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/requestid"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The callers of the service tests, one per role; the clerk works for
// communityA only and the enterprise is enterpriseX.
var (
	adminP      = authn.Principal{Subject: "admin-1", Role: authn.RoleAdmin}
	bureauP     = authn.Principal{Subject: "bureau-shenyang", Role: authn.RoleBureau}
	clerkP      = authn.Principal{Subject: "clerk-a", Role: authn.RoleClerk, Communities: []string{communityA}}
	enterpriseP = authn.Principal{Subject: "enterprise-x", Role: authn.RoleEnterprise, Enterprise: enterpriseX}
	serviceP    = authn.Principal{Subject: "handover", Role: authn.RoleService}
)

// keys is an Ed25519 key pair the harness verifies tokens with.
type keys struct {
	pub    ed25519.PublicKey
	signer *authn.Signer
}

func newKeys(t testing.TB) keys {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keys{pub: pub, signer: authn.NewSigner(priv)}
}

// harness is a registry served by the real bootstrap (grpcserver, the authn
// interceptors, Server over a real store) on a bufconn listener, and a
// client of it.
type harness struct {
	t      testing.TB
	store  *Store
	keys   keys
	client pb.RegistryServiceClient

	stopOnce sync.Once
	cancel   context.CancelFunc
	served   chan error
}

// harnessOptions tunes newHarness; the zero value is fine.
type harnessOptions struct {
	// keys verify tokens; new ones when zero, so that a restarted server
	// can share them with the one before.
	keys keys
	// shutdownTimeout bounds the graceful stop; 10 s when zero.
	shutdownTimeout time.Duration
}

// newHarness serves store as cmd/registry does and returns a client. The
// server stops at the end of the test (or at h.stop), before the store is
// closed by the cleanup newTestStore registered earlier.
func newHarness(t testing.TB, store *Store, o harnessOptions) *harness {
	t.Helper()
	if o.keys.signer == nil {
		o.keys = newKeys(t)
	}
	if o.shutdownTimeout == 0 {
		o.shutdownTimeout = 10 * time.Second
	}
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	verifier := authn.NewVerifier(o.keys.pub)
	srv := grpcserver.New(grpcserver.Options{
		Name:            "registry",
		Logger:          log,
		Unary:           []grpc.UnaryServerInterceptor{verifier.UnaryInterceptor()},
		Stream:          []grpc.StreamServerInterceptor{verifier.StreamInterceptor()},
		ShutdownTimeout: o.shutdownTimeout,
	})
	pb.RegisterRegistryServiceServer(srv.GRPC(), NewServer(store, ServerOptions{
		Logger:   log,
		Now:      func() time.Time { return testNow },
		Stopping: srv.Stopping(),
	}))

	lis := bufconn.Listen(1 << 20)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, store: store, keys: o.keys, cancel: cancel, served: make(chan error, 1)}
	go func() { h.served <- srv.ServeListener(ctx, lis) }()

	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	h.client = pb.NewRegistryServiceClient(conn)
	t.Cleanup(func() {
		conn.Close()
		h.stop()
	})
	return h
}

// stop shuts the server down gracefully and waits for it; it returns how
// long that took. Later calls do nothing.
func (h *harness) stop() time.Duration {
	var took time.Duration
	h.stopOnce.Do(func() {
		start := time.Now()
		h.cancel()
		if err := <-h.served; err != nil {
			h.t.Errorf("ServeListener: %v", err)
		}
		took = time.Since(start)
	})
	return took
}

// token signs a token for p, valid for an hour from now.
func (h *harness) token(p authn.Principal) string {
	h.t.Helper()
	tok, err := h.keys.signer.Sign(p, time.Hour, time.Now())
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// as returns a context whose calls carry a token for p.
func (h *harness) as(p authn.Principal) context.Context {
	h.t.Helper()
	return withToken(context.Background(), h.token(p))
}

func withToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// withRequestID adds the request id the bootstrap records for the call.
func withRequestID(ctx context.Context, id string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, requestid.Key, id)
}

// openStoreAt opens a registry store at path; the caller closes it.
func openStoreAt(t testing.TB, path string, retention uint64) *Store {
	t.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(path, keyer, StoreOptions{
		Retention: retention,
		Logger:    zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Now:       func() time.Time { return testNow },
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

// idLike matches anything shaped like an 18-character ID number.
var idLike = regexp.MustCompile(`(^|[^0-9])[0-9]{17}[0-9Xx]`)

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
	st := status.Convert(err)
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	checkNoPersonalData(t, st, secrets...)
	return st
}

func checkNoPersonalData(t testing.TB, st *status.Status, secrets ...string) {
	t.Helper()
	text := prototext.Format(st.Proto())
	for _, d := range st.Details() {
		if m, ok := d.(interface{ String() string }); ok {
			text += "\n" + m.String()
		}
	}
	for _, s := range append(slices.Clone(personalData), secrets...) {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("status carries personal data %q: %s", idnumber.Mask(s), st.Message())
		}
	}
	if idLike.MatchString(text) {
		t.Errorf("status carries something shaped like an ID number: %s", st.Message())
	}
}

// badFields returns the field names of the BadRequest detail of st.
func badFields(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	return out
}

// errorInfo returns the ErrorInfo detail of st, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// wantFields checks that err is InvalidArgument naming exactly the fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	st := wantStatus(t, err, codes.InvalidArgument)
	got := badFields(st)
	slices.Sort(got)
	want := slices.Clone(fields)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("violated fields = %q, want %q", got, want)
	}
}

// wantReason checks err's code and ErrorInfo reason and returns the
// ErrorInfo.
func wantReason(t testing.TB, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	st := wantStatus(t, err, code)
	info := errorInfo(st)
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", st.Details())
	}
	if info.Reason != reason || info.Domain != "socmgmt" {
		t.Errorf("ErrorInfo = %s/%s, want socmgmt/%s", info.Domain, info.Reason, reason)
	}
	return info
}

// recvN receives n messages from a watch stream, failing on an error.
func recvN(t testing.TB, stream grpc.ServerStreamingClient[pb.WatchRetireesResponse], n int) []*pb.WatchRetireesResponse {
	t.Helper()
	out := make([]*pb.WatchRetireesResponse, 0, n)
	for len(out) < n {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d of %d messages: %v", len(out), n, err)
		}
		out = append(out, m)
	}
	return out
}
