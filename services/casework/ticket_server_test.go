package casework

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// TestCreateTicketValidation: every refusal names its field and reason,
// the ID and mobile refusals name the field only, and nothing is stored.
func TestCreateTicketValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(clerkP)
	r := livingIn(communityA, "孙淑芬")
	h.retirees(r)
	const idNumber, mobile = "110101194503011234", "13812345678"
	for _, tc := range []struct {
		name  string
		edit  func(*pb.Ticket)
		field string
	}{
		{"no channel", func(t *pb.Ticket) { t.Channel = 0 }, "ticket.channel"},
		{"hotline without referral", func(t *pb.Ticket) { t.Channel = pb.TicketChannel_HOTLINE_12345 }, "ticket.referralNumber"},
		{"bad referral", func(t *pb.Ticket) {
			t.Channel, t.ReferralNumber = pb.TicketChannel_HOTLINE_12333, "编号/1"
		}, "ticket.referralNumber"},
		{"referral off a hotline", func(t *pb.Ticket) { t.ReferralNumber = "A-1234" }, "ticket.referralNumber"},
		{"no category", func(t *pb.Ticket) { t.Category = "" }, "ticket.category"},
		{"unknown category", func(t *pb.Ticket) { t.Category = "NOPE" }, "ticket.category"},
		{"no subject", func(t *pb.Ticket) { t.Subject = nil }, "ticket.subject.kind"},
		{"bad retiree id", func(t *pb.Ticket) { t.Subject.Id, t.RetireeId = "x", "" }, "ticket.subject.id"},
		{"month in the future", func(t *pb.Ticket) { t.PaymentMonth = "2026-07" }, "ticket.paymentMonth"},
		{"bad month", func(t *pb.Ticket) { t.PaymentMonth = "2026-13" }, "ticket.paymentMonth"},
		{"no description", func(t *pb.Ticket) { t.Description = "" }, "ticket.description"},
		{"long description", func(t *pb.Ticket) { t.Description = strings.Repeat("长", 2001) }, "ticket.description"},
		{"ID number", func(t *pb.Ticket) { t.Description = "身份证号" + idNumber + "，请核实" }, "ticket.description"},
		{"mobile number", func(t *pb.Ticket) { t.Description = "儿子电话 138-1234-5678" }, "ticket.description"},
		{"mobile in complainant", func(t *pb.Ticket) { t.Complainant = "女儿" + mobile }, "ticket.complainant"},
		{"an ID number for a handover", func(t *pb.Ticket) {
			t.Subject, t.RetireeId, t.CommunityId = &pb.Subject{Kind: feedv1.SubjectKind_HANDOVER, Id: idNumber}, "", communityA
		}, "ticket.subject.id"},
		{"a mobile number for a referral", func(t *pb.Ticket) {
			t.Channel, t.ReferralNumber = pb.TicketChannel_HOTLINE_12345, mobile
		}, "ticket.referralNumber"},
		{"handover without community", func(t *pb.Ticket) {
			t.Subject, t.RetireeId = &pb.Subject{Kind: feedv1.SubjectKind_HANDOVER, Id: "H01JXK7Q3M9ZT8"}, ""
		}, "ticket.communityId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := retireeTicket(r.Id, "PAYMENT")
			tc.edit(in)
			_, err := h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: in})
			st := servicetest.WantCode(t, err, codes.InvalidArgument, mobile, "138-1234-5678")
			if _, ok := servicetest.Violations(st)[tc.field]; !ok {
				t.Errorf("violations %v do not name %s", servicetest.Violations(st), tc.field)
			}
		})
	}
	if n := h.itemCount(); n != 0 {
		t.Errorf("refused tickets stored %d items", n)
	}
	ok := retireeTicket(r.Id, "PAYMENT")
	ok.PaymentMonth = "2026-06"
	if _, err := h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: ok}); err != nil {
		t.Errorf("this month's payment refused: %v", err)
	}
}

// TestCreateTicketIdempotentAndPlaced: a request key makes one ticket; a
// retiree's ticket goes to the retiree's community; an unknown retiree
// is a 400 for admin and a 403 for a clerk.
func TestCreateTicketIdempotentAndPlaced(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(clerkP)
	r := livingIn(communityA, "周建华")
	h.retirees(r)
	resp, err := h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: retireeTicket(r.Id, "PAYMENT"), RequestKey: "call-0815"})
	if err != nil {
		t.Fatal(err)
	}
	first := resp.Ticket
	if first.CommunityId != communityA || first.State != pb.TicketState_TICKET_OPEN || first.WorkItemId == "" || first.Etag == "" {
		t.Errorf("created %v", first)
	}
	again, err := h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: retireeTicket(r.Id, "PAYMENT"), RequestKey: "call-0815"})
	if err != nil || again.GetTicket().GetId() != first.Id || h.itemCount() != 1 {
		t.Errorf("repeated: %v, %v, %d items", again.GetTicket().GetId(), err, h.itemCount())
	}
	other := retireeTicket(r.Id, "OTHER")
	_, err = h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: other, RequestKey: "call-0815"})
	servicetest.WantReason(t, err, codes.FailedPrecondition, ReasonRequestKeyReused)
	_, err = h.client.CreateTicket(h.as(adminP), &pb.CreateTicketRequest{Ticket: retireeTicket(unknownID, "OTHER")})
	servicetest.WantFields(t, err, "ticket.subject.id")
	_, err = h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: retireeTicket(unknownID, "OTHER")})
	servicetest.WantDenied(t, err)
	// A handover's ticket goes to the community the request names, which
	// must be the caller's.
	handover := func(community string) *pb.CreateTicketRequest {
		return &pb.CreateTicketRequest{Ticket: &pb.Ticket{Channel: pb.TicketChannel_COUNTER, Category: "HANDOVER", CommunityId: community,
			Subject: &pb.Subject{Kind: feedv1.SubjectKind_HANDOVER, Id: "H01JXK7Q3M9ZT8"}, Description: "移交材料缺失"}}
	}
	_, err = h.client.CreateTicket(ctx, handover(communityB))
	servicetest.WantDenied(t, err)
	if made, err := h.client.CreateTicket(ctx, handover(communityA)); err != nil || made.Ticket.CommunityId != communityA || made.Ticket.RetireeId != "" {
		t.Errorf("handover ticket: %v, %v", made, err)
	}
	got, err := h.client.GetTicket(h.as(bureauP), &pb.GetTicketRequest{Id: first.Id})
	if err != nil || got.Ticket.Description != first.Description {
		t.Errorf("get: %v, %v", got, err)
	}
	// Reads of a retiree's tickets are audited, one entry per read.
	entries, _, err := h.store.ListAudit(r.Id, 10, nil)
	if err != nil || len(entries) != 1 || entries[0].Action != "GetTicket" {
		t.Errorf("audit of the read: %v, %v", entries, err)
	}
	if _, err := h.client.ListTickets(ctx, &pb.ListTicketsRequest{}); err != nil {
		t.Fatal(err)
	}
	if entries, _, err = h.store.ListAudit(r.Id, 10, nil); err != nil || len(entries) != 2 {
		t.Errorf("audit of the list: %v, %v", entries, err)
	}
	// A ticket's item closes with the ticket, not by cancelling it.
	_, err = h.client.CancelWorkItem(h.as(adminP), &pb.CancelWorkItemRequest{Id: first.WorkItemId, Reason: "重复"})
	servicetest.WantReason(t, err, codes.FailedPrecondition, ReasonClosedAtSource)
}

// TestTicketChangesOverTheAPI: resolution and call-back validation, the
// etag, and a category's rules.
func TestTicketChangesOverTheAPI(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(clerkP)
	r := livingIn(communityA, "吴淑珍")
	h.retirees(r)
	created, err := h.client.CreateTicket(ctx, &pb.CreateTicketRequest{Ticket: retireeTicket(r.Id, "OTHER")})
	if err != nil {
		t.Fatal(err)
	}
	tk := created.Ticket
	_, err = h.client.ResolveTicket(ctx, &pb.ResolveTicketRequest{Id: tk.Id, Resolution: ""})
	servicetest.WantFields(t, err, "resolution")
	_, err = h.client.ResolveTicket(ctx, &pb.ResolveTicketRequest{Id: tk.Id, Resolution: "已办", Etag: "r99"})
	servicetest.WantCode(t, err, codes.Aborted)
	res, err := h.client.ResolveTicket(ctx, &pb.ResolveTicketRequest{Id: tk.Id, Resolution: "已办", Etag: tk.Etag})
	if err != nil || res.Ticket.State != pb.TicketState_TICKET_RESOLVED {
		t.Fatalf("resolve: %v, %v", res, err)
	}
	_, err = h.client.RecordCallback(ctx, &pb.RecordCallbackRequest{Id: tk.Id})
	servicetest.WantFields(t, err, "satisfaction")
	_, err = h.client.RecordCallback(ctx, &pb.RecordCallbackRequest{Id: tk.Id, Satisfaction: pb.Satisfaction_DISSATISFIED})
	servicetest.WantFields(t, err, "note")
	cb, err := h.client.RecordCallback(ctx, &pb.RecordCallbackRequest{Id: tk.Id, Satisfaction: pb.Satisfaction_DISSATISFIED, Note: "仍未解决"})
	if err != nil || cb.Ticket.State != pb.TicketState_TICKET_CLOSED || cb.Ticket.FollowUpItemId == "" {
		t.Fatalf("call-back: %v, %v", cb, err)
	}
	admin := h.as(adminP)
	for _, tc := range []struct {
		cat    *pb.TicketCategory
		fields []string
	}{
		{&pb.TicketCategory{Code: "x", Name: "其他", DeadlineHours: 1, Priority: 2}, []string{"category.code"}},
		{&pb.TicketCategory{Code: "LONG", Name: strings.Repeat("名", 21), DeadlineHours: 1, Priority: 2}, []string{"category.name"}},
		{&pb.TicketCategory{Code: "BOTH", Name: "两者", DeadlineHours: 1, DeadlineWorkingDays: 1, Priority: 2}, []string{"category.deadlineHours"}},
		{&pb.TicketCategory{Code: "NONE", Name: "皆无", Priority: 2}, []string{"category.deadlineHours"}},
		{&pb.TicketCategory{Code: "HOURS", Name: "小时", DeadlineHours: 2161, Priority: 2}, []string{"category.deadlineHours"}},
		{&pb.TicketCategory{Code: "DAYS", Name: "工作日", DeadlineWorkingDays: 61, Priority: 2}, []string{"category.deadlineWorkingDays"}},
		{&pb.TicketCategory{Code: "PRIO", Name: "优先", DeadlineHours: 1}, []string{"category.priority"}},
	} {
		_, err := h.client.SetTicketCategory(admin, &pb.SetTicketCategoryRequest{Category: tc.cat})
		servicetest.WantFields(t, err, tc.fields...)
	}
	set, err := h.client.SetTicketCategory(admin, &pb.SetTicketCategoryRequest{Category: &pb.TicketCategory{
		Code: "HEATING", Name: "供暖补贴", DeadlineWorkingDays: 7, Priority: pb.Priority_PRIORITY_HIGH}})
	if err != nil || set.Category.Code != "HEATING" {
		t.Fatalf("set: %v, %v", set, err)
	}
	list, err := h.client.ListTicketCategories(ctx, &pb.ListTicketCategoriesRequest{})
	if err != nil || len(list.Categories) != 6 {
		t.Errorf("categories: %v, %v", list, err)
	}
}

// TestResolveTicketAsAssignee: the clerk the ticket's item was
// reassigned to resolves it though the community is not its own, and
// cannot read other tickets there; another clerk elsewhere is refused.
func TestResolveTicketAsAssignee(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := livingIn(communityA, "郑桂芳")
	h.retirees(r)
	a, b := h.newTicket(retireeTicket(r.Id, "OTHER")), h.newTicket(retireeTicket(r.Id, "OTHER"))
	if _, err := h.store.Reassign([]string{a.WorkItemId}, "clerk-b", "支援", clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
	helper := h.as(servicetest.Clerk("clerk-b", communityB))
	_, err := h.client.ResolveTicket(helper, &pb.ResolveTicketRequest{Id: b.Id, Resolution: "已办"})
	servicetest.WantDenied(t, err)
	_, err = h.client.ResolveTicket(h.as(servicetest.Clerk("clerk-c", communityC)), &pb.ResolveTicketRequest{Id: a.Id, Resolution: "已办"})
	servicetest.WantDenied(t, err)
	res, err := h.client.ResolveTicket(helper, &pb.ResolveTicketRequest{Id: a.Id, Resolution: "已办"})
	if err != nil || res.Ticket.ResolvedBy != "clerk-b" || h.item(a.WorkItemId).State != pb.WorkState_DONE {
		t.Errorf("the assignee's resolution: %v, %v", res, err)
	}
}
