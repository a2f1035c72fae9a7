package casework

import (
	"context"
	"slices"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// Bounds of what a request carries.
const (
	maxSummary  = 500
	maxText     = 500
	maxSubject  = 128
	maxKeyLen   = 128
	maxDueAhead = 5 * 365 * 24 * time.Hour
)

// CreateWorkItem implements pb.CaseworkServiceServer.
func (s *Server) CreateWorkItem(ctx context.Context, req *pb.CreateWorkItemRequest) (*pb.CreateWorkItemResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	spec, err := checkCreate(req, s.store.Now())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if !p.Is(authn.RoleAdmin) && !p.InArea(spec.CommunityID) {
		return nil, authn.ErrPermissionDenied
	}
	spec.Actor = p.Subject
	key := ""
	if req.RequestKey != "" {
		key = string(p.Role) + "\x00" + p.Subject + "\x00" + req.RequestKey
	}
	it, err := s.store.CreateItem(spec, key)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateWorkItemResponse{Item: it}, nil
}

// checkCreate validates a CreateWorkItem request into an ItemSpec.
func checkCreate(req *pb.CreateWorkItemRequest, now time.Time) (ItemSpec, error) {
	var v fault.Violations
	it := req.GetItem()
	if it == nil {
		v.Add("item", "required")
		return ItemSpec{}, v.Err()
	}
	if it.Kind != pb.WorkKind_OTHER && it.Kind != pb.WorkKind_HARDSHIP {
		v.Add("item.kind", "must be OTHER or HARDSHIP; other kinds are made by the service")
	}
	inputcheck.CommunityID(&v, "item.communityId", it.CommunityId)
	freeText(&v, "item.summary", it.Summary, true, maxSummary)
	if it.RetireeId != "" && !inputcheck.IsOpaqueID(it.RetireeId) {
		v.Add("item.retireeId", "not a retiree id")
	}
	if _, ok := pb.Priority_name[int32(it.Priority)]; !ok {
		v.Add("item.priority", "unknown priority")
	}
	if it.Subject != nil {
		inputcheck.Text(&v, "item.subject.id", it.Subject.Id, true, maxSubject)
	}
	due := it.GetDueTime().AsTime()
	switch {
	case it.DueTime == nil:
		v.Add("item.dueTime", "required")
	case !it.DueTime.IsValid() || !due.After(now) || due.Sub(now) > maxDueAhead:
		v.Add("item.dueTime", "must be after now and within five years")
	}
	if len(req.RequestKey) > maxKeyLen {
		v.Addf("requestKey", "at most %d bytes", maxKeyLen)
	}
	return ItemSpec{
		Kind: it.Kind, Subject: it.Subject, RetireeID: it.RetireeId, CommunityID: it.CommunityId,
		Start: now, Due: due, Priority: it.Priority, Summary: it.Summary,
	}, v.Err()
}

// GetWorkItem implements pb.CaseworkServiceServer. Reading an item about
// a retiree is audited.
func (s *Server) GetWorkItem(ctx context.Context, req *pb.GetWorkItemRequest) (*pb.GetWorkItemResponse, error) {
	p, err := authn.Require(ctx, itemReaders...)
	if err != nil {
		return nil, err
	}
	it, err := s.store.GetItem(req.Id, sees(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if it.RetireeId != "" {
		if err := s.store.AuditReads(ctx, actorOf(ctx, p), "GetWorkItem", it.RetireeId); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	return &pb.GetWorkItemResponse{Item: it}, nil
}

// ListWorkItems implements pb.CaseworkServiceServer.
func (s *Server) ListWorkItems(ctx context.Context, req *pb.ListWorkItemsRequest) (*pb.ListWorkItemsResponse, error) {
	p, err := authn.Require(ctx, itemReaders...)
	if err != nil {
		return nil, err
	}
	q, err := queryOf(p, req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListWorkItems", q.scope()...))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	items, last, err := s.store.ListItems(q, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &pb.ListWorkItemsResponse{Items: items, NextPageToken: page.Next(last)}
	if page.After == nil {
		if resp.Counts, err = s.store.Counts(q); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	var retirees []string
	for _, it := range items {
		if it.RetireeId != "" {
			retirees = append(retirees, it.RetireeId)
		}
	}
	if len(retirees) > 0 {
		if err := s.store.AuditReads(ctx, actorOf(ctx, p), "ListWorkItems", retirees...); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	return resp, nil
}

// scope names q for its page tokens.
func (q Query) scope() []string {
	area := "c"
	if q.Area {
		area = "a"
	}
	return []string{area, q.Community, q.Assignee, q.State.String(), q.Clock.String(), q.Kind.String()}
}

// queryOf validates a list request into p's query. Without a community,
// a clerk of one community lists it and a supervisor its area; admin and
// the bureau must name one, unless they list one assignee's items, which
// they may across every community.
func queryOf(p *authn.Principal, req *pb.ListWorkItemsRequest) (Query, error) {
	var v fault.Violations
	q := Query{Community: req.CommunityId, Assignee: req.Assignee, State: req.State, Clock: req.Clock, Kind: req.Kind}
	if q.Assignee == "me" {
		q.Assignee = p.Subject
	} else if q.Assignee != "" {
		inputcheck.Text(&v, "assignee", q.Assignee, true, maxSubject)
	}
	checkEnum(&v, "state", pb.WorkState_name, int32(q.State))
	checkEnum(&v, "clock", pb.Clock_name, int32(q.Clock))
	checkEnum(&v, "kind", pb.WorkKind_name, int32(q.Kind))
	switch {
	case q.Community != "":
		inputcheck.CommunityID(&v, "communityId", q.Community)
	case p.Is(authn.RoleClerk) && len(p.Communities) == 1:
		q.Community = p.Communities[0]
	case p.Is(authn.RoleStreet, authn.RoleDistrict):
		q.Community, q.Area = p.Area(), true
	case p.Is(authn.RoleAdmin, authn.RoleBureau) && q.Assignee != "":
		q.Area = true
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

// checkEnum adds a violation for a value its enum does not name.
func checkEnum(v *fault.Violations, field string, names map[int32]string, n int32) {
	if _, ok := names[n]; !ok {
		v.Add(field, "unknown value")
	}
}

// ClaimWorkItem implements pb.CaseworkServiceServer: clerks only.
func (s *Server) ClaimWorkItem(ctx context.Context, req *pb.ClaimWorkItemRequest) (*pb.ClaimWorkItemResponse, error) {
	p, err := authn.Require(ctx, clerksOnly...)
	if err != nil {
		return nil, err
	}
	it, err := s.store.Claim(req.Id, req.Etag, actorOf(ctx, p), manages(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ClaimWorkItemResponse{Item: it}, nil
}

// ReleaseWorkItem implements pb.CaseworkServiceServer: a clerk releases
// its own items, a supervisor any of its area.
func (s *Server) ReleaseWorkItem(ctx context.Context, req *pb.ReleaseWorkItemRequest) (*pb.ReleaseWorkItemResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	if err := checkReason(req.Reason, false); err != nil {
		return nil, s.fail(ctx, err)
	}
	it, err := s.store.Release(req.Id, req.Etag, req.Reason, actorOf(ctx, p), assignedTo(p, false))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ReleaseWorkItemResponse{Item: it}, nil
}

// checkReason validates a request's reason.
func checkReason(reason string, required bool) error {
	var v fault.Violations
	freeText(&v, "reason", reason, required, maxText)
	return v.Err()
}

// ReassignWorkItems implements pb.CaseworkServiceServer: supervisors of
// the items' area, and admin.
func (s *Server) ReassignWorkItems(ctx context.Context, req *pb.ReassignWorkItemsRequest) (*pb.ReassignWorkItemsResponse, error) {
	p, err := authn.Require(ctx, supervisorsOnly...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	switch n := len(req.Ids); {
	case n == 0:
		v.Add("ids", "required")
	case n > MaxReassign:
		v.Addf("ids", "at most %d", MaxReassign)
	case len(slices.Compact(slices.Sorted(slices.Values(req.Ids)))) != n:
		v.Add("ids", "an id appears twice")
	}
	inputcheck.Text(&v, "assignee", req.Assignee, true, maxSubject)
	freeText(&v, "reason", req.Reason, false, maxText)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	items, err := s.store.Reassign(req.Ids, req.Assignee, req.Reason, actorOf(ctx, p), manages(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ReassignWorkItemsResponse{Items: items}, nil
}

// EscalateWorkItem implements pb.CaseworkServiceServer: a clerk raises
// its communities' items to the supervisors, who raise their area's.
func (s *Server) EscalateWorkItem(ctx context.Context, req *pb.EscalateWorkItemRequest) (*pb.EscalateWorkItemResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	if err := checkReason(req.Reason, true); err != nil {
		return nil, s.fail(ctx, err)
	}
	it, err := s.store.Escalate(req.Id, req.Reason, actorOf(ctx, p), manages(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.EscalateWorkItemResponse{Item: it}, nil
}

// WaitWorkItem implements pb.CaseworkServiceServer: the clerk it is
// assigned to.
func (s *Server) WaitWorkItem(ctx context.Context, req *pb.WaitWorkItemRequest) (*pb.WaitWorkItemResponse, error) {
	p, err := authn.Require(ctx, clerksOnly...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := pb.WaitingOn_name[int32(req.WaitingOn)]; !ok || req.WaitingOn == pb.WaitingOn_WAITING_ON_UNSPECIFIED {
		v.Add("waitingOn", "required: FAMILY, OTHER_AGENCY or OTHER_PARTY")
	}
	freeText(&v, "reason", req.Reason, true, maxText)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	it, err := s.store.Wait(req.Id, req.Etag, req.WaitingOn, req.Reason, actorOf(ctx, p), assignedTo(p, false))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.WaitWorkItemResponse{Item: it}, nil
}

// ResumeWorkItem implements pb.CaseworkServiceServer: the clerk it is
// assigned to (or any clerk of the community, for an unassigned one).
func (s *Server) ResumeWorkItem(ctx context.Context, req *pb.ResumeWorkItemRequest) (*pb.ResumeWorkItemResponse, error) {
	p, err := authn.Require(ctx, clerksOnly...)
	if err != nil {
		return nil, err
	}
	it, err := s.store.Resume(req.Id, req.Etag, actorOf(ctx, p), assignedTo(p, true))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ResumeWorkItemResponse{Item: it}, nil
}

// CompleteWorkItem implements pb.CaseworkServiceServer: the clerk it is
// assigned to (completing an unassigned item claims it in the same
// step), or a supervisor of the area.
func (s *Server) CompleteWorkItem(ctx context.Context, req *pb.CompleteWorkItemRequest) (*pb.CompleteWorkItemResponse, error) {
	p, err := authn.Require(ctx, itemWorkers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	freeText(&v, "outcome", req.Outcome, true, maxText)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	it, err := s.store.Complete(req.Id, req.Etag, req.Outcome, p.Is(authn.RoleClerk), actorOf(ctx, p), assignedTo(p, true))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CompleteWorkItemResponse{Item: it}, nil
}

// CancelWorkItem implements pb.CaseworkServiceServer: supervisors and
// admin.
func (s *Server) CancelWorkItem(ctx context.Context, req *pb.CancelWorkItemRequest) (*pb.CancelWorkItemResponse, error) {
	p, err := authn.Require(ctx, supervisorsOnly...)
	if err != nil {
		return nil, err
	}
	if err := checkReason(req.Reason, true); err != nil {
		return nil, s.fail(ctx, err)
	}
	it, err := s.store.Cancel(req.Id, req.Etag, req.Reason, actorOf(ctx, p), manages(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CancelWorkItemResponse{Item: it}, nil
}

// freeText checks a text people write into an item: a summary, a
// reason, an outcome. It is stored in the item's history and shown in
// every queue that lists the item, so it must hold no ID or mobile
// number (the retiree is named by id).
func freeText(v *fault.Violations, field, s string, required bool, max int) {
	inputcheck.Text(v, field, s, required, max)
	inputcheck.NoPersonalNumbers(v, field, s)
}
