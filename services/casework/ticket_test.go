package casework

import (
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// everywhere places a ticket anywhere (the store's tests; the server's
// rules are the matrix's).
func everywhere(string, bool) error { return nil }

// retireeTicket is a valid ticket about a retiree.
func retireeTicket(retiree, category string) *pb.Ticket {
	return &pb.Ticket{
		Channel: pb.TicketChannel_TELEPHONE, Category: category,
		Subject:   &pb.Subject{Kind: feedv1.SubjectKind_RETIREE, Id: retiree},
		RetireeId: retiree, Description: "老人反映养老金未按时到账",
	}
}

// newTicket stores t through the store.
func (e *env) newTicket(t *pb.Ticket) *pb.Ticket {
	e.t.Helper()
	out, err := e.store.CreateTicket(t, "", clerkActor, everywhere)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// ticket reads a ticket with its item's clock.
func (e *env) ticket(id string) *pb.Ticket {
	e.t.Helper()
	t, err := e.store.GetTicket(id, func(*pb.Ticket, *pb.WorkItem) error { return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	return t
}

// anyTicket lets every ticket change through.
func anyTicket(*pb.Ticket, *pb.WorkItem) error { return nil }

// TestTicketCategoriesSeeded: a new file has the five categories of the
// issue, and a reopen does not seed them again over an admin's change.
func TestTicketCategoriesSeeded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cats, err := e.store.Categories()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*pb.TicketCategory{}
	for _, c := range cats {
		got[c.Code] = c
	}
	if len(cats) != 5 || got["EMERGENCY"].GetDeadlineHours() != 24 || got["PAYMENT"].GetDeadlineWorkingDays() != 3 ||
		got["OTHER"].GetDeadlineHours() != 336 || got["EMERGENCY"].GetPriority() != pb.Priority_PRIORITY_URGENT ||
		got["CERTIFICATION"].GetDeadlineWorkingDays() != 5 || got["HANDOVER"].GetDeadlineWorkingDays() != 10 {
		t.Errorf("seeded categories: %v", cats)
	}
	if _, err := e.store.SetCategory(&pb.TicketCategory{Code: "EMERGENCY", Name: "紧急", DeadlineHours: 12, Priority: pb.Priority_PRIORITY_URGENT}); err != nil {
		t.Fatal(err)
	}
	if err := e.store.seedCategories(); err != nil {
		t.Fatal(err)
	}
	cats, _ = e.store.Categories()
	if cats[1].Code != "EMERGENCY" || cats[1].DeadlineHours != 12 {
		t.Errorf("seeding again overwrote a change: %v", cats[1])
	}
}

// TestTicketDeadlines: each category's due time with the 2026 National
// Day holiday (1–7 October, 10 October a working Saturday) in the way,
// for a ticket made on Wednesday 30 September at 10:00 China time.
func TestTicketDeadlines(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	made := time.Date(2026, 9, 30, 10, 0, 0, 0, workdays.ChinaTime)
	e.clock.Set(made)
	r := livingIn(communityA, "王建国")
	e.retirees(r)
	endOf := func(m time.Month, d int) time.Time { return time.Date(2026, m, d, 23, 59, 59, 0, workdays.ChinaTime) }
	for cat, want := range map[string]time.Time{
		"EMERGENCY":     made.Add(24 * time.Hour),
		"PAYMENT":       endOf(10, 10), // 8, 9, 10 October
		"CERTIFICATION": endOf(10, 13), // 8, 9, 10, 12, 13
		"HANDOVER":      endOf(10, 20), // … 14, 15, 16, 19, 20
		"OTHER":         made.Add(14 * 24 * time.Hour),
	} {
		tk := e.newTicket(retireeTicket(r.Id, cat))
		if !tk.DueTime.AsTime().Equal(want) {
			t.Errorf("%s: due %v, want %v", cat, tk.DueTime.AsTime().In(workdays.ChinaTime), want)
		}
		it := e.item(tk.WorkItemId)
		if it.Kind != pb.WorkKind_COMPLAINT || it.Source != ticketSource || it.SourceKey != "ticket/"+tk.Id ||
			!it.DueTime.AsTime().Equal(want) || it.Subject.GetKind() != feedv1.SubjectKind_TICKET || it.RetireeName != "王建国" {
			t.Errorf("%s: item %v", cat, it)
		}
		if tk.State != pb.TicketState_TICKET_OPEN || tk.CommunityId != communityA || tk.Clock != pb.Clock_ON_TRACK {
			t.Errorf("%s: ticket %v", cat, tk)
		}
	}
	// The priority is the category's.
	tk := e.newTicket(retireeTicket(r.Id, "EMERGENCY"))
	if p := e.item(tk.WorkItemId).Priority; p != pb.Priority_PRIORITY_URGENT {
		t.Errorf("emergency item priority %v", p)
	}
}

// TestTicketBreachEscalates: an emergency ticket's item breaches after 24
// hours; the sweeper escalates it, and the ticket shows the clock and the
// level.
func TestTicketBreachEscalates(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := livingIn(communityA, "李秀英")
	e.retirees(r)
	tk := e.newTicket(retireeTicket(r.Id, "EMERGENCY"))
	e.clock.Set(testNow.Add(19 * hour))
	e.sweep()
	if got := e.ticket(tk.Id); got.Clock != pb.Clock_AT_RISK || got.EscalationLevel != 0 {
		t.Errorf("at 19 h: %v level %d, want AT_RISK 0", got.Clock, got.EscalationLevel)
	}
	e.clock.Set(testNow.Add(24*hour + time.Second))
	if n := e.sweep(); n == 0 {
		t.Error("the sweeper moved nothing at the breach")
	}
	got := e.ticket(tk.Id)
	if got.Clock != pb.Clock_BREACHED || got.EscalationLevel != 1 {
		t.Errorf("after the breach: %v level %d, want BREACHED 1", got.Clock, got.EscalationLevel)
	}
	if it := e.item(tk.WorkItemId); it.EscalationLevel != 1 || it.Clock != pb.Clock_BREACHED {
		t.Errorf("item after the breach: %v", it)
	}
}

// resolvedHook records the tickets the complaint-resolved hook saw.
func resolvedHook(e *env) *[]string {
	var seen []string
	e.store.OnComplaintResolved(func(_ *bolt.Tx, t *pb.Ticket) error {
		seen = append(seen, t.Id)
		return nil
	})
	return &seen
}

// TestResolveTicketBothWays: ResolveTicket completes the item, and
// completing the item resolves the ticket; both end in the same state,
// and the hook hears each retiree's ticket once and no handover's.
func TestResolveTicketBothWays(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	seen := resolvedHook(e)
	r := livingIn(communityA, "张桂兰")
	e.retirees(r)
	a, b := e.newTicket(retireeTicket(r.Id, "PAYMENT")), e.newTicket(retireeTicket(r.Id, "PAYMENT"))
	e.clock.Set(testNow.Add(hour))
	ra, err := e.store.ResolveTicket(a.Id, a.Etag, "已补发", true, clerkActor, anyTicket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.Complete(b.WorkItemId, "", "已补发", true, clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
	rb := e.ticket(b.Id)
	for _, c := range []struct {
		tk *pb.Ticket
		it *pb.WorkItem
	}{{ra, e.item(a.WorkItemId)}, {rb, e.item(b.WorkItemId)}} {
		if c.tk.State != pb.TicketState_TICKET_RESOLVED || c.tk.Resolution != "已补发" || c.tk.ResolvedBy != "clerk-a" ||
			!c.tk.ResolveTime.AsTime().Equal(testNow.Add(hour)) {
			t.Errorf("ticket %v", c.tk)
		}
		if c.it.State != pb.WorkState_DONE || c.it.Outcome != "已补发" || c.it.Assignee != "clerk-a" ||
			!slices.Equal(kinds(c.it.History), []pb.WorkEventKind{pb.WorkEventKind_CREATED, pb.WorkEventKind_CLAIMED, pb.WorkEventKind_COMPLETED}) {
			t.Errorf("item %v", c.it)
		}
	}
	if got := e.counts(Query{Community: communityA}); got.OnTrack+got.AtRisk+got.Breached != 0 {
		t.Errorf("open counts after both resolved: %v", got)
	}
	if len(*seen) != 2 || (*seen)[0] != a.Id || (*seen)[1] != b.Id {
		t.Errorf("hook saw %v", *seen)
	}
	_, err = e.store.ResolveTicket(a.Id, "", "again", false, clerkActor, anyTicket)
	wantCode(t, err, codes.FailedPrecondition)
	// A handover's ticket calls no retiree hook.
	h := e.newTicket(&pb.Ticket{Channel: pb.TicketChannel_COUNTER, Category: "HANDOVER", CommunityId: communityA,
		Subject: &pb.Subject{Kind: feedv1.SubjectKind_HANDOVER, Id: "H01JXK7Q3M9ZT8"}, Description: "移交材料缺失"})
	if _, err := e.store.ResolveTicket(h.Id, "", "已补齐", false, clerkActor, anyTicket); err != nil {
		t.Fatal(err)
	}
	if len(*seen) != 2 {
		t.Errorf("hook saw a handover's ticket: %v", *seen)
	}
}

// TestRecordCallback: only after resolution, once; every satisfaction
// closes the ticket, and DISSATISFIED opens an escalated follow-up item
// whose completion leaves the ticket closed.
func TestRecordCallback(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := livingIn(communityA, "赵德明")
	e.retirees(r)
	for _, sat := range []pb.Satisfaction{pb.Satisfaction_SATISFIED, pb.Satisfaction_PARTLY_SATISFIED, pb.Satisfaction_UNREACHABLE, pb.Satisfaction_DISSATISFIED} {
		tk := e.newTicket(retireeTicket(r.Id, "OTHER"))
		_, err := e.store.RecordCallback(tk.Id, "", sat, "", clerkActor, anyTicket)
		wantCode(t, err, codes.FailedPrecondition)
		if _, err := e.store.ResolveTicket(tk.Id, "", "已解释政策", false, clerkActor, anyTicket); err != nil {
			t.Fatal(err)
		}
		got, err := e.store.RecordCallback(tk.Id, "", sat, "仍未到账", clerkActor, anyTicket)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != pb.TicketState_TICKET_CLOSED || got.Satisfaction != sat || got.CallbackNote != "仍未到账" || got.CallbackTime == nil {
			t.Errorf("%v: %v", sat, got)
		}
		_, err = e.store.RecordCallback(tk.Id, "", sat, "", clerkActor, anyTicket)
		wantCode(t, err, codes.FailedPrecondition)
		if sat != pb.Satisfaction_DISSATISFIED {
			if got.FollowUpItemId != "" {
				t.Errorf("%v opened a follow-up", sat)
			}
			continue
		}
		fu := e.item(got.FollowUpItemId)
		if fu.Kind != pb.WorkKind_COMPLAINT || fu.EscalationLevel != 1 || !isOpen(fu.State) || fu.CommunityId != communityA ||
			fu.SourceKey != "ticket/"+tk.Id+"/follow-up" || fu.Summary != "【回访不满意】仍未到账" {
			t.Errorf("follow-up item %v", fu)
		}
		if _, err := e.store.Complete(fu.Id, "", "已再次上门", true, clerkActor, anyone); err != nil {
			t.Fatal(err)
		}
		if after := e.ticket(tk.Id); after.State != pb.TicketState_TICKET_CLOSED || after.Resolution != "已解释政策" {
			t.Errorf("completing the follow-up changed the ticket: %v", after)
		}
	}
}

// TestTicketKeepsDeadlineWhenCategoryChanges: a category's new deadline
// applies to tickets made after the change only.
func TestTicketKeepsDeadlineWhenCategoryChanges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := livingIn(communityA, "陈玉珍")
	e.retirees(r)
	before := e.newTicket(retireeTicket(r.Id, "EMERGENCY"))
	if _, err := e.store.SetCategory(&pb.TicketCategory{Code: "EMERGENCY", Name: "紧急求助", DeadlineHours: 4, Priority: pb.Priority_PRIORITY_URGENT}); err != nil {
		t.Fatal(err)
	}
	after := e.newTicket(retireeTicket(r.Id, "EMERGENCY"))
	if got := e.ticket(before.Id).DueTime.AsTime(); !got.Equal(testNow.Add(24 * hour)) {
		t.Errorf("open ticket's due moved to %v", got)
	}
	if got := after.DueTime.AsTime(); !got.Equal(testNow.Add(4 * hour)) {
		t.Errorf("new ticket due %v, want 4 hours", got)
	}
}

// TestListTickets: newest first, by state, in pages; other communities'
// tickets stay out.
func TestListTickets(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ra, rb := livingIn(communityA, "甲"), livingIn(communityB, "乙")
	e.retirees(ra, rb)
	var ids []string
	for i := range 5 {
		e.clock.Set(testNow.Add(time.Duration(i) * time.Minute))
		ids = append(ids, e.newTicket(retireeTicket(ra.Id, "OTHER")).Id)
	}
	e.newTicket(retireeTicket(rb.Id, "OTHER"))
	if _, err := e.store.ResolveTicket(ids[1], "", "已处理", false, clerkActor, anyTicket); err != nil {
		t.Fatal(err)
	}
	var got []string
	var after []byte
	for range 10 {
		page, next, err := e.store.ListTickets(TicketQuery{Community: communityA}, 2, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, tk := range page {
			got = append(got, tk.Id)
		}
		if after = next; next == nil {
			break
		}
	}
	if want := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}; !slices.Equal(got, want) {
		t.Errorf("list %v, want %v", got, want)
	}
	resolved, _, err := e.store.ListTickets(TicketQuery{Community: communityA, State: pb.TicketState_TICKET_RESOLVED}, 10, nil)
	if err != nil || len(resolved) != 1 || resolved[0].Id != ids[1] {
		t.Errorf("resolved: %v, %v", resolved, err)
	}
	area, _, err := e.store.ListTickets(TicketQuery{Community: communityA[:9], Area: true}, 10, nil)
	if err != nil || len(area) != 6 {
		t.Errorf("area list: %d tickets, %v", len(area), err)
	}
}

// TestTicketRetireeUnknownToStore: the store asks the place function
// with known=false and answers 400 when it lets the caller through.
func TestTicketRetireeUnknownToStore(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.store.CreateTicket(retireeTicket(unknownID, "OTHER"), "", clerkActor, everywhere)
	wantCode(t, err, codes.InvalidArgument)
}

// TestTicketMovesWithRetiree: an open ticket follows its retiree to a new
// community with its item; a resolved one stays where it was.
func TestTicketMovesWithRetiree(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := livingIn(communityA, "冯志强")
	e.retirees(r)
	open, done := e.newTicket(retireeTicket(r.Id, "OTHER")), e.newTicket(retireeTicket(r.Id, "OTHER"))
	if _, err := e.store.ResolveTicket(done.Id, "", "已办", false, clerkActor, anyTicket); err != nil {
		t.Fatal(err)
	}
	moved := proto.Clone(r).(*registryv1.RetireeState)
	moved.CommunityId = communityB
	e.retirees(moved)
	if got := e.ticket(open.Id); got.CommunityId != communityB || e.item(open.WorkItemId).CommunityId != communityB {
		t.Errorf("open ticket in %s, item in %s; want both in B", got.CommunityId, e.item(open.WorkItemId).CommunityId)
	}
	if got := e.ticket(done.Id); got.CommunityId != communityA {
		t.Errorf("resolved ticket moved to %s", got.CommunityId)
	}
	inB, _, err := e.store.ListTickets(TicketQuery{Community: communityB}, 10, nil)
	inA, _, err2 := e.store.ListTickets(TicketQuery{Community: communityA}, 10, nil)
	if err != nil || err2 != nil || len(inB) != 1 || inB[0].Id != open.Id || len(inA) != 1 || inA[0].Id != done.Id {
		t.Errorf("lists after the move: B %v, A %v (%v, %v)", inB, inA, err, err2)
	}
}
