package handover

// Archives in custody (issue 15). A dossier received in a handover becomes
// a file in the custody of the archivist of the receiving district: it is
// shelved, read or lent out on a request someone else approves, due back
// within 30 days, returned, and sent on to another district's custodian
// once registry has the retiree living there. Every hand-off is a step
// on the file's custody record, and the steps that count (received,
// consulted, sent on) are counted per district and day for the
// statistics.
//
// Only the archivist of the file's district (and admin) touches a file;
// bureau and the district's supervisor read the statistics.

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Rule-failure reasons of the custody steps; clients match on them.
const (
	// ReasonFileWrongState: the step is not possible in the file's state.
	ReasonFileWrongState = "ARCHIVE_FILE_WRONG_STATE"
	// ReasonLoanPending: the file has a loan request nobody decided yet.
	ReasonLoanPending = "ARCHIVE_LOAN_PENDING"
	// ReasonNoLoanRequest: there is no loan request to decide.
	ReasonNoLoanRequest = "ARCHIVE_NO_LOAN_REQUEST"
	// ReasonSelfApproval: whoever asked for a loan may not decide it.
	ReasonSelfApproval = "ARCHIVE_LOAN_SELF_APPROVAL"
	// ReasonRetireeNotMoved: registry does not have the retiree in
	// another district (yet), so the file stays.
	ReasonRetireeNotMoved = "RETIREE_NOT_MOVED"
)

// Bounds of the custody inputs.
const (
	// maxLoanDays is how far ahead a loan may be due back.
	maxLoanDays     = 30
	maxShelfLen     = 64
	maxBorrowerLen  = 100
	maxCustodianLen = 100
	// maxStatisticsDays bounds the period of the statistics.
	maxStatisticsDays = 366
)

// custodians may act on a file: its district's archivist (admin passes
// every authn.Require).
var custodians = []authn.Role{authn.RoleArchivist}

// statisticsReaders may read a district's statistics.
var statisticsReaders = []authn.Role{authn.RoleArchivist, authn.RoleBureau, authn.RoleDistrict}

// keepsFile reports whether p may act on f: admin, or the archivist of
// f's district.
func keepsFile(p *authn.Principal, f *pb.ArchiveFile) bool {
	return p.Role == authn.RoleAdmin || p.KeepsArchivesOf(f.District) && len(f.District) == inputcheck.DistrictCodeLen
}

// fileGuard is the object check of a step on a file, as Store.changeFile
// takes it: f is nil when the file does not exist, and only admin may
// learn that.
func fileGuard(p *authn.Principal) func(*pb.ArchiveFile) error {
	return func(f *pb.ArchiveFile) error {
		if p.Role == authn.RoleAdmin || f != nil && keepsFile(p, f) {
			return nil
		}
		return authn.ErrPermissionDenied
	}
}

// requireFileState fails with ReasonFileWrongState unless f is in state.
func requireFileState(f *pb.ArchiveFile, what string, state pb.ArchiveFile_State) error {
	if f.State == state {
		return nil
	}
	return fault.Rule(ReasonFileWrongState,
		fmt.Sprintf("the file is %s; %s needs it %s", f.State, what, state), "state", f.State.String())
}

// shelve records where f is shelved.
func shelve(f *pb.ArchiveFile, location string) (string, error) {
	if f.State == pb.ArchiveFile_SENT_ON {
		return "", requireFileState(f, "shelving", pb.ArchiveFile_IN_CUSTODY)
	}
	f.ShelfLocation = location
	return "shelved at " + location, nil
}

// checkLoanRequest validates a loan request: a kind, who and why, and a
// due date from today to maxLoanDays ahead.
func checkLoanRequest(req *pb.RequestArchiveLoanRequest, today time.Time) error {
	var v fault.Violations
	if req.Kind != pb.ArchiveLoan_READING && req.Kind != pb.ArchiveLoan_LOAN {
		v.Add("kind", "must be READING or LOAN")
	}
	inputcheck.Text(&v, "borrower", req.Borrower, true, maxBorrowerLen)
	inputcheck.Text(&v, "purpose", req.Purpose, true, maxReasonLen)
	if req.DueOn == "" {
		v.Add("dueOn", "required")
	} else if due := parseDate(&v, "dueOn", req.DueOn); !due.IsZero() {
		last := today.AddDate(0, 0, maxLoanDays)
		switch {
		case due.Before(today):
			v.Add("dueOn", "in the past")
		case due.After(last):
			v.Addf("dueOn", "at most %d days ahead (%s)", maxLoanDays, last.Format(time.DateOnly))
		}
	}
	return v.Err()
}

// requestLoan records actor's request to lend f out or have it read.
func requestLoan(f *pb.ArchiveFile, req *pb.RequestArchiveLoanRequest, actor Actor, now time.Time) (string, error) {
	if err := requireFileState(f, "a loan", pb.ArchiveFile_IN_CUSTODY); err != nil {
		return "", err
	}
	if f.Loan != nil {
		return "", fault.Rule(ReasonLoanPending, "the file has a loan request waiting for a decision")
	}
	f.Loan = &pb.ArchiveLoan{
		Kind: req.Kind, State: pb.ArchiveLoan_REQUESTED, Borrower: req.Borrower, Purpose: req.Purpose,
		DueOn: req.DueOn, RequestedBy: actor.Subject, RequestTime: timestamppb.New(now),
	}
	return fmt.Sprintf("%s requested, due back %s", loanWord(req.Kind), req.DueOn), nil
}

// loanWord names a loan's kind on the custody record.
func loanWord(k pb.ArchiveLoan_Kind) string {
	if k == pb.ArchiveLoan_READING {
		return "reading"
	}
	return "loan"
}

// decideLoan approves or refuses f's pending request, as someone other
// than whoever asked; an approval takes the file out until it is
// returned, and needs the due date still ahead.
func decideLoan(f *pb.ArchiveFile, approved bool, note string, actor Actor, now time.Time) (action, detail string, err error) {
	if f.Loan == nil || f.Loan.State != pb.ArchiveLoan_REQUESTED {
		return "", "", fault.Rule(ReasonNoLoanRequest, "the file has no loan request to decide")
	}
	if f.Loan.RequestedBy == actor.Subject {
		return "", "", fault.Rule(ReasonSelfApproval, "a loan request is decided by someone other than whoever asked for it")
	}
	word := loanWord(f.Loan.Kind)
	if !approved {
		f.Loan = nil
		return custodyLoanRefused, word + " refused: " + note, nil
	}
	if f.Loan.DueOn < dateIn(now) {
		return "", "", fault.Rule(ReasonFileWrongState, "the request's due date has passed; refuse it and ask again", "dueOn", f.Loan.DueOn)
	}
	f.State = pb.ArchiveFile_ON_LOAN
	f.Loan.State, f.Loan.ApprovedBy, f.Loan.ApproveTime = pb.ArchiveLoan_APPROVED, actor.Subject, timestamppb.New(now)
	return custodyLoanApproved, fmt.Sprintf("%s approved, due back %s", word, f.Loan.DueOn), nil
}

// returnFile takes a lent file back into custody.
func returnFile(f *pb.ArchiveFile, note string, today string) (string, error) {
	if err := requireFileState(f, "a return", pb.ArchiveFile_ON_LOAN); err != nil {
		return "", err
	}
	detail := fmt.Sprintf("returned (%s due back %s)", loanWord(f.Loan.GetKind()), f.Loan.GetDueOn())
	if f.Loan.GetDueOn() < today {
		detail += ", overdue"
	}
	if note != "" {
		detail += ": " + note
	}
	f.State, f.Loan = pb.ArchiveFile_IN_CUSTODY, nil
	return detail, nil
}

// sendOn sends f to the custodian of the district registry now has its
// retiree in, as the projection of registry's feed knows it, or, for a
// retiree registry has MOVED_OUT of the city, to the district the
// request names: a file whose retiree has not moved out of its district
// stays.
func (w *txn) sendOn(f *pb.ArchiveFile, req *pb.SendOnArchiveFileRequest, actor Actor) (string, error) {
	if err := requireFileState(f, "sending it on", pb.ArchiveFile_IN_CUSTODY); err != nil {
		return "", err
	}
	if f.Loan != nil {
		return "", fault.Rule(ReasonLoanPending, "the file has a loan request waiting for a decision; decide it first")
	}
	st, err := projection.Get(w.tx, f.RetireeId)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return "", fault.Rule(ReasonRetireeNotMoved, "registry's record of the retiree has not reached handover yet")
	}
	if err != nil {
		return "", err
	}
	community := st.GetCommunityId()
	now := ""
	switch {
	case st.GetStatus() == registryv1.RetireeStatus_MOVED_OUT:
		// Out of the city: registry knows no community there, and the
		// request says which district's custodian receives the file.
		if req.ToDistrict == "" {
			return "", fault.Invalid("toDistrict", "required: the retiree moved out of the city")
		}
		now = req.ToDistrict
	case len(community) >= inputcheck.DistrictCodeLen:
		now = community[:inputcheck.DistrictCodeLen]
	}
	switch {
	case now == "" || now == f.District:
		return "", fault.Rule(ReasonRetireeNotMoved,
			"registry has no transfer of the retiree out of district "+f.District+"; the file stays in custody")
	case req.ToDistrict != "" && req.ToDistrict != now:
		return "", fault.Rule(ReasonRetireeNotMoved, "registry has the retiree in another district than toDistrict", "toDistrict", req.ToDistrict)
	}
	f.State = pb.ArchiveFile_SENT_ON
	f.SendOn = &pb.ArchiveSendOn{
		ToDistrict: now, ToCustodian: req.ToCustodian, ToCommunityId: community, Note: req.Note,
		SentBy: actor.Subject, SendTime: timestamppb.New(w.now),
	}
	return fmt.Sprintf("sent on to district %s (%s)", now, req.ToCustodian), nil
}

// custodyStep authorises the caller as the file's custodian, validates
// the request with check (nil when there is nothing to check beyond the
// id and the etag), applies fn to the file in one transaction, and
// translates the error.
func (s *Server) custodyStep(ctx context.Context, id, etag string, check func() error, fn fileStep) (*pb.ArchiveFile, error) {
	p, err := authn.Require(ctx, custodians...)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	f, err := s.store.changeFile(id, etag, audit.ActorOf(ctx, p), fileGuard(p), fn)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return f, nil
}

// keptFile returns file id to its custodian, or the error to answer:
// whoever may not see the file gets the same 403 whether or not it
// exists.
func (s *Server) keptFile(ctx context.Context, id string) (*pb.ArchiveFile, error) {
	p, err := authn.Require(ctx, custodians...)
	if err != nil {
		return nil, err
	}
	f, err := s.store.GetArchiveFile(id)
	if err != nil {
		if p.Role != authn.RoleAdmin {
			return nil, authn.ErrPermissionDenied
		}
		return nil, s.fail(ctx, err)
	}
	if !keepsFile(p, f) {
		return nil, authn.ErrPermissionDenied
	}
	return f, nil
}

// GetArchiveFile implements pb.HandoverServiceServer.
func (s *Server) GetArchiveFile(ctx context.Context, req *pb.GetArchiveFileRequest) (*pb.GetArchiveFileResponse, error) {
	f, err := s.keptFile(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &pb.GetArchiveFileResponse{ArchiveFile: f}, nil
}

// ListArchiveFiles implements pb.HandoverServiceServer: an archivist
// lists its district's files, admin any district's or all.
func (s *Server) ListArchiveFiles(ctx context.Context, req *pb.ListArchiveFilesRequest) (*pb.ListArchiveFilesResponse, error) {
	p, err := authn.Require(ctx, custodians...)
	if err != nil {
		return nil, err
	}
	f := ArchiveFilter{District: req.District, State: req.State, Overdue: req.Overdue, Today: s.today()}
	var v fault.Violations
	if _, ok := pb.ArchiveFile_State_name[int32(f.State)]; !ok {
		v.Add("state", "must be one of IN_CUSTODY, ON_LOAN, SENT_ON")
	}
	if f.District != "" && !inputcheck.IsDistrictCode(f.District) {
		v.Add("district", "must be a 6-digit district code")
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if p.Role == authn.RoleArchivist {
		if f.District != "" && f.District != p.District {
			return nil, authn.ErrPermissionDenied
		}
		f.District = p.District
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListArchiveFiles", f.District, f.State.String(), fmt.Sprint(f.Overdue), f.Today))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListArchiveFiles(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListArchiveFilesResponse{ArchiveFiles: list, NextPageToken: page.Next(last)}, nil
}

// ShelveArchiveFile implements pb.HandoverServiceServer.
func (s *Server) ShelveArchiveFile(ctx context.Context, req *pb.ShelveArchiveFileRequest) (*pb.ShelveArchiveFileResponse, error) {
	check := func() error {
		var v fault.Violations
		inputcheck.Text(&v, "shelfLocation", req.ShelfLocation, true, maxShelfLen)
		return v.Err()
	}
	f, err := s.custodyStep(ctx, req.Id, req.Etag, check, func(_ *txn, f *pb.ArchiveFile) (string, string, error) {
		detail, err := shelve(f, req.ShelfLocation)
		return custodyShelved, detail, err
	})
	if err != nil {
		return nil, err
	}
	return &pb.ShelveArchiveFileResponse{ArchiveFile: f}, nil
}

// RequestArchiveLoan implements pb.HandoverServiceServer.
func (s *Server) RequestArchiveLoan(ctx context.Context, req *pb.RequestArchiveLoanRequest) (*pb.RequestArchiveLoanResponse, error) {
	check := func() error { return checkLoanRequest(req, chinaDay(s.now())) }
	f, err := s.custodyStep(ctx, req.Id, req.Etag, check, func(w *txn, f *pb.ArchiveFile) (string, string, error) {
		detail, err := requestLoan(f, req, w.actor, w.now)
		return custodyLoanRequested, detail, err
	})
	if err != nil {
		return nil, err
	}
	return &pb.RequestArchiveLoanResponse{ArchiveFile: f}, nil
}

// DecideArchiveLoan implements pb.HandoverServiceServer.
func (s *Server) DecideArchiveLoan(ctx context.Context, req *pb.DecideArchiveLoanRequest) (*pb.DecideArchiveLoanResponse, error) {
	check := func() error {
		var v fault.Violations
		inputcheck.Text(&v, "note", req.Note, !req.Approved, maxReasonLen)
		return v.Err()
	}
	f, err := s.custodyStep(ctx, req.Id, req.Etag, check, func(w *txn, f *pb.ArchiveFile) (string, string, error) {
		return decideLoan(f, req.Approved, req.Note, w.actor, w.now)
	})
	if err != nil {
		return nil, err
	}
	return &pb.DecideArchiveLoanResponse{ArchiveFile: f}, nil
}

// ReturnArchiveFile implements pb.HandoverServiceServer.
func (s *Server) ReturnArchiveFile(ctx context.Context, req *pb.ReturnArchiveFileRequest) (*pb.ReturnArchiveFileResponse, error) {
	check := func() error {
		var v fault.Violations
		inputcheck.Text(&v, "note", req.Note, false, maxReasonLen)
		return v.Err()
	}
	f, err := s.custodyStep(ctx, req.Id, req.Etag, check, func(w *txn, f *pb.ArchiveFile) (string, string, error) {
		detail, err := returnFile(f, req.Note, dateIn(w.now))
		return custodyReturned, detail, err
	})
	if err != nil {
		return nil, err
	}
	return &pb.ReturnArchiveFileResponse{ArchiveFile: f}, nil
}

// SendOnArchiveFile implements pb.HandoverServiceServer.
func (s *Server) SendOnArchiveFile(ctx context.Context, req *pb.SendOnArchiveFileRequest) (*pb.SendOnArchiveFileResponse, error) {
	check := func() error {
		var v fault.Violations
		if req.ToDistrict != "" && !inputcheck.IsDistrictCode(req.ToDistrict) {
			v.Add("toDistrict", "must be a 6-digit district code")
		}
		inputcheck.Text(&v, "toCustodian", req.ToCustodian, true, maxCustodianLen)
		inputcheck.Text(&v, "note", req.Note, false, maxReasonLen)
		return v.Err()
	}
	f, err := s.custodyStep(ctx, req.Id, req.Etag, check, func(w *txn, f *pb.ArchiveFile) (string, string, error) {
		detail, err := w.sendOn(f, req, w.actor)
		return custodySentOn, detail, err
	})
	if err != nil {
		return nil, err
	}
	return &pb.SendOnArchiveFileResponse{ArchiveFile: f}, nil
}

// ListArchiveFileEvents implements pb.HandoverServiceServer: whoever
// keeps the file reads its custody record.
func (s *Server) ListArchiveFileEvents(ctx context.Context, req *pb.ListArchiveFileEventsRequest) (*pb.ListArchiveFileEventsResponse, error) {
	f, err := s.keptFile(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListArchiveFileEvents", f.Id))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	events, last, err := s.store.ListArchiveFileEvents(f.Id, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListArchiveFileEventsResponse{Events: events, NextPageToken: page.Next(last)}, nil
}

// GetArchiveStatistics implements pb.HandoverServiceServer: an archivist
// and a district supervisor read their own district's, bureau and admin
// any district's.
func (s *Server) GetArchiveStatistics(ctx context.Context, req *pb.GetArchiveStatisticsRequest) (*pb.GetArchiveStatisticsResponse, error) {
	p, err := authn.Require(ctx, statisticsReaders...)
	if err != nil {
		return nil, err
	}
	district, from, to, err := s.checkStatistics(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if p.Is(authn.RoleArchivist, authn.RoleDistrict) {
		if district != "" && district != p.District {
			return nil, authn.ErrPermissionDenied
		}
		district = p.District
	}
	if district == "" {
		return nil, s.fail(ctx, fault.Invalid("district", "required"))
	}
	out, err := s.store.ArchiveStatistics(district, from, to, s.today())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

// checkStatistics validates a statistics request and fills in the
// period's defaults: the first of this month to today.
func (s *Server) checkStatistics(req *pb.GetArchiveStatisticsRequest) (district, from, to string, err error) {
	var v fault.Violations
	if req.District != "" && !inputcheck.IsDistrictCode(req.District) {
		v.Add("district", "must be a 6-digit district code")
	}
	today := chinaDay(s.now())
	start, end := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, today.Location()), today
	if req.From != "" {
		start = parseDate(&v, "from", req.From)
	}
	if req.To != "" {
		end = parseDate(&v, "to", req.To)
	}
	if err := v.Err(); err != nil {
		return "", "", "", err
	}
	switch {
	case end.Before(start):
		v.Add("to", "before from")
	case end.Sub(start) > maxStatisticsDays*24*time.Hour:
		v.Addf("to", "at most %d days after from", maxStatisticsDays)
	}
	return req.District, start.Format(time.DateOnly), end.Format(time.DateOnly), v.Err()
}

// chinaDay is the day in China at t, at midnight China time.
func chinaDay(t time.Time) time.Time {
	d, _ := time.ParseInLocation(time.DateOnly, dateIn(t), workdays.ChinaTime)
	return d
}
