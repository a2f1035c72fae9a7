package casework

import (
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// Signals of a test producer become items: a certification due opens an
// item due when the signal says and tells the retiree once; an anomaly of
// a retiree casework does not know still opens an item in the signal's
// community, due by the kind's default; a resolved signal closes its item
// as DONE at source; a signal updated keeps its one item; a signal whose
// start is ahead waits until the sweeper's time comes, and one resolved
// while it waits never opens.
func TestFollowSignals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	zhang := livingIn(communityA, "张三")
	e.retirees(zhang)
	p := newProducer(t)
	f := e.follow(SourcePension, p.srv.Conn())
	now := e.clock.Now()

	certDue := now.Add(20 * day)
	rev := p.emit(
		at(workSignal("cert/1", feedv1.SignalKind_CERTIFICATION_DUE, zhang.Id, ""), time.Time{}, certDue),
		workSignal("anomaly/1", feedv1.SignalKind_ANOMALY_UNEXPLAINED, "rUnknown01", communityB),
		workSignal("step/1", feedv1.SignalKind_HANDOVER_STEP, "", communityA),
		at(workSignal("recovery/1", feedv1.SignalKind_RECOVERY_CASE_DUE, zhang.Id, communityA), now.Add(2*time.Hour), time.Time{}),
		at(workSignal("recovery/2", feedv1.SignalKind_RECOVERY_CASE_DUE, zhang.Id, communityA), now.Add(time.Hour), time.Time{}),
	)
	f.upTo(rev)

	cert := e.bySource(SourcePension, "cert/1")
	if cert == nil || cert.Kind != pb.WorkKind_CERTIFICATION_DUE || cert.CommunityId != communityA ||
		!cert.DueTime.AsTime().Equal(certDue) || cert.RetireeName != "张三" || cert.Priority != pb.Priority_PRIORITY_NORMAL {
		t.Fatalf("certification item: %v", cert)
	}
	msgs := e.messagesTo(zhang.Id)
	if len(msgs) != 1 || msgs[0].Event != pb.MessageEvent_CERTIFICATION_DUE_SOON || msgs[0].State != pb.DeliveryState_QUEUED ||
		!strings.Contains(msgs[0].Text, "张三") || !strings.Contains(msgs[0].Text, "2026年7月5日") {
		t.Fatalf("messages after the certification: %v", msgs)
	}
	anomaly := e.bySource(SourcePension, "anomaly/1")
	if anomaly == nil || anomaly.Kind != pb.WorkKind_PAYMENT_ANOMALY || anomaly.CommunityId != communityB ||
		!anomaly.DueTime.AsTime().Equal(now.Add(5*day)) || anomaly.Priority != pb.Priority_PRIORITY_HIGH {
		t.Fatalf("anomaly item: %v", anomaly)
	}
	if e.bySource(SourcePension, "recovery/1") != nil || e.bySource(SourcePension, "recovery/2") != nil {
		t.Fatal("signals whose start is ahead opened at once")
	}

	// Resolved at source; updated; resolved while waiting.
	f.upTo(p.resolve("step/1", "已接收"))
	later := certDue.Add(3 * day)
	f.upTo(p.emit(at(workSignal("cert/1", feedv1.SignalKind_CERTIFICATION_DUE, zhang.Id, ""), time.Time{}, later)))
	f.upTo(p.resolve("recovery/2", "已结案"))
	step := e.bySource(SourcePension, "step/1")
	if step.State != pb.WorkState_DONE || step.Outcome != "已接收" || step.History[len(step.History)-1].Kind != pb.WorkEventKind_RESOLVED_AT_SOURCE {
		t.Errorf("resolved step: %v", step)
	}
	if c := e.bySource(SourcePension, "cert/1"); c.Id != cert.Id || !c.DueTime.AsTime().Equal(later) {
		t.Errorf("updated certification: %v, want item %s due %v", c, cert.Id, later)
	}
	if n := len(e.messagesTo(zhang.Id)); n != 1 {
		t.Errorf("%d messages after the update, want still 1", n)
	}

	// The start comes: the sweeper opens the one still waiting.
	e.clock.Set(e.clock.Now().Add(2 * time.Hour))
	e.sweep()
	rec := e.bySource(SourcePension, "recovery/1")
	if rec == nil || rec.Kind != pb.WorkKind_RECOVERY_FOLLOW_UP || !rec.StartTime.AsTime().Equal(e.clock.Now()) ||
		!rec.DueTime.AsTime().Equal(e.clock.Now().Add(14*day)) {
		t.Errorf("waiting recovery signal after its start: %v", rec)
	}
	if e.bySource(SourcePension, "recovery/2") != nil {
		t.Error("a signal resolved while it waited opened")
	}
	if n := e.itemCount(); n != 4 {
		t.Errorf("%d items, want 4", n)
	}

	// The source opens the resolved step again (the package came back
	// and was submitted again), now for another community: a new item
	// there; the closed one stays closed. A certification that moves
	// with its retiree takes its open item along.
	f.upTo(p.emit(workSignal("step/1", feedv1.SignalKind_HANDOVER_STEP, "", communityB)))
	again := e.bySource(SourcePension, "step/1")
	if again == nil || again.Id == step.Id || again.State != pb.WorkState_OPEN || again.CommunityId != communityB {
		t.Errorf("step opened again: %v, want a new open item in %s", again, communityB)
	}
	f.upTo(p.emit(at(workSignal("cert/1", feedv1.SignalKind_CERTIFICATION_DUE, zhang.Id, communityB), time.Time{}, later)))
	if c := e.bySource(SourcePension, "cert/1"); c.Id != cert.Id || c.CommunityId != communityB {
		t.Errorf("moved certification: %v, want item %s in %s", c, cert.Id, communityB)
	}
	if n := e.itemCount(); n != 5 {
		t.Errorf("%d items, want 5", n)
	}
}

// After a snapshot (the cursor reset, as after a compaction), the items
// of the source whose keys the snapshot did not hold are closed as no
// longer open at source, a waiting signal it did not hold is dropped, and
// the items it did hold are not duplicated.
func TestFollowSnapshotReconciles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newProducer(t)
	f := e.follow(SourcePension, p.srv.Conn())
	now := e.clock.Now()
	f.upTo(p.emit(
		workSignal("keep", feedv1.SignalKind_ANOMALY_UNEXPLAINED, "", communityA),
		workSignal("gone", feedv1.SignalKind_ANOMALY_UNEXPLAINED, "", communityA),
		at(workSignal("waiting", feedv1.SignalKind_RECOVERY_CASE_DUE, "", communityA), now.Add(time.Hour), time.Time{}),
	))
	f.stop()
	p.resolve("gone", "已说明")
	p.resolve("waiting", "已结案")
	head := p.emit(workSignal("new", feedv1.SignalKind_ANOMALY_UNEXPLAINED, "", communityA))
	err := e.store.Update(func(tx *bolt.Tx) error {
		c, err := signalfeed.ReadCursor(tx, SourcePension)
		if err != nil {
			return err
		}
		c.Revision, c.Epoch = 0, ""
		return signalfeed.PutCursor(tx, SourcePension, c)
	})
	if err != nil {
		t.Fatal(err)
	}
	f = e.follow(SourcePension, p.srv.Conn())
	f.upTo(head)
	if g := f.Generation(); g != 2 {
		t.Errorf("generation %d, want 2", g)
	}
	if it := e.bySource(SourcePension, "gone"); it.State != pb.WorkState_DONE || it.Outcome != ResolutionGoneAtSource {
		t.Errorf("item resolved while not following: %v", it)
	}
	if it := e.bySource(SourcePension, "keep"); it.State != pb.WorkState_OPEN {
		t.Errorf("item still open at source: %v", it)
	}
	if it := e.bySource(SourcePension, "new"); it == nil || it.State != pb.WorkState_OPEN {
		t.Errorf("item opened while not following: %v", it)
	}
	e.clock.Set(e.clock.Now().Add(2 * time.Hour))
	e.sweep()
	if it := e.bySource(SourcePension, "waiting"); it != nil {
		t.Errorf("a waiting signal the snapshot did not hold opened: %v", it)
	}
	if n := e.itemCount(); n != 3 {
		t.Errorf("%d items, want 3", n)
	}
}

// An activity notice sends its message once per feed entry and makes no
// item; one without a title is dropped without stalling the feed. (A
// notice is a change, never in a snapshot: those before casework first
// follows the source are not sent.)
func TestFollowNotices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	li := livingIn(communityA, "李四")
	e.retirees(li)
	p := newProducerAs(t, SourceActivity)
	f := e.follow(SourceActivity, p.srv.Conn())
	notice := func(kind feedv1.SignalKind, details map[string]string) *feedv1.WorkSignal {
		sig := workSignal("reg/1", kind, li.Id, communityA)
		sig.Resolved, sig.Details = true, details
		return sig
	}
	// Past the first snapshot.
	f.upTo(p.emit(workSignal("warm-up", feedv1.SignalKind_HANDOVER_TASK_OPEN, "", communityA)))
	start := "2026-06-20T09:30:00+08:00"
	f.upTo(p.emit(notice(feedv1.SignalKind_ACTIVITY_CANCELLED, map[string]string{DetailTitle: "太极拳", DetailStart: start, DetailNote: "场地维修"})))
	f.upTo(p.emit(notice(feedv1.SignalKind_WAITLIST_PROMOTED, map[string]string{DetailTitle: "书法班", DetailStart: start, DetailPlace: "活动室"})))
	f.upTo(p.emit(notice(feedv1.SignalKind_ACTIVITY_CHANGED, map[string]string{DetailStart: start})))
	msgs := e.messagesTo(li.Id)
	if len(msgs) != 2 || msgs[0].Event != pb.MessageEvent_ACTIVITY_CANCELLED || msgs[1].Event != pb.MessageEvent_WAITLIST_PROMOTED ||
		!strings.Contains(msgs[0].Text, "太极拳") || !strings.Contains(msgs[0].Text, "场地维修") || !strings.Contains(msgs[1].Text, "活动室") {
		t.Fatalf("messages: %v", msgs)
	}
	if it := e.bySource(SourceActivity, "reg/1"); it != nil || e.itemCount() != 1 {
		t.Errorf("an item from a notice: %v", it)
	}
}
