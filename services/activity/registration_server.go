package activity

import (
	"context"
	"fmt"
	"time"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// RegisterRetiree implements pb.ActivityServiceServer.
func (s *Server) RegisterRetiree(ctx context.Context, req *pb.RegisterRetireeRequest) (*pb.RegisterRetireeResponse, error) {
	p, err := authn.Require(ctx, managers...)
	if err != nil {
		return nil, err
	}
	if req.RetireeId == "" {
		return nil, s.fail(ctx, fault.Invalid("retireeId", "required"))
	}
	r, err := s.store.Register(req.ActivityId, req.RetireeId, audit.ActorOf(ctx, p), scopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RegisterRetireeResponse{Registration: r}, nil
}

// CancelRegistration implements pb.ActivityServiceServer.
func (s *Server) CancelRegistration(ctx context.Context, req *pb.CancelRegistrationRequest) (*pb.CancelRegistrationResponse, error) {
	p, err := authn.Require(ctx, managers...)
	if err != nil {
		return nil, err
	}
	r, promoted, err := s.store.CancelRegistration(req.ActivityId, req.RetireeId, audit.ActorOf(ctx, p), scopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CancelRegistrationResponse{Registration: r, Promoted: promoted}, nil
}

// ListRegistrations implements pb.ActivityServiceServer. The registrations
// name retirees, so the read is audited before it is answered.
func (s *Server) ListRegistrations(ctx context.Context, req *pb.ListRegistrationsRequest) (*pb.ListRegistrationsResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	page, err := s.store.PageTokens().ParsePage(req, "registrations:"+req.ActivityId)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListRegistrations(req.ActivityId, scopeOf(p), page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.RetireeId
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListRegistrations", ids...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRegistrationsResponse{Registrations: list, NextPageToken: page.Next(last)}, nil
}

// ListRetireeRegistrations implements pb.ActivityServiceServer. It reads
// a retiree's data, so the read is audited before it is answered, empty
// or not.
func (s *Server) ListRetireeRegistrations(ctx context.Context, req *pb.ListRetireeRegistrationsRequest) (*pb.ListRetireeRegistrationsResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if req.RetireeId == "" {
		v.Add("retireeId", "required")
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListRetireeRegistrations", req.RetireeId))
	// Page refuses sizes above boltstore.MaxPageSize; this list's bound is
	// lower.
	if req.PageSize > maxRetireeRegistrationsPage && req.PageSize <= boltstore.MaxPageSize {
		v.Addf("pageSize", "must be between 0 and %d", maxRetireeRegistrationsPage)
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListRetireeRegistrations(req.RetireeId, scopeOf(p), page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListRetireeRegistrations", req.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRetireeRegistrationsResponse{Registrations: list, NextPageToken: page.Next(last)}, nil
}

// RecordAttendance implements pb.ActivityServiceServer.
func (s *Server) RecordAttendance(ctx context.Context, req *pb.RecordAttendanceRequest) (*pb.RecordAttendanceResponse, error) {
	p, err := authn.Require(ctx, managers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	var start time.Time
	if req.OccurrenceStart == "" {
		v.Add("occurrenceStart", "required")
	} else {
		start = parseTime(&v, "occurrenceStart", req.OccurrenceStart)
	}
	if len(req.Present) > maxPresent {
		v.Addf("present", "at most %d retirees", maxPresent)
	} else {
		seen := make(map[string]bool, len(req.Present))
		for i, id := range req.Present {
			switch {
			case !inputcheck.IsOpaqueID(id):
				v.Add(fmt.Sprintf("present[%d]", i), "not a retiree id")
			case seen[id]:
				v.Add(fmt.Sprintf("present[%d]", i), "listed twice")
			}
			seen[id] = true
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	resp, err := s.store.RecordAttendance(req.Id, start, req.Present, audit.ActorOf(ctx, p), scopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return resp, nil
}

// GetParticipationReport implements pb.ActivityServiceServer. Its bounds
// are RFC 3339 instants or dates in DefaultTimeZone, a date ending the
// range including its whole day; the range defaults to the 31 days before
// now and spans at most maxListSpan.
func (s *Server) GetParticipationReport(ctx context.Context, req *pb.GetParticipationReportRequest) (*pb.GetParticipationReportResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	community := communityFor(p, &v, "communityId", req.CommunityId)
	loc, err := s.store.zones.load(DefaultTimeZone)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	from, to := s.reportRange(&v, req.From, req.To, loc)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := scopeOf(p)(community); err != nil {
		return nil, err
	}
	resp, err := s.store.ParticipationReport(community, from, to)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp.From = from.In(loc).Format(time.RFC3339)
	resp.To = to.In(loc).Format(time.RFC3339)
	return resp, nil
}

// reportRange validates a report's [from, to), bounds in loc: to defaults
// to now, from to defaultListSpan before to, and the range spans at most
// maxListSpan, a day more when to is a date (its whole day is included).
// It checks the range only when v holds nothing yet.
func (s *Server) reportRange(v *fault.Violations, fromText, toText string, loc *time.Location) (from, to time.Time) {
	var err error
	to = s.store.Now().Truncate(time.Second)
	if toText != "" {
		if to, err = parseBound(toText, loc, true); err != nil {
			v.Add("to", err.Error())
		}
	}
	from = to.Add(-defaultListSpan)
	if fromText != "" {
		if from, err = parseBound(fromText, loc, false); err != nil {
			v.Add("from", err.Error())
		}
	}
	if v.Err() == nil {
		checkRange(v, from, to, maxListSpan+24*time.Hour)
	}
	return from, to
}
