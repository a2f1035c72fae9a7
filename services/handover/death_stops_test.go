package handover

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Retirees of the death-stop tests, as the fake registry's feed has them.
const (
	deadRetiree  = "stopretiree00001"
	otherRetiree = "stopretiree00002"
)

// stopEnv is a handover store following a fake registry's feed, which a
// test can close and open again on the same file.
type stopEnv struct {
	t        *testing.T
	path     string
	registry *servicetest.FakeRegistry
	client   registryv1.RegistryServiceClient
	store    *Store
	stop     func()
}

func newStopEnv(t *testing.T) *stopEnv {
	t.Helper()
	living := func(id string) *registryv1.RetireeState {
		return &registryv1.RetireeState{Id: id, CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING}
	}
	e := &stopEnv{t: t, path: filepath.Join(t.TempDir(), "handover.db"), registry: servicetest.NewFakeRegistry(living(deadRetiree), living(otherRetiree))}
	srv := servicetest.Serve(t, servicetest.Options{Name: "registry", Register: e.registry.Register})
	e.client = registryv1.NewRegistryServiceClient(srv.Conn())
	e.open()
	t.Cleanup(func() { e.close() })
	return e
}

// open opens the store and runs its projection.
func (e *stopEnv) open() {
	e.t.Helper()
	s, err := OpenStore(e.path, StoreOptions{Logger: zaptest.NewLogger(e.t, zaptest.Level(zap.WarnLevel)), Registry: e.client})
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Projection().Run(ctx)
	}()
	e.store, e.stop = s, func() { cancel(); <-done; _ = s.Close() }
}

func (e *stopEnv) close() {
	if e.stop != nil {
		e.stop()
		e.stop = nil
	}
}

// change feeds a retiree's new state and waits until handover applied it.
func (e *stopEnv) change(st *registryv1.RetireeState, kind registryv1.ChangeKind) {
	e.t.Helper()
	e.caughtUp(uint64(e.registry.Change(st, kind))) //nolint:gosec // G115: revisions are positive
}

func (e *stopEnv) caughtUp(rev uint64) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.Projection().WaitFor(ctx, rev); err != nil {
		e.t.Fatalf("projection did not reach revision %d: %v", rev, err)
	}
}

// complete files a completed handover with obligations for both retirees
// and one for the package as a whole.
func (e *stopEnv) complete() *pb.Handover {
	e.t.Helper()
	h := &pb.Handover{
		EnterpriseCreditCode: enterpriseX, CommunityId: communityA,
		RetireeIds: []string{deadRetiree, otherRetiree},
		Obligations: []*pb.Obligation{
			{Kind: pb.Obligation_PENSION_OUTSIDE_POOLING, MonthlyAmountFen: 30000, RetireeId: deadRetiree},
			{Kind: pb.Obligation_MEDICAL_UNINSURED, MonthlyAmountFen: 20000, RetireeId: otherRetiree},
			{Kind: pb.Obligation_OTHER, Description: "活动室租金", MonthlyAmountFen: 50000},
		},
	}
	h, err := e.store.CreateHandover(h, Actor{Subject: "enterprise-x", Role: "enterprise"}, "created")
	if err != nil {
		e.t.Fatal(err)
	}
	err = e.store.update(func(w *txn) error {
		old := proto.Clone(h).(*pb.Handover)
		h.State = pb.Handover_COMPLETED
		h.CompleteTime = timestamppb.New(time.Date(2026, 1, 10, 3, 0, 0, 0, time.UTC))
		if err := w.save(old, h); err != nil {
			return err
		}
		if err := w.putObligations(h); err != nil {
			return err
		}
		return w.event(h, Actor{Subject: "clerk-a", Role: "clerk"}, actionCompleted, "completed")
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// obligations returns the handover's obligations by index.
func (e *stopEnv) obligations(activeOn string) []*pb.OwedObligation {
	e.t.Helper()
	list, _, err := e.store.ListObligations(ObligationFilter{EnterpriseCode: enterpriseX, ActiveOn: activeOn}, 100, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

// actions returns the actions on h's timeline.
func (e *stopEnv) actions(h *pb.Handover) []string {
	e.t.Helper()
	events, _, err := e.store.ListEvents(h.Id, 100, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, ev := range events {
		out = append(out, ev.Action)
	}
	return out
}

func died(id, day string) *registryv1.RetireeState {
	return &registryv1.RetireeState{Id: id, CommunityId: communityA, Status: registryv1.RetireeStatus_DECEASED, DateOfDeath: day}
}

// TestDeathStopsObligationsFromNextMonth: a death on 15 March stops the
// retiree's obligation from April — owed on 31 March, not on 1 April —
// and leaves the other retiree's and the package's obligations alone.
func TestDeathStopsObligationsFromNextMonth(t *testing.T) {
	t.Parallel()
	e := newStopEnv(t)
	h := e.complete()
	e.change(died(deadRetiree, "2026-03-15"), registryv1.ChangeKind_DEATH_REPORTED)

	all := e.obligations("")
	if len(all) != 3 {
		t.Fatalf("obligations = %v, want 3", all)
	}
	if o := all[0]; o.StopsFrom != "2026-04" || o.StopReason != "the retiree died on 2026-03-15 (verified in registry)" || o.StopTime == nil {
		t.Errorf("dead retiree's obligation: stopsFrom %q, reason %q, time %v", o.StopsFrom, o.StopReason, o.StopTime)
	}
	for _, o := range all[1:] {
		if o.StopsFrom != "" || o.StopReason != "" {
			t.Errorf("obligation %v stopped, want it owed", o.Obligation)
		}
	}
	if n := len(e.obligations("2026-03-31")); n != 3 {
		t.Errorf("owed on 31 March: %d obligations, want 3", n)
	}
	april := e.obligations("2026-04-01")
	if len(april) != 2 || slices.ContainsFunc(april, func(o *pb.OwedObligation) bool { return o.Obligation.RetireeId == deadRetiree }) {
		t.Errorf("owed on 1 April: %v, want the other two", april)
	}
	if got := e.actions(h); !slices.Equal(got, []string{actionCreated, actionCompleted, actionObligationStopped}) {
		t.Errorf("timeline = %v", got)
	}
}

// TestDeathReversalResumesObligations: the reversal clears the stop, and
// the timeline keeps both steps.
func TestDeathReversalResumesObligations(t *testing.T) {
	t.Parallel()
	e := newStopEnv(t)
	h := e.complete()
	e.change(died(deadRetiree, "2026-03-15"), registryv1.ChangeKind_DEATH_REPORTED)
	e.change(&registryv1.RetireeState{Id: deadRetiree, CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING}, registryv1.ChangeKind_DEATH_REVERSED)

	o := e.obligations("2026-04-01")[0]
	if o.Obligation.RetireeId != deadRetiree || o.StopsFrom != "" || o.StopReason != "" || o.StopTime != nil {
		t.Errorf("after the reversal: %v, want owed with no stop", o)
	}
	if got := e.actions(h); !slices.Equal(got, []string{actionCreated, actionCompleted, actionObligationStopped, actionObligationResumed}) {
		t.Errorf("timeline = %v", got)
	}
}

// TestDeathStopReplayAndRestart: a restart resumes from the stored cursor
// (no new snapshot), and a replay of the whole feed from a snapshot
// changes nothing already applied.
func TestDeathStopReplayAndRestart(t *testing.T) {
	t.Parallel()
	e := newStopEnv(t)
	h := e.complete()
	e.change(died(deadRetiree, "2026-03-15"), registryv1.ChangeKind_DEATH_REPORTED)
	cursor := e.store.Projection().Cursor()

	e.close()
	e.open()
	if got := e.store.Projection().Cursor(); got != cursor {
		t.Fatalf("cursor after restart = %d, want %d", got, cursor)
	}
	// A change after the restart arrives on a stream resumed at the cursor.
	e.change(died(otherRetiree, "2026-05-31"), registryv1.ChangeKind_DEATH_REPORTED)
	if sinces := e.registry.Sinces(); sinces[len(sinces)-1] != int64(cursor) { //nolint:gosec // G115: small revisions
		t.Errorf("since revisions = %v, want the last at the cursor %d", sinces, cursor)
	}
	if o := e.obligations("")[1]; o.StopsFrom != "2026-06" {
		t.Errorf("second death (31 May): stopsFrom %q, want 2026-06", o.StopsFrom)
	}
	before := e.obligations("")

	// Forget the cursor: the next start reads a snapshot of every retiree.
	e.close()
	db, err := bolt.Open(e.path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(projection.ResetCursor); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	e.open()
	e.caughtUp(uint64(e.registry.Head())) //nolint:gosec // G115: positive
	after := e.obligations("")
	for i := range after {
		if after[i].StopsFrom != before[i].StopsFrom || !after[i].StopTime.AsTime().Equal(before[i].StopTime.AsTime()) {
			t.Errorf("obligation %d after the replay: %v, before %v", i, after[i], before[i])
		}
	}
	want := []string{actionCreated, actionCompleted, actionObligationStopped, actionObligationStopped}
	if got := e.actions(h); !slices.Equal(got, want) {
		t.Errorf("timeline after the replay = %v, want %v", got, want)
	}
}

// TestCompletionAfterDeathStopsAtOnce: a handover completed after the
// projection learnt of a death files that retiree's obligation stopped.
func TestCompletionAfterDeathStopsAtOnce(t *testing.T) {
	t.Parallel()
	e := newStopEnv(t)
	e.change(died(deadRetiree, "2026-12-01"), registryv1.ChangeKind_DEATH_REPORTED)
	e.complete()
	if o := e.obligations("")[0]; o.StopsFrom != "2027-01" {
		t.Errorf("stopsFrom = %q, want 2027-01", o.StopsFrom)
	}
}

// TestStopFor: the month after the month of death, across a year's end;
// nothing for a living retiree or a date that does not parse.
func TestStopFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		st   *registryv1.RetireeState
		want string
	}{
		{died("x", "2026-03-15"), "2026-04"},
		{died("x", "2026-12-31"), "2027-01"},
		{died("x", "2026-01-31"), "2026-02"},
		{died("x", ""), ""},
		{died("x", "15.03.2026"), ""},
		{&registryv1.RetireeState{Status: registryv1.RetireeStatus_LIVING, DateOfDeath: "2026-03-15"}, ""},
		{nil, ""},
	} {
		if got, _ := stopFor(c.st); got != c.want {
			t.Errorf("stopFor(%v) = %q, want %q", c.st, got, c.want)
		}
	}
}

// TestRecordedDeathStopsObligation goes through a real registry: a
// handover completed with an obligation for one retiree, that retiree's
// death recorded on 15 March, and the obligation listed as stopped from
// April with its reason and the step on the timeline; the death's
// reversal makes it owed again.
func TestRecordedDeathStopsObligation(t *testing.T) {
	t.Parallel()
	// Handover's clock stands in February, so that the handover is
	// completed before the death; registry's runs on.
	feb := func() time.Time { return time.Date(2026, 2, 10, 2, 0, 0, 0, time.UTC) }
	w := newWorld(t, worldOptions{follow: true, now: feb})
	ids := w.retirees(2, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	in := packageFor(ids)
	in.Obligations = append(in.Obligations, &pb.Obligation{Kind: pb.Obligation_PENSION_OUTSIDE_POOLING, MonthlyAmountFen: 80000, RetireeId: ids[0]})
	h := w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: in}))
	h = w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
	h = w.settle(h)
	h = w.handover(w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))

	rec, err := w.registry.RecordDeath(w.as(adminP), &registryv1.RecordDeathRequest{Id: ids[0], DateOfDeath: "2026-03-15"})
	if err != nil {
		t.Fatal(err)
	}
	list := func(day string) []*pb.OwedObligation {
		resp, err := w.client.ListObligations(w.as(clerkAP), &pb.ListObligationsRequest{ActiveOn: day})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Obligations
	}
	waitfor.True(t, "the obligation stopped", func() bool { return list("2026-03-20")[1].StopsFrom == "2026-04" })
	got := list("2026-03-20")
	if got[0].StopsFrom != "" || got[1].StopReason != "the retiree died on 2026-03-15 (verified in registry)" {
		t.Errorf("obligations = %v", got)
	}
	if n := len(list("2026-04-01")); n != 1 {
		t.Errorf("owed on 1 April: %d, want only the package's obligation", n)
	}
	if e := w.events(h.Id); e[len(e)-1].Action != actionObligationStopped || e[len(e)-1].Actor != "registry" {
		t.Errorf("last event = %v, want OBLIGATION_STOPPED by registry", e[len(e)-1])
	}

	if _, err := w.registry.ReverseDeathReport(w.as(adminP), &registryv1.ReverseDeathReportRequest{Id: rec.DeathReport.Id, Reason: "误报，本人健在"}); err != nil {
		t.Fatal(err)
	}
	waitfor.True(t, "the obligation resumed", func() bool { return list("2026-03-20")[1].StopsFrom == "" })
	if n := len(list("2026-04-01")); n != 2 {
		t.Errorf("owed on 1 April after the reversal: %d, want 2", n)
	}
	if e := w.events(h.Id); e[len(e)-1].Action != actionObligationResumed {
		t.Errorf("last event = %v, want OBLIGATION_RESUMED", e[len(e)-1])
	}
}

// TestObligationRetireeChecked: an obligation's retiree must look like a
// retiree id at once, and be one of the package's retirees to complete.
func TestObligationRetireeChecked(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := w.retirees(1, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	in := packageFor(ids)
	in.Obligations[0].RetireeId = "13010219500101001X"
	_, err := w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: in})
	wantFields(t, err, "obligations[0].retireeId")

	in.Obligations[0].RetireeId = "abcdefghijklmnop"
	h := w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: in}))
	h = w.settle(w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag})))
	_, err = w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if st := wantReason(t, err, codes.FailedPrecondition, ReasonIncomplete); !slices.Equal(fieldsOf(st), []string{"obligations[0].retireeId"}) {
		t.Errorf("fields = %v, want obligations[0].retireeId", fieldsOf(st))
	}
	if got := w.get(h.Id); got.State != pb.Handover_SUBMITTED {
		t.Errorf("state = %v, want still SUBMITTED", got.State)
	}
}
