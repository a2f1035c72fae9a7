package handover

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/waitfor"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// assignedEntries counts the ASSIGNED entries of each retiree's history in
// registry.
func (w *world) assignedEntries(ids []string) map[string]int {
	w.t.Helper()
	out := map[string]int{}
	for _, id := range ids {
		resp, err := w.registry.ListRetireeHistory(w.as(adminP), &registryv1.ListRetireeHistoryRequest{Id: id, PageSize: 1000})
		if err != nil {
			w.t.Fatal(err)
		}
		for _, e := range resp.Entries {
			if e.Kind == registryv1.ChangeKind_ASSIGNED {
				out[id]++
			}
		}
	}
	return out
}

// wantHandedOver checks that registry shows each retiree COMMUNITY-managed
// in community A, assigned exactly once.
func (w *world) wantHandedOver(ids []string) {
	w.t.Helper()
	w.wantHandedOverTo(communityA, ids)
}

// wantHandedOverTo checks that registry shows each retiree
// COMMUNITY-managed in communityA, assigned exactly once.
func (w *world) wantHandedOverTo(communityA string, ids []string) {
	w.t.Helper()
	for _, id := range ids {
		r, err := w.registry.GetRetiree(w.as(adminP), &registryv1.GetRetireeRequest{Id: id})
		if err != nil {
			w.t.Fatal(err)
		}
		if r.Retiree.CommunityId != communityA || r.Retiree.ManagementMode != registryv1.ManagementMode_COMMUNITY {
			w.t.Errorf("retiree %s: %s %v, want %s COMMUNITY", id, r.Retiree.CommunityId, r.Retiree.ManagementMode, communityA)
		}
	}
	for id, n := range w.assignedEntries(ids) {
		if n != 1 {
			w.t.Errorf("retiree %s has %d ASSIGNED history entries, want 1", id, n)
		}
	}
	if got := len(w.assignedEntries(ids)); got != len(ids) {
		w.t.Errorf("%d of %d retirees have an ASSIGNED entry", got, len(ids))
	}
}

func actionsOf(events []*pb.Event) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = e.Action
	}
	return out
}

func count[T comparable](list []T, v T) int {
	n := 0
	for _, x := range list {
		if x == v {
			n++
		}
	}
	return n
}

// TestOutboxRegistryDownAtCompletion: registry is down when the clerk
// completes. The completion stands, the delivery waits with its error,
// and once registry is back it is delivered, once.
func TestOutboxRegistryDownAtCompletion(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dispatch: true})
	h := w.ready(4)
	w.reg.Stop()
	resp, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		t.Fatalf("complete with registry down: %v", err)
	}
	if resp.Handover.State != pb.Handover_COMPLETED || resp.Handover.Delivery.GetState() != pb.Delivery_PENDING {
		t.Fatalf("after complete: %v %v", resp.Handover.State, resp.Handover.Delivery)
	}
	// The venue goes to activity on its own; under load it may come
	// after the third failed attempt at registry.
	w.waitDelivery(h.Id, "retried against the stopped registry, the venue delivered", func(d *pb.Delivery) bool {
		return d.GetAttempts() >= 3 && strings.HasPrefix(d.GetLastError(), "registry: Unavailable") && d.GetDelivered() >= 1
	})
	got := w.get(h.Id)
	if got.Delivery.State != pb.Delivery_PENDING || got.Delivery.Delivered != 1 {
		// The venue went through; the assignment waits.
		t.Errorf("while registry is down: %v", got.Delivery)
	}
	if n := count(actionsOf(w.events(h.Id)), actionDeliveryFailed); n != 1 {
		for _, e := range w.events(h.Id) {
			t.Logf("%s %s", e.Action, e.Detail)
		}
		t.Errorf("%d DELIVERY_FAILED events for one repeated error, want 1", n)
	}

	w.reg.Start()
	got = w.waitDelivered(h.Id)
	if got.Delivery.LastError != "" || got.Delivery.Delivered != 2 || got.Delivery.Commands != 2 || got.Delivery.DeliveredTime == nil {
		t.Errorf("delivered: %v", got.Delivery)
	}
	w.wantHandedOver(h.RetireeIds)
	if venues, _ := w.act.fake.snapshot(); len(venues) != 1 {
		t.Errorf("%d venues, want 1", len(venues))
	}
	w.waitBacklog(0)
}

// loseFirstAnswers returns an interceptor that makes the first n calls of
// method, lets each reach the server, and then reports Unavailable, as if
// the answer had been lost on the way back.
func loseFirstAnswers(method string, n int32) (grpc.UnaryClientInterceptor, *atomic.Int32) {
	var lost atomic.Int32
	return func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, m, req, reply, cc, opts...)
		if err == nil && strings.HasSuffix(m, "/"+method) && lost.Add(1) <= n {
			return status.Error(codes.Unavailable, "connection reset (test)")
		}
		return err
	}, &lost
}

// TestOutboxLostAcknowledgements: the targets act on a command but their
// answers are lost, so the dispatcher sends the commands again. The
// idempotency keys make the repeats harmless: one history entry per
// retiree, one venue.
func TestOutboxLostAcknowledgements(t *testing.T) {
	t.Parallel()
	lostAssign, assigns := loseFirstAnswers("AssignRetirees", 2)
	lostVenue, venues := loseFirstAnswers("CreateVenue", 2)
	w := newWorld(t, worldOptions{
		dispatch:             true,
		registryInterceptors: []grpc.UnaryClientInterceptor{lostAssign},
		activityInterceptors: []grpc.UnaryClientInterceptor{lostVenue},
	})
	h := w.completed(5)
	h = w.waitDelivered(h.Id)
	if assigns.Load() < 3 || venues.Load() < 3 {
		t.Fatalf("AssignRetirees sent %d times, CreateVenue %d times; want each at least 3", assigns.Load(), venues.Load())
	}
	w.wantHandedOver(h.RetireeIds)
	vs, calls := w.act.fake.snapshot()
	if len(vs) != 1 || calls < 3 || h.Premises[0].VenueId != vs[0].Id {
		t.Errorf("venues %v after %d calls; premises venue %q", vs, calls, h.Premises[0].VenueId)
	}
	if h.Delivery.Attempts != 6 {
		t.Errorf("attempts = %d, want 6 (3 for each command)", h.Delivery.Attempts)
	}
}

// TestOutboxVenueRefusedForGood: activity refuses a premises for good
// (InvalidArgument); the refusal goes on the timeline, the delivery
// completes, and the lane is not blocked.
func TestOutboxVenueRefusedForGood(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dispatch: true})
	w.act.fake.beforeCreate = func(int) error {
		return status.Error(codes.InvalidArgument, "capacity: more than the venue rules allow (test)")
	}
	h := w.completed(3)
	h = w.waitDelivered(h.Id)
	w.wantHandedOver(h.RetireeIds)
	if h.Premises[0].VenueId != "" {
		t.Errorf("premises got venue %q", h.Premises[0].VenueId)
	}
	events, err := w.client.ListHandoverEvents(w.as(adminP), &pb.ListHandoverEventsRequest{Id: h.Id, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range events.Events {
		found = found || strings.Contains(e.Detail, "refused premises")
	}
	if !found {
		t.Errorf("no timeline entry names the refusal: %v", events.Events)
	}
}

// TestOutboxActivityRestartMidDelivery: activity goes down after the
// first of three venues, and comes back. Each premises becomes exactly
// one venue.
func TestOutboxActivityRestartMidDelivery(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	firstDone := make(chan struct{})
	var once atomic.Bool
	w.act.fake.afterCreate = func(int) error {
		if once.CompareAndSwap(false, true) {
			close(firstDone)
			// The answer to the first venue is lost with the process.
			return status.Error(codes.Unavailable, "shutting down (test)")
		}
		return nil
	}
	ids := w.retirees(2, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	pkg := packageFor(ids)
	for i := 2; i <= 3; i++ {
		pkg.Premises = append(pkg.Premises, &pb.Premises{Name: fmt.Sprintf("活动室%d", i), Address: "和平区北市场街5号", AreaSqm: 50, Capacity: 20})
	}
	cr, err := w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: pkg})
	if err != nil {
		t.Fatal(err)
	}
	sr, err := w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: cr.Handover.Id})
	if err != nil {
		t.Fatal(err)
	}
	h := w.settle(sr.Handover)
	if _, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id}); err != nil {
		t.Fatal(err)
	}
	w.startDispatcher(worldOptions{})
	waitfor.Receive(t, "the first venue to be created", firstDone)
	w.act.Stop()
	w.waitDelivery(h.Id, "retried against the stopped activity service", func(d *pb.Delivery) bool {
		return strings.HasPrefix(d.GetLastError(), "activity: Unavailable") && d.Attempts >= 3
	})
	w.act.Start()
	h = w.waitDelivered(h.Id)

	vs, _ := w.act.fake.snapshot()
	if len(vs) != 3 {
		t.Fatalf("%d venues, want 3: %v", len(vs), vs)
	}
	byName := map[string]string{}
	for _, v := range vs {
		byName[v.Name] = v.Id
	}
	for _, pr := range h.Premises {
		if pr.VenueId == "" || byName[pr.Name] != pr.VenueId {
			t.Errorf("premises %s (%s) has venue %q; activity has %q", pr.Id, pr.Name, pr.VenueId, byName[pr.Name])
		}
	}
	w.wantHandedOver(h.RetireeIds)
}

// TestOutboxSurvivesDispatcherRestart: commands queued while no dispatcher
// runs are delivered by the next one from the store alone, in the order
// they were queued.
func TestOutboxSurvivesDispatcherRestart(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var (
		mu    sync.Mutex
		order []string
	)
	record := func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if r, ok := req.(*registryv1.AssignRetireesRequest); ok {
			mu.Lock()
			order = append(order, r.RequestKey)
			mu.Unlock()
		}
		return invoker(ctx, m, req, reply, cc, opts...)
	}
	first := w.completed(2)
	second := w.completed(3)
	if b := w.store.Backlog(); b != 4 {
		t.Errorf("backlog %d, want 4 commands", b)
	}
	w.startDispatcher(worldOptions{registryInterceptors: []grpc.UnaryClientInterceptor{record}})
	w.waitDelivered(first.Id)
	w.waitDelivered(second.Id)
	want := []string{first.Id + "/assign/1", second.Id + "/assign/1"}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("assignment order (-want +got):\n%s", diff)
	}
	w.wantHandedOver(append(first.RetireeIds, second.RetireeIds...))
}

// TestOutboxLanes: without an activity service the venue commands wait,
// visibly, and the assignments go through regardless.
func TestOutboxLanes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{dispatch: true, noActivity: true})
	h := w.completed(2)
	w.waitDelivery(h.Id, "the assignment only", func(d *pb.Delivery) bool {
		return d.GetDelivered() == 1 && strings.Contains(d.GetLastError(), "activity service not configured")
	})
	w.wantHandedOver(h.RetireeIds)
	if got := w.get(h.Id); got.Delivery.State != pb.Delivery_PENDING {
		t.Errorf("delivery %v, want PENDING while the venue waits", got.Delivery)
	}
	w.waitBacklog(1)
}

// TestOutboxLeavesOutTheDeceased: a retiree who dies between completion
// and delivery is refused by registry for good; the others are assigned,
// and the timeline says who was left out.
func TestOutboxLeavesOutTheDeceased(t *testing.T) {
	t.Parallel()
	w, h := deceasedOnDelivery(t, worldOptions{})
	w.waitDelivered(h.Id)
	w.wantHandedOver([]string{h.RetireeIds[0], h.RetireeIds[2]})
	var note string
	for _, e := range w.events(h.Id) {
		if e.Action == actionDeliveryFailed {
			note = e.Detail
		}
	}
	if !strings.Contains(note, h.RetireeIds[1]) || strings.Contains(note, h.RetireeIds[0]) {
		t.Errorf("timeline note = %q, want it to name the deceased retiree only", note)
	}
}

// rewriteAssignErrors returns an interceptor that hands the dispatcher,
// in place of each error registry answers AssignRetirees with, what
// rewrite makes of it: a registry that words its refusals differently.
func rewriteAssignErrors(rewrite func(*status.Status) *status.Status) grpc.UnaryClientInterceptor {
	return func(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		err := invoker(ctx, m, req, reply, cc, opts...)
		if err == nil || !strings.HasSuffix(m, "/AssignRetirees") {
			return err
		}
		return rewrite(status.Convert(err)).Err()
	}
}

// refusalDetail returns the AssignRetireesRefusal of st, or nil.
func refusalDetail(st *status.Status) *registryv1.AssignRetireesRefusal {
	for _, d := range st.Details() {
		if r, ok := d.(*registryv1.AssignRetireesRefusal); ok {
			return r
		}
	}
	return nil
}

// leftOutNote returns the timeline note of the retirees a delivery left
// out, or "".
func (w *world) leftOutNote(id string) string {
	w.t.Helper()
	for _, e := range w.events(id) {
		if e.Action == actionDeliveryFailed && strings.Contains(e.Detail, "left out") {
			return e.Detail
		}
	}
	return ""
}

// deceasedOnDelivery completes a handover of three retirees, records the
// death of the second before the outbox delivers it, and starts the
// dispatcher with o.
func deceasedOnDelivery(t *testing.T, o worldOptions) (*world, *pb.Handover) {
	t.Helper()
	w := newWorld(t, worldOptions{})
	h := w.completed(3)
	w.kill(h.RetireeIds[1])
	w.startDispatcher(o)
	return w, h
}

// TestOutboxActsOnTheRefusalNotItsWording: registry refuses a deceased
// retiree in other words, with a BadRequest that names a different,
// living retiree; the dispatcher follows the typed refusal alone.
func TestOutboxActsOnTheRefusalNotItsWording(t *testing.T) {
	t.Parallel()
	reworded := rewriteAssignErrors(func(st *status.Status) *status.Status {
		out := status.New(codes.FailedPrecondition, "Zuordnung abgelehnt (test)")
		misleading := &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
			{Field: "retireeIds[0]", Description: "retiree is not living"},
		}}
		out, err := out.WithDetails(misleading, refusalDetail(st))
		if err != nil {
			panic(err)
		}
		return out
	})
	w, h := deceasedOnDelivery(t, worldOptions{registryInterceptors: []grpc.UnaryClientInterceptor{reworded}})
	w.waitDelivered(h.Id)
	w.wantHandedOver([]string{h.RetireeIds[0], h.RetireeIds[2]})
	if note := w.leftOutNote(h.Id); !strings.Contains(note, h.RetireeIds[1]) || strings.Contains(note, h.RetireeIds[0]) {
		t.Errorf("timeline note = %q, want it to name the deceased retiree only", note)
	}
}

// TestOutboxIgnoresFieldPaths: without the typed refusal, registry's
// BadRequest naming the deceased retiree by field path is a failure like
// any other: the command waits and nobody is left out. Once registry
// answers with the refusal, the deceased retiree is left out.
func TestOutboxIgnoresFieldPaths(t *testing.T) {
	t.Parallel()
	var strip atomic.Bool
	strip.Store(true)
	untyped := rewriteAssignErrors(func(st *status.Status) *status.Status {
		if !strip.Load() {
			return st
		}
		out := status.New(st.Code(), st.Message())
		for _, d := range st.Details() {
			if br, ok := d.(*errdetails.BadRequest); ok {
				var err error
				if out, err = out.WithDetails(br); err != nil {
					panic(err)
				}
			}
		}
		return out
	})
	w, h := deceasedOnDelivery(t, worldOptions{registryInterceptors: []grpc.UnaryClientInterceptor{untyped}})
	w.waitDelivery(h.Id, "retried against the untyped refusal", func(d *pb.Delivery) bool {
		return d.GetAttempts() >= 3 && strings.HasPrefix(d.GetLastError(), "registry: InvalidArgument")
	})
	if got := w.get(h.Id).Delivery; got.State != pb.Delivery_PENDING || got.Delivered != 1 {
		t.Errorf("delivery %v, want the assignment still waiting", got)
	}
	if n := len(w.assignedEntries(h.RetireeIds)); n != 0 {
		t.Errorf("%d retirees assigned while registry refuses", n)
	}
	if note := w.leftOutNote(h.Id); note != "" {
		t.Errorf("a BadRequest alone left retirees out: %q", note)
	}

	strip.Store(false)
	w.waitDelivered(h.Id)
	w.wantHandedOver([]string{h.RetireeIds[0], h.RetireeIds[2]})
	if note := w.leftOutNote(h.Id); !strings.Contains(note, h.RetireeIds[1]) {
		t.Errorf("timeline note = %q, want it to name the deceased retiree", note)
	}
}

// TestRefusedRetirees: only a refusal whose every entry fits the request
// and has a final reason leaves retirees out.
func TestRefusedRetirees(t *testing.T) {
	ids := []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb", "cccccccccccccccc"}
	refusal := func(rs ...*registryv1.RefusedRetiree) error {
		st, err := status.New(codes.InvalidArgument, "refused").WithDetails(&registryv1.AssignRetireesRefusal{Refused: rs})
		if err != nil {
			t.Fatal(err)
		}
		return st.Err()
	}
	notLiving, notFound := registryv1.AssignRefusal_RETIREE_NOT_LIVING, registryv1.AssignRefusal_RETIREE_NOT_FOUND
	badRequest, err := status.New(codes.InvalidArgument, "invalid argument: retireeIds[1]: retiree is not living").
		WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: "retireeIds[1]", Description: "retiree is not living"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want []int
	}{
		{"two refused", refusal(&registryv1.RefusedRetiree{Index: 0, RetireeId: ids[0], Reason: notFound}, &registryv1.RefusedRetiree{Index: 2, RetireeId: ids[2], Reason: notLiving}), []int{0, 2}},
		{"by index when the id is not repeated", refusal(&registryv1.RefusedRetiree{Index: 1, Reason: notFound}), []int{1}},
		{"a BadRequest alone", badRequest.Err(), nil},
		{"unavailable", status.Error(codes.Unavailable, "retireeIds[1]"), nil},
		{"an empty refusal", refusal(), nil},
		{"a reason not known to be final", refusal(&registryv1.RefusedRetiree{Index: 1, RetireeId: ids[1], Reason: registryv1.AssignRefusal(99)}), nil},
		{"unspecified reason", refusal(&registryv1.RefusedRetiree{Index: 1, RetireeId: ids[1]}), nil},
		{"index past the request", refusal(&registryv1.RefusedRetiree{Index: 3, Reason: notFound}), nil},
		{"negative index", refusal(&registryv1.RefusedRetiree{Index: -1, Reason: notFound}), nil},
		{"id and index disagree", refusal(&registryv1.RefusedRetiree{Index: 0, RetireeId: ids[1], Reason: notLiving}), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, refusedRetirees(tc.err, ids)); diff != "" {
				t.Errorf("refused (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOutboxMetrics checks the backlog gauge and the delivery counters.
func TestOutboxMetrics(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	reg := prometheus.NewRegistry()
	d := NewDispatcher(w.store, DispatcherOptions{})
	if err := RegisterMetrics(reg, w.store, d); err != nil {
		t.Fatal(err)
	}
	gauge := func() float64 {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "socmgmt_handover_outbox_backlog" {
				return mf.Metric[0].GetGauge().GetValue()
			}
		}
		t.Fatal("no backlog gauge")
		return 0
	}
	if g := gauge(); g != 0 {
		t.Errorf("backlog %v before anything", g)
	}
	h := w.completed(1)
	if g := gauge(); g != 2 {
		t.Errorf("backlog %v after a completion, want 2", g)
	}
	w.startDispatcher(worldOptions{})
	w.waitDelivered(h.Id)
	// The gauge follows the commit a moment later.
	waitfor.True(t, "the backlog gauge to fall to 0 after delivery", func() bool { return gauge() == 0 })
	if n := testutil.CollectAndCount(d.delivered); n != 0 {
		// d never ran: its counters have no series.
		t.Errorf("unused dispatcher counted %d series", n)
	}
	if got := testutil.ToFloat64(w.dispatcher.delivered.WithLabelValues("registry")); got != 1 {
		t.Errorf("delivered{registry} = %v", got)
	}
}

// TestCompletionCommands checks what a completion queues: assignments in
// parts of assignBatch with stable keys, a venue per accepted premises.
func TestCompletionCommands(t *testing.T) {
	ids := make([]string, assignBatch*2+1)
	for i := range ids {
		ids[i] = fmt.Sprintf("%016d", i)
	}
	h := &pb.Handover{Id: "H0000000000000001", CommunityId: communityA, RetireeIds: ids, Premises: []*pb.Premises{
		{Id: "P1", Name: "甲", Address: "一号", AreaSqm: 10, Capacity: 5, Inspection: pb.Premises_ACCEPTED},
		{Id: "P2", Name: "乙", Inspection: pb.Premises_DECLINED},
		{Id: "P3", Name: "丙", Address: "三号", AreaSqm: 30, Capacity: 15, Inspection: pb.Premises_ACCEPTED},
	}}
	settleAllocations(h)
	cmds, err := completionCommands(h)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	sizes := []int{}
	for _, c := range cmds {
		switch c.kind {
		case kindAssignRetirees:
			req := new(registryv1.AssignRetireesRequest)
			if err := proto.Unmarshal(c.payload, req); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, req.RequestKey)
			sizes = append(sizes, len(req.RetireeIds))
			if req.CommunityId != communityA || req.ManagementMode != registryv1.ManagementMode_COMMUNITY {
				t.Errorf("assignment %v", req)
			}
		case kindCreateVenue:
			req := new(activityv1.CreateVenueRequest)
			if err := proto.Unmarshal(c.payload, req); err != nil {
				t.Fatal(err)
			}
			keys = append(keys, req.RequestKey)
			want := &activityv1.Venue{CommunityId: communityA, Name: "甲", Address: "一号", AreaSqm: 10, Capacity: 5}
			if c.part == "P3" {
				want = &activityv1.Venue{CommunityId: communityA, Name: "丙", Address: "三号", AreaSqm: 30, Capacity: 15}
			}
			if diff := cmp.Diff(want, req.Venue, protocmp.Transform()); diff != "" {
				t.Errorf("venue (-want +got):\n%s", diff)
			}
		}
	}
	wantKeys := []string{
		"H0000000000000001/assign/1", "H0000000000000001/assign/2", "H0000000000000001/assign/3",
		"H0000000000000001/venue/P1", "H0000000000000001/venue/P3",
	}
	if diff := cmp.Diff(wantKeys, keys); diff != "" {
		t.Errorf("keys (-want +got):\n%s", diff)
	}
	if !slices.Equal(sizes, []int{assignBatch, assignBatch, 1}) {
		t.Errorf("parts of %v", sizes)
	}
}

// TestCommandCodec checks that commands survive encoding, and that
// malformed values are refused rather than misread.
func TestCommandCodec(t *testing.T) {
	for _, c := range []*command{
		{seq: 7, kind: kindAssignRetirees, handoverID: "H0000000000000001", part: "1", payload: []byte{1, 2, 3}},
		{seq: 8, kind: kindCreateVenue, handoverID: "H0000000000000001", part: "P12"},
		{seq: 9, kind: kindAssignRetirees, handoverID: "H1", part: "2", payload: []byte{4}, trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"},
	} {
		got, err := decodeCommand(c.seq, c.encode())
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(c, got, cmp.AllowUnexported(command{})); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
	for name, v := range map[string][]byte{
		"empty":         nil,
		"version":       {3, 1, 0, 0},
		"no trace":      {2, 1, 1, 'H', 1, '1'},
		"kind":          {1, 9, 0, 0},
		"short id":      {1, 1, 5, 'H'},
		"missing part":  {1, 1, 1, 'H'},
		"varint":        {1, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"huge id":       {1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"part too long": {1, 2, 1, 'H', 3, 'P'},
	} {
		if _, err := decodeCommand(1, v); err == nil {
			t.Errorf("%s: decoded %x", name, v)
		}
	}
}

// FuzzDecodeCommand: decoding never panics, and whatever decodes encodes
// to bytes that decode to the same command.
func FuzzDecodeCommand(f *testing.F) {
	f.Add((&command{kind: kindAssignRetirees, handoverID: "H0000000000000001", part: "1", payload: []byte("x")}).encode())
	f.Add((&command{kind: kindCreateVenue, handoverID: "H1", part: "P2"}).encode())
	f.Add((&command{kind: kindAssignRetirees, handoverID: "H1", part: "1", trace: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}).encode())
	f.Add([]byte{1, 1, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, v []byte) {
		c, err := decodeCommand(1, v)
		if err != nil {
			return
		}
		again, err := decodeCommand(1, c.encode())
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if diff := cmp.Diff(c, again, cmp.AllowUnexported(command{}), cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("round trip (-first +second):\n%s", diff)
		}
	})
}
