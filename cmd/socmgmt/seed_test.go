package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/socmgmt/socmgmt/internal/authn"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// fakeRegistry keeps what a seed creates in memory and enforces the rules
// of the real registry that the seed depends on: uniqueness, references
// that must exist, and deaths only of the living.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer

	mu          sync.Mutex
	communities map[string]*registryv1.Community
	enterprises map[string]*registryv1.Enterprise
	retirees    map[string]*registryv1.Retiree // by id
	byIDNumber  map[string]string
	// reports are the death reports, by id (seed_deaths_test.go).
	reports map[string]*registryv1.DeathReport
	// lapsed are the transfers proposed on paper, which the fake records
	// as lapsed without moving anyone.
	lapsed []*registryv1.Transfer
	// reject makes CreateRetiree fail for these names.
	reject map[string]bool
	// calls counts the calls of each method that passed authentication.
	calls map[string]int
	// attempts counts every call, before authentication.
	attempts atomic.Int64
}

func newFakeRegistry() *fakeRegistry {
	return &fakeRegistry{
		communities: map[string]*registryv1.Community{},
		enterprises: map[string]*registryv1.Enterprise{},
		retirees:    map[string]*registryv1.Retiree{},
		byIDNumber:  map[string]string{},
		reports:     map[string]*registryv1.DeathReport{},
		reject:      map[string]bool{},
		calls:       map[string]int{},
	}
}

// call counts a call of method and holds the fake's lock until the
// returned function is called: `defer f.call("Method")()`.
func (f *fakeRegistry) call(method string) (unlock func()) {
	f.mu.Lock()
	f.calls[method]++
	return f.mu.Unlock
}

// createOnce stores a copy of m under key, as the registry creates a
// record: a second create of the same key is AlreadyExists.
func createOnce[M proto.Message](records map[string]M, key string, m M, what string) error {
	if _, ok := records[key]; ok {
		return status.Error(codes.AlreadyExists, what+" exists")
	}
	records[key] = proto.Clone(m).(M)
	return nil
}

func (f *fakeRegistry) CreateCommunity(_ context.Context, req *registryv1.CreateCommunityRequest) (*registryv1.CreateCommunityResponse, error) {
	defer f.call("CreateCommunity")()
	c := req.GetCommunity()
	if err := createOnce(f.communities, c.GetId(), c, "community"); err != nil {
		return nil, err
	}
	return &registryv1.CreateCommunityResponse{Community: c}, nil
}

func (f *fakeRegistry) CreateEnterprise(_ context.Context, req *registryv1.CreateEnterpriseRequest) (*registryv1.CreateEnterpriseResponse, error) {
	defer f.call("CreateEnterprise")()
	e := req.GetEnterprise()
	if err := createOnce(f.enterprises, e.GetCreditCode(), e, "enterprise"); err != nil {
		return nil, err
	}
	return &registryv1.CreateEnterpriseResponse{Enterprise: e}, nil
}

func (f *fakeRegistry) CreateRetiree(_ context.Context, req *registryv1.CreateRetireeRequest) (*registryv1.CreateRetireeResponse, error) {
	defer f.call("CreateRetiree")()
	r := proto.Clone(req.GetRetiree()).(*registryv1.Retiree)
	switch {
	case f.reject[r.GetName()]:
		return nil, status.Error(codes.InvalidArgument, "rejected by the test")
	case f.communities[r.GetCommunityId()] == nil:
		return nil, status.Error(codes.FailedPrecondition, "no such community")
	case f.enterprises[r.GetEnterpriseCreditCode()] == nil:
		return nil, status.Error(codes.FailedPrecondition, "no such enterprise")
	case f.byIDNumber[r.GetIdNumber()] != "":
		return nil, status.Error(codes.AlreadyExists, "retiree exists")
	}
	r.Id = fmt.Sprintf("r%06d", len(f.retirees)+1)
	r.Status = registryv1.RetireeStatus_LIVING
	f.retirees[r.Id] = r
	f.byIDNumber[r.GetIdNumber()] = r.Id
	return &registryv1.CreateRetireeResponse{Retiree: proto.Clone(r).(*registryv1.Retiree)}, nil
}

func (f *fakeRegistry) LookupRetiree(_ context.Context, req *registryv1.LookupRetireeRequest) (*registryv1.LookupRetireeResponse, error) {
	defer f.call("LookupRetiree")()
	id := f.byIDNumber[req.GetIdNumber()]
	if id == "" {
		return nil, status.Error(codes.NotFound, "no such retiree")
	}
	return &registryv1.LookupRetireeResponse{Retiree: proto.Clone(f.retirees[id]).(*registryv1.Retiree)}, nil
}

func (f *fakeRegistry) RecordDeath(_ context.Context, req *registryv1.RecordDeathRequest) (*registryv1.RecordDeathResponse, error) {
	defer f.call("RecordDeath")()
	r := f.retirees[req.GetId()]
	switch {
	case r == nil:
		return nil, status.Error(codes.NotFound, "no such retiree")
	case r.GetStatus() != registryv1.RetireeStatus_LIVING:
		return nil, status.Error(codes.FailedPrecondition, "not living")
	case req.GetDateOfDeath() < r.GetRetirementDate():
		return nil, status.Error(codes.InvalidArgument, "died before retiring")
	}
	r.Status = registryv1.RetireeStatus_DECEASED
	r.DateOfDeath = req.GetDateOfDeath()
	return &registryv1.RecordDeathResponse{Retiree: proto.Clone(r).(*registryv1.Retiree)}, nil
}

func (f *fakeRegistry) TransferRetiree(_ context.Context, req *registryv1.TransferRetireeRequest) (*registryv1.TransferRetireeResponse, error) {
	defer f.call("TransferRetiree")()
	r := f.retirees[req.GetId()]
	if r != nil && req.GetOutOfCity() {
		return f.moveOut(r, req)
	}
	switch {
	case r == nil:
		return nil, status.Error(codes.NotFound, "no such retiree")
	case f.communities[req.GetToCommunityId()] == nil:
		return nil, status.Error(codes.FailedPrecondition, "no such community")
	case req.GetToCommunityId() == r.GetCommunityId():
		return nil, status.Error(codes.FailedPrecondition, "already there")
	case req.GetReason() == "":
		return nil, status.Error(codes.InvalidArgument, "no reason")
	case req.GetProposedOn() != "":
		if req.GetProposedOn() > time.Now().AddDate(0, 0, -30).Format(dateLayout) {
			return nil, status.Error(codes.InvalidArgument, "the fake records only lapsed proposals")
		}
		t := &registryv1.Transfer{RetireeId: r.Id, FromCommunityId: r.CommunityId, ToCommunityId: req.GetToCommunityId(), State: registryv1.TransferState_LAPSED}
		f.lapsed = append(f.lapsed, t)
		return &registryv1.TransferRetireeResponse{Retiree: proto.Clone(r).(*registryv1.Retiree), Transfer: t}, nil
	}
	r.CommunityId = req.GetToCommunityId()
	return &registryv1.TransferRetireeResponse{Retiree: proto.Clone(r).(*registryv1.Retiree)}, nil
}

// ListTransfers lists the lapsed transfers out of a community, the only
// list the seed reads.
func (f *fakeRegistry) ListTransfers(_ context.Context, req *registryv1.ListTransfersRequest) (*registryv1.ListTransfersResponse, error) {
	defer f.call("ListTransfers")()
	if req.GetState() != registryv1.TransferState_LAPSED || req.GetDirection() != registryv1.TransferDirection_OUTGOING {
		return nil, status.Error(codes.Unimplemented, "the fake lists only lapsed outgoing transfers")
	}
	var out []*registryv1.Transfer
	for _, t := range f.lapsed {
		if t.FromCommunityId == req.GetCommunityId() {
			out = append(out, proto.Clone(t).(*registryv1.Transfer))
		}
	}
	return &registryv1.ListTransfersResponse{Transfers: out}, nil
}

// moveOut moves r out of the city, as the registry does for admin.
func (f *fakeRegistry) moveOut(r *registryv1.Retiree, req *registryv1.TransferRetireeRequest) (*registryv1.TransferRetireeResponse, error) {
	switch {
	case r.GetStatus() != registryv1.RetireeStatus_LIVING:
		return nil, status.Error(codes.FailedPrecondition, "not living")
	case req.GetDestination().GetDescription() == "" || req.GetToCommunityId() != "":
		return nil, status.Error(codes.InvalidArgument, "a move out of the city names a destination and no community")
	case req.GetReason() == "":
		return nil, status.Error(codes.InvalidArgument, "no reason")
	}
	r.Status = registryv1.RetireeStatus_MOVED_OUT
	r.MovedOutTo = req.GetDestination()
	return &registryv1.TransferRetireeResponse{Retiree: proto.Clone(r).(*registryv1.Retiree)}, nil
}

// ChangeRetireeStatus changes the status of a living or absent retiree,
// with the registry's date rules that the seed depends on.
func (f *fakeRegistry) ChangeRetireeStatus(_ context.Context, req *registryv1.ChangeRetireeStatusRequest) (*registryv1.ChangeRetireeStatusResponse, error) {
	defer f.call("ChangeRetireeStatus")()
	r := f.retirees[req.GetId()]
	switch {
	case r == nil:
		return nil, status.Error(codes.NotFound, "no such retiree")
	case r.GetStatus() == registryv1.RetireeStatus_DECEASED || r.GetStatus() == registryv1.RetireeStatus_MOVED_OUT:
		return nil, status.Error(codes.FailedPrecondition, "deceased or moved out")
	case r.GetStatus() == req.GetStatus():
		return nil, status.Error(codes.FailedPrecondition, "unchanged")
	case req.GetEffectiveOn() < r.GetRetirementDate() || req.GetEffectiveOn() > time.Now().Format(dateLayout):
		return nil, status.Error(codes.InvalidArgument, "effective before retiring or in the future")
	case req.GetReason() == "":
		return nil, status.Error(codes.InvalidArgument, "no reason")
	}
	r.Status, r.StatusEffectiveOn, r.StatusReason = req.GetStatus(), req.GetEffectiveOn(), req.GetReason()
	return &registryv1.ChangeRetireeStatusResponse{Retiree: proto.Clone(r).(*registryv1.Retiree)}, nil
}

// count returns the number of records in the fake, by kind.
func (f *fakeRegistry) count() (communities, enterprises, retirees, dead int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.retirees {
		if r.GetStatus() == registryv1.RetireeStatus_DECEASED {
			dead++
		}
	}
	return len(f.communities), len(f.enterprises), len(f.retirees), dead
}

// startFakeRegistry serves reg on a loopback port, authenticating with
// the public half of the key in keyFile, and returns its address and the
// health server.
func startFakeRegistry(t *testing.T, reg *fakeRegistry, pub ed25519.PublicKey) (string, *health.Server) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	v := authn.NewVerifier(pub)
	countAttempts := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		reg.attempts.Add(1)
		return handler(ctx, req)
	}
	srv := grpc.NewServer(grpc.ChainUnaryInterceptor(countAttempts, v.UnaryInterceptor()))
	registryv1.RegisterRegistryServiceServer(srv, reg)
	hs := health.NewServer()
	healthpb.RegisterHealthServer(srv, hs)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), hs
}

// newKeyFile creates a signing key in a temporary directory.
func newKeyFile(t *testing.T) (string, ed25519.PublicKey) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signing.key")
	priv, err := authn.GenerateKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, priv.Public().(ed25519.PublicKey)
}

func TestSeedCreatesCityAndRerunFindsIt(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	addr, _ := startFakeRegistry(t, reg, pub)
	cfg := seedConfig{registryAddr: addr, keyFile: keyFile, retirees: 4100, seed: 3, concurrency: 8}
	plan := mustGenerate(t, cfg.seed, cfg.retirees)

	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("first seed: %v\nprogress:\n%s", err, progress.String())
	}
	c, e, r, dead := reg.count()
	if c != len(plan.Communities) || e != len(plan.Enterprises) || r != cfg.retirees || dead != len(plan.Deaths) {
		t.Errorf("registry has %d communities, %d enterprises, %d retirees (%d dead); want %d, %d, %d (%d)",
			c, e, r, dead, len(plan.Communities), len(plan.Enterprises), cfg.retirees, len(plan.Deaths))
	}
	for _, tr := range plan.Transfers {
		id := reg.byIDNumber[plan.Retirees[tr.Index].GetIdNumber()]
		if got := reg.retirees[id].GetCommunityId(); got != tr.ToCommunity {
			t.Errorf("retiree #%d in %s, want transferred to %s", tr.Index, got, tr.ToCommunity)
		}
	}
	if got := strings.Count(progress.String(), "seed: retirees "); got != 2 {
		t.Errorf("got %d progress lines for 4100 retirees, want 2 (at 2000 and 4000):\n%s", got, progress.String())
	}
	if !strings.Contains(collapseSpaces(out.String()), fmt.Sprintf("retirees  %d  0  0", cfg.retirees)) {
		t.Errorf("summary does not report %d created retirees:\n%s", cfg.retirees, out.String())
	}
	var pending, lapsed int
	for _, p := range pickPending(plan) {
		if p.lapsed {
			lapsed++
		} else {
			pending++
		}
	}
	if pending != pendingTransfers || lapsed != lapsedTransfers {
		t.Errorf("%d transfers to leave pending and %d lapsed, want %d and %d", pending, lapsed, pendingTransfers, lapsedTransfers)
	}
	for _, want := range []string{fmt.Sprintf("pending  transfers  %d  0  0", pending), fmt.Sprintf("lapsed  transfers  %d  0  0", lapsed)} {
		if !strings.Contains(collapseSpaces(out.String()), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	// The second run finds everything and changes nothing.
	out.Reset()
	progress.Reset()
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("second seed: %v\nprogress:\n%s", err, progress.String())
	}
	if c2, e2, r2, dead2 := reg.count(); c2 != c || e2 != e || r2 != r || dead2 != dead {
		t.Errorf("second seed changed the registry: %d/%d/%d/%d, was %d/%d/%d/%d", c2, e2, r2, dead2, c, e, r, dead)
	}
	for _, want := range []string{
		fmt.Sprintf("retirees  0  %d  0", cfg.retirees),
		fmt.Sprintf("deaths  0  %d  0", len(plan.Deaths)-reportedDeaths(plan)),
		fmt.Sprintf("transfers  0  %d  0", len(plan.Transfers)),
		fmt.Sprintf("pending  transfers  0  %d  0", pending),
		fmt.Sprintf("lapsed  transfers  0  %d  0", lapsed),
	} {
		if !strings.Contains(collapseSpaces(out.String()), want) {
			t.Errorf("second summary lacks %q:\n%s", want, out.String())
		}
	}
	reg.mu.Lock()
	defer reg.mu.Unlock()
	// The first deaths are filed as reports (seed_deaths_test.go).
	if n, want := reg.calls["RecordDeath"], len(plan.Deaths)-reportedDeaths(plan); n != want {
		t.Errorf("RecordDeath called %d times over two runs, want %d", n, want)
	}
}

func TestSeedReportsFailures(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	plan := mustGenerate(t, 1, 300)
	rejected := plan.Retirees[17]
	reg.reject[rejected.GetName()] = true
	addr, _ := startFakeRegistry(t, reg, pub)

	var out, progress bytes.Buffer
	err := runSeed(t.Context(), seedConfig{registryAddr: addr, keyFile: keyFile, retirees: 300, seed: 1, concurrency: 4}, &out, &progress)
	if err == nil || !strings.Contains(err.Error(), "failed") {
		t.Fatalf("seed with a rejected retiree: err = %v, want a failure", err)
	}
	if !strings.Contains(progress.String(), "create retiree #17: InvalidArgument: rejected by the test") {
		t.Errorf("progress does not report the failure of retiree #17:\n%s", progress.String())
	}
	if strings.Contains(progress.String()+out.String()+err.Error(), rejected.GetIdNumber()) {
		t.Error("output contains an ID number")
	}
	if _, _, r, _ := reg.count(); r == 0 || r == 300 {
		t.Errorf("registry has %d retirees; want all but the rejected ones", r)
	}
}

func TestSeedAbortsOnWrongKey(t *testing.T) {
	keyFile, _ := newKeyFile(t)
	_, otherPub := newKeyFile(t)
	reg := newFakeRegistry()
	addr, _ := startFakeRegistry(t, reg, otherPub)

	var out, progress bytes.Buffer
	err := runSeed(t.Context(), seedConfig{registryAddr: addr, keyFile: keyFile, retirees: 1000, seed: 1, concurrency: 4}, &out, &progress)
	if !errors.Is(err, errAborted) || !strings.Contains(err.Error(), "--key") {
		t.Fatalf("err = %v, want an abort that names --key", err)
	}
	// The seed must stop at the first rejections, not try all 1100
	// creates; a few calls already in flight may still arrive.
	if n := reg.attempts.Load(); n == 0 || n > 20 {
		t.Errorf("%d calls reached the registry, want a handful", n)
	}
}

func TestSeedChecksReachability(t *testing.T) {
	keyFile, pub := newKeyFile(t)

	// A port nobody listens on: take one and close it.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := lis.Addr().String()
	lis.Close()

	notServingAddr, hs := startFakeRegistry(t, newFakeRegistry(), pub)
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)

	for _, tc := range []struct {
		name    string
		addr    string
		wantErr string
	}{
		{"nothing listening", deadAddr, "registry not reachable at " + deadAddr + " ("},
		{"nothing listening, told what to do", deadAddr, "): is the stack running? (make run)"},
		{"not serving", notServingAddr, "reports NOT_SERVING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := seedConfig{registryAddr: tc.addr, keyFile: keyFile, retirees: 10, seed: 1, concurrency: 1, reachTimeout: 300 * time.Millisecond}
			var out, progress bytes.Buffer
			err := runSeed(t.Context(), cfg, &out, &progress)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSeedConfigValidate(t *testing.T) {
	good := seedConfig{registryAddr: defaultRegistryAddr, keyFile: "k", retirees: 10, seed: 1, concurrency: 16}
	for _, tc := range []struct {
		name    string
		mod     func(*seedConfig)
		wantErr string
	}{
		{"good", func(*seedConfig) {}, ""},
		{"no retirees is fine", func(c *seedConfig) { c.retirees = 0 }, ""},
		{"negative retirees", func(c *seedConfig) { c.retirees = -1 }, "--retirees"},
		{"too many retirees", func(c *seedConfig) { c.retirees = maxRetirees + 1 }, "--retirees"},
		{"zero concurrency", func(c *seedConfig) { c.concurrency = 0 }, "--concurrency"},
		{"huge concurrency", func(c *seedConfig) { c.concurrency = maxConcurrency + 1 }, "--concurrency"},
		{"no key", func(c *seedConfig) { c.keyFile = "" }, "--key"},
		{"no registry", func(c *seedConfig) { c.registryAddr = "" }, "--registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.mod(&c)
			err := c.validate()
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("validate: %v, want an error about %s", err, tc.wantErr)
			}
		})
	}
}

func TestSeedCommandMissingKey(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	missing := filepath.Join(t.TempDir(), "nope.key")
	err := run(t.Context(), []string{"seed", "--key", missing}, &out, &errOut, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "signing key") {
		t.Errorf("seed with a missing key: %v, want an error about the signing key", err)
	}
}

// collapseSpaces turns runs of spaces into two, so that assertions on
// the summary table do not depend on column widths.
func collapseSpaces(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), "  ")
	}
	return strings.Join(lines, "\n")
}

// TestSeedWaitsAsRateLimitsSay: a refusal that says when to retry (the
// seed's token over its budget) is retried then, however often, by the
// connections' pacedUnary under the seeder's call; one that does not is
// retried maxAttempts times.
func TestSeedWaitsAsRateLimitsSay(t *testing.T) {
	s := &seeder{retryBase: time.Millisecond, maxAttempts: 2}
	calls := 0
	refuseFive := overBudget(t, 5, &calls)
	err := s.call(t.Context(), func(ctx context.Context) error {
		return pacedUnary(ctx, "/socmgmt.registry.v1.RegistryService/CreateRetiree", nil, nil, nil, refuseFive)
	})
	if err != nil || calls != 6 {
		t.Errorf("call = %v after %d calls, want success after 6", err, calls)
	}
	calls = 0
	err = s.call(t.Context(), func(context.Context) error {
		calls++
		return status.Error(codes.ResourceExhausted, "over a limit")
	})
	if status.Code(err) != codes.ResourceExhausted || calls != 2 {
		t.Errorf("call = %v after %d calls, want RESOURCE_EXHAUSTED after 2", err, calls)
	}
}

// overBudget is an invoker that refuses its first n calls as over the
// caller's budget, to retry a millisecond later, counting them in calls.
func overBudget(t *testing.T, n int, calls *int) grpc.UnaryInvoker {
	limited := retryAfter(t, time.Millisecond)
	return func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		if *calls++; *calls <= n {
			return limited
		}
		return nil
	}
}

// retryAfter is the refusal of a call over its caller's budget, to retry
// after d.
func retryAfter(t *testing.T, d time.Duration) error {
	st, err := status.New(codes.ResourceExhausted, "over budget").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// TestPacedUnary: every command's unary call refused as over its budget
// is sent again after the delay the refusal names, until it passes or the
// context ends; other refusals come back at once.
func TestPacedUnary(t *testing.T) {
	calls := 0
	refuseThrice := overBudget(t, 3, &calls)
	if err := pacedUnary(t.Context(), "/m", nil, nil, nil, refuseThrice); err != nil || calls != 4 {
		t.Errorf("pacedUnary = %v after %d calls, want success after 4", err, calls)
	}
	for _, refusal := range []error{status.Error(codes.ResourceExhausted, "message too large"), status.Error(codes.PermissionDenied, "no")} {
		calls = 0
		refuse := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
			calls++
			return refusal
		}
		if err := pacedUnary(t.Context(), "/m", nil, nil, nil, refuse); status.Code(err) != status.Code(refusal) || calls != 1 {
			t.Errorf("pacedUnary = %v after %d calls, want %v after 1", err, calls, refusal)
		}
	}
	// Told to wait an hour, it waits only until the context ends.
	soon, later := retryAfter(t, time.Millisecond), retryAfter(t, time.Hour)
	ctx, cancel := context.WithCancel(t.Context())
	calls = 0
	refuseAlways := func(context.Context, string, any, any, *grpc.ClientConn, ...grpc.CallOption) error {
		if calls++; calls == 2 {
			cancel()
			return later
		}
		return soon
	}
	if err := pacedUnary(ctx, "/m", nil, nil, nil, refuseAlways); status.Code(err) != codes.ResourceExhausted || calls != 2 {
		t.Errorf("pacedUnary after the context ended = %v after %d calls, want RESOURCE_EXHAUSTED after 2", err, calls)
	}
}
