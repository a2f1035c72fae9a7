package activity

import (
	"context"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// CreateActivity implements pb.ActivityServiceServer.
func (s *Server) CreateActivity(ctx context.Context, req *pb.CreateActivityRequest) (*pb.CreateActivityResponse, error) {
	p, err := authn.Require(ctx, managers...)
	if err != nil {
		return nil, err
	}
	plan, err := checkActivity(req.Activity, s.store.zones)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	scope := scopeOf(p)
	if err := scope(plan.activity.CommunityId); err != nil {
		return nil, err
	}
	a, err := s.store.createActivity(plan, scope)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateActivityResponse{Activity: a}, nil
}

// GetActivity implements pb.ActivityServiceServer.
func (s *Server) GetActivity(ctx context.Context, req *pb.GetActivityRequest) (*pb.GetActivityResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetActivity(req.Id, scopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetActivityResponse{Activity: a}, nil
}

// ListActivities implements pb.ActivityServiceServer: the sessions of a
// community's or a venue's activities starting in [from, to).
func (s *Server) ListActivities(ctx context.Context, req *pb.ListActivitiesRequest) (*pb.ListActivitiesResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	q := occurrenceQuery{venueID: req.VenueId}
	switch {
	case req.VenueId != "":
		if !inputcheck.IsOpaqueID(req.VenueId) {
			v.Add("venueId", "not a venue id")
		}
		if req.CommunityId != "" {
			inputcheck.CommunityID(&v, "communityId", req.CommunityId)
		}
	default:
		q.communityID = communityFor(p, &v, "communityId", req.CommunityId)
	}
	from, to := s.listRange(&v, req.From, req.To)
	q.from, q.to = from.Unix(), to.Unix()
	// The range as the client wrote it: a default range moves with the
	// clock, and the pages of one listing must share their scope. The
	// token resumes after the last session listed, whatever from is.
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListActivities", q.venueID, q.communityID, req.From, req.To))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if q.venueID != "" {
		venue, err := s.store.GetVenue(q.venueID, scopeOf(p))
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if req.CommunityId != "" && req.CommunityId != venue.CommunityId {
			return nil, s.fail(ctx, fault.Invalid("venueId", "the venue belongs to another community"))
		}
	} else if err := scopeOf(p)(q.communityID); err != nil {
		return nil, err
	}
	list, last, err := s.store.listOccurrences(q, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListActivitiesResponse{Occurrences: list, NextPageToken: page.Next(last)}, nil
}

// listRange validates a list's [from, to): from defaults to now, to to
// defaultListSpan after from, and the range spans at most maxListSpan.
func (s *Server) listRange(v *fault.Violations, fromText, toText string) (from, to time.Time) {
	from = s.store.Now().Truncate(time.Second)
	if fromText != "" {
		from = parseTime(v, "from", fromText)
	}
	to = from.Add(defaultListSpan)
	if toText != "" {
		to = parseTime(v, "to", toText)
	}
	if !from.IsZero() && !to.IsZero() {
		checkRange(v, from, to, maxListSpan)
	}
	return from, to
}

// checkRange adds to v what is wrong with the range [from, to) of a list
// or a report: empty, longer than span, or outside the years sessions can
// be in (with a year's margin before the first and two after the last).
// The message names maxListSpan, the span as the client counts it.
func checkRange(v *fault.Violations, from, to time.Time, span time.Duration) {
	switch {
	case !to.After(from):
		v.Add("to", "must be after from")
	case to.Sub(from) > span:
		v.Addf("to", "at most %d days after from", int(maxListSpan.Hours()/24))
	case from.UTC().Year() < minYear-1 || to.UTC().Year() > maxYear+2:
		v.Addf("from", "must be in the years %d to %d", minYear-1, maxYear+2)
	}
}

// CancelActivity implements pb.ActivityServiceServer.
func (s *Server) CancelActivity(ctx context.Context, req *pb.CancelActivityRequest) (*pb.CancelActivityResponse, error) {
	p, err := authn.Require(ctx, managers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	a, err := s.store.CancelActivity(req.Id, req.Reason, scopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CancelActivityResponse{Activity: a}, nil
}
