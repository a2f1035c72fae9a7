package casework

import (
	"context"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Who may do what with care (issue 16): a retiree's profile and visits
// are read by admin, the bureau, the clerks of the retiree's community and
// the supervisors of its area; the tier is overridden and visits are
// recorded by a clerk of the retiree's community (volunteers' and
// neighbours' visits too, naming them as visitor) or admin; a crisis is
// reported by a clerk of the community, a supervisor of the area or
// admin; the report is read by clerks for their communities, supervisors
// for their area, the bureau and admin for all; admin schedules a month.
// Enterprises, archivists and the service role get nothing.
var (
	careReaders  = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	crisisRoles  = []authn.Role{authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	reportRoles  = careReaders
	scheduleRole = []authn.Role{authn.RoleAdmin}
)

// Bounds of a visit.
const (
	maxNeeds   = 10
	maxNeedLen = 100
	// maxVisitor is registry's bound on a reporter's name: a visit that
	// found the retiree deceased files its visitor as the reporter.
	maxVisitor    = 64
	maxReferral   = 200
	maxVisitNote  = 1000
	maxVisitsBack = 90 * 24 * time.Hour
)

// careSees is the object check of care reads: admin and the bureau may
// learn that a retiree is unknown; the others see their area's retirees
// and are refused alike for an unknown one.
func careSees(p *authn.Principal) CareAllowed {
	return func(st *registryv1.RetireeState) error {
		if p.Is(authn.RoleAdmin, authn.RoleBureau) {
			return nil
		}
		if st == nil || !p.InArea(st.CommunityId) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// careClerk is the object check of a clerk's care change: admin, or a
// clerk of the retiree's community.
func careClerk(p *authn.Principal) CareAllowed {
	return func(st *registryv1.RetireeState) error {
		if p.Is(authn.RoleAdmin) {
			return nil
		}
		if st == nil || !p.InCommunity(st.CommunityId) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// careChange is careSees less the bureau: crisis reports.
func careChange(p *authn.Principal) CareAllowed {
	return func(st *registryv1.RetireeState) error {
		if p.Is(authn.RoleBureau) {
			return authn.ErrPermissionDenied
		}
		return careSees(p)(st)
	}
}

// GetCareProfile implements pb.CaseworkServiceServer; the read is
// audited.
func (s *Server) GetCareProfile(ctx context.Context, req *pb.GetCareProfileRequest) (*pb.GetCareProfileResponse, error) {
	p, err := authn.Require(ctx, careReaders...)
	if err != nil {
		return nil, err
	}
	prof, err := s.store.CareProfile(req.RetireeId, careSees(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, actorOf(ctx, p), "GetCareProfile", prof.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetCareProfileResponse{Profile: prof}, nil
}

// SetCareTier implements pb.CaseworkServiceServer.
func (s *Server) SetCareTier(ctx context.Context, req *pb.SetCareTierRequest) (*pb.SetCareTierResponse, error) {
	p, err := authn.Require(ctx, clerksOnly...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := pb.RiskTier_name[int32(req.Tier)]; !ok {
		v.Add("tier", "unknown tier")
	}
	freeText(&v, "reason", req.Reason, req.Tier != pb.RiskTier_RISK_TIER_UNSPECIFIED, maxText)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	prof, err := s.store.SetTier(req.RetireeId, req.Tier, req.Reason, actorOf(ctx, p), careClerk(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, actorOf(ctx, p), "SetCareTier", prof.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.SetCareTierResponse{Profile: prof}, nil
}

// ReportCrisis implements pb.CaseworkServiceServer. The request id, when
// the caller sent one, makes a repeated report make no second item.
func (s *Server) ReportCrisis(ctx context.Context, req *pb.ReportCrisisRequest) (*pb.ReportCrisisResponse, error) {
	p, err := authn.Require(ctx, crisisRoles...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := pb.CrisisKind_name[int32(req.Kind)]; !ok || req.Kind == pb.CrisisKind_CRISIS_KIND_UNSPECIFIED {
		v.Add("kind", "required: DEATH_IN_HOUSEHOLD, HOSPITAL_STAY, DISASTER or CRISIS_OTHER")
	}
	if req.OccurredTime != nil && (!req.OccurredTime.IsValid() || req.OccurredTime.AsTime().After(s.store.Now())) {
		v.Add("occurredTime", "must not be in the future")
	}
	freeText(&v, "note", req.Note, false, maxText)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	key := ""
	if rid := actorOf(ctx, p).RequestID; rid != "" && len(rid) <= maxKeyLen {
		key = "req-" + rid
	}
	it, err := s.store.ReportCrisis(req.RetireeId, req.Kind, key, req.Note, actorOf(ctx, p), careChange(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ReportCrisisResponse{Item: it}, nil
}

// RecordVisit implements pb.CaseworkServiceServer.
func (s *Server) RecordVisit(ctx context.Context, req *pb.RecordVisitRequest) (*pb.RecordVisitResponse, error) {
	p, err := authn.Require(ctx, clerksOnly...)
	if err != nil {
		return nil, err
	}
	if err := checkVisit(req, s.store.Now()); err != nil {
		return nil, s.fail(ctx, err)
	}
	key := ""
	if req.RequestKey != "" {
		key = string(p.Role) + "\x00" + p.Subject + "\x00" + req.RequestKey
	}
	v, prof, err := s.store.RecordVisit(req.Visit, key, actorOf(ctx, p), careClerk(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RecordVisitResponse{Visit: v, Profile: prof}, nil
}

// checkVisit validates a RecordVisit request; output fields must be
// empty.
func checkVisit(req *pb.RecordVisitRequest, now time.Time) error {
	var v fault.Violations
	in := req.GetVisit()
	if in == nil {
		v.Add("visit", "required")
		return v.Err()
	}
	if !inputcheck.IsOpaqueID(in.RetireeId) {
		v.Add("visit.retireeId", "not a retiree id")
	}
	if _, ok := pb.VisitMethod_name[int32(in.Method)]; !ok || in.Method == pb.VisitMethod_VISIT_METHOD_UNSPECIFIED {
		v.Add("visit.method", "required: HOME, PHONE, VIDEO, NEIGHBOUR, ACTIVITY, VOLUNTEER or VISIT_METHOD_OTHER")
	}
	if _, ok := pb.VisitOutcome_name[int32(in.Outcome)]; !ok || in.Outcome == pb.VisitOutcome_VISIT_OUTCOME_UNSPECIFIED {
		v.Add("visit.outcome", "required: WELL, NEEDS_HELP, NO_CONTACT or FOUND_DECEASED")
	}
	checkVisitTime(&v, in, now)
	checkVisitText(&v, in)
	if in.WorkItemId != "" && !inputcheck.IsOpaqueID(in.WorkItemId) {
		v.Add("visit.workItemId", "not a work item id")
	}
	if outputSet(in) {
		v.Add("visit", "id, communityId, recordedBy, recordTime, followUpItemId and deathReportId are output only")
	}
	if len(req.RequestKey) > maxKeyLen {
		v.Addf("requestKey", "at most %d bytes", maxKeyLen)
	}
	return v.Err()
}

// outputSet reports whether a request sets a visit's output fields.
func outputSet(in *pb.Visit) bool {
	return in.Id != "" || in.CommunityId != "" || in.RecordedBy != "" || in.RecordTime != nil || in.FollowUpItemId != "" || in.DeathReportId != ""
}

// checkVisitTime: not in the future, not more than 90 days ago.
func checkVisitTime(v *fault.Violations, in *pb.Visit, now time.Time) {
	vt := in.GetVisitTime().AsTime()
	switch {
	case in.VisitTime == nil || !in.VisitTime.IsValid():
		v.Add("visit.visitTime", "required")
	case vt.After(now):
		v.Add("visit.visitTime", "in the future")
	case vt.Before(now.Add(-maxVisitsBack)):
		v.Add("visit.visitTime", "more than 90 days ago")
	}
}

// checkVisitText bounds the visitor, needs, referral and note, none of
// which may hold an ID or mobile number (visits are listed to clerks and
// supervisors; the retiree is named by id).
func checkVisitText(v *fault.Violations, in *pb.Visit) {
	freeText(v, "visit.visitor", in.Visitor, true, maxVisitor)
	if len(in.Needs) > maxNeeds {
		v.Addf("visit.needs", "at most %d", maxNeeds)
	}
	for _, n := range in.Needs[:min(len(in.Needs), maxNeeds)] {
		freeText(v, "visit.needs", n, true, maxNeedLen)
	}
	freeText(v, "visit.referral", in.Referral, false, maxReferral)
	freeText(v, "visit.note", in.Note, false, maxVisitNote)
}

// ListVisits implements pb.CaseworkServiceServer; a retiree's visits are
// an audited read.
func (s *Server) ListVisits(ctx context.Context, req *pb.ListVisitsRequest) (*pb.ListVisitsResponse, error) {
	p, err := authn.Require(ctx, careReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	byRetiree := req.RetireeId != ""
	switch {
	case byRetiree == (req.CommunityId != ""):
		v.Add("retireeId", "give exactly one of retireeId and communityId")
	case !byRetiree:
		inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	}
	owner := req.CommunityId
	if byRetiree {
		owner = req.RetireeId
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListVisits", req.RetireeId, req.CommunityId))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if byRetiree {
		if _, err := s.store.CareProfile(req.RetireeId, careSees(p)); err != nil {
			return nil, s.fail(ctx, err)
		}
	} else if !p.Is(authn.RoleAdmin, authn.RoleBureau) && !p.InArea(req.CommunityId) {
		return nil, authn.ErrPermissionDenied
	}
	visits, last, err := s.store.ListVisits(byRetiree, owner, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	audited := visits
	if byRetiree {
		// The retiree's visits are read even when there are none.
		audited = []*pb.Visit{{RetireeId: req.RetireeId}}
	}
	if err := s.auditVisits(ctx, p, audited); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListVisitsResponse{Visits: visits, NextPageToken: page.Next(last)}, nil
}

// auditVisits records the read of the retirees of visits.
func (s *Server) auditVisits(ctx context.Context, p *authn.Principal, visits []*pb.Visit) error {
	seen := map[string]bool{}
	var ids []string
	for _, v := range visits {
		if !seen[v.RetireeId] {
			seen[v.RetireeId] = true
			ids = append(ids, v.RetireeId)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return s.store.AuditReads(ctx, actorOf(ctx, p), "ListVisits", ids...)
}

// GetVisitReport implements pb.CaseworkServiceServer.
func (s *Server) GetVisitReport(ctx context.Context, req *pb.GetVisitReportRequest) (*pb.GetVisitReportResponse, error) {
	p, err := authn.Require(ctx, reportRoles...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := parseMonth(req.Month); !ok {
		v.Add("month", "required, YYYY-MM")
	}
	if req.CommunityId != "" {
		inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("GetVisitReport", req.Month, req.CommunityId))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	all := p.Is(authn.RoleAdmin, authn.RoleBureau)
	if req.CommunityId != "" && !all && !p.InArea(req.CommunityId) {
		return nil, authn.ErrPermissionDenied
	}
	keep := func(c string) bool {
		return (req.CommunityId == "" || c == req.CommunityId) && (all || p.InArea(c))
	}
	rows, last, err := s.store.VisitReport(req.Month, keep, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetVisitReportResponse{Rows: rows, NextPageToken: page.Next(last)}, nil
}

// ScheduleVisits implements pb.CaseworkServiceServer (admin).
func (s *Server) ScheduleVisits(ctx context.Context, req *pb.ScheduleVisitsRequest) (*pb.ScheduleVisitsResponse, error) {
	if _, err := authn.Require(ctx, scheduleRole...); err != nil {
		return nil, err
	}
	month, ok := parseMonth(req.Month)
	if !ok {
		return nil, s.fail(ctx, fault.Invalid("month", "required, YYYY-MM"))
	}
	r, err := s.store.ScheduleMonth(ctx, month)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ScheduleVisitsResponse{Created: r.Created, Existing: r.Existing}, nil
}
