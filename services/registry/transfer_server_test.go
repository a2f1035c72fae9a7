package registry

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// clerkCP is a clerk of communityC, the receiving side of the tests'
// transfers.
var clerkCP = servicetest.Clerk("clerk-c", communityC)

// TestServerTransferFlow proposes, lists, reads, accepts and declines
// transfers over the API as the clerks of both sides would.
func TestServerTransferFlow(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	sending, receiving := h.as(clerkP), h.as(clerkCP)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	if _, err := c.GetRetiree(receiving, &pb.GetRetireeRequest{Id: r.Id}); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("the receiving clerk reads the retiree before the transfer: %v", err)
	}

	proposed, err := c.TransferRetiree(sending, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "随子女居住"})
	if err != nil {
		t.Fatal(err)
	}
	if p := proposed.Retiree; p.CommunityId != communityA || p.Etag != r.Etag || p.IdNumber != "" || p.Phone != "" {
		t.Errorf("proposal answered the retiree %v", p)
	}
	tr := proposed.Transfer
	if tr.State != pb.TransferState_PROPOSED || tr.ProposedBy != clerkP.Subject {
		t.Errorf("proposal = %v", tr)
	}

	// The receiving clerk finds the proposal among its incoming ones and
	// recognises the retiree by name and masked number only.
	in, err := c.ListTransfers(receiving, &pb.ListTransfersRequest{Direction: pb.TransferDirection_INCOMING})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Transfers) != 1 || in.Transfers[0].Id != tr.Id || in.Transfers[0].RetireeName != r.Name || in.Transfers[0].RetireeIdNumberMasked == "" {
		t.Fatalf("incoming = %v", in)
	}
	got, err := c.GetTransfer(receiving, &pb.GetTransferRequest{Id: tr.Id})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{prototext.Format(in), prototext.Format(got), prototext.Format(proposed)} {
		if strings.Contains(m, r.IdNumber) || strings.Contains(m, r.Phone) {
			t.Errorf("a transfer answer holds a full number: %s", m)
		}
	}
	if _, err := c.ListTransfers(receiving, &pb.ListTransfersRequest{CommunityId: communityA, Direction: pb.TransferDirection_OUTGOING}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("the receiving clerk lists another community's transfers: %v", err)
	}
	out, err := c.ListTransfers(sending, &pb.ListTransfersRequest{Direction: pb.TransferDirection_OUTGOING, State: pb.TransferState_PROPOSED})
	if err != nil || len(out.Transfers) != 1 {
		t.Errorf("outgoing = %v, %v", out, err)
	}
	wantAudited(t, h, r.Id, clerkCP.Subject, "ListTransfers", "GetTransfer")

	// The sending side cannot answer its own proposal; the receiving one
	// accepts, and the retiree is its.
	_, err = c.AcceptTransfer(sending, &pb.AcceptTransferRequest{Id: tr.Id})
	wantStatus(t, err, codes.PermissionDenied)
	accepted, err := c.AcceptTransfer(receiving, &pb.AcceptTransferRequest{Id: tr.Id})
	if err != nil {
		t.Fatal(err)
	}
	if accepted.Transfer.State != pb.TransferState_ACCEPTED || accepted.Retiree.CommunityId != communityC || accepted.Retiree.IdNumber != "" {
		t.Errorf("accepted = %v", accepted)
	}
	if _, err := c.GetRetiree(receiving, &pb.GetRetireeRequest{Id: r.Id}); err != nil {
		t.Errorf("the receiving clerk reads the retiree after the transfer: %v", err)
	}
	_, err = c.GetRetiree(sending, &pb.GetRetireeRequest{Id: r.Id})
	wantStatus(t, err, codes.PermissionDenied)
	_, err = c.AcceptTransfer(receiving, &pb.AcceptTransferRequest{Id: tr.Id})
	if info := wantReason(t, err, codes.FailedPrecondition, reasonTransferNotProposed); info.Metadata["state"] != "ACCEPTED" {
		t.Errorf("refusal metadata = %v", info.Metadata)
	}
}

// TestServerTransferDecline: one proposal at a time (409 naming it), a
// decline with its reason in the history.
func TestServerTransferDecline(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	sending, receiving := h.as(clerkP), h.as(clerkCP)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	proposed, err := c.TransferRetiree(sending, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "随子女居住"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.TransferRetiree(sending, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityB, Reason: "改迁"})
	if info := wantReason(t, err, codes.AlreadyExists, reasonTransferPending); info.Metadata["transferId"] != proposed.Transfer.Id {
		t.Errorf("409 metadata = %v", info.Metadata)
	}
	_, err = c.DeclineTransfer(receiving, &pb.DeclineTransferRequest{Id: proposed.Transfer.Id})
	wantFields(t, err, "reason")
	declined, err := c.DeclineTransfer(receiving, &pb.DeclineTransferRequest{Id: proposed.Transfer.Id, Reason: "本社区查无此户"})
	if err != nil {
		t.Fatal(err)
	}
	if d := declined.Transfer; d.State != pb.TransferState_DECLINED || d.DeclineReason != "本社区查无此户" || d.AnsweredBy != clerkCP.Subject {
		t.Errorf("declined = %v", d)
	}
	hist, err := c.ListRetireeHistory(sending, &pb.ListRetireeHistoryRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range hist.Entries {
		got = append(got, e.Kind.String()+"/"+e.Actor+"/"+e.Reason)
	}
	want := []string{"CREATED/test/", "TRANSFER_PROPOSED/clerk-a/随子女居住", "TRANSFER_DECLINED/clerk-c/本社区查无此户"}
	if !slices.Equal(got, want) {
		t.Errorf("history = %q, want %q", got, want)
	}
	if _, err := c.TransferRetiree(sending, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityB, Reason: "改迁"}); err != nil {
		t.Errorf("a new proposal after the decline: %v", err)
	}
}

// TestServerTransferByAdmin: admin moves a retiree at once and the
// transfer is recorded as accepted by admin; out of the city the retiree
// is MOVED_OUT.
func TestServerTransferByAdmin(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	moved, err := c.TransferRetiree(h.as(adminP), &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "纠正错误登记"})
	if err != nil {
		t.Fatal(err)
	}
	if moved.Retiree.CommunityId != communityC || moved.Transfer.State != pb.TransferState_ACCEPTED || moved.Transfer.AnsweredBy != adminP.Subject {
		t.Errorf("admin's move = %v", moved)
	}
	gone, err := c.TransferRetiree(h.as(clerkCP), &pb.TransferRetireeRequest{
		Id: r.Id, Reason: "随子女定居", OutOfCity: true, Destination: &pb.TransferDestination{Description: "北京市朝阳区", DivisionCode: "110105"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if g := gone.Retiree; g.Status != pb.RetireeStatus_MOVED_OUT || g.MovedOutTo.GetDivisionCode() != "110105" || gone.Transfer.State != pb.TransferState_COMPLETED_OUT_OF_CITY {
		t.Errorf("moved out = %v", gone)
	}
}

// TestServerMovedOutIsOutputOnly: only a transfer out of the city says
// where a retiree went; a create that says it is not believed.
func TestServerMovedOutIsOutputOnly(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	in := newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)
	in.MovedOutTo, in.MovedOutDate = &pb.TransferDestination{Description: "大连市"}, "2026-01-01"
	created, err := h.client.CreateRetiree(h.as(clerkP), &pb.CreateRetireeRequest{Retiree: in})
	if err != nil {
		t.Fatal(err)
	}
	if r := created.Retiree; r.MovedOutTo != nil || r.MovedOutDate != "" || r.Status != pb.RetireeStatus_LIVING {
		t.Errorf("created = %v", r)
	}
}

// TestServerTransferLapse: an answer after 30 days is refused as lapsed,
// and the transfer reads LAPSED.
func TestServerTransferLapse(t *testing.T) {
	t.Parallel()
	clock := testclock.New(testNow)
	s := openStoreClock(t, filepath.Join(t.TempDir(), "registry.db"), 0, clock.Now)
	t.Cleanup(func() { s.Close() })
	seedRefs(t, s)
	h := newHarness(t, s, harnessOptions{})
	c := h.client
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	proposed, err := c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "随子女居住"})
	if err != nil {
		t.Fatal(err)
	}
	clock.Set(testNow.Add(TransferLapse))
	_, err = c.AcceptTransfer(h.as(clerkCP), &pb.AcceptTransferRequest{Id: proposed.Transfer.Id})
	wantReason(t, err, codes.FailedPrecondition, reasonTransferLapsed)
	got, err := c.GetTransfer(h.as(clerkP), &pb.GetTransferRequest{Id: proposed.Transfer.Id})
	if err != nil || got.Transfer.State != pb.TransferState_LAPSED || !got.Transfer.AnswerTime.AsTime().Equal(testNow.Add(TransferLapse)) {
		t.Errorf("lapsed = %v, %v", got, err)
	}
	if r2, _ := s.GetRetiree(r.Id); r2.CommunityId != communityA || r2.Etag != r.Etag {
		t.Errorf("the lapsed transfer changed the retiree: %v", r2)
	}
	clock.Set(clock.Now().Add(time.Hour))
	if _, err := c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "再次申请"}); err != nil {
		t.Errorf("a new proposal after the lapse: %v", err)
	}
}

// TestServerTransferProposedOnPaper: a proposal entered after it was made
// on paper runs its 30 days from that day; one made more than 30 days ago
// is recorded and lapses at once; a proposal day before the end of the
// retiree's last transfer, in the future, more than a year back,
// on admin's move or on a move out of the city is refused and changes
// nothing.
func TestServerTransferProposedOnPaper(t *testing.T) {
	t.Parallel()
	clock := testclock.New(testNow.AddDate(0, 0, -100))
	s := openStoreClock(t, filepath.Join(t.TempDir(), "registry.db"), 0, clock.Now)
	t.Cleanup(func() { s.Close() })
	seedRefs(t, s)
	h := newHarness(t, s, harnessOptions{})
	c := h.client
	today := testNow.In(workdays.ChinaTime)
	day := func(back int) string { return today.AddDate(0, 0, -back).Format(time.DateOnly) }
	startOf := func(back int) time.Time {
		d, _ := time.ParseInLocation(time.DateOnly, day(back), workdays.ChinaTime)
		return d
	}
	recent := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	old := mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY))
	refused := mustCreate(t, s, newRetiree(t, 3, communityA, pb.ManagementMode_COMMUNITY))
	clock.Set(testNow.AddDate(0, 0, -5))
	late := mustCreate(t, s, newRetiree(t, 4, communityA, pb.ManagementMode_COMMUNITY))
	clock.Set(testNow)

	got, err := c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: recent.Id, ToCommunityId: communityC, Reason: "随子女居住", ProposedOn: day(10)})
	if err != nil {
		t.Fatal(err)
	}
	if tr := got.Transfer; tr.State != pb.TransferState_PROPOSED || !tr.ProposeTime.AsTime().Equal(startOf(10)) || !tr.LapseTime.AsTime().Equal(startOf(10).Add(TransferLapse)) {
		t.Errorf("a proposal made on paper 10 days ago = %v", tr)
	}

	got, err = c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: old.Id, ToCommunityId: communityC, Reason: "随子女居住", ProposedOn: day(40)})
	if err != nil {
		t.Fatal(err)
	}
	if tr := got.Transfer; tr.State != pb.TransferState_LAPSED || !tr.AnswerTime.AsTime().Equal(startOf(40).Add(TransferLapse)) || got.Retiree.CommunityId != communityA {
		t.Errorf("a proposal made on paper 40 days ago = %v", got)
	}
	lapsed, err := c.ListTransfers(h.as(clerkP), &pb.ListTransfersRequest{Direction: pb.TransferDirection_OUTGOING, State: pb.TransferState_LAPSED})
	if err != nil || len(lapsed.Transfers) != 1 || lapsed.Transfers[0].RetireeId != old.Id {
		t.Errorf("lapsed outgoing = %v, %v", lapsed, err)
	}
	hist, err := c.ListRetireeHistory(h.as(clerkP), &pb.ListRetireeHistoryRequest{Id: old.Id, PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []pb.ChangeKind
	for _, e := range hist.Entries {
		kinds = append(kinds, e.Kind)
	}
	if i, j := slices.Index(kinds, pb.ChangeKind_TRANSFER_PROPOSED), slices.Index(kinds, pb.ChangeKind_TRANSFER_LAPSED); i < 0 || j < 0 {
		t.Errorf("history kinds %v, want the proposal and its lapse", kinds)
	}

	// A paper proposal may not reach back into the lapsed one's 30 days;
	// after them it may. A retiree entered 5 days ago may carry one of 8
	// days ago: rosters are entered after the fact.
	_, err = c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: old.Id, ToCommunityId: communityC, Reason: "再次申请", ProposedOn: day(20)})
	wantFields(t, err, "proposedOn")
	if _, err := c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: late.Id, ToCommunityId: communityC, Reason: "随子女居住", ProposedOn: day(8)}); err != nil {
		t.Errorf("a paper proposal older than the retiree's registration: %v", err)
	}
	if _, err := c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: old.Id, ToCommunityId: communityC, Reason: "再次申请", ProposedOn: day(5)}); err != nil {
		t.Errorf("a paper proposal after the lapsed one: %v", err)
	}

	for name, tc := range map[string]struct {
		as  authn.Principal
		req *pb.TransferRetireeRequest
	}{
		"future":      {clerkP, &pb.TransferRetireeRequest{Id: refused.Id, ToCommunityId: communityC, Reason: "x", ProposedOn: today.AddDate(0, 0, 1).Format(time.DateOnly)}},
		"over a year": {clerkP, &pb.TransferRetireeRequest{Id: refused.Id, ToCommunityId: communityC, Reason: "x", ProposedOn: day(maxProposedBack + 1)}},
		"not a date":  {clerkP, &pb.TransferRetireeRequest{Id: refused.Id, ToCommunityId: communityC, Reason: "x", ProposedOn: "2026-02-30"}},
		"admin":       {adminP, &pb.TransferRetireeRequest{Id: refused.Id, ToCommunityId: communityC, Reason: "x", ProposedOn: day(5)}},
		"out of city": {clerkP, &pb.TransferRetireeRequest{Id: refused.Id, Reason: "x", OutOfCity: true, Destination: &pb.TransferDestination{Description: "北京市"}, ProposedOn: day(5)}},
	} {
		_, err := c.TransferRetiree(h.as(tc.as), tc.req)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s: %v, want InvalidArgument", name, err)
			continue
		}
		wantFields(t, err, "proposedOn")
	}
	if got, _ := s.GetRetiree(refused.Id); got.Etag != refused.Etag || got.CommunityId != communityA {
		t.Errorf("a refused transfer changed the retiree: %v", got)
	}
	out, err := c.ListTransfers(h.as(clerkP), &pb.ListTransfersRequest{Direction: pb.TransferDirection_OUTGOING})
	if err != nil || len(out.Transfers) != 4 {
		t.Errorf("outgoing after the refusals = %v, %v; want the 4 proposals", out, err)
	}
}

// TestProposedOnIsChinasDay: a proposal's day is checked against the day
// in China: at 20:00 UTC China's day is already the next one, and a year
// back is accepted to the day.
func TestProposedOnIsChinasDay(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 6, 15, 20, 0, 0, 0, time.UTC) // 2026-06-16 04:00 in China
	for on, ok := range map[string]bool{"2026-06-16": true, "2026-06-17": false, "2025-06-16": true, "2025-06-15": false} {
		req := &pb.TransferRetireeRequest{Id: "r", ToCommunityId: communityB, Reason: "搬迁", ProposedOn: on}
		if err := checkTransferRequest(req, now); (err == nil) != ok {
			t.Errorf("proposedOn %s at %v: %v, want accepted %v", on, now, err, ok)
		}
	}
}

// wantAudited checks that retiree id's audit log has, by subject, an
// entry for each action.
func wantAudited(t *testing.T, h *harness, id, subject string, actions ...string) {
	t.Helper()
	log, err := h.client.ListRetireeAuditLog(h.as(adminP), &pb.ListRetireeAuditLogRequest{Id: id, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, action := range actions {
		if !slices.ContainsFunc(log.Entries, func(e *pb.AuditEntry) bool { return e.Subject == subject && e.Action == action }) {
			t.Errorf("no audit entry of %s by %s in %v", action, subject, log.Entries)
		}
	}
}

// FuzzCheckTransferRequest: checkTransferRequest never panics, refuses
// with field violations only, and what it accepts is either a transfer to
// a community of this system or a move out of the city to a destination.
func FuzzCheckTransferRequest(f *testing.F) {
	f.Add(communityB, "搬迁", false, false, "", "", "")
	f.Add("", "随子女定居", true, true, "辽宁省大连市中山区", "210202", "")
	f.Add(communityB, "定居", true, true, "大连市", "", "")
	f.Add("", "", true, false, "", "", "")
	f.Add("123", "x\x00", false, true, "\u202e", "21020", "")
	f.Add("", "定居", true, true, "北京市", "110105001001", "")
	f.Add(communityB, "搬迁", false, false, "", "", "2026-05-01")
	f.Add(communityB, "搬迁", false, false, "", "", "2026-06-16")
	f.Fuzz(func(t *testing.T, to, reason string, outOfCity, withDest bool, description, code, proposedOn string) {
		req := &pb.TransferRetireeRequest{Id: "r", ToCommunityId: to, Reason: reason, OutOfCity: outOfCity, ProposedOn: proposedOn}
		if withDest {
			req.Destination = &pb.TransferDestination{Description: description, DivisionCode: code}
		}
		err := checkTransferRequest(req, testNow)
		if err != nil {
			var verr *fault.ValidationError
			if !errors.As(err, &verr) || len(verr.Fields) == 0 {
				t.Fatalf("error %v is not a validation error", err)
			}
			return
		}
		if strings.TrimSpace(reason) == "" {
			t.Fatal("accepted without a reason")
		}
		if proposedOn != "" {
			d, perr := time.ParseInLocation(time.DateOnly, proposedOn, workdays.ChinaTime)
			if perr != nil || outOfCity || d.After(testNow) || d.Before(testNow.AddDate(-1, 0, -1)) {
				t.Fatalf("accepted proposal day %q (out of city %v)", proposedOn, outOfCity)
			}
		}
		if !outOfCity {
			if !inputcheck.IsCommunityID(to) || req.Destination != nil {
				t.Fatalf("accepted a transfer to %q with destination %v", to, req.Destination)
			}
			return
		}
		if to != "" || strings.TrimSpace(req.Destination.GetDescription()) == "" {
			t.Fatalf("accepted a move out of the city to %q, %v", to, req.Destination)
		}
		if c := req.Destination.DivisionCode; c != "" && !isDivisionCode(c) {
			t.Fatalf("accepted division code %q", c)
		}
	})
}
