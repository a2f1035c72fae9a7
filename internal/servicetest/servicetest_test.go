package servicetest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// helperEnv makes the test binary act as a child program instead of
// running tests; its value says how.
const helperEnv = "SERVICETEST_HELPER"

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "until-sigterm":
		// A program that serves until told to stop, and stops cleanly.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM)
		fmt.Println("started")
		<-sig
		os.Exit(0)
	case "fail":
		fmt.Println("cannot start: port taken")
		os.Exit(3)
	}
}

// whoAmI is a registry that answers GetCommunity with the caller's
// subject as the community's name.
type whoAmI struct {
	registryv1.UnimplementedRegistryServiceServer
}

func (whoAmI) GetCommunity(ctx context.Context, _ *registryv1.GetCommunityRequest) (*registryv1.GetCommunityResponse, error) {
	return &registryv1.GetCommunityResponse{Community: &registryv1.Community{Name: authn.SubjectOf(ctx)}}, nil
}

func serveWhoAmI(t *testing.T, keys servicetest.Keys, tcp bool) *servicetest.Server {
	return servicetest.Serve(t, servicetest.Options{
		Name: "registry", Keys: keys, TCP: tcp,
		Register: func(srv *grpcserver.Server) { registryv1.RegisterRegistryServiceServer(srv.GRPC(), whoAmI{}) },
	})
}

func TestServeChecksTokens(t *testing.T) {
	t.Parallel()
	keys := servicetest.NewKeys(t)
	client := registryv1.NewRegistryServiceClient(serveWhoAmI(t, keys, false).Conn())
	tests := []struct {
		name     string
		ctx      context.Context
		want     codes.Code
		wantName string
	}{
		{"admin", keys.As(t, servicetest.Admin()), codes.OK, "admin-1"},
		{"clerk", keys.As(t, servicetest.Clerk("clerk-a", servicetest.CommunityA)), codes.OK, "clerk-a"},
		{"no token", context.Background(), codes.Unauthenticated, ""},
		{"another key's token", servicetest.NewKeys(t).As(t, servicetest.Admin()), codes.Unauthenticated, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, err := client.GetCommunity(tc.ctx, &registryv1.GetCommunityRequest{Id: servicetest.CommunityA})
			if got := status.Code(err); got != tc.want {
				t.Fatalf("code = %v (%v), want %v", got, err, tc.want)
			}
			if got := resp.GetCommunity().GetName(); got != tc.wantName {
				t.Errorf("the server saw caller %q, want %q", got, tc.wantName)
			}
		})
	}
}

func TestServeWithoutKeysChecksNoTokens(t *testing.T) {
	t.Parallel()
	client := registryv1.NewRegistryServiceClient(serveWhoAmI(t, servicetest.Keys{}, false).Conn())
	if _, err := client.GetCommunity(context.Background(), &registryv1.GetCommunityRequest{}); err != nil {
		t.Errorf("a fake without keys refused a call without a token: %v", err)
	}
}

func TestServerRestarts(t *testing.T) {
	for _, tcp := range []bool{false, true} {
		t.Run(fmt.Sprintf("tcp=%v", tcp), func(t *testing.T) {
			t.Parallel()
			keys := servicetest.NewKeys(t)
			srv := serveWhoAmI(t, keys, tcp)
			addr := srv.Addr()
			client := registryv1.NewRegistryServiceClient(srv.Conn())
			ctx := keys.As(t, servicetest.Admin())
			call := func(context.Context) error {
				_, err := client.GetCommunity(ctx, &registryv1.GetCommunityRequest{})
				return err
			}
			if err := call(ctx); err != nil {
				t.Fatal(err)
			}
			srv.Stop()
			if err := call(ctx); status.Code(err) != codes.Unavailable {
				t.Errorf("call to a stopped server: %v, want Unavailable", err)
			}
			srv.Start()
			if srv.Addr() != addr {
				t.Errorf("restarted on %q, want %q", srv.Addr(), addr)
			}
			waitfor.NoError(t, "the client to reach the restarted server", call)
		})
	}
}

// recorder is a test that records its failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func TestWantCode(t *testing.T) {
	t.Parallel()
	withDetails := func(msg string, details ...*errdetails.BadRequest_FieldViolation) error {
		st, err := status.New(codes.InvalidArgument, msg).WithDetails(&errdetails.BadRequest{FieldViolations: details})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	tests := []struct {
		name    string
		err     error
		secrets []string
		fails   bool
	}{
		{"clean", withDetails("invalid request", &errdetails.BadRequest_FieldViolation{Field: "idNumber", Description: "check digit is wrong"}), nil, false},
		{"wrong code", status.Error(codes.NotFound, "retiree r-1: not found"), nil, true},
		{"ID number in the message", withDetails("no retiree 11010519491231002X"), nil, true},
		{"ID number in a detail", withDetails("invalid request", &errdetails.BadRequest_FieldViolation{Field: "idNumber", Description: "11010519491231002x is taken"}), nil, true},
		{"a secret", withDetails("phone 13812345678 is taken"), []string{"13812345678"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := &recorder{TB: t}
			servicetest.WantCode(r, tc.err, codes.InvalidArgument, tc.secrets...)
			if got := len(r.failures) > 0; got != tc.fails {
				t.Errorf("failed = %v (%q), want %v", got, r.failures, tc.fails)
			}
		})
	}
}

func TestIDNumbersAreDistinctAndValid(t *testing.T) {
	t.Parallel()
	seen := map[string]int{}
	for n := 0; n < 20_000; n++ {
		id := servicetest.IDNumber(n)
		if _, err := idnumber.Parse(id.Digits()); err != nil {
			t.Fatalf("IDNumber(%d) = %s: %v", n, id.Digits(), err)
		}
		if m, ok := seen[id.Digits()]; ok {
			t.Fatalf("IDNumber(%d) = IDNumber(%d)", n, m)
		}
		seen[id.Digits()] = n
	}
}

// helper returns a Program that runs this test binary as a child acting
// as mode says.
func helper(t *testing.T, mode string) servicetest.Program {
	return servicetest.Program{
		Name: mode, Path: os.Args[0], Env: append(os.Environ(), helperEnv+"="+mode),
		Log: filepath.Join(t.TempDir(), mode+".log"),
	}
}

func TestProcessStopsCleanly(t *testing.T) {
	t.Parallel()
	p := servicetest.Start(t, helper(t, "until-sigterm"))
	waitfor.True(t, "the helper to start", func() bool { return strings.Contains(p.Tail(), "started") })
	p.Stop(t)
	if !p.Exited() || p.Err() != nil {
		t.Errorf("after Stop: exited %v, %v", p.Exited(), p.Err())
	}
}

func TestProcessExitingIsNotReady(t *testing.T) {
	t.Parallel()
	p := servicetest.Start(t, helper(t, "fail"))
	errNotYet := errors.New("not serving yet")
	err := p.Ready(context.Background(), func(context.Context) error { return errNotYet })
	if err == nil || !strings.Contains(err.Error(), "exited during start-up") {
		t.Errorf("Ready = %v, want the exit", err)
	}
	if !strings.Contains(p.Tail(), "port taken") {
		t.Errorf("the log's tail lacks the program's words:\n%s", p.Tail())
	}
}

func TestProcessKill(t *testing.T) {
	t.Parallel()
	p := servicetest.Start(t, helper(t, "until-sigterm"))
	p.Kill()
	if !p.Exited() || p.Err() == nil {
		t.Errorf("after Kill: exited %v, %v; want an exit by signal", p.Exited(), p.Err())
	}
}

func TestFakeRegistry(t *testing.T) {
	t.Parallel()
	a := &registryv1.RetireeState{Id: "a", CommunityId: servicetest.CommunityA}
	b := &registryv1.RetireeState{Id: "b", CommunityId: servicetest.CommunityB}
	fake := servicetest.NewFakeRegistry(a)
	srv := servicetest.Serve(t, servicetest.Options{Name: "registry", Register: fake.Register})
	client := registryv1.NewRegistryServiceClient(srv.Conn())
	ctx, cancel := waitfor.Context(t)
	defer cancel()

	snapshot, err := client.WatchRetirees(ctx, &registryv1.WatchRetireesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := servicetest.RecvN(t, snapshot, 2)
	if got[0].Kind != registryv1.ChangeKind_SNAPSHOT || got[0].Retiree.Id != "a" || got[1].Kind != registryv1.ChangeKind_SNAPSHOT_END || got[1].Revision != 1 {
		t.Errorf("snapshot %v", got)
	}
	if rev := fake.Change(b, registryv1.ChangeKind_CREATED); rev != 2 {
		t.Errorf("Change = revision %d, want 2", rev)
	}
	if live := servicetest.RecvN(t, snapshot, 1)[0]; live.Revision != 2 || live.Retiree.Id != "b" {
		t.Errorf("live change %v", live)
	}

	fake.Change(a, registryv1.ChangeKind_DIED)
	servicetest.RecvN(t, snapshot, 1)
	resumed, err := client.WatchRetirees(ctx, &registryv1.WatchRetireesRequest{SinceRevision: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := servicetest.RecvN(t, resumed, 1)[0]; got.Revision != 3 || got.Kind != registryv1.ChangeKind_DIED {
		t.Errorf("resumed from 2: %v", got)
	}
	if got := fake.Sinces(); !slices.Equal(got, []int64{0, 2}) {
		t.Errorf("Sinces = %v, want [0 2]", got)
	}

	srv.Stop()
	for _, stream := range []grpc.ServerStreamingClient[registryv1.WatchRetireesResponse]{snapshot, resumed} {
		if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
			t.Errorf("stream after the stop: %v, want Unavailable", err)
		}
	}
}

func TestAllPages(t *testing.T) {
	pages := map[string]struct {
		items []int
		next  string
	}{"": {[]int{1, 2}, "b"}, "b": {[]int{3}, "c"}, "c": {nil, "d"}, "d": {[]int{4}, ""}}
	var tokens []string
	read := func(token string) ([]int, string, error) {
		tokens = append(tokens, token)
		p := pages[token]
		return p.items, p.next, nil
	}
	if got := servicetest.AllPages(t, 10, read); !slices.Equal(got, []int{1, 2, 3, 4}) {
		t.Errorf("AllPages = %v, want [1 2 3 4]", got)
	}
	if want := []string{"", "b", "c", "d"}; !slices.Equal(tokens, want) {
		t.Errorf("tokens asked for = %q, want %q", tokens, want)
	}
	if got := servicetest.AllPages(t, 4, read); len(got) != 4 {
		t.Errorf("AllPages of at most 4 pages = %v, want all 4 items", got)
	}
	// A list that has not ended by maxPages fails the test.
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		servicetest.AllPages(rec, 3, read)
	}()
	<-done
	if !rec.fatal {
		t.Error("AllPages of a list longer than maxPages did not fail the test")
	}
}

// fatalRecorder records a Fatalf and ends the goroutine, as testing.T does.
type fatalRecorder struct {
	testing.TB
	fatal bool
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(string, ...any) {
	r.fatal = true
	runtime.Goexit()
}
