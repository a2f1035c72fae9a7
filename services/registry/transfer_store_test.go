package registry

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// transferFixture is a store with the fixture communities on a clock the
// test moves, and a counter for fresh retirees.
type transferFixture struct {
	s     *Store
	clock *testclock.Clock
	n     int
}

var (
	sender   = Actor{Subject: "clerk-a", Role: "clerk", RequestID: "req-propose"}
	receiver = Actor{Subject: "clerk-c", Role: "clerk", RequestID: "req-answer"}
)

func allowTransfer(*pb.Transfer) error { return nil }

func newTransferFixture(t *testing.T) *transferFixture {
	t.Helper()
	clock := testclock.New(testNow)
	s := openStoreClock(t, filepath.Join(t.TempDir(), "registry.db"), 0, clock.Now)
	t.Cleanup(func() { s.Close() })
	seedRefs(t, s)
	return &transferFixture{s: s, clock: clock, n: 100}
}

// retiree creates a fresh living retiree of community.
func (f *transferFixture) retiree(t *testing.T, community string) *pb.Retiree {
	t.Helper()
	f.n++
	return mustCreate(t, f.s, newRetiree(t, f.n, community, pb.ManagementMode_COMMUNITY))
}

// propose proposes to transfer r to community to, as the sending clerk.
func (f *transferFixture) propose(t *testing.T, r *pb.Retiree, to string) *pb.Transfer {
	t.Helper()
	_, tr, err := f.s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: to, Reason: "随子女居住"}, sender, allow)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// later moves the clock d on.
func (f *transferFixture) later(d time.Duration) { f.clock.Set(f.clock.Now().Add(d)) }

func (f *transferFixture) get(t *testing.T, id string) *pb.Transfer {
	t.Helper()
	tr, err := f.s.GetTransfer(id, allowTransfer)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func (f *transferFixture) history(t *testing.T, id string) []*pb.HistoryEntry {
	t.Helper()
	hist, _, err := f.s.ListHistory(id, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	return hist
}

func kinds(hist []*pb.HistoryEntry) []pb.ChangeKind {
	out := make([]pb.ChangeKind, len(hist))
	for i, h := range hist {
		out[i] = h.Kind
	}
	return out
}

// TestTransferStateMachine answers transfers in every state, at times
// before and after the lapse, and checks the state each ends in, the
// refusals, and where the retiree is.
func TestTransferStateMachine(t *testing.T) {
	t.Parallel()
	const accept, decline = true, false
	// setups bring a transfer of a fresh retiree of communityA to
	// communityC into a state.
	setups := map[string]func(t *testing.T, f *transferFixture) *pb.Transfer{
		"proposed": func(t *testing.T, f *transferFixture) *pb.Transfer {
			return f.propose(t, f.retiree(t, communityA), communityC)
		},
		"accepted": func(t *testing.T, f *transferFixture) *pb.Transfer {
			tr := f.propose(t, f.retiree(t, communityA), communityC)
			if _, _, err := f.s.AnswerTransfer(tr.Id, TransferAnswer{Accept: true}, receiver, allowTransfer); err != nil {
				t.Fatal(err)
			}
			return tr
		},
		"declined": func(t *testing.T, f *transferFixture) *pb.Transfer {
			tr := f.propose(t, f.retiree(t, communityA), communityC)
			if _, _, err := f.s.AnswerTransfer(tr.Id, TransferAnswer{Reason: "查无此人"}, receiver, allowTransfer); err != nil {
				t.Fatal(err)
			}
			return tr
		},
		"lapsed": func(t *testing.T, f *transferFixture) *pb.Transfer {
			tr := f.propose(t, f.retiree(t, communityA), communityC)
			f.later(TransferLapse)
			if n, err := f.s.LapseDue(); err != nil || n != 1 {
				t.Fatalf("LapseDue = %d, %v", n, err)
			}
			return tr
		},
		"moved out of the city": func(t *testing.T, f *transferFixture) *pb.Transfer {
			_, tr, err := f.s.TransferRetiree(TransferRequest{
				RetireeID: f.retiree(t, communityA).Id, Reason: "随子女定居", Destination: &pb.TransferDestination{Description: "大连市"},
			}, sender, allow)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
		"moved by admin": func(t *testing.T, f *transferFixture) *pb.Transfer {
			_, tr, err := f.s.TransferRetiree(TransferRequest{RetireeID: f.retiree(t, communityA).Id, To: communityC, Reason: "纠正", Direct: true}, admin, allow)
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
	}
	cases := []struct {
		name    string
		setup   string
		accept  bool
		advance time.Duration
		want    pb.TransferState
		reason  string // the refusal's reason; "" when answered
	}{
		{"accept a proposal", "proposed", accept, 0, pb.TransferState_ACCEPTED, ""},
		{"decline a proposal", "proposed", decline, 0, pb.TransferState_DECLINED, ""},
		{"accept a second before the lapse", "proposed", accept, TransferLapse - time.Second, pb.TransferState_ACCEPTED, ""},
		{"accept at the lapse time", "proposed", accept, TransferLapse, pb.TransferState_LAPSED, reasonTransferLapsed},
		{"decline after the lapse", "proposed", decline, TransferLapse + time.Hour, pb.TransferState_LAPSED, reasonTransferLapsed},
		{"accept an accepted one", "accepted", accept, 0, pb.TransferState_ACCEPTED, reasonTransferNotProposed},
		{"decline an accepted one", "accepted", decline, 0, pb.TransferState_ACCEPTED, reasonTransferNotProposed},
		{"accept a declined one", "declined", accept, 0, pb.TransferState_DECLINED, reasonTransferNotProposed},
		{"decline a declined one", "declined", decline, 0, pb.TransferState_DECLINED, reasonTransferNotProposed},
		{"accept a lapsed one", "lapsed", accept, 0, pb.TransferState_LAPSED, reasonTransferNotProposed},
		{"accept a move out of the city", "moved out of the city", accept, 0, pb.TransferState_COMPLETED_OUT_OF_CITY, reasonTransferNotProposed},
		{"decline an admin's move", "moved by admin", decline, 0, pb.TransferState_ACCEPTED, reasonTransferNotProposed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newTransferFixture(t)
			tr := setups[tc.setup](t, f)
			f.later(tc.advance)
			_, _, err := f.s.AnswerTransfer(tr.Id, TransferAnswer{Accept: tc.accept, Reason: "名额已满"}, receiver, allowTransfer)
			switch {
			case tc.reason == "" && err != nil:
				t.Fatalf("answer: %v", err)
			case tc.reason != "" && !isRule(err, tc.reason):
				t.Fatalf("answer: %v, want reason %s", err, tc.reason)
			}
			got := f.get(t, tr.Id)
			if got.State != tc.want {
				t.Errorf("state = %s, want %s", got.State, tc.want)
			}
			r, err := f.s.GetRetiree(tr.RetireeId)
			if err != nil {
				t.Fatal(err)
			}
			wantCommunity := communityA
			if got.State == pb.TransferState_ACCEPTED {
				wantCommunity = communityC
			}
			if r.CommunityId != wantCommunity {
				t.Errorf("retiree in %s, want %s", r.CommunityId, wantCommunity)
			}
			// Only a proposal is open: a final transfer leaves the
			// retiree free for the next one (if still living).
			if r.Status == pb.RetireeStatus_LIVING {
				if _, _, err := f.s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityB, Reason: "再迁"}, sender, allow); err != nil {
					t.Errorf("a new proposal after %s: %v", got.State, err)
				}
			}
		})
	}
}

// TestTransferProposal checks what a proposal records and refuses: the
// retiree and the change log stay as they were, the history notes the
// proposal, and one proposal at a time.
func TestTransferProposal(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	r := f.retiree(t, communityA)
	head, _, _ := f.s.Head()

	got, tr, err := f.s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityC, Reason: "随子女居住", Etag: r.Etag}, sender, allow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Etag != r.Etag || got.CommunityId != communityA {
		t.Errorf("a proposal changed the retiree: %v", got)
	}
	if after, _, _ := f.s.Head(); after != head {
		t.Errorf("a proposal moved the head from %d to %d", head, after)
	}
	want := &pb.Transfer{
		RetireeId: r.Id, FromCommunityId: communityA, ToCommunityId: communityC, Reason: "随子女居住",
		State: pb.TransferState_PROPOSED, ProposedBy: "clerk-a",
	}
	if tr.RetireeId != want.RetireeId || tr.FromCommunityId != want.FromCommunityId || tr.ToCommunityId != want.ToCommunityId ||
		tr.State != want.State || tr.ProposedBy != want.ProposedBy || !tr.ProposeTime.AsTime().Equal(testNow) ||
		!tr.LapseTime.AsTime().Equal(testNow.Add(TransferLapse)) || tr.RetireeName != r.Name || tr.RetireeIdNumberMasked != idnumber.Mask(r.IdNumber) || tr.RetireeIdNumberMasked == r.IdNumber {
		t.Errorf("transfer = %v", tr)
	}
	hist := f.history(t, r.Id)
	if len(hist) != 2 || hist[1].Kind != pb.ChangeKind_TRANSFER_PROPOSED || hist[1].Revision != 0 ||
		hist[1].Actor != "clerk-a" || hist[1].Transfer.GetId() != tr.Id || hist[1].Transfer.RetireeName != "" {
		t.Errorf("history = %v", hist)
	}

	// One open proposal per retiree: another one, or a move out of the
	// city, is refused and names the open one.
	for _, req := range []TransferRequest{
		{RetireeID: r.Id, To: communityB, Reason: "x"},
		{RetireeID: r.Id, Reason: "x", Destination: &pb.TransferDestination{Description: "大连市"}},
		{RetireeID: r.Id, To: communityB, Reason: "x", Direct: true},
	} {
		_, _, err := f.s.TransferRetiree(req, sender, allow)
		if !isRule(err, reasonTransferPending) {
			t.Errorf("second transfer %+v: %v", req, err)
		}
	}
	other := f.retiree(t, communityA)
	refusals := []struct {
		name   string
		req    TransferRequest
		reason string
		field  string
	}{
		{"same community", TransferRequest{RetireeID: other.Id, To: communityA, Reason: "x"}, reasonSameCommunity, ""},
		{"unknown community", TransferRequest{RetireeID: other.Id, To: unknownCommunity, Reason: "x"}, "", "to_community_id"},
		{"destination is a community here", TransferRequest{RetireeID: other.Id, Reason: "x", Destination: &pb.TransferDestination{Description: "x", DivisionCode: communityC}}, "", "destination.division_code"},
		{"stale etag", TransferRequest{RetireeID: other.Id, To: communityC, Reason: "x", Etag: "r999"}, "", ""},
	}
	for _, tc := range refusals {
		_, _, err := f.s.TransferRetiree(tc.req, sender, allow)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", tc.name)
		case tc.reason != "" && !isRule(err, tc.reason):
			t.Errorf("%s: %v, want %s", tc.name, err, tc.reason)
		case tc.field != "" && !hasField(err, tc.field):
			t.Errorf("%s: %v, want a violation of %s", tc.name, err, tc.field)
		}
	}
	if _, _, err := f.s.RecordDeath(other.Id, "2026-01-02", "", pb.DeathReportSource_BUREAU_MATCH, admin, allow); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.TransferRetiree(TransferRequest{RetireeID: other.Id, To: communityC, Reason: "x"}, sender, allow); !isRule(err, reasonNotLiving) {
		t.Errorf("transfer of the deceased: %v", err)
	}
	list, _, err := f.s.ListTransfers(TransferFilter{}, 10, nil)
	if err != nil || len(list) != 1 {
		t.Errorf("refusals recorded transfers: %v, %v", list, err)
	}
}

// TestTransferAcceptMoves checks what an acceptance changes: the
// retiree's community, the change log, the counters and the history,
// which shows both the proposal and the acceptance.
func TestTransferAcceptMoves(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	r := f.retiree(t, communityA)
	tr := f.propose(t, r, communityC)
	head, _, _ := f.s.Head()
	got, moved, err := f.s.AnswerTransfer(tr.Id, TransferAnswer{Accept: true}, receiver, allowTransfer)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != pb.TransferState_ACCEPTED || got.AnsweredBy != "clerk-c" || got.AnswerTime == nil || got.RetireeName != r.Name {
		t.Errorf("accepted = %v", got)
	}
	if moved.CommunityId != communityC || moved.Etag == r.Etag {
		t.Errorf("moved = %v", moved)
	}
	changes, _, _, err := f.s.ReadChanges(head, 10)
	if err != nil || len(changes) != 1 || changes[0].Kind != pb.ChangeKind_TRANSFERRED || changes[0].Retiree.CommunityId != communityC {
		t.Errorf("change log = %v, %v", changes, err)
	}
	rows, _, _, err := f.s.SocialisationReport(groupCommunity, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	living := map[string]int64{}
	for _, row := range rows {
		living[row.Key] = row.Living
	}
	if living[communityA] != 0 || living[communityC] != 1 {
		t.Errorf("living per community = %v", living)
	}
	hist := f.history(t, r.Id)
	if diff := kinds(hist); len(diff) != 3 || diff[1] != pb.ChangeKind_TRANSFER_PROPOSED || diff[2] != pb.ChangeKind_TRANSFERRED {
		t.Fatalf("history kinds = %v", diff)
	}
	if h := hist[2]; h.Actor != "clerk-c" || h.Reason != "随子女居住" || h.Transfer.GetState() != pb.TransferState_ACCEPTED {
		t.Errorf("acceptance entry = %v", h)
	}
	if h := hist[1]; h.Actor != "clerk-a" || h.Transfer.GetState() != pb.TransferState_PROPOSED {
		t.Errorf("proposal entry = %v", h)
	}
}

// TestTransferStale: a proposal whose retiree died, or was handed over
// elsewhere, since cannot be accepted, and can be declined.
func TestTransferStale(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	dead := f.retiree(t, communityA)
	deadTr := f.propose(t, dead, communityC)
	if _, _, err := f.s.RecordDeath(dead.Id, "2026-06-01", "", pb.DeathReportSource_BUREAU_MATCH, admin, allow); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.AnswerTransfer(deadTr.Id, TransferAnswer{Accept: true}, receiver, allowTransfer); !isRule(err, reasonNotLiving) {
		t.Errorf("accepting the deceased: %v", err)
	}
	assigned := f.retiree(t, communityA)
	assignedTr := f.propose(t, assigned, communityC)
	if _, err := f.s.AssignRetirees("k-1", []string{assigned.Id}, communityB, pb.ManagementMode_COMMUNITY, "移交", admin); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.AnswerTransfer(assignedTr.Id, TransferAnswer{Accept: true}, receiver, allowTransfer); !isRule(err, reasonRetireeMoved) {
		t.Errorf("accepting a retiree handed over elsewhere: %v", err)
	}
	if got, _, err := f.s.AnswerTransfer(assignedTr.Id, TransferAnswer{Reason: "已移交他处"}, receiver, allowTransfer); err != nil || got.State != pb.TransferState_DECLINED || got.DeclineReason != "已移交他处" {
		t.Errorf("decline = %v, %v", got, err)
	}
	if r, _ := f.s.GetRetiree(assigned.Id); r.CommunityId != communityB {
		t.Errorf("the declined transfer moved the retiree to %s", r.CommunityId)
	}
}

// TestTransferOutOfCity: a move out of the city sets MOVED_OUT with the
// destination at once, in the history and the change log, and leaves the
// living counts.
func TestTransferOutOfCity(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	r := f.retiree(t, communityA)
	head, _, _ := f.s.Head()
	dest := &pb.TransferDestination{Description: "辽宁省大连市中山区", DivisionCode: "210202"}
	out, tr, err := f.s.TransferRetiree(TransferRequest{RetireeID: r.Id, Reason: "随子女定居", Destination: dest}, sender, allow)
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != pb.RetireeStatus_MOVED_OUT || out.MovedOutTo.GetDescription() != dest.Description || out.MovedOutDate != "2026-06-15" || out.CommunityId != communityA {
		t.Errorf("retiree = %v", out)
	}
	if tr.State != pb.TransferState_COMPLETED_OUT_OF_CITY || tr.ToCommunityId != "" || tr.AnsweredBy != "clerk-a" || tr.LapseTime != nil || tr.Destination.GetDivisionCode() != "210202" {
		t.Errorf("transfer = %v", tr)
	}
	changes, _, _, err := f.s.ReadChanges(head, 10)
	if err != nil || len(changes) != 1 || changes[0].Kind != pb.ChangeKind_MOVED_OUT_OF_CITY || changes[0].Retiree.Status != pb.RetireeStatus_MOVED_OUT {
		t.Errorf("change log = %v, %v", changes, err)
	}
	hist := f.history(t, r.Id)
	last := hist[len(hist)-1]
	if last.Kind != pb.ChangeKind_MOVED_OUT_OF_CITY || last.Transfer.GetId() != tr.Id {
		t.Errorf("history entry = %v", last)
	}
	fields := map[string]string{}
	for _, c := range last.Changes {
		fields[c.Field] = c.NewValue
	}
	if fields["status"] != "MOVED_OUT" || fields["movedOutTo"] != "辽宁省大连市中山区 (210202)" || fields["movedOutDate"] != "2026-06-15" {
		t.Errorf("history changes = %v", last.Changes)
	}
	rows, _, _, err := f.s.SocialisationReport(groupCommunity, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if row.Key == communityA && row.Living != 0 {
			t.Errorf("community A still counts %d living", row.Living)
		}
	}
	if _, _, err := f.s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityC, Reason: "x"}, sender, allow); !isRule(err, reasonNotLiving) {
		t.Errorf("transfer after moving out: %v", err)
	}
}

// TestTransferLapse: proposals lapse 30 days after they were made, by the
// sweep, or when they are read or answered; each lapse is noted in the
// history once.
func TestTransferLapse(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	first := f.propose(t, f.retiree(t, communityA), communityC)
	f.later(24 * time.Hour)
	second := f.propose(t, f.retiree(t, communityA), communityC)
	read := f.propose(t, f.retiree(t, communityB), communityC)

	f.later(TransferLapse - 24*time.Hour - time.Second)
	if n, err := f.s.LapseDue(); err != nil || n != 0 {
		t.Fatalf("LapseDue a second early = %d, %v", n, err)
	}
	f.later(time.Second)
	// Listed before the sweep, the due proposal shows as lapsed.
	list, _, err := f.s.ListTransfers(TransferFilter{CommunityID: communityA, Direction: pb.TransferDirection_OUTGOING, State: pb.TransferState_PROPOSED}, 10, nil)
	if err != nil || len(list) != 1 || list[0].Id != second.Id {
		t.Errorf("proposed after 30 days = %v, %v", list, err)
	}
	list, _, err = f.s.ListTransfers(TransferFilter{State: pb.TransferState_LAPSED}, 10, nil)
	if err != nil || len(list) != 1 || list[0].Id != first.Id || !list[0].AnswerTime.AsTime().Equal(first.LapseTime.AsTime()) {
		t.Errorf("lapsed after 30 days = %v, %v", list, err)
	}
	if n, err := f.s.LapseDue(); err != nil || n != 1 {
		t.Fatalf("LapseDue = %d, %v", n, err)
	}
	if got := f.get(t, first.Id); got.State != pb.TransferState_LAPSED || got.AnsweredBy != "" {
		t.Errorf("lapsed = %v", got)
	}
	hist := f.history(t, first.RetireeId)
	if last := hist[len(hist)-1]; last.Kind != pb.ChangeKind_TRANSFER_LAPSED || last.Actor != sweepActor.Subject || last.Revision != 0 {
		t.Errorf("history = %v", hist)
	}
	// A read lapses a due proposal at once, and records it.
	f.later(24 * time.Hour)
	if got := f.get(t, read.Id); got.State != pb.TransferState_LAPSED {
		t.Errorf("read after the lapse = %v", got)
	}
	if hist := f.history(t, read.RetireeId); hist[len(hist)-1].Kind != pb.ChangeKind_TRANSFER_LAPSED {
		t.Errorf("the read did not record the lapse: %v", kinds(hist))
	}
	if n, err := f.s.LapseDue(); err != nil || n != 1 {
		t.Fatalf("LapseDue after the read = %d, %v (want only the second)", n, err)
	}
	if n, err := f.s.LapseDue(); err != nil || n != 0 {
		t.Fatalf("LapseDue again = %d, %v", n, err)
	}
	if hist := f.history(t, read.RetireeId); len(hist) != 3 {
		t.Errorf("history after the read and the sweeps: %v", kinds(hist))
	}
}

// TestTransferLapseBacklog: a sweep works through more due proposals
// than one transaction lapses.
func TestTransferLapseBacklog(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	rs := createMany(t, f.s, retirees(t, 200, 200+lapseBatch+7, communityA, pb.ManagementMode_COMMUNITY))
	for _, r := range rs {
		f.propose(t, r, communityC)
	}
	f.later(TransferLapse)
	if n, err := f.s.LapseDue(); err != nil || n != len(rs) {
		t.Fatalf("LapseDue = %d, %v; want %d", n, err, len(rs))
	}
	list, _, err := f.s.ListTransfers(TransferFilter{CommunityID: communityC, Direction: pb.TransferDirection_INCOMING, State: pb.TransferState_PROPOSED}, 10, nil)
	if err != nil || len(list) != 0 {
		t.Errorf("still proposed: %d, %v", len(list), err)
	}
}

// TestLapseLoop: the server's loop lapses a due proposal without anyone
// reading it, and stops with its context.
func TestLapseLoop(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	tr := f.propose(t, f.retiree(t, communityA), communityC)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- f.s.LapseLoop(10*time.Millisecond, zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))(ctx)
	}()
	f.later(TransferLapse)
	waitfor.True(t, "the loop to lapse the proposal", func() bool {
		list, _, err := f.s.ListTransfers(TransferFilter{}, 10, nil)
		if err != nil || len(list) != 1 {
			return false
		}
		hist := f.history(t, tr.RetireeId)
		return hist[len(hist)-1].Kind == pb.ChangeKind_TRANSFER_LAPSED
	})
	cancel()
	if err := waitfor.Receive(t, "the loop to stop", done); err != nil {
		t.Errorf("loop ended with %v", err)
	}
}

// TestListTransfersByCommunity: the incoming and outgoing lists of a
// community hold its transfers and no others, page by page.
func TestListTransfersByCommunity(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	want := map[string]bool{}
	for range 5 {
		want[f.propose(t, f.retiree(t, communityA), communityC).Id] = true
	}
	f.propose(t, f.retiree(t, communityB), communityA)
	f.propose(t, f.retiree(t, communityB), communityC)

	got := map[string]bool{}
	var after []byte
	for pages := 0; ; pages++ {
		if pages > 3 {
			t.Fatal("more pages than there are transfers")
		}
		list, next, err := f.s.ListTransfers(TransferFilter{CommunityID: communityA, Direction: pb.TransferDirection_OUTGOING}, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range list {
			if tr.FromCommunityId != communityA || got[tr.Id] {
				t.Errorf("listed %v", tr)
			}
			got[tr.Id] = true
		}
		if next == nil {
			break
		}
		after = next
	}
	if len(got) != len(want) {
		t.Errorf("listed %d outgoing, want %d", len(got), len(want))
	}
	in, _, err := f.s.ListTransfers(TransferFilter{CommunityID: communityC, Direction: pb.TransferDirection_INCOMING}, 100, nil)
	if err != nil || len(in) != 6 {
		t.Errorf("incoming to C = %d, %v", len(in), err)
	}
	in, _, err = f.s.ListTransfers(TransferFilter{CommunityID: communityA, Direction: pb.TransferDirection_INCOMING}, 100, nil)
	if err != nil || len(in) != 1 || in[0].FromCommunityId != communityB {
		t.Errorf("incoming to A = %v, %v", in, err)
	}
}

// hasField reports whether err is a validation error naming field.
func hasField(err error, field string) bool {
	var ve *fault.ValidationError
	if !errors.As(err, &ve) {
		return false
	}
	for _, f := range ve.Fields {
		if f.Field == field {
			return true
		}
	}
	return false
}

// TestTransferProposedAtInTheStore: the store itself refuses a proposal
// day on a move at once, on a move out of the city and after now, and
// records a day in the past as the proposal's time.
func TestTransferProposedAtInTheStore(t *testing.T) {
	t.Parallel()
	f := newTransferFixture(t)
	r := f.retiree(t, communityA)
	past := testNow.AddDate(0, 0, -3)
	for name, req := range map[string]TransferRequest{
		"at once":     {RetireeID: r.Id, To: communityC, Reason: "纠正", Direct: true, ProposedAt: past},
		"out of city": {RetireeID: r.Id, Reason: "定居", Destination: &pb.TransferDestination{Description: "大连市"}, ProposedAt: past},
		"after now":   {RetireeID: r.Id, To: communityC, Reason: "搬迁", ProposedAt: testNow.Add(time.Hour)},
	} {
		_, _, err := f.s.TransferRetiree(req, sender, allow)
		var verr *fault.ValidationError
		if !errors.As(err, &verr) || len(verr.Fields) != 1 || verr.Fields[0].Field != "proposedOn" {
			t.Errorf("%s: %v, want a violation of proposedOn", name, err)
		}
	}
	_, tr, err := f.s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: communityC, Reason: "搬迁", ProposedAt: past}, sender, allow)
	if err != nil || !tr.ProposeTime.AsTime().Equal(past) || tr.State != pb.TransferState_PROPOSED {
		t.Errorf("a proposal made 3 days ago = %v, %v", tr, err)
	}
}
