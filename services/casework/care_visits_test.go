package casework

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestVisitWellAndReport: a WELL visit closes the period items begun by
// then and the crisis visit; the report counts a KEY retiree visited in
// the month and a HIGH one only when every week was.
func TestVisitWellAndReport(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	high := withFlags("张", registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_DISABLED)
	key := withFlags("李", registryv1.RetireeFlag_HARDSHIP)
	e.retirees(high, key)
	e.schedule("2026-06")
	crisis, err := e.store.ReportCrisis(key.Id, pb.CrisisKind_DISASTER, "", "", clerkActor, anyRetiree)
	if err != nil {
		t.Fatal(err)
	}
	_, prof := e.visit(key, pb.VisitOutcome_WELL, time.Hour)
	if it := e.careItems(key.Id)["visit/"+key.Id+"/2026-06"]; it.State != pb.WorkState_DONE || it.Outcome != "WELL" {
		t.Errorf("KEY item after a WELL visit: %v %q", it.State, it.Outcome)
	}
	if got := e.item(crisis.Id).State; got != pb.WorkState_DONE {
		t.Errorf("crisis visit %v, want DONE", got)
	}
	if prof.LastOutcome != pb.VisitOutcome_WELL || prof.Tier != pb.RiskTier_KEY || prof.FailedContacts != 0 {
		t.Errorf("profile %v", prof)
	}
	e.visit(high, pb.VisitOutcome_WELL, 0)
	items := e.careItems(high.Id)
	if items["visit/"+high.Id+"/2026-W25"].State != pb.WorkState_DONE || items["visit/"+high.Id+"/2026-W26"].State != pb.WorkState_OPEN {
		t.Errorf("HIGH weeks: W25 %v, W26 %v", items["visit/"+high.Id+"/2026-W25"].State, items["visit/"+high.Id+"/2026-W26"].State)
	}
	row := e.report("2026-06")
	if row.Eligible != 2 || row.VisitedAsScheduled != 1 || row.RateBasisPoints != 5000 {
		t.Errorf("June report %v, want 2 eligible, 1 visited, 5000", row)
	}
	// A visit in each of the remaining weeks, within it, completes HIGH.
	for _, week := range []int{1, 2} {
		e.clock.Set(testNow.Add(time.Duration(week) * 7 * 24 * time.Hour))
		e.visit(high, pb.VisitOutcome_WELL, 0)
	}
	if row := e.report("2026-06"); row.VisitedAsScheduled != 1 {
		t.Errorf("weeks 23 and 24 were missed: visited %d, want 1", row.VisitedAsScheduled)
	}
}

func (e *env) report(month string) *pb.VisitReportRow {
	e.t.Helper()
	rows, _, err := e.store.VisitReport(month, func(c string) bool { return c == communityA }, 10, nil)
	if err != nil || len(rows) != 1 {
		e.t.Fatalf("report: %v, %v", rows, err)
	}
	return rows[0]
}

// TestVisitOutcomes: NEEDS_HELP opens a hardship item; two NO_CONTACT in
// a row (a WELL between resets) queue LOST_CONTACT and a confirmation a
// supervisor answers; FOUND_DECEASED queues a CLERK_VISIT death report
// and cancels the visit items; a request key replays.
func TestVisitOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := withFlags("周", registryv1.RetireeFlag_EMPTY_NEST)
	e.retirees(r)
	e.schedule("2026-06")
	v, _ := e.visit(r, pb.VisitOutcome_NEEDS_HELP, 0)
	if it := e.item(v.FollowUpItemId); it.Kind != pb.WorkKind_HARDSHIP || !it.DueTime.AsTime().After(testNow.Add(48*time.Hour)) {
		t.Errorf("hardship item %v", it)
	}
	e.visit(r, pb.VisitOutcome_NO_CONTACT, 0)
	e.visit(r, pb.VisitOutcome_WELL, 0)
	_, p := e.visit(r, pb.VisitOutcome_NO_CONTACT, 0)
	if p.FailedContacts != 1 || len(e.outbox()) != 0 {
		t.Fatalf("a NO_CONTACT after WELL: %d failed, %d queued", p.FailedContacts, len(e.outbox()))
	}
	v, p = e.visit(r, pb.VisitOutcome_NO_CONTACT, 0)
	out := e.outbox()
	if p.FailedContacts != 2 || len(out) != 1 || out[0].kind != cmdStatusChange {
		t.Fatalf("second NO_CONTACT: %d failed, outbox %v", p.FailedContacts, out)
	}
	req := new(registryv1.ChangeRetireeStatusRequest)
	if err := proto.Unmarshal(out[0].payload, req); err != nil || req.Status != registryv1.RetireeStatus_LOST_CONTACT || req.EffectiveOn != "2026-06-15" || req.Reason != lostContactReason {
		t.Errorf("status change %v, %v", req, err)
	}
	confirm := e.item(v.FollowUpItemId)
	if confirm.Kind != pb.WorkKind_LOST_CONTACT_CONFIRMATION {
		t.Fatalf("follow-up %v", confirm.Kind)
	}
	_, err := e.store.Complete(confirm.Id, "", OutcomeRejected, false, clerkActor, anyone)
	wantCode(t, err, codes.PermissionDenied)
	street := Actor{Subject: "street-1", Role: "street"}
	_, err = e.store.Complete(confirm.Id, "", "MAYBE", false, street, anyone)
	wantCode(t, err, codes.InvalidArgument)
	if _, err := e.store.Complete(confirm.Id, "", OutcomeRejected, false, street, anyone); err != nil {
		t.Fatal(err)
	}
	if out := e.outbox(); len(out) != 2 || out[1].kind != cmdStatusChange {
		t.Errorf("REJECTED queued %v", out)
	}
	testFoundDeceased(t, e, r)
}

func testFoundDeceased(t *testing.T, e *env, r *registryv1.RetireeState) {
	in := &pb.Visit{RetireeId: r.Id, Method: pb.VisitMethod_HOME, Visitor: "王社工", Outcome: pb.VisitOutcome_FOUND_DECEASED, VisitTime: timestamppb.New(testNow)}
	v, _, err := e.store.RecordVisit(in, "k1", clerkActor, anyRetiree)
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := e.store.RecordVisit(in, "k1", clerkActor, anyRetiree)
	if err != nil || again.Id != v.Id || len(e.outbox()) != 3 {
		t.Errorf("replay: %v, %v, %d queued", again, err, len(e.outbox()))
	}
	in.Note = "别的"
	_, _, err = e.store.RecordVisit(in, "k1", clerkActor, anyRetiree)
	wantCode(t, err, codes.FailedPrecondition)
	out := e.outbox()
	req := new(registryv1.CreateDeathReportRequest)
	if err := proto.Unmarshal(out[2].payload, req); err != nil || req.Source != registryv1.DeathReportSource_CLERK_VISIT || req.DateOfDeath != "2026-06-15" || req.Reporter.GetName() != "王社工" {
		t.Errorf("death report %v, %v", req, err)
	}
	for _, it := range e.careItems(r.Id) {
		if isVisitKind(it.Kind) && it.State == pb.WorkState_OPEN {
			t.Errorf("visit item %s still open", it.SourceKey)
		}
	}
}

// fakeRegistry answers the care outbox's calls: fails first times with
// Unavailable, then answers as told.
type fakeRegistry struct {
	registryv1.RegistryServiceClient
	mu       sync.Mutex
	fail     int
	answer   map[string]error
	calls    []string
	reportID string
}

func (f *fakeRegistry) next(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, name)
	if f.fail > 0 {
		f.fail--
		return status.Error(codes.Unavailable, "registry down")
	}
	return f.answer[name]
}

func (f *fakeRegistry) CreateDeathReport(_ context.Context, req *registryv1.CreateDeathReportRequest, _ ...grpc.CallOption) (*registryv1.CreateDeathReportResponse, error) {
	if err := f.next("death"); err != nil {
		return nil, err
	}
	return &registryv1.CreateDeathReportResponse{DeathReport: &registryv1.DeathReport{Id: f.reportID, RetireeId: req.Id}}, nil
}

func (f *fakeRegistry) ChangeRetireeStatus(context.Context, *registryv1.ChangeRetireeStatusRequest, ...grpc.CallOption) (*registryv1.ChangeRetireeStatusResponse, error) {
	return &registryv1.ChangeRetireeStatusResponse{}, f.next("status")
}

// TestCareDispatcher: a registry outage is retried until delivered; the
// death report's id reaches the visit; STATUS_UNCHANGED (a repeat after
// a lost acknowledgement) counts as delivered.
func TestCareDispatcher(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := withFlags("吴")
	e.retirees(r)
	e.visit(r, pb.VisitOutcome_NO_CONTACT, 2*time.Hour)
	e.visit(r, pb.VisitOutcome_NO_CONTACT, time.Hour)
	v, _ := e.visit(r, pb.VisitOutcome_FOUND_DECEASED, 0)
	unchanged := apierror.ToStatus(context.Background(), nil, fault.Rule("STATUS_UNCHANGED", "the retiree's status is LOST_CONTACT already"))
	f := &fakeRegistry{fail: 2, reportID: "dr-1", answer: map[string]error{"status": unchanged}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = (&CareDispatcher{Store: e.store, Registry: f, MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond}).Run(ctx)
	}()
	defer func() { cancel(); <-done }()
	waitfor.True(t, "the outbox delivered", func() bool { return len(e.outbox()) == 0 })
	got, _, err := e.store.ListVisits(true, r.Id, 1, nil)
	if err != nil || got[0].Id != v.Id || got[0].DeathReportId != "dr-1" {
		t.Errorf("newest visit %v, %v", got, err)
	}
	if len(f.calls) != 4 || f.calls[3] != "death" {
		t.Errorf("calls %v, want two failures, status, death", f.calls)
	}
}
