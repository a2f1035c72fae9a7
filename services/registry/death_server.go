package registry

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Limits of a death report.
const (
	// reportingDutyDays is the working days after a death within which it
	// must be reported (DOMAIN: the 2023 regulations).
	reportingDutyDays = 20
	// maxDeathDocuments bounds the documents of one report.
	maxDeathDocuments = 8
	// maxDocumentRefLen bounds a document's reference.
	maxDocumentRefLen = 64
)

// Who may do what with death reports: clerks, bureau and admin file,
// verify and reject them; bureau and admin reverse them; supervisors
// read those of their area. Enterprises and services see none. The
// object checks are in canSeeDeathReport and canDecideDeathReport.
var (
	deathReporters = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk}
	deathReversers = []authn.Role{authn.RoleAdmin, authn.RoleBureau}
	deathReaders   = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
)

// canSeeDeathReport reports whether p may see report d: admin and
// bureau any, a clerk or a supervisor those of its area.
func canSeeDeathReport(p *authn.Principal, d *pb.DeathReport) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau:
		return true
	case authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict:
		return p.InArea(d.CommunityId)
	}
	return false
}

// canDecideDeathReport reports whether p may verify or reject report d:
// admin, bureau, and a clerk of the community it was filed in.
func canDecideDeathReport(p *authn.Principal, d *pb.DeathReport) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau:
		return true
	case authn.RoleClerk:
		return p.InCommunity(d.CommunityId)
	}
	return false
}

// guardDeathReport returns the object check of a report for p: d is nil
// when the report does not exist, which only those who may know learn.
func guardDeathReport(p *authn.Principal, may func(*authn.Principal, *pb.DeathReport) bool) func(*pb.DeathReport) error {
	return func(d *pb.DeathReport) error {
		if d == nil {
			if knowsExistence(p) {
				return nil
			}
			return authn.ErrPermissionDenied
		}
		if !may(p, d) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// presentDeathReport completes d for an answer: the reporting duty
// counted with the calendar (so that a calendar updated for a new year
// corrects a provisional deadline), and the reporter's phone masked, in
// full only with full.
func (s *Server) presentDeathReport(d *pb.DeathReport, full bool) *pb.DeathReport {
	d = proto.Clone(d).(*pb.DeathReport)
	if rep := d.Reporter; rep != nil {
		rep.PhoneMasked = inputcheck.MaskPhone(rep.Phone)
		if !full {
			rep.Phone = ""
		}
	}
	duty := reportingDuty(s.calendar, d.DateOfDeath, d.ReportTime.AsTime())
	d.ReportingDeadline, d.ReportingDeadlineProvisional = duty.deadline, duty.provisional
	d.WorkingDaysToReport, d.ReportedLate = duty.daysTaken, duty.late
	return d
}

// duty is a death report measured against the reporting duty.
type duty struct {
	// deadline is the last day of the duty, YYYY-MM-DD.
	deadline    string
	provisional bool
	// daysTaken is the working days from the death to the filing.
	daysTaken int32
	late      bool
}

// reportingDuty measures a death on dateOfDeath (YYYY-MM-DD) reported at
// filed against the 20-working-day duty of cal.
func reportingDuty(cal *workdays.Calendar, dateOfDeath string, filed time.Time) duty {
	died, err := time.Parse(time.DateOnly, dateOfDeath)
	if err != nil {
		return duty{}
	}
	due, known := cal.AddWorkingDays(died, reportingDutyDays)
	day := workdays.Today(filed)
	return duty{
		deadline: due.Format(time.DateOnly), provisional: !known,
		daysTaken: int32(cal.WorkingDaysBetween(died, day)), //nolint:gosec // G115: days between two dates of a life
		late:      day.After(due),
	}
}

// presentDeathReports presents a list: phones masked.
func (s *Server) presentDeathReports(list []*pb.DeathReport) []*pb.DeathReport {
	out := make([]*pb.DeathReport, len(list))
	for i, d := range list {
		out[i] = s.presentDeathReport(d, false)
	}
	return out
}

// CreateDeathReport implements pb.RegistryServiceServer.
func (s *Server) CreateDeathReport(ctx context.Context, req *pb.CreateDeathReportRequest) (*pb.CreateDeathReportResponse, error) {
	p, err := authn.Require(ctx, append(deathReporters, authn.RoleService)...)
	if err != nil {
		return nil, err
	}
	// The service role files only as casework's care outbox, and only
	// what a clerk's visit found: source CLERK_VISIT.
	if p.Is(authn.RoleService) && (p.Subject != caseworkSubject || req.Source != pb.DeathReportSource_CLERK_VISIT) {
		return nil, authn.ErrPermissionDenied
	}
	if err := s.checkDeathReport(req); err != nil {
		return nil, s.fail(ctx, err)
	}
	in := DeathReportInput{RetireeID: req.Id, DateOfDeath: req.DateOfDeath, Source: req.Source, Reporter: req.Reporter, Documents: req.Documents}
	if in.Reporter == nil {
		in.Reporter = &pb.DeathReporter{}
	}
	d, err := s.store.CreateDeathReport(in, audit.ActorOf(ctx, p), guard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateDeathReportResponse{DeathReport: s.presentDeathReport(d, false)}, nil
}

// checkDeathReport validates a report to file: a date of death in the
// past, a known source, a reporter named when a person reported, and the
// documents.
func (s *Server) checkDeathReport(req *pb.CreateDeathReportRequest) error {
	var v fault.Violations
	s.checkDateOfDeath(&v, req.DateOfDeath)
	if _, ok := pb.DeathReportSource_name[int32(req.Source)]; !ok || req.Source == pb.DeathReportSource_DEATH_REPORT_SOURCE_UNSPECIFIED {
		v.Add("source", "required: FAMILY, HOSPITAL, CREMATION_RECORD, HOUSEHOLD_CANCELLATION, BUREAU_MATCH or CLERK_VISIT")
	}
	rep := req.Reporter
	byPerson := req.Source == pb.DeathReportSource_FAMILY || req.Source == pb.DeathReportSource_CLERK_VISIT
	inputcheck.Text(&v, "reporter.name", rep.GetName(), byPerson, maxNameLen)
	if _, ok := pb.Carer_Relation_name[int32(rep.GetRelation())]; !ok {
		v.Add("reporter.relation", "unknown relation")
	} else if req.Source == pb.DeathReportSource_FAMILY && rep.GetRelation() == pb.Carer_RELATION_UNSPECIFIED {
		v.Add("reporter.relation", "required for a report by the family")
	}
	inputcheck.Phone(&v, "reporter.phone", rep.GetPhone())
	if rep.GetPhoneMasked() != "" {
		v.Add("reporter.phoneMasked", "output only")
	}
	if len(req.Documents) > maxDeathDocuments {
		v.Addf("documents", "at most %d", maxDeathDocuments)
	}
	for _, doc := range req.Documents[:min(len(req.Documents), maxDeathDocuments)] {
		if _, ok := pb.DeathDocument_Kind_name[int32(doc.GetKind())]; !ok || doc.GetKind() == pb.DeathDocument_KIND_UNSPECIFIED {
			v.Add("documents.kind", "required: DEATH_CERTIFICATE, CREMATION_CERTIFICATE, HOUSEHOLD_CANCELLATION or OTHER")
		}
		inputcheck.Text(&v, "documents.reference", doc.GetReference(), true, maxDocumentRefLen)
	}
	return v.Err()
}

// checkDateOfDeath adds the problem of a date of death, if any: required,
// a date, not in the future.
func (s *Server) checkDateOfDeath(v *fault.Violations, date string) {
	if date == "" {
		v.Add("dateOfDeath", "required")
	} else if d := parseDate(v, "dateOfDeath", date); !d.IsZero() && dateOnly(d) > dayOf(s.now()) { // days are China's
		v.Add("dateOfDeath", "in the future")
	}
}

// RecordDeath implements pb.RegistryServiceServer: a death report filed
// and verified in one step.
func (s *Server) RecordDeath(ctx context.Context, req *pb.RecordDeathRequest) (*pb.RecordDeathResponse, error) {
	p, err := authn.Require(ctx, retireeEditors...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	s.checkDateOfDeath(&v, req.DateOfDeath)
	if _, ok := pb.DeathReportSource_name[int32(req.Source)]; !ok {
		v.Add("source", "unknown source")
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	source := req.Source
	if source == pb.DeathReportSource_DEATH_REPORT_SOURCE_UNSPECIFIED {
		source = pb.DeathReportSource_BUREAU_MATCH
	}
	r, d, err := s.store.RecordDeath(req.Id, req.DateOfDeath, req.Etag, source, audit.ActorOf(ctx, p), guard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RecordDeathResponse{Retiree: present(r, false, s.now()), DeathReport: s.presentDeathReport(d, false)}, nil
}

// GetDeathReport implements pb.RegistryServiceServer. The reporter's
// phone is in full for the roles that see a retiree's phone; the read is
// audited as a read of the retiree.
func (s *Server) GetDeathReport(ctx context.Context, req *pb.GetDeathReportRequest) (*pb.GetDeathReportResponse, error) {
	p, err := authn.Require(ctx, deathReaders...)
	if err != nil {
		return nil, err
	}
	d, err := s.store.GetDeathReport(req.Id, guardDeathReport(p, canSeeDeathReport))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "GetDeathReport", d.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetDeathReportResponse{DeathReport: s.presentDeathReport(d, seesPersonalData(p))}, nil
}

// ListDeathReports implements pb.RegistryServiceServer. A clerk lists
// one of its communities' reports (its only one by default), a
// supervisor one community of its area or the whole area; admin and
// bureau any community's or all. The read is audited as a read of each
// listed retiree.
func (s *Server) ListDeathReports(ctx context.Context, req *pb.ListDeathReportsRequest) (*pb.ListDeathReportsResponse, error) {
	p, err := authn.Require(ctx, deathReaders...)
	if err != nil {
		return nil, err
	}
	f := DeathReportFilter{CommunityID: req.CommunityId, State: req.State}
	if p.Role == authn.RoleClerk && f.CommunityID == "" && len(p.Communities) == 1 {
		f.CommunityID = p.Communities[0]
	}
	if p.IsSupervisor() && f.CommunityID == "" {
		f.Area = p.Area()
	}
	if err := checkDeathReportFilter(f, p); err != nil {
		return nil, s.fail(ctx, err)
	}
	if f.CommunityID != "" && p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict) && !p.InArea(f.CommunityID) {
		return nil, authn.ErrPermissionDenied
	}
	return s.listDeathReports(ctx, p, f, req, "ListDeathReports")
}

// checkDeathReportFilter validates a report list's filter for p.
func checkDeathReportFilter(f DeathReportFilter, p *authn.Principal) error {
	var v fault.Violations
	if f.CommunityID != "" && !inputcheck.IsCommunityID(f.CommunityID) {
		v.Add("communityId", "must be a 12-digit division code")
	}
	if f.CommunityID == "" && p.Role == authn.RoleClerk {
		v.Add("communityId", "required for a clerk of several communities")
	}
	if _, ok := pb.DeathReportState_name[int32(f.State)]; !ok {
		v.Add("state", "unknown state")
	}
	return v.Err()
}

// listDeathReports answers a page of the reports f selects, auditing the
// read of each listed retiree as action.
func (s *Server) listDeathReports(ctx context.Context, p *authn.Principal, f DeathReportFilter, req boltstore.PageRequest, action string) (*pb.ListDeathReportsResponse, error) {
	page, err := s.store.PageTokens().ParsePage(req, f.scope())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListDeathReports(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ids := make([]string, len(list))
	for i, d := range list {
		ids[i] = d.RetireeId
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), action, ids...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListDeathReportsResponse{DeathReports: s.presentDeathReports(list), NextPageToken: page.Next(last)}, nil
}

// ListRetireeDeathReports implements pb.RegistryServiceServer: to those
// who may read the retiree's history, less enterprises (which see nothing
// of deaths).
func (s *Server) ListRetireeDeathReports(ctx context.Context, req *pb.ListRetireeDeathReportsRequest) (*pb.ListRetireeDeathReportsResponse, error) {
	p, err := authn.Require(ctx, deathReaders...)
	if err != nil {
		return nil, err
	}
	if _, err := visible(p)(s.store.GetRetiree(req.Id)); err != nil {
		return nil, s.fail(ctx, err)
	}
	resp, err := s.listDeathReports(ctx, p, DeathReportFilter{RetireeID: req.Id}, req, "ListRetireeDeathReports")
	if err != nil {
		return nil, err
	}
	return &pb.ListRetireeDeathReportsResponse{DeathReports: resp.DeathReports, NextPageToken: resp.NextPageToken}, nil
}

// VerifyDeathReport implements pb.RegistryServiceServer.
func (s *Server) VerifyDeathReport(ctx context.Context, req *pb.VerifyDeathReportRequest) (*pb.VerifyDeathReportResponse, error) {
	p, err := authn.Require(ctx, deathReporters...)
	if err != nil {
		return nil, err
	}
	d, r, err := s.store.DecideDeathReport(req.Id, VerifyDeath, "", audit.ActorOf(ctx, p), guardDeathReport(p, canDecideDeathReport))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.VerifyDeathReportResponse{DeathReport: s.presentDeathReport(d, false), Retiree: present(r, false, s.now())}, nil
}

// RejectDeathReport implements pb.RegistryServiceServer.
func (s *Server) RejectDeathReport(ctx context.Context, req *pb.RejectDeathReportRequest) (*pb.RejectDeathReportResponse, error) {
	p, err := authn.Require(ctx, deathReporters...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	d, _, err := s.store.DecideDeathReport(req.Id, RejectDeath, req.Reason, audit.ActorOf(ctx, p), guardDeathReport(p, canDecideDeathReport))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RejectDeathReportResponse{DeathReport: s.presentDeathReport(d, false)}, nil
}

// ReverseDeathReport implements pb.RegistryServiceServer.
func (s *Server) ReverseDeathReport(ctx context.Context, req *pb.ReverseDeathReportRequest) (*pb.ReverseDeathReportResponse, error) {
	p, err := authn.Require(ctx, deathReversers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	d, r, err := s.store.DecideDeathReport(req.Id, ReverseDeath, req.Reason, audit.ActorOf(ctx, p), guardDeathReport(p, canDecideDeathReport))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ReverseDeathReportResponse{DeathReport: s.presentDeathReport(d, false), Retiree: present(r, false, s.now())}, nil
}
