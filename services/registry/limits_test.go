package registry

import (
	"context"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/limits"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func TestEveryMethodHasALimitsClass(t *testing.T) {
	servicetest.MethodsClassed(t, &pb.RegistryService_ServiceDesc, Methods)
}

// newLimited serves a seeded store behind a limiter with the default
// budgets changed by settings (the syntax of --rate-limits). Budgets of an
// hour's rate do not refill while a test runs.
func newLimited(t *testing.T, settings string) (*Store, *harness) {
	t.Helper()
	cfg := limits.DefaultConfig()
	if err := cfg.Set(settings); err != nil {
		t.Fatal(err)
	}
	s := seededStore(t, 0)
	return s, newHarness(t, s, harnessOptions{limiter: limits.New(limits.Options{Config: cfg, Methods: Methods})})
}

// wantRateLimited checks that err is a refusal for want of budget, whose
// RetryInfo asks for a wait.
func wantRateLimited(t *testing.T, err error, budget string) {
	t.Helper()
	info := servicetest.WantReason(t, err, codes.ResourceExhausted, limits.ReasonRateLimited)
	if got := info.GetMetadata()["budget"]; got != budget {
		t.Errorf("refused for the %q budget, want %q", got, budget)
	}
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			if ri.GetRetryDelay().AsDuration() <= 0 {
				t.Errorf("RetryInfo delay %v, want a wait", ri.GetRetryDelay().AsDuration())
			}
			return
		}
	}
	t.Error("no RetryInfo")
}

// TestClerkReadsLimited: a clerk's token reads only its budget of
// retirees; the reads refused are not audited, its other budgets stay
// open, and the bureau's budget is its own.
func TestClerkReadsLimited(t *testing.T) {
	t.Parallel()
	s, h := newLimited(t, "clerk.personal=1/h:3,clerk.read=1/h:5,clerk.write=1/h:5")
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	get := &pb.GetRetireeRequest{Id: r.Id}
	for i := range 3 {
		if _, err := h.client.GetRetiree(h.as(clerkP), get); err != nil {
			t.Fatalf("read %d: %v", i+1, err)
		}
	}
	_, err := h.client.GetRetiree(h.as(clerkP), get)
	wantRateLimited(t, err, "personal")
	_, err = h.client.LookupRetiree(h.as(clerkP), &pb.LookupRetireeRequest{IdNumber: r.IdNumber})
	wantRateLimited(t, err, "personal")

	if _, err := h.client.ListCommunities(h.as(clerkP), &pb.ListCommunitiesRequest{}); err != nil {
		t.Errorf("a clerk over its personal-data budget lists communities: %v", err)
	}
	if _, err := h.client.RecordDeath(h.as(clerkP), &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-03-01"}); err != nil {
		t.Errorf("a clerk over its personal-data budget writes: %v", err)
	}
	if _, err := h.client.GetRetiree(h.as(bureauP), get); err != nil {
		t.Errorf("the bureau, after the clerk's budget is spent: %v", err)
	}

	log, err := h.client.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	reads := 0
	for _, e := range log.Entries {
		if e.Subject == clerkP.Subject && (e.Action == "GetRetiree" || e.Action == "LookupRetiree") {
			reads++
		}
	}
	if reads != 3 {
		t.Errorf("the audit log has %d reads by the clerk, want the 3 answered", reads)
	}
}

// TestListPageCostsByItsSize: a page of 1,000 retirees costs twenty
// reads of one.
func TestListPageCostsByItsSize(t *testing.T) {
	t.Parallel()
	_, h := newLimited(t, "clerk.personal=1/h:30")
	list := &pb.ListRetireesRequest{CommunityId: communityA, PageSize: 1000}
	if _, err := h.client.ListRetirees(h.as(clerkP), list); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.ListRetirees(h.as(clerkP), list)
	wantRateLimited(t, err, "personal")
	for i := range 10 {
		if _, err := h.client.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{CommunityId: communityA}); err != nil {
			t.Fatalf("page of the default size %d: %v", i+1, err)
		}
	}
	_, err = h.client.ListRetirees(h.as(clerkP), &pb.ListRetireesRequest{CommunityId: communityA})
	wantRateLimited(t, err, "personal")
}

// TestDuplicateCreateSpendsPersonalBudget: an enterprise that learns
// from a 409 that an ID number is on file pays for it as for a look-up;
// once that budget is spent, its creates are refused with 429 before
// they can tell it more.
func TestDuplicateCreateSpendsPersonalBudget(t *testing.T) {
	t.Parallel()
	_, h := newLimited(t, "enterprise.personal=1/h:2,enterprise.write=1/h:10")
	create := func(n int) error {
		_, err := h.client.CreateRetiree(h.as(enterpriseP), &pb.CreateRetireeRequest{Retiree: newRetiree(t, n, communityA, pb.ManagementMode_ENTERPRISE)})
		return err
	}
	if err := create(1); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		servicetest.WantCode(t, create(1), codes.AlreadyExists)
	}
	wantRateLimited(t, create(1), "personal")
	wantRateLimited(t, create(2), "personal")
	// Its write budget is not what stopped it.
	if _, err := h.client.ListCommunities(h.as(enterpriseP), &pb.ListCommunitiesRequest{}); err != nil {
		t.Error(err)
	}
}

// TestWatchCap: registry serves at most MaxWatchers watches at once; one
// more is refused with RESOURCE_EXHAUSTED until one of them ends.
func TestWatchCap(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	h := newHarness(t, s, harnessOptions{maxWatchers: 2})
	open := func() (context.CancelFunc, error) {
		ctx, cancel := waitfor.Context(t)
		stream, err := h.client.WatchRetirees(servicetest.WithToken(ctx, h.token(serviceP)), &pb.WatchRetireesRequest{SinceRevision: 0})
		if err == nil {
			// The registry sends the headers once the watch has its place.
			_, err = stream.Header()
		}
		if err == nil {
			_, err = stream.Recv() // SNAPSHOT_END of the empty registry
		}
		return cancel, err
	}
	first, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer first()
	second, err := open()
	if err != nil {
		t.Fatal(err)
	}
	third, err := open()
	third()
	info := servicetest.WantReason(t, err, codes.ResourceExhausted, reasonTooManyWatches)
	if got := info.GetMetadata()["max_watchers"]; got != "2" {
		t.Errorf("max_watchers %q, want 2", got)
	}
	second()
	waitfor.NoError(t, "a watch to open once another closed", func(context.Context) error {
		cancel, err := open()
		if err == nil {
			t.Cleanup(cancel)
		} else {
			cancel()
		}
		return err
	})
}

// TestWatchNeedsNoBudgetBeyondItsOpening: a watch costs its consumer one
// read to open, however much it then sends.
func TestWatchNeedsNoBudgetBeyondItsOpening(t *testing.T) {
	t.Parallel()
	s, h := newLimited(t, "service.read=1/h:1")
	createMany(t, s, retirees(t, 1, watchBatch*3+1, communityA, pb.ManagementMode_COMMUNITY))
	stream, _ := h.watch(t, 0)
	got := recvN(t, stream, watchBatch*3+1)
	if last := got[len(got)-1]; last.Kind != pb.ChangeKind_SNAPSHOT_END {
		t.Errorf("last message %v, want SNAPSHOT_END", last.Kind)
	}
	ctx, cancel := context.WithTimeout(h.as(serviceP), time.Minute)
	defer cancel()
	again, err := h.client.WatchRetirees(ctx, &pb.WatchRetireesRequest{})
	if err == nil {
		_, err = again.Recv()
	}
	wantRateLimited(t, err, "read")
}
