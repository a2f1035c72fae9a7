package limits

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/testclock"
)

// The methods of the tests' table, one per class.
const (
	mGet    = "/test.Svc/Get"
	mList   = "/test.Svc/List"
	mRead   = "/test.Svc/Read"
	mWrite  = "/test.Svc/Write"
	mCreate = "/test.Svc/Create"
	mImport = "/test.Svc/Import"
	mOther  = "/test.Svc/Unclassed"
)

var testTable = Table{
	mGet: PersonalRead, mList: PersonalRead, mRead: Read, mWrite: Write, mCreate: WriteRevealing, mImport: Import,
}

var (
	clerk   = &authn.Principal{Subject: "clerk-1", Role: authn.RoleClerk, Communities: []string{"210102001001"}}
	clerk2  = &authn.Principal{Subject: "clerk-2", Role: authn.RoleClerk, Communities: []string{"210102001001"}}
	bureau  = &authn.Principal{Subject: "bureau-1", Role: authn.RoleBureau}
	service = &authn.Principal{Subject: "pension", Role: authn.RoleService}
)

// testConfig gives clerks small budgets and bureaus larger ones, and
// leaves every other role unlimited.
func testConfig() Config {
	return Config{Roles: map[authn.Role]RoleLimits{
		authn.RoleClerk: {
			PersonalRead: Budget{Rate: 1, Burst: 3}, Read: Budget{Rate: 1, Burst: 2},
			Write: Budget{Rate: 1, Burst: 2}, Records: 2,
		},
		authn.RoleBureau: {
			PersonalRead: Budget{Rate: 10, Burst: 30}, Read: Budget{Rate: 10, Burst: 30},
			Write: Budget{Rate: 10, Burst: 30}, Records: 100,
		},
	}}
}

type fixture struct {
	l     *Limiter
	clock *testclock.Clock
	reg   *prometheus.Registry
}

func newFixture(t *testing.T, maxCallers int) *fixture {
	t.Helper()
	clock := testclock.New(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
	reg := prometheus.NewRegistry()
	l := New(Options{Config: testConfig(), Methods: testTable, Now: clock.Now, MaxCallers: maxCallers, Registerer: reg})
	return &fixture{l: l, clock: clock, reg: reg}
}

// listRequest is a list request asking for pageSize entries.
type listRequest struct{ pageSize int32 }

func (r listRequest) GetPageSize() int32 { return r.pageSize }

// call makes a unary call of method as p through the interceptor; the
// handler answers with answer.
func (f *fixture) call(p *authn.Principal, method string, req any, answer error) error {
	ctx := context.Background()
	if p != nil {
		ctx = authn.NewContext(ctx, p)
	}
	_, err := f.l.UnaryInterceptor()(ctx, req, &grpc.UnaryServerInfo{FullMethod: method},
		func(context.Context, any) (any, error) { return "ok", answer })
	return err
}

// spend calls method as p n times, each of which must pass.
func (f *fixture) spend(t *testing.T, p *authn.Principal, method string, n int) {
	t.Helper()
	for i := range n {
		if err := f.call(p, method, nil, nil); err != nil {
			t.Fatalf("%s %s call %d of %d: %v", p.Subject, method, i+1, n, err)
		}
	}
}

// wantLimited checks that err refuses a call over budget, naming it, with
// a RetryInfo of retry.
func wantLimited(t *testing.T, err error, budget string, retry time.Duration) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("got %v, want RESOURCE_EXHAUSTED", err)
	}
	var got []string
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			got = append(got, d.GetReason()+" "+d.GetMetadata()["budget"])
		case *errdetails.RetryInfo:
			got = append(got, "retry "+d.GetRetryDelay().AsDuration().String())
		}
	}
	want := []string{ReasonRateLimited + " " + budget, "retry " + retry.String()}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
}

// TestBudgetsDoNotStarveEachOther: a clerk who spent the personal-data
// budget can still read other things and write, and the other budgets
// likewise; another clerk's budget is its own.
func TestBudgetsDoNotStarveEachOther(t *testing.T) {
	f := newFixture(t, 0)
	f.spend(t, clerk, mGet, 3)
	wantLimited(t, f.call(clerk, mGet, nil, nil), "personal", time.Second)
	f.spend(t, clerk, mRead, 2)
	wantLimited(t, f.call(clerk, mRead, nil, nil), "read", time.Second)
	f.spend(t, clerk, mWrite, 2)
	wantLimited(t, f.call(clerk, mWrite, nil, nil), "write", time.Second)
	f.spend(t, clerk2, mGet, 3)

	// A second later each bucket has one token again, and no more.
	f.clock.Set(f.clock.Now().Add(time.Second))
	for _, m := range []string{mGet, mRead, mWrite} {
		f.spend(t, clerk, m, 1)
	}
	wantLimited(t, f.call(clerk, mGet, nil, nil), "personal", time.Second)
	if got := testutil.ToFloat64(f.l.refused.WithLabelValues("personal")); got != 2 {
		t.Errorf("refused personal-data reads counted %v, want 2", got)
	}
}

// TestBudgetsPerRole: the role sizes the buckets; a role the config does
// not name, and a call without a principal, are not limited.
func TestBudgetsPerRole(t *testing.T) {
	f := newFixture(t, 0)
	f.spend(t, clerk, mGet, 3)
	wantLimited(t, f.call(clerk, mGet, nil, nil), "personal", time.Second)
	f.spend(t, bureau, mGet, 30)
	wantLimited(t, f.call(bureau, mGet, nil, nil), "personal", 100*time.Millisecond)
	f.spend(t, service, mGet, 100)
	for range 100 {
		if err := f.call(nil, mGet, nil, nil); err != nil {
			t.Fatalf("a call without a principal: %v", err)
		}
	}
	// An unclassed method costs a personal-data read.
	f.clock.Set(f.clock.Now().Add(time.Second))
	f.spend(t, clerk, mOther, 1)
	wantLimited(t, f.call(clerk, mGet, nil, nil), "personal", time.Second)
}

// TestListPageCost: a page of personal data costs a token per 50
// entries asked for, a bucket's worth at most.
func TestListPageCost(t *testing.T) {
	tests := []struct {
		name     string
		pageSize int32
		// calls is how many such pages a full bucket of 30 pays for.
		calls int
	}{
		{"default page", 0, 30},
		{"page of 50", 50, 30},
		{"page of 51", 51, 15},
		{"page of 500", 500, 3},
		{"page over the burst", 5000, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			for i := range tc.calls {
				if err := f.call(bureau, mList, listRequest{tc.pageSize}, nil); err != nil {
					t.Fatalf("page %d: %v", i+1, err)
				}
			}
			if err := f.call(bureau, mList, listRequest{tc.pageSize}, nil); status.Code(err) != codes.ResourceExhausted {
				t.Errorf("page %d = %v, want RESOURCE_EXHAUSTED", tc.calls+1, err)
			}
		})
	}
}

// TestRefusedCreateCountsAsALookup: a create refused as a duplicate
// costs a personal-data read as well as a write; with that budget spent,
// creates are refused until it refills, and a create that succeeds costs
// only a write.
func TestRefusedCreateCountsAsALookup(t *testing.T) {
	f := newFixture(t, 0)
	duplicate := status.Error(codes.AlreadyExists, "a retiree with this ID number exists")
	if err := f.call(clerk, mCreate, nil, nil); err != nil {
		t.Fatal(err)
	}
	if err := f.call(clerk, mCreate, nil, duplicate); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate create = %v, want ALREADY_EXISTS", err)
	}
	wantLimited(t, f.call(clerk, mCreate, nil, nil), "write", time.Second)
	f.spend(t, clerk, mGet, 2)
	wantLimited(t, f.call(clerk, mGet, nil, nil), "personal", time.Second)

	// The write budget has refilled; the personal one has not: refused.
	f.clock.Set(f.clock.Now().Add(2 * time.Second))
	f.spend(t, clerk, mGet, 2)
	wantLimited(t, f.call(clerk, mCreate, nil, nil), "personal", time.Second)
	// A refused create spends the token a read would have had.
	f.clock.Set(f.clock.Now().Add(time.Second))
	if err := f.call(clerk, mCreate, nil, duplicate); status.Code(err) != codes.AlreadyExists {
		t.Fatalf("duplicate create = %v, want ALREADY_EXISTS", err)
	}
	wantLimited(t, f.call(clerk, mGet, nil, nil), "personal", time.Second)
}

// TestIdleCallersAreSwept: the buckets of callers who have not called
// since theirs refilled are dropped, so that a stream of one-off callers
// does not grow the limiter; a caller with an import open stays.
func TestIdleCallersAreSwept(t *testing.T) {
	f := newFixture(t, 0)
	const callers = 2000
	for i := range callers {
		f.spend(t, &authn.Principal{Subject: fmt.Sprintf("one-off-%d", i), Role: authn.RoleClerk}, mGet, 1)
	}
	_, endImport := f.openImport(t, clerk2)
	defer endImport()
	if got := f.l.Len(); got != callers+1 {
		t.Fatalf("%d callers held, want %d", got, callers+1)
	}
	f.clock.Set(f.clock.Now().Add(sweepEvery))
	f.spend(t, clerk, mGet, 1)
	if got := f.l.Len(); got != 2 {
		t.Errorf("after the sweep %d callers held, want 2 (the one who called since, the one importing)", got)
	}
	const want = `# HELP socmgmt_rate_limit_callers Callers whose buckets are held in memory.
# TYPE socmgmt_rate_limit_callers gauge
socmgmt_rate_limit_callers 2
`
	if err := testutil.GatherAndCompare(f.reg, strings.NewReader(want), "socmgmt_rate_limit_callers"); err != nil {
		t.Error(err)
	}
}

// TestCallersBounded: however many callers there are, no more than
// MaxCallers are held; a caller whose buckets are dropped for room
// starts again with full ones.
func TestCallersBounded(t *testing.T) {
	f := newFixture(t, 10)
	for i := range 100 {
		// Each spends its whole budget, so none is idle.
		f.spend(t, &authn.Principal{Subject: fmt.Sprintf("clerk-%d", i), Role: authn.RoleClerk}, mGet, 3)
		if got := f.l.Len(); got > 10 {
			t.Fatalf("after caller %d, %d callers held, want at most 10", i, got)
		}
	}
}

// TestImportRecordsInFlight: an import stream is not charged as a call;
// its records wait for a place among the caller's records in flight,
// shared by all its streams, and the places come back as records are
// released and when a stream ends.
func TestImportRecordsInFlight(t *testing.T) {
	f := newFixture(t, 0)
	first, endFirst := f.openImport(t, clerk)
	second, endSecond := f.openImport(t, clerk)
	ctx := context.Background()
	if err := first.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := second.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	// Both places are taken: a third record waits, until its context ends.
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := second.Acquire(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("a record over the bound: %v, want to wait until cancelled", err)
	}
	// Another caller's records are its own.
	other, endOther := f.openImport(t, clerk2)
	if err := other.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	endOther()

	waiting := make(chan error, 1)
	go func() { waiting <- second.Acquire(ctx) }()
	first.Release(1)
	if err := <-waiting; err != nil {
		t.Fatalf("a record waiting for a released place: %v", err)
	}
	endSecond() // gives back its two places
	if err := first.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Acquire(ctx); err != nil {
		t.Fatal(err)
	}
	endFirst()
	if err := first.Acquire(ctx); err == nil {
		t.Error("a record acquired after its stream ended")
	}
	if n := len(f.l.callers[callerKey{authn.RoleClerk, clerk.Subject}].records); n != 0 {
		t.Errorf("%d places still taken after every stream ended", n)
	}
	// The streams cost no call: the read budget is untouched.
	f.spend(t, clerk, mRead, 2)
}

// openImport opens an import stream as p through the stream interceptor
// and returns its Records and the function that ends the stream.
func (f *fixture) openImport(t *testing.T, p *authn.Principal) (*Records, func()) {
	t.Helper()
	got := make(chan *Records)
	end := make(chan struct{})
	done := make(chan error)
	ss := &testStream{ctx: authn.NewContext(context.Background(), p)}
	go func() {
		done <- f.l.StreamInterceptor()(nil, ss, &grpc.StreamServerInfo{FullMethod: mImport}, func(_ any, s grpc.ServerStream) error {
			got <- RecordsFrom(s.Context())
			<-end
			return nil
		})
	}()
	r := <-got
	if r == nil {
		t.Fatal("an import stream without Records")
	}
	var once sync.Once
	return r, func() {
		once.Do(func() {
			close(end)
			if err := <-done; err != nil {
				t.Errorf("import stream: %v", err)
			}
		})
	}
}

// TestStreamCharged: a stream other than an import costs a call of its
// class to open.
func TestStreamCharged(t *testing.T) {
	f := newFixture(t, 0)
	open := func() error {
		ss := &testStream{ctx: authn.NewContext(context.Background(), clerk)}
		return f.l.StreamInterceptor()(nil, ss, &grpc.StreamServerInfo{FullMethod: mRead}, func(any, grpc.ServerStream) error { return nil })
	}
	for range 2 {
		if err := open(); err != nil {
			t.Fatal(err)
		}
	}
	wantLimited(t, open(), "read", time.Second)
}

// TestRecordsNil: outside a limited import, Records bounds nothing.
func TestRecordsNil(t *testing.T) {
	r := RecordsFrom(context.Background())
	if r != nil {
		t.Fatal("Records outside an import stream")
	}
	if err := r.Acquire(context.Background()); err != nil {
		t.Error(err)
	}
	r.Release(3)
}

func TestUnclassified(t *testing.T) {
	services := map[string]grpc.ServiceInfo{
		"test.Svc":                {Methods: []grpc.MethodInfo{{Name: "Get"}, {Name: "Unclassed"}, {Name: "Import"}}},
		"grpc.health.v1.Health":   {Methods: []grpc.MethodInfo{{Name: "Check"}}},
		"grpc.reflection.v1.Refl": {Methods: []grpc.MethodInfo{{Name: "Info"}}},
		"other.Svc":               {Methods: []grpc.MethodInfo{{Name: "Get"}}},
	}
	want := []string{"/other.Svc/Get", mOther}
	if diff := cmp.Diff(want, testTable.Unclassified(services)); diff != "" {
		t.Errorf("Unclassified (-want +got):\n%s", diff)
	}
}

type testStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *testStream) Context() context.Context { return s.ctx }
