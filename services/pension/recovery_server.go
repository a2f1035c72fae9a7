package pension

import (
	"context"
	"time"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Who may do what with recovery cases: everyone who reads pension data
// reads the cases of its area; the bureau and a clerk of the case's
// community act on it; the bureau (and admin) alone write off and import
// repayments.
var (
	recoveryActors   = []authn.Role{authn.RoleBureau, authn.RoleClerk}
	writeOffDeciders = []authn.Role{authn.RoleBureau}
)

// Bounds of recovery requests.
const (
	maxDebtorLen    = 100
	maxReasonLen    = 500
	maxBankRefLen   = 64
	maxRepaymentsIn = 1000
)

// caseGuard is the object check of a case; c is nil when it does not
// exist.
func caseGuard(p *authn.Principal) func(*pb.RecoveryCase) error {
	return func(c *pb.RecoveryCase) error {
		switch {
		case c == nil && knowsExistence(p):
			return nil
		case c == nil:
			return authn.ErrPermissionDenied
		case p.Is(authn.RoleAdmin, authn.RoleBureau):
			return nil
		case p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict) && p.InArea(c.CommunityId):
			return nil
		}
		return authn.ErrPermissionDenied
	}
}

// checkCaseID validates a case id.
func checkCaseID(v *fault.Violations, id string) {
	if !inputcheck.IsOpaqueID(id) {
		v.Add("id", "must be a recovery case id")
	}
}

// calendar is the working-day calendar of due dates.
func (s *Server) calendar() *workdays.Calendar { return s.workdays }

// ListRecoveryCases implements pb.PensionServiceServer.
func (s *Server) ListRecoveryCases(ctx context.Context, req *pb.ListRecoveryCasesRequest) (*pb.ListRecoveryCasesResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	switch {
	case req.CommunityId != "":
		inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	case !p.Is(authn.RoleAdmin, authn.RoleBureau):
		v.Add("communityId", "required")
	}
	if _, ok := pb.RecoveryState_name[int32(req.State)]; !ok {
		v.Add("state", "unknown state")
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListRecoveryCases", req.CommunityId, req.State.String()))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := canSeeCommunity(p, req.CommunityId); err != nil {
		return nil, err
	}
	list, last, err := s.store.ListRecoveryCases(RecoveryFilter{CommunityID: req.CommunityId, State: req.State}, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListRecoveryCases", listedRetirees(list)...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRecoveryCasesResponse{Cases: list, NextPageToken: page.Next(last)}, nil
}

// GetRecoveryCase implements pb.PensionServiceServer.
func (s *Server) GetRecoveryCase(ctx context.Context, req *pb.GetRecoveryCaseRequest) (*pb.GetRecoveryCaseResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkCaseID(&v, req.Id)
	if err := v.Err(); err != nil {
		if !knowsExistence(p) {
			return nil, authn.ErrPermissionDenied
		}
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.RecoveryCase(req.Id, caseGuard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "GetRecoveryCase", c.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetRecoveryCaseResponse{Case: c}, nil
}

// act runs one change of case id by a caller with one of roles, once v
// (the request's other checks) holds.
func (s *Server) act(ctx context.Context, rpc, id string, roles []authn.Role, v *fault.Violations, ref string, apply func(*pb.RecoveryCase, step) error) (*pb.RecoveryCase, error) {
	p, err := authn.Require(ctx, roles...)
	if err != nil {
		return nil, err
	}
	checkCaseID(v, id)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.ChangeRecoveryCase(id, RecoveryAction{
		Actor: p.Subject, Audit: audit.ActorOf(ctx, p), RPC: rpc, Allowed: caseGuard(p), Apply: apply, BankReference: ref,
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return c, nil
}

// respond wraps the case an action answers in the action's response.
func respond[R any](wrap func(*pb.RecoveryCase) R) func(*pb.RecoveryCase, error) (R, error) {
	return func(c *pb.RecoveryCase, err error) (R, error) {
		if err != nil {
			var zero R
			return zero, err
		}
		return wrap(c), nil
	}
}

// today is the day in China.
func (s *Server) today() time.Time { return workdays.Today(s.now()) }

// IssueRecoveryOrder implements pb.PensionServiceServer.
func (s *Server) IssueRecoveryOrder(ctx context.Context, req *pb.IssueRecoveryOrderRequest) (*pb.IssueRecoveryOrderResponse, error) {
	var v fault.Violations
	inputcheck.Text(&v, "debtorName", req.DebtorName, true, maxDebtorLen)
	inputcheck.Text(&v, "debtorRelation", req.DebtorRelation, true, maxDebtorLen)
	today := s.today()
	due, known := s.calendar().AddWorkingDays(today, orderWorkingDays)
	order := &pb.RecoveryOrder{
		IssuedOn: formatDate(today), DueOn: formatDate(due), DueOnProvisional: !known,
		DebtorName: req.DebtorName, DebtorRelation: req.DebtorRelation,
	}
	return respond(func(c *pb.RecoveryCase) *pb.IssueRecoveryOrderResponse {
		return &pb.IssueRecoveryOrderResponse{Case: c}
	})(s.act(ctx, "IssueRecoveryOrder", req.Id, recoveryActors, &v, "", func(c *pb.RecoveryCase, at step) error {
		return issueOrder(c, at, order)
	}))
}

// SetRecoveryInstalmentPlan implements pb.PensionServiceServer.
func (s *Server) SetRecoveryInstalmentPlan(ctx context.Context, req *pb.SetRecoveryInstalmentPlanRequest) (*pb.SetRecoveryInstalmentPlanResponse, error) {
	var v fault.Violations
	checkPlan(&v, req.Instalments, formatDate(s.today()))
	return respond(func(c *pb.RecoveryCase) *pb.SetRecoveryInstalmentPlanResponse {
		return &pb.SetRecoveryInstalmentPlanResponse{Case: c}
	})(s.act(ctx, "SetRecoveryInstalmentPlan", req.Id, recoveryActors, &v, "", func(c *pb.RecoveryCase, at step) error {
		return setPlan(c, at, req.Instalments)
	}))
}

// checkPlan validates a plan: 1 to 60 instalments, positive amounts, due
// dates from today on and increasing.
func checkPlan(v *fault.Violations, plan []*pb.RecoveryInstalment, today string) {
	if len(plan) == 0 || len(plan) > maxInstalments {
		v.Add("instalments", "must have 1 to 60 instalments")
		return
	}
	prev := ""
	for i, in := range plan {
		d, ok := parseDate(in.GetDueOn())
		switch {
		case !ok:
			v.Addf("instalments", "instalment %d: dueOn must be a date YYYY-MM-DD", i+1)
		case formatDate(d) < today || formatDate(d) <= prev:
			v.Addf("instalments", "instalment %d: due dates must be from today on and increasing", i+1)
		case in.AmountFen <= 0 || in.AmountFen > maxAmountFen*100:
			v.Addf("instalments", "instalment %d: amountFen must be positive", i+1)
		}
		if ok {
			prev = formatDate(d)
		}
	}
}

// checkRepayment validates a repayment's amount, day and reference.
func checkRepayment(v *fault.Violations, amount int64, paidOn, ref string, refRequired bool, today time.Time) {
	if amount <= 0 {
		v.Add("amountFen", "must be positive")
	}
	if d, ok := parseDate(paidOn); !ok || d.After(today) {
		v.Add("paidOn", "must be a date YYYY-MM-DD up to today")
	}
	if ref == "" && !refRequired {
		return
	}
	inputcheck.Text(v, "bankReference", ref, refRequired, maxBankRefLen)
}

// RecordRecoveryRepayment implements pb.PensionServiceServer.
func (s *Server) RecordRecoveryRepayment(ctx context.Context, req *pb.RecordRecoveryRepaymentRequest) (*pb.RecordRecoveryRepaymentResponse, error) {
	var v fault.Violations
	checkRepayment(&v, req.AmountFen, req.PaidOn, req.BankReference, false, s.today())
	return respond(func(c *pb.RecoveryCase) *pb.RecordRecoveryRepaymentResponse {
		return &pb.RecordRecoveryRepaymentResponse{Case: c}
	})(s.act(ctx, "RecordRecoveryRepayment", req.Id, recoveryActors, &v, req.BankReference, func(c *pb.RecoveryCase, at step) error {
		return repay(c, at, req.AmountFen, req.PaidOn, req.BankReference)
	}))
}

// ProposeRecoveryWriteOff implements pb.PensionServiceServer.
func (s *Server) ProposeRecoveryWriteOff(ctx context.Context, req *pb.ProposeRecoveryWriteOffRequest) (*pb.ProposeRecoveryWriteOffResponse, error) {
	var v fault.Violations
	if req.AmountFen <= 0 {
		v.Add("amountFen", "must be positive")
	}
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	return respond(func(c *pb.RecoveryCase) *pb.ProposeRecoveryWriteOffResponse {
		return &pb.ProposeRecoveryWriteOffResponse{Case: c}
	})(s.act(ctx, "ProposeRecoveryWriteOff", req.Id, writeOffDeciders, &v, "", func(c *pb.RecoveryCase, at step) error {
		return proposeWriteOff(c, at, req.AmountFen, req.Reason)
	}))
}

// ApproveRecoveryWriteOff implements pb.PensionServiceServer. The
// proposer approving its own write-off gets FAILED_PRECONDITION with the
// reason WRITE_OFF_SAME_PERSON.
func (s *Server) ApproveRecoveryWriteOff(ctx context.Context, req *pb.ApproveRecoveryWriteOffRequest) (*pb.ApproveRecoveryWriteOffResponse, error) {
	var v fault.Violations
	return respond(func(c *pb.RecoveryCase) *pb.ApproveRecoveryWriteOffResponse {
		return &pb.ApproveRecoveryWriteOffResponse{Case: c}
	})(s.act(ctx, "ApproveRecoveryWriteOff", req.Id, writeOffDeciders, &v, "", approveWriteOff))
}

// RejectRecoveryWriteOff implements pb.PensionServiceServer.
func (s *Server) RejectRecoveryWriteOff(ctx context.Context, req *pb.RejectRecoveryWriteOffRequest) (*pb.RejectRecoveryWriteOffResponse, error) {
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, false, maxReasonLen)
	return respond(func(c *pb.RecoveryCase) *pb.RejectRecoveryWriteOffResponse {
		return &pb.RejectRecoveryWriteOffResponse{Case: c}
	})(s.act(ctx, "RejectRecoveryWriteOff", req.Id, writeOffDeciders, &v, "", func(c *pb.RecoveryCase, at step) error {
		return rejectWriteOff(c, at, req.Reason)
	}))
}

// RecordRecoveryRefusal implements pb.PensionServiceServer.
func (s *Server) RecordRecoveryRefusal(ctx context.Context, req *pb.RecordRecoveryRefusalRequest) (*pb.RecordRecoveryRefusalResponse, error) {
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, false, maxReasonLen)
	today := formatDate(s.today())
	return respond(func(c *pb.RecoveryCase) *pb.RecordRecoveryRefusalResponse {
		return &pb.RecordRecoveryRefusalResponse{Case: c}
	})(s.act(ctx, "RecordRecoveryRefusal", req.Id, recoveryActors, &v, "", func(c *pb.RecoveryCase, at step) error {
		return recordRefusal(c, at, today, req.Reason)
	}))
}

// EscalateRecoveryCase implements pb.PensionServiceServer.
func (s *Server) EscalateRecoveryCase(ctx context.Context, req *pb.EscalateRecoveryCaseRequest) (*pb.EscalateRecoveryCaseResponse, error) {
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	today := formatDate(s.today())
	return respond(func(c *pb.RecoveryCase) *pb.EscalateRecoveryCaseResponse {
		return &pb.EscalateRecoveryCaseResponse{Case: c}
	})(s.act(ctx, "EscalateRecoveryCase", req.Id, recoveryActors, &v, "", func(c *pb.RecoveryCase, at step) error {
		return escalate(c, at, today, req.Reason)
	}))
}
