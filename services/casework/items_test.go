package casework

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const hour = time.Hour

// TestClockTransitions follows an item of 100 hours through its clock:
// on track, at risk from hour 75 (25 % left), breached once past its due
// time, when the sweeper escalates it once by itself.
func TestClockTransitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	it := e.open(e.spec(pb.WorkKind_OTHER, communityA, 100*hour))
	q := Query{Community: communityA}
	steps := []struct {
		at         time.Duration
		moved      int
		clock      pb.Clock
		escalation int32
		priority   pb.Priority
		counts     *pb.ClockCounts
	}{
		{74 * hour, 0, pb.Clock_ON_TRACK, 0, pb.Priority_PRIORITY_NORMAL, &pb.ClockCounts{OnTrack: 1}},
		{75 * hour, 1, pb.Clock_AT_RISK, 0, pb.Priority_PRIORITY_NORMAL, &pb.ClockCounts{AtRisk: 1}},
		{100 * hour, 0, pb.Clock_AT_RISK, 0, pb.Priority_PRIORITY_NORMAL, &pb.ClockCounts{AtRisk: 1}},
		{100*hour + time.Second, 1, pb.Clock_BREACHED, 1, pb.Priority_PRIORITY_HIGH, &pb.ClockCounts{Breached: 1}},
		{200 * hour, 0, pb.Clock_BREACHED, 1, pb.Priority_PRIORITY_HIGH, &pb.ClockCounts{Breached: 1}},
	}
	for _, st := range steps {
		e.clock.Set(testNow.Add(st.at))
		if n := e.sweep(); n != st.moved {
			t.Errorf("at +%v: sweep moved %d items, want %d", st.at, n, st.moved)
		}
		got := e.item(it.Id)
		if got.Clock != st.clock || got.EscalationLevel != st.escalation || got.Priority != st.priority {
			t.Errorf("at +%v: clock %v, escalation %d, priority %v; want %v, %d, %v", st.at, got.Clock, got.EscalationLevel, got.Priority, st.clock, st.escalation, st.priority)
		}
		if diff := cmp.Diff(st.counts, e.counts(q), protocmp.Transform()); diff != "" {
			t.Errorf("at +%v: counts (-want +got):\n%s", st.at, diff)
		}
	}
	want := []pb.WorkEventKind{pb.WorkEventKind_CREATED, pb.WorkEventKind_CLOCK_CHANGED, pb.WorkEventKind_CLOCK_CHANGED, pb.WorkEventKind_ESCALATED}
	if got := kinds(e.item(it.Id).History); !slices.Equal(got, want) {
		t.Errorf("history %v, want %v", got, want)
	}
}

// TestGetComputesTheClock: a Get between sweeps tells the clock as of
// now, while lists keep the stored one until the sweep.
func TestGetComputesTheClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	it := e.open(e.spec(pb.WorkKind_OTHER, communityA, 100*hour))
	e.clock.Set(testNow.Add(80 * hour))
	got, err := e.store.GetItem(it.Id, anyone)
	if err != nil {
		t.Fatal(err)
	}
	if got.Clock != pb.Clock_AT_RISK || e.item(it.Id).Clock != pb.Clock_ON_TRACK {
		t.Errorf("Get clock %v, stored %v; want AT_RISK from Get, ON_TRACK stored", got.Clock, e.item(it.Id).Clock)
	}
}

// TestWaitingOnTheFamilyPausesTheClock: the clock stands still while the
// item waits on the family and the due time moves on by the pause;
// waiting on another agency does not stop it.
func TestWaitingOnTheFamilyPausesTheClock(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	family := e.open(e.spec(pb.WorkKind_OTHER, communityA, 100*hour))
	agency := e.open(e.spec(pb.WorkKind_OTHER, communityA, 100*hour))
	for _, it := range []*pb.WorkItem{family, agency} {
		if _, err := e.store.Claim(it.Id, it.Etag, clerkActor, anyone); err != nil {
			t.Fatal(err)
		}
	}
	e.clock.Set(testNow.Add(10 * hour))
	mustWait(t, e, family.Id, pb.WaitingOn_FAMILY)
	mustWait(t, e, agency.Id, pb.WaitingOn_OTHER_AGENCY)

	e.clock.Set(testNow.Add(101 * hour))
	e.sweep()
	if got := e.item(family.Id).Clock; got != pb.Clock_ON_TRACK {
		t.Errorf("waiting on the family: clock %v, want ON_TRACK (paused)", got)
	}
	if got := e.item(agency.Id).Clock; got != pb.Clock_BREACHED {
		t.Errorf("waiting on another agency: clock %v, want BREACHED", got)
	}
	if c := e.counts(Query{Community: communityA}); c.Waiting != 2 || c.OnTrack != 1 || c.Breached != 1 {
		t.Errorf("counts %v, want 2 waiting, 1 on track, 1 breached", c)
	}

	resumed, err := e.store.Resume(family.Id, "", clerkActor, anyone)
	if err != nil {
		t.Fatal(err)
	}
	if want := testNow.Add(191 * hour); !resumed.DueTime.AsTime().Equal(want) || resumed.PausedSeconds != 91*3600 {
		t.Errorf("resumed: due %v, paused %ds; want %v, %d", resumed.DueTime.AsTime(), resumed.PausedSeconds, want, 91*3600)
	}
	if resumed.State != pb.WorkState_IN_PROGRESS || resumed.Clock != pb.Clock_ON_TRACK {
		t.Errorf("resumed: %v %v, want IN_PROGRESS ON_TRACK", resumed.State, resumed.Clock)
	}
	// The at-risk time moved on by the pause too: hour 75 + 91.
	e.clock.Set(testNow.Add(165*hour + 59*time.Minute))
	e.sweep()
	if got := e.item(family.Id).Clock; got != pb.Clock_ON_TRACK {
		t.Errorf("just before the moved at-risk time: %v", got)
	}
	e.clock.Set(testNow.Add(166 * hour))
	e.sweep()
	if got := e.item(family.Id).Clock; got != pb.Clock_AT_RISK {
		t.Errorf("at the moved at-risk time: %v, want AT_RISK", got)
	}
	other, err := e.store.Resume(agency.Id, "", clerkActor, anyone)
	if err != nil {
		t.Fatal(err)
	}
	if !other.DueTime.AsTime().Equal(testNow.Add(100*hour)) || other.PausedSeconds != 0 {
		t.Errorf("agency item resumed: due %v, paused %d; want unchanged", other.DueTime.AsTime(), other.PausedSeconds)
	}
}

func mustWait(t *testing.T, e *env, id string, on pb.WaitingOn) {
	t.Helper()
	if _, err := e.store.Wait(id, "", on, "等家属回电", clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
}

// TestOpenItemBySourceKey: one item ever per (source, key): a second
// signal updates the open item, the resolution closes it, and a signal
// after that finds the closed one unchanged.
func TestOpenItemBySourceKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	spec := e.spec(pb.WorkKind_CERTIFICATION_DUE, communityA, 100*hour)
	spec.Source, spec.SourceKey, spec.Actor = "pension", "cert-2026-r1", serviceSubject
	first := e.open(spec)
	again := openAs(t, e, spec, false)
	if again.Id != first.Id || again.Etag != first.Etag {
		t.Errorf("the same signal changed the item: %v -> %v", first.Etag, again.Etag)
	}
	spec.Due, spec.Summary = spec.Due.Add(24*hour), "认证逾期"
	moved := openAs(t, e, spec, false)
	if !moved.DueTime.AsTime().Equal(spec.Due) || moved.Summary != "认证逾期" || moved.History[len(moved.History)-1].Kind != pb.WorkEventKind_UPDATED_AT_SOURCE {
		t.Errorf("updated item %v", moved)
	}
	var resolved *pb.WorkItem
	err := e.store.Update(func(tx *bolt.Tx) error {
		var err error
		resolved, err = e.store.resolveAtSource(tx, "pension", "cert-2026-r1", "已认证")
		return err
	})
	if err != nil || resolved.State != pb.WorkState_DONE || resolved.Outcome != "已认证" {
		t.Fatalf("resolveAtSource = %v, %v", resolved, err)
	}
	after := openAs(t, e, spec, false)
	if after.State != pb.WorkState_DONE || after.Etag != resolved.Etag {
		t.Errorf("a signal after the resolution changed the closed item: %v", after)
	}
	err = e.store.Update(func(tx *bolt.Tx) error {
		it, err := e.store.resolveAtSource(tx, "pension", "no-such-key", "")
		if it != nil {
			t.Errorf("resolveAtSource of nothing = %v", it)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if c := e.counts(Query{Community: communityA}); c.OnTrack+c.AtRisk+c.Breached != 0 {
		t.Errorf("counts after resolution %v, want none open", c)
	}
}

func openAs(t *testing.T, e *env, spec ItemSpec, wantCreated bool) *pb.WorkItem {
	t.Helper()
	var it *pb.WorkItem
	err := e.store.Update(func(tx *bolt.Tx) error {
		var created bool
		var err error
		it, created, err = e.store.openItem(tx, spec)
		if created != wantCreated {
			t.Errorf("created = %v, want %v", created, wantCreated)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// TestCompleteRunsTheKindsHook: completing an item runs what its kind
// registered, in the same transaction: a failing hook completes nothing.
func TestCompleteRunsTheKindsHook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var seen []string
	fail := true
	e.store.onComplete(pb.WorkKind_HARDSHIP, func(_ *bolt.Tx, it *pb.WorkItem, actor Actor) error {
		if fail {
			return fault.Rule("HOOK", "refused")
		}
		seen = append(seen, it.Id+" "+it.State.String()+" "+actor.Subject)
		return nil
	})
	it := e.open(e.spec(pb.WorkKind_HARDSHIP, communityA, 100*hour))
	_, err := e.store.Complete(it.Id, "", "送去米面油", true, clerkActor, anyone)
	wantCode(t, err, codes.FailedPrecondition)
	if got := e.item(it.Id); got.State != pb.WorkState_OPEN {
		t.Errorf("a refused completion left the item %v", got.State)
	}
	fail = false
	done, err := e.store.Complete(it.Id, it.Etag, "送去米面油", true, clerkActor, anyone)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != pb.WorkState_DONE || done.Assignee != "clerk-a" || !slices.Equal(seen, []string{it.Id + " DONE clerk-a"}) {
		t.Errorf("completed %v %q, hook saw %v", done.State, done.Assignee, seen)
	}
	_, err = e.store.Complete(it.Id, "", "again", true, clerkActor, anyone)
	wantCode(t, err, codes.FailedPrecondition)
}

// TestEtagGuardsChanges: a change with a stale etag changes nothing.
func TestEtagGuardsChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	it := e.open(e.spec(pb.WorkKind_OTHER, communityA, 100*hour))
	if _, err := e.store.Claim(it.Id, it.Etag, clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
	_, err := e.store.Release(it.Id, it.Etag, "", clerkActor, anyone)
	if !errors.Is(err, fault.ErrEtagMismatch) {
		t.Errorf("release with a stale etag: %v, want ErrEtagMismatch", err)
	}
}

// TestRetireeMovesTakeTheirItems: a retiree who moves takes their open
// items (and the counters) to the new community; their open visits are
// cancelled when they die, other items stay.
func TestRetireeMovesTakeTheirItems(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := livingIn(communityA, "王秀英")
	e.retirees(r)
	visit := e.spec(pb.WorkKind_CARE_VISIT, communityA, 100*hour)
	visit.RetireeID = r.Id
	other := e.spec(pb.WorkKind_OTHER, communityA, 50*hour)
	other.RetireeID = r.Id
	v, o := e.open(visit), e.open(other)
	if v.RetireeName != "王秀英" {
		t.Errorf("retiree name %q", v.RetireeName)
	}
	if _, err := e.store.Claim(o.Id, "", clerkActor, anyone); err != nil {
		t.Fatal(err)
	}

	moved := livingIn(communityB, "王秀英")
	moved.Id = r.Id
	e.retirees(moved)
	for _, id := range []string{v.Id, o.Id} {
		got := e.item(id)
		if got.CommunityId != communityB || got.Assignee != "" || got.State != pb.WorkState_OPEN {
			t.Errorf("after the move: %s in %s, assignee %q, %v", id, got.CommunityId, got.Assignee, got.State)
		}
	}
	if a, b := e.counts(Query{Community: communityA}), e.counts(Query{Community: communityB}); a.OnTrack != 0 || b.OnTrack != 2 {
		t.Errorf("counts after the move: A %v, B %v", a, b)
	}
	if c := e.counts(Query{Community: communityA, Assignee: "clerk-a"}); c.OnTrack != 0 {
		t.Errorf("the old assignee still counts %v", c)
	}

	dead := moved
	dead.Status = registryv1.RetireeStatus_DECEASED
	e.retirees(dead)
	if got := e.item(v.Id); got.State != pb.WorkState_CANCELLED || got.Outcome != "retiree deceased" {
		t.Errorf("the visit of a deceased retiree: %v %q", got.State, got.Outcome)
	}
	if got := e.item(o.Id); got.State != pb.WorkState_OPEN {
		t.Errorf("the other item of a deceased retiree: %v, want OPEN", got.State)
	}
	if b := e.counts(Query{Community: communityB}); b.OnTrack != 1 {
		t.Errorf("counts after the death: %v", b)
	}
}

// TestListFiltersAndCounts lists a community's queue by due time, by
// clock, kind and assignee, an area's, and the closed items.
func TestListFiltersAndCounts(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	late := e.open(e.spec(pb.WorkKind_OTHER, communityA, 300*hour))
	soon := e.open(e.spec(pb.WorkKind_HARDSHIP, communityA, 20*hour))
	mid := e.open(e.spec(pb.WorkKind_OTHER, communityA, 100*hour))
	inB := e.open(e.spec(pb.WorkKind_OTHER, communityB, 10*hour))
	inC := e.open(e.spec(pb.WorkKind_OTHER, communityC, 10*hour))
	if _, err := e.store.Claim(mid.Id, "", clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
	done := e.open(e.spec(pb.WorkKind_OTHER, communityA, 30*hour))
	if _, err := e.store.Complete(done.Id, "", "已办", true, clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(testNow.Add(16 * hour)) // soon is at risk (4 of 20 hours left)
	e.sweep()

	for _, tc := range []struct {
		name   string
		q      Query
		want   []string
		counts *pb.ClockCounts
	}{
		{"community by due time", Query{Community: communityA}, []string{soon.Id, mid.Id, late.Id}, &pb.ClockCounts{OnTrack: 2, AtRisk: 1}},
		{"one clock", Query{Community: communityA, Clock: pb.Clock_AT_RISK}, []string{soon.Id}, &pb.ClockCounts{OnTrack: 2, AtRisk: 1}},
		{"one kind", Query{Community: communityA, Kind: pb.WorkKind_OTHER}, []string{mid.Id, late.Id}, &pb.ClockCounts{OnTrack: 2}},
		{"one state", Query{Community: communityA, State: pb.WorkState_IN_PROGRESS}, []string{mid.Id}, &pb.ClockCounts{OnTrack: 2, AtRisk: 1}},
		{"one assignee", Query{Community: communityA, Assignee: "clerk-a"}, []string{mid.Id}, &pb.ClockCounts{OnTrack: 1}},
		{"street area", Query{Community: "210102001", Area: true}, []string{soon.Id, mid.Id, late.Id, inB.Id}, &pb.ClockCounts{OnTrack: 2, AtRisk: 1, Breached: 1}},
		{"everywhere", Query{Area: true}, []string{soon.Id, mid.Id, late.Id, inB.Id, inC.Id}, &pb.ClockCounts{OnTrack: 2, AtRisk: 1, Breached: 2}},
		{"closed", Query{Community: communityA, State: pb.WorkState_DONE}, []string{done.Id}, &pb.ClockCounts{OnTrack: 2, AtRisk: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			items, next, err := e.store.ListItems(tc.q, 50, nil)
			if err != nil || next != nil {
				t.Fatalf("ListItems = %v, %q", err, next)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.Id)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.counts, e.counts(tc.q), protocmp.Transform()); diff != "" {
				t.Errorf("counts (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRarelyMatchingFilterEndsPagesShort: a filter that matches one item
// among many ends pages short with a token instead of reading the whole
// queue in one request, and following the tokens finds the item.
func TestRarelyMatchingFilterEndsPagesShort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	err := e.store.Update(func(tx *bolt.Tx) error {
		for i := range 2*boltstore.MinScan + 500 {
			spec := e.spec(pb.WorkKind_OTHER, communityA, time.Duration(i+1)*time.Second+hour)
			if _, _, err := e.store.openItem(tx, spec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	rare := e.open(e.spec(pb.WorkKind_HARDSHIP, communityA, 1000*hour))
	q := Query{Community: communityA, Kind: pb.WorkKind_HARDSHIP}
	var after []byte
	pages, short := 0, 0
	for {
		items, next, err := e.store.ListItems(q, 10, after)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(items) == 0 && next != nil {
			short++
		}
		if len(items) == 1 && items[0].Id != rare.Id {
			t.Errorf("found %s", items[0].Id)
		}
		if next == nil {
			break
		}
		after = next
		if pages > 100 {
			t.Fatal("the pages do not end")
		}
	}
	if short == 0 || pages < 2 {
		t.Errorf("%d pages, %d empty with a token; want the scan bounded", pages, short)
	}
}
