package casework

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// ResolveTicket implements pb.CaseworkServiceServer: the item's
// assignee, a clerk of the community (resolving an unassigned ticket
// claims its item, as CompleteWorkItem does), a supervisor of the area,
// or admin.
func (s *Server) ResolveTicket(ctx context.Context, req *pb.ResolveTicketRequest) (*pb.ResolveTicketResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.MultilineText(&v, "resolution", req.Resolution, true, maxDescription)
	inputcheck.NoPersonalNumbers(&v, "resolution", req.Resolution)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	t, err := s.store.ResolveTicket(req.Id, req.Etag, req.Resolution, p.Is(authn.RoleClerk), actorOf(ctx, p), ticketManages(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ResolveTicketResponse{Ticket: t}, nil
}

// RecordCallback implements pb.CaseworkServiceServer: as ResolveTicket.
// A DISSATISFIED call-back needs a note, which the follow-up item
// carries.
func (s *Server) RecordCallback(ctx context.Context, req *pb.RecordCallbackRequest) (*pb.RecordCallbackResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := pb.Satisfaction_name[int32(req.Satisfaction)]; !ok || req.Satisfaction == pb.Satisfaction_SATISFACTION_UNSPECIFIED {
		v.Add("satisfaction", "required: SATISFIED, PARTLY_SATISFIED, DISSATISFIED or UNREACHABLE")
	}
	inputcheck.Text(&v, "note", req.Note, req.Satisfaction == pb.Satisfaction_DISSATISFIED, maxCallback)
	inputcheck.NoPersonalNumbers(&v, "note", req.Note)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	t, err := s.store.RecordCallback(req.Id, req.Etag, req.Satisfaction, req.Note, actorOf(ctx, p), ticketManages(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RecordCallbackResponse{Ticket: t}, nil
}

// ListTicketCategories implements pb.CaseworkServiceServer: everyone who
// reads tickets.
func (s *Server) ListTicketCategories(ctx context.Context, _ *pb.ListTicketCategoriesRequest) (*pb.ListTicketCategoriesResponse, error) {
	if _, err := authn.Require(ctx, itemReaders...); err != nil {
		return nil, err
	}
	cats, err := s.store.Categories()
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListTicketCategoriesResponse{Categories: cats}, nil
}

// SetTicketCategory implements pb.CaseworkServiceServer: admin only.
// Tickets already open keep their due time.
func (s *Server) SetTicketCategory(ctx context.Context, req *pb.SetTicketCategoryRequest) (*pb.SetTicketCategoryResponse, error) {
	if _, err := authn.Require(ctx); err != nil {
		return nil, err
	}
	if err := checkCategory(req.GetCategory()); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.SetCategory(req.Category)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.SetTicketCategoryResponse{Category: c}, nil
}

// checkCategory validates a category: code, a name of at most 20
// characters, exactly one of 1–2160 hours or 1–60 working days, and a
// priority.
func checkCategory(c *pb.TicketCategory) error {
	var v fault.Violations
	if c == nil {
		v.Add("category", "required")
		return v.Err()
	}
	if !categoryCodeRE.MatchString(c.Code) {
		v.Add("category.code", "must be an upper-case letter, then 1 to 31 upper-case letters, digits or underscores")
	}
	inputcheck.Text(&v, "category.name", c.Name, true, maxCategoryLen)
	switch h, d := c.DeadlineHours, c.DeadlineWorkingDays; {
	case (h == 0) == (d == 0):
		v.Add("category.deadlineHours", "exactly one of deadlineHours and deadlineWorkingDays is required")
	case h != 0 && (h < 1 || h > maxHours):
		v.Addf("category.deadlineHours", "must be between 1 and %d", maxHours)
	case d != 0 && (d < 1 || d > maxWorkingDays):
		v.Addf("category.deadlineWorkingDays", "must be between 1 and %d", maxWorkingDays)
	}
	if _, ok := pb.Priority_name[int32(c.Priority)]; !ok || c.Priority == pb.Priority_PRIORITY_UNSPECIFIED {
		v.Add("category.priority", "required: PRIORITY_LOW, PRIORITY_NORMAL, PRIORITY_HIGH or PRIORITY_URGENT")
	}
	return v.Err()
}
