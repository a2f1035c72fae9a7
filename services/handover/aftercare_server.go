package handover

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// taskReaders may list tasks: the clerks of the communities that do them,
// the supervisors of their area and the bureau (admin passes every
// authn.Require). Enterprises are done with their retirees at completion.
var taskReaders = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}

// canSeeTask reports whether p may read t: bureau and admin every task, a
// clerk those of its communities, a supervisor those of its area.
func canSeeTask(p *authn.Principal, t *pb.HandoverTask) bool {
	if p.Is(authn.RoleAdmin, authn.RoleBureau) {
		return true
	}
	return p.InArea(t.CommunityId)
}

// ListHandoverTasks implements pb.HandoverServiceServer.
func (s *Server) ListHandoverTasks(ctx context.Context, req *pb.ListHandoverTasksRequest) (*pb.ListHandoverTasksResponse, error) {
	p, err := authn.Require(ctx, taskReaders...)
	if err != nil {
		return nil, err
	}
	today := s.today()
	f, err := taskFilterOf(req, today)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := narrowTaskFilter(p, &f); err != nil {
		return nil, err
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListHandoverTasks", f.CommunityID, f.Area, f.State.String(), f.DueBefore))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	f.Visible = func(t *pb.HandoverTask) bool { return canSeeTask(p, t) }
	list, last, err := s.store.ListTasks(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	markOverdue(list, today)
	return &pb.ListHandoverTasksResponse{Tasks: list, NextPageToken: page.Next(last)}, nil
}

// taskFilterOf validates a list request's filter. Overdue asks for the
// OPEN tasks due before today.
func taskFilterOf(req *pb.ListHandoverTasksRequest, today string) (TaskFilter, error) {
	f := TaskFilter{CommunityID: req.CommunityId, State: req.State, DueBefore: req.DueBefore}
	var v fault.Violations
	if f.CommunityID != "" {
		inputcheck.CommunityID(&v, "communityId", f.CommunityID)
	}
	if _, ok := pb.HandoverTask_State_name[int32(f.State)]; !ok {
		v.Add("state", "must be OPEN or DONE")
	}
	if f.DueBefore != "" {
		parseDate(&v, "dueBefore", f.DueBefore)
	}
	if req.Overdue {
		if f.State == pb.HandoverTask_DONE {
			v.Add("overdue", "an overdue task is OPEN: leave state out, or ask for OPEN")
		}
		f.State = pb.HandoverTask_OPEN
		if f.DueBefore == "" || today < f.DueBefore {
			f.DueBefore = today
		}
	}
	return f, v.Err()
}

// narrowTaskFilter confines a list filter to what p may list: a clerk
// the tasks of one of its communities, or of all of them (one walk of the
// index when it has a single community); a supervisor those of one
// community of its area, or of the whole area. It returns the permission
// error of a filter that asks for more.
func narrowTaskFilter(p *authn.Principal, f *TaskFilter) error {
	return narrowCommunity(p, &f.CommunityID, &f.Area)
}

// CompleteHandoverTask implements pb.HandoverServiceServer: the clerk of
// the task's community, or admin, records it done. Whoever else asks gets
// the same 403 whether or not the task exists.
func (s *Server) CompleteHandoverTask(ctx context.Context, req *pb.CompleteHandoverTaskRequest) (*pb.CompleteHandoverTaskResponse, error) {
	p, err := authn.Require(ctx, authn.RoleClerk)
	if err != nil {
		return nil, err
	}
	today := s.today()
	d := TaskDone{DoneOn: req.DoneOn, Note: req.Note, By: p.Subject}
	if err := checkTaskDone(d, today); err != nil {
		return nil, s.fail(ctx, err)
	}
	allowed := func(t *pb.HandoverTask) error {
		if p.Role == authn.RoleAdmin || t != nil && p.InCommunity(t.CommunityId) {
			return nil
		}
		return authn.ErrPermissionDenied
	}
	t, err := s.store.mutateTask(req.Id, req.Etag, allowed, func(t *pb.HandoverTask) error { return completeTask(t, d) })
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	markOverdue([]*pb.HandoverTask{t}, today)
	return &pb.CompleteHandoverTaskResponse{Task: t}, nil
}
