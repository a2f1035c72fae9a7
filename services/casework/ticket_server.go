package casework

import (
	"context"
	"regexp"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// Bounds of a ticket's text.
const (
	maxDescription = 2000
	maxComplainant = 50
	maxCallback    = 500
	maxCategoryLen = 20
	maxHours       = 2160
	maxWorkingDays = 60
)

var (
	referralRE = regexp.MustCompile(`^[A-Za-z0-9-]{4,32}$`)
	// handoverRE is the shape of a handover id (handover's "H" and its
	// base-32 letters): casework does not read handovers, but keeps other
	// things, personal numbers above all, out of a ticket's subject.
	handoverRE     = regexp.MustCompile(`^H[0-9A-Za-z]{4,40}$`)
	categoryCodeRE = regexp.MustCompile(`^[A-Z][A-Z0-9_]{1,31}$`)
	monthRE        = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)
)

// Who may do what with tickets: as with work items, a clerk its
// communities' tickets, supervisors their area's, the bureau reads,
// admin everything; enterprises, archivists and the service role
// nothing. The categories are read by everyone who reads tickets and set
// by admin.

// CreateTicket implements pb.CaseworkServiceServer: a clerk of the
// community, a supervisor of its area, or admin. A retiree's ticket goes
// to the retiree's community; an unknown retiree is a 400 for admin and
// a 403 for everyone else, as for a retiree of another community.
func (s *Server) CreateTicket(ctx context.Context, req *pb.CreateTicketRequest) (*pb.CreateTicketResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	if err := checkTicket(req, s.store.Now()); err != nil {
		return nil, s.fail(ctx, err)
	}
	place := func(community string, known bool) error {
		if p.Is(authn.RoleAdmin) || (known && p.InArea(community)) {
			return nil
		}
		return authn.ErrPermissionDenied
	}
	key := ""
	if req.RequestKey != "" {
		key = string(p.Role) + "\x00" + p.Subject + "\x00" + req.RequestKey
	}
	t, err := s.store.CreateTicket(req.Ticket, key, actorOf(ctx, p), place)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateTicketResponse{Ticket: t}, nil
}

// checkTicket validates a CreateTicket request; what the service sets is
// cleared.
func checkTicket(req *pb.CreateTicketRequest, now time.Time) error {
	var v fault.Violations
	t := req.GetTicket()
	if t == nil {
		v.Add("ticket", "required")
		return v.Err()
	}
	checkChannel(&v, t)
	if !categoryCodeRE.MatchString(t.Category) {
		v.Add("ticket.category", "required: a category code such as PAYMENT")
	}
	checkTicketSubject(&v, t, now)
	inputcheck.MultilineText(&v, "ticket.description", t.Description, true, maxDescription)
	inputcheck.NoPersonalNumbers(&v, "ticket.description", t.Description)
	inputcheck.Text(&v, "ticket.complainant", t.Complainant, false, maxComplainant)
	inputcheck.NoPersonalNumbers(&v, "ticket.complainant", t.Complainant)
	if len(req.RequestKey) > maxKeyLen {
		v.Addf("requestKey", "at most %d bytes", maxKeyLen)
	}
	if err := v.Err(); err != nil {
		return err
	}
	keep := &pb.Ticket{
		Channel: t.Channel, Category: t.Category, Subject: t.Subject, RetireeId: t.RetireeId, PaymentMonth: t.PaymentMonth,
		CommunityId: t.CommunityId, Description: t.Description, Complainant: t.Complainant, ReferralNumber: t.ReferralNumber,
	}
	req.Ticket = keep
	return nil
}

// checkChannel checks the channel and the hotlines' referral number.
func checkChannel(v *fault.Violations, t *pb.Ticket) {
	hotline := t.Channel == pb.TicketChannel_HOTLINE_12345 || t.Channel == pb.TicketChannel_HOTLINE_12333
	switch _, ok := pb.TicketChannel_name[int32(t.Channel)]; {
	case !ok || t.Channel == pb.TicketChannel_TICKET_CHANNEL_UNSPECIFIED:
		v.Add("ticket.channel", "required: COUNTER, TELEPHONE, HOTLINE_12345, HOTLINE_12333 or AT_VISIT")
	case hotline && t.ReferralNumber == "":
		v.Add("ticket.referralNumber", "required for a hotline's referral")
	case hotline && !referralRE.MatchString(t.ReferralNumber):
		v.Add("ticket.referralNumber", "must be 4 to 32 letters, digits or dashes")
	case hotline:
		inputcheck.NoPersonalNumbers(v, "ticket.referralNumber", t.ReferralNumber)
	case !hotline && t.ReferralNumber != "":
		v.Add("ticket.referralNumber", "only a hotline's referral has one")
	}
}

// checkTicketSubject checks what a ticket is about: a retiree (subject
// RETIREE, its id the retiree's; with payment_month, a payment month) or
// a handover (subject HANDOVER with community_id). retiree_id, when
// given for a retiree, must repeat the subject's id; it is set from it.
func checkTicketSubject(v *fault.Violations, t *pb.Ticket, now time.Time) {
	switch t.Subject.GetKind() {
	case feedv1.SubjectKind_RETIREE:
		if !inputcheck.IsOpaqueID(t.Subject.Id) {
			v.Add("ticket.subject.id", "not a retiree id")
		}
		if t.RetireeId != "" && t.RetireeId != t.Subject.Id {
			v.Add("ticket.retireeId", "must be the subject's id, or empty")
		}
		t.RetireeId = t.Subject.Id
		if t.CommunityId != "" {
			v.Add("ticket.communityId", "set by the service: the retiree's community")
		}
		if t.PaymentMonth != "" {
			checkMonth(v, t.PaymentMonth, now)
		}
	case feedv1.SubjectKind_HANDOVER:
		if !handoverRE.MatchString(t.Subject.Id) {
			v.Add("ticket.subject.id", "not a handover id")
		} else {
			inputcheck.NoPersonalNumbers(v, "ticket.subject.id", t.Subject.Id)
		}
		inputcheck.CommunityID(v, "ticket.communityId", t.CommunityId)
		if t.RetireeId != "" || t.PaymentMonth != "" {
			v.Add("ticket.subject", "a handover's ticket names no retiree or payment month; make a retiree's ticket for those")
		}
	default:
		v.Add("ticket.subject.kind", "required: RETIREE (with paymentMonth for a payment month) or HANDOVER")
	}
}

// checkMonth checks a payment month: YYYY-MM, not after this month in
// China.
func checkMonth(v *fault.Violations, month string, now time.Time) {
	if !monthRE.MatchString(month) {
		v.Add("ticket.paymentMonth", "must be YYYY-MM")
		return
	}
	if month > workdays.Today(now).Format("2006-01") {
		v.Add("ticket.paymentMonth", "must not be in the future")
	}
}

// ticketSees is the object check of a ticket read: admin and the bureau
// see every ticket, a clerk its communities', a supervisor its area's.
func ticketSees(p *authn.Principal) TicketAllowed {
	return func(t *pb.Ticket, _ *pb.WorkItem) error {
		if p.Is(authn.RoleAdmin, authn.RoleBureau) || (t != nil && p.InArea(t.CommunityId)) {
			return nil
		}
		return authn.ErrPermissionDenied
	}
}

// ticketManages is the object check of a ticket change: admin, a clerk
// of its community, its item's assignee, a supervisor of its area.
func ticketManages(p *authn.Principal) TicketAllowed {
	return func(t *pb.Ticket, it *pb.WorkItem) error {
		switch {
		case p.Is(authn.RoleBureau):
			return authn.ErrPermissionDenied
		case p.Is(authn.RoleAdmin), t != nil && p.InArea(t.CommunityId), it != nil && it.Assignee == p.Subject && p.Is(authn.RoleClerk):
			return nil
		}
		return authn.ErrPermissionDenied
	}
}

// GetTicket implements pb.CaseworkServiceServer; a retiree's ticket read
// is audited.
func (s *Server) GetTicket(ctx context.Context, req *pb.GetTicketRequest) (*pb.GetTicketResponse, error) {
	p, err := authn.Require(ctx, itemReaders...)
	if err != nil {
		return nil, err
	}
	t, err := s.store.GetTicket(req.Id, ticketSees(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if t.RetireeId != "" {
		if err := s.store.AuditReads(ctx, actorOf(ctx, p), "GetTicket", t.RetireeId); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	return &pb.GetTicketResponse{Ticket: t}, nil
}

// ListTickets implements pb.CaseworkServiceServer: a community's tickets
// (a clerk of one community and supervisors may leave it out: their own,
// or their area's), newest first; the retirees listed are audited.
func (s *Server) ListTickets(ctx context.Context, req *pb.ListTicketsRequest) (*pb.ListTicketsResponse, error) {
	p, err := authn.Require(ctx, itemReaders...)
	if err != nil {
		return nil, err
	}
	q, err := ticketQueryOf(p, req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	area := "c"
	if q.Area {
		area = "a"
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListTickets", area, q.Community, q.State.String()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	tickets, last, err := s.store.ListTickets(q, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var retirees []string
	for _, t := range tickets {
		if t.RetireeId != "" {
			retirees = append(retirees, t.RetireeId)
		}
	}
	if len(retirees) > 0 {
		if err := s.store.AuditReads(ctx, actorOf(ctx, p), "ListTickets", retirees...); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	return &pb.ListTicketsResponse{Tickets: tickets, NextPageToken: page.Next(last)}, nil
}

// ticketQueryOf validates a ListTickets request into p's query.
func ticketQueryOf(p *authn.Principal, req *pb.ListTicketsRequest) (TicketQuery, error) {
	var v fault.Violations
	q := TicketQuery{Community: req.CommunityId, State: req.State}
	checkEnum(&v, "state", pb.TicketState_name, int32(q.State))
	switch {
	case q.Community != "":
		inputcheck.CommunityID(&v, "communityId", q.Community)
	case p.Is(authn.RoleClerk) && len(p.Communities) == 1:
		q.Community = p.Communities[0]
	case p.IsSupervisor():
		q.Community, q.Area = p.Area(), true
	default:
		v.Add("communityId", "required")
	}
	if err := v.Err(); err != nil {
		return q, err
	}
	if !q.Area && !p.Is(authn.RoleAdmin, authn.RoleBureau) && !p.InArea(q.Community) {
		return q, authn.ErrPermissionDenied
	}
	return q, nil
}
