package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// fakeDeaths is the pension service's side of a death, for what seed
// drives: the benefit rules, recovery cases opened from the payments
// after a death the fake registry records and voided when it is
// reversed, the ledger and the state rules of the real service, and
// claims with their checklist. Roles are checked as the service checks
// them: the clerk of the community acts on cases and files claims, the
// bureau writes off, escalates and decides, admin keeps the rules.
type fakeDeaths struct {
	*fakeSeedPension

	mu     sync.Mutex
	rules  map[string]*pensionv1.BenefitRule
	cases  map[string]*pensionv1.RecoveryCase // by retiree id
	claims map[string]*pensionv1.DeathBenefitClaim
}

func newFakeDeaths(p *fakeSeedPension) *fakeDeaths {
	return &fakeDeaths{fakeSeedPension: p, rules: map[string]*pensionv1.BenefitRule{},
		cases: map[string]*pensionv1.RecoveryCase{}, claims: map[string]*pensionv1.DeathBenefitClaim{}}
}

// sync opens the cases of the registry's dead who were paid after the
// month of death and voids those of the living, as the pension service's
// projection does, and voids the open claims of the living.
func (f *fakeDeaths) sync() {
	f.reg.mu.Lock()
	retirees := map[string]*registryv1.Retiree{}
	for id, r := range f.reg.retirees {
		retirees[id] = proto.Clone(r).(*registryv1.Retiree)
	}
	f.reg.mu.Unlock()
	f.fakeSeedPension.mu.Lock()
	paid := map[string]int64{} // retiree id → principal
	for _, m := range f.payments {
		p := m.(*pensionv1.PaymentRecord)
		r := retirees[f.reg.byIDNumber[p.GetIdNumber()]]
		if r.GetStatus() == registryv1.RetireeStatus_DECEASED && p.GetMonth() > r.GetDateOfDeath()[:7] {
			paid[r.GetId()] += p.GetBasicFen() + p.GetPersonalAccountFen() + p.GetTransitionalFen() + p.GetOtherFen()
		}
	}
	f.fakeSeedPension.mu.Unlock()
	for id, principal := range paid {
		if f.cases[id] == nil {
			r := retirees[id]
			f.cases[id] = &pensionv1.RecoveryCase{Id: "case-" + id, RetireeId: id, CommunityId: r.GetCommunityId(), DateOfDeath: r.GetDateOfDeath(),
				State: pensionv1.RecoveryState_RECOVERY_OPEN, PrincipalFen: principal, BalanceFen: principal}
		}
	}
	for id, c := range f.cases {
		if retirees[id].GetStatus() == registryv1.RetireeStatus_LIVING {
			c.State = pensionv1.RecoveryState_RECOVERY_VOID
		}
	}
	for _, c := range f.claims {
		if retirees[c.GetRetireeId()].GetStatus() == registryv1.RetireeStatus_LIVING && isOpenClaimState(c.GetState()) {
			c.State = pensionv1.DeathBenefitClaimState_VOID
		}
	}
}

func isOpenClaimState(s pensionv1.DeathBenefitClaimState) bool {
	return s == pensionv1.DeathBenefitClaimState_DRAFT || s == pensionv1.DeathBenefitClaimState_SUBMITTED || s == pensionv1.DeathBenefitClaimState_APPROVED
}

// allowed checks the caller of ctx against roles and, for a clerk, the
// community.
func allowed(ctx context.Context, community string, roles ...authn.Role) (*authn.Principal, error) {
	p, err := authn.Require(ctx, roles...)
	if err != nil {
		return nil, err
	}
	if p.Role == authn.RoleClerk && !p.InArea(community) {
		return nil, status.Error(codes.PermissionDenied, "not your community")
	}
	return p, nil
}

func (f *fakeDeaths) CreateBenefitRule(ctx context.Context, req *pensionv1.CreateBenefitRuleRequest) (*pensionv1.CreateBenefitRuleResponse, error) {
	if _, err := authn.Require(ctx); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := proto.Clone(req.GetRule()).(*pensionv1.BenefitRule)
	r.Id = r.GetRegionPrefix() + "-" + r.GetEffectiveOn()
	if f.rules[r.Id] != nil {
		return nil, status.Error(codes.AlreadyExists, "BENEFIT_RULE_EXISTS")
	}
	f.rules[r.Id] = r
	return &pensionv1.CreateBenefitRuleResponse{Rule: r}, nil
}

func (f *fakeDeaths) ListRecoveryCases(ctx context.Context, req *pensionv1.ListRecoveryCasesRequest) (*pensionv1.ListRecoveryCasesResponse, error) {
	if _, err := allowed(ctx, req.GetCommunityId(), authn.RoleBureau, authn.RoleClerk); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sync()
	resp := &pensionv1.ListRecoveryCasesResponse{}
	for _, c := range f.cases {
		if c.GetCommunityId() == req.GetCommunityId() {
			resp.Cases = append(resp.Cases, proto.Clone(c).(*pensionv1.RecoveryCase))
		}
	}
	return resp, nil
}

// act applies change to case id for a caller of roles, with the real
// service's ledger invariant checked after it.
func (f *fakeDeaths) act(ctx context.Context, id string, roles []authn.Role, change func(p *authn.Principal, c *pensionv1.RecoveryCase) error) (*pensionv1.RecoveryCase, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var c *pensionv1.RecoveryCase
	for _, k := range f.cases {
		if k.GetId() == id {
			c = k
		}
	}
	if c == nil {
		return nil, status.Error(codes.NotFound, "no such case")
	}
	p, err := allowed(ctx, c.GetCommunityId(), roles...)
	if err != nil {
		return nil, err
	}
	switch c.GetState() {
	case pensionv1.RecoveryState_RECOVERY_VOID, pensionv1.RecoveryState_RECOVERY_REPAID, pensionv1.RecoveryState_RECOVERY_WRITTEN_OFF:
		return nil, status.Error(codes.FailedPrecondition, "RECOVERY_CASE_CLOSED")
	}
	next := proto.Clone(c).(*pensionv1.RecoveryCase)
	if err := change(p, next); err != nil {
		return nil, err
	}
	if next.PrincipalFen != next.RepaidFen+next.OffsetFen+next.WrittenOffFen+next.BalanceFen {
		return nil, status.Error(codes.Internal, "ledger invariant broken")
	}
	proto.Reset(c)
	proto.Merge(c, next)
	return proto.Clone(c).(*pensionv1.RecoveryCase), nil
}

var (
	fakeActors   = []authn.Role{authn.RoleBureau, authn.RoleClerk}
	fakeDeciders = []authn.Role{authn.RoleBureau}
)

func wrongState(c *pensionv1.RecoveryCase) error {
	return status.Error(codes.FailedPrecondition, "RECOVERY_STATE: "+c.GetState().String())
}

func (f *fakeDeaths) IssueRecoveryOrder(ctx context.Context, req *pensionv1.IssueRecoveryOrderRequest) (*pensionv1.IssueRecoveryOrderResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeActors, func(_ *authn.Principal, c *pensionv1.RecoveryCase) error {
		if c.State != pensionv1.RecoveryState_RECOVERY_OPEN && c.State != pensionv1.RecoveryState_RECOVERY_ORDERED {
			return wrongState(c)
		}
		if req.GetDebtorName() == "" || req.GetDebtorRelation() == "" {
			return status.Error(codes.InvalidArgument, "debtorName and debtorRelation: required")
		}
		c.Order = &pensionv1.RecoveryOrder{DebtorName: req.GetDebtorName(), DebtorRelation: req.GetDebtorRelation()}
		c.State = pensionv1.RecoveryState_RECOVERY_ORDERED
		return nil
	})
	return &pensionv1.IssueRecoveryOrderResponse{Case: c}, err
}

func (f *fakeDeaths) SetRecoveryInstalmentPlan(ctx context.Context, req *pensionv1.SetRecoveryInstalmentPlanRequest) (*pensionv1.SetRecoveryInstalmentPlanResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeActors, func(_ *authn.Principal, c *pensionv1.RecoveryCase) error {
		if c.State != pensionv1.RecoveryState_RECOVERY_ORDERED && c.State != pensionv1.RecoveryState_RECOVERY_INSTALMENTS {
			return wrongState(c)
		}
		var sum int64
		prev := ""
		for _, in := range req.GetInstalments() {
			if in.GetAmountFen() <= 0 || in.GetDueOn() <= prev {
				return status.Error(codes.InvalidArgument, "instalments: positive amounts, increasing due dates")
			}
			sum, prev = sum+in.GetAmountFen(), in.GetDueOn()
		}
		if sum != c.BalanceFen {
			return status.Error(codes.FailedPrecondition, "PLAN_SUM_NOT_BALANCE")
		}
		c.Instalments, c.State = req.GetInstalments(), pensionv1.RecoveryState_RECOVERY_INSTALMENTS
		return nil
	})
	return &pensionv1.SetRecoveryInstalmentPlanResponse{Case: c}, err
}

func (f *fakeDeaths) RecordRecoveryRepayment(ctx context.Context, req *pensionv1.RecordRecoveryRepaymentRequest) (*pensionv1.RecordRecoveryRepaymentResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeActors, func(_ *authn.Principal, c *pensionv1.RecoveryCase) error {
		if req.GetAmountFen() <= 0 || req.GetAmountFen() > c.BalanceFen {
			return status.Error(codes.FailedPrecondition, "AMOUNT_OVER_BALANCE")
		}
		c.RepaidFen += req.GetAmountFen()
		c.BalanceFen -= req.GetAmountFen()
		if c.BalanceFen == 0 {
			c.State = pensionv1.RecoveryState_RECOVERY_REPAID
		}
		return nil
	})
	return &pensionv1.RecordRecoveryRepaymentResponse{Case: c}, err
}

func (f *fakeDeaths) ProposeRecoveryWriteOff(ctx context.Context, req *pensionv1.ProposeRecoveryWriteOffRequest) (*pensionv1.ProposeRecoveryWriteOffResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeDeciders, func(p *authn.Principal, c *pensionv1.RecoveryCase) error {
		if c.WriteOffProposal != nil || req.GetAmountFen() <= 0 || req.GetAmountFen() > c.BalanceFen {
			return status.Error(codes.FailedPrecondition, "WRITE_OFF_PENDING or AMOUNT_OVER_BALANCE")
		}
		c.WriteOffProposal = &pensionv1.RecoveryWriteOffProposal{AmountFen: req.GetAmountFen(), Reason: req.GetReason(), ProposedBy: p.Subject}
		return nil
	})
	return &pensionv1.ProposeRecoveryWriteOffResponse{Case: c}, err
}

func (f *fakeDeaths) ApproveRecoveryWriteOff(ctx context.Context, req *pensionv1.ApproveRecoveryWriteOffRequest) (*pensionv1.ApproveRecoveryWriteOffResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeDeciders, func(p *authn.Principal, c *pensionv1.RecoveryCase) error {
		w := c.WriteOffProposal
		switch {
		case w == nil:
			return status.Error(codes.FailedPrecondition, "NO_WRITE_OFF_PENDING")
		case w.GetProposedBy() == p.Subject:
			return status.Error(codes.FailedPrecondition, "WRITE_OFF_SAME_PERSON")
		}
		c.WrittenOffFen += w.GetAmountFen()
		c.BalanceFen -= w.GetAmountFen()
		c.WriteOffProposal = nil
		if c.BalanceFen == 0 {
			c.State = pensionv1.RecoveryState_RECOVERY_WRITTEN_OFF
		}
		return nil
	})
	return &pensionv1.ApproveRecoveryWriteOffResponse{Case: c}, err
}

func (f *fakeDeaths) RecordRecoveryRefusal(ctx context.Context, req *pensionv1.RecordRecoveryRefusalRequest) (*pensionv1.RecordRecoveryRefusalResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeActors, func(_ *authn.Principal, c *pensionv1.RecoveryCase) error {
		c.RefusedOn = "2026-01-01"
		return nil
	})
	return &pensionv1.RecordRecoveryRefusalResponse{Case: c}, err
}

func (f *fakeDeaths) EscalateRecoveryCase(ctx context.Context, req *pensionv1.EscalateRecoveryCaseRequest) (*pensionv1.EscalateRecoveryCaseResponse, error) {
	c, err := f.act(ctx, req.GetId(), fakeActors, func(_ *authn.Principal, c *pensionv1.RecoveryCase) error {
		if c.State == pensionv1.RecoveryState_RECOVERY_ENFORCEMENT || c.RefusedOn == "" {
			return status.Error(codes.FailedPrecondition, "NOT_ESCALABLE")
		}
		c.State = pensionv1.RecoveryState_RECOVERY_ENFORCEMENT
		return nil
	})
	return &pensionv1.EscalateRecoveryCaseResponse{Case: c}, err
}

func (f *fakeDeaths) ListDeathBenefitClaims(ctx context.Context, req *pensionv1.ListDeathBenefitClaimsRequest) (*pensionv1.ListDeathBenefitClaimsResponse, error) {
	if _, err := allowed(ctx, req.GetCommunityId(), authn.RoleBureau, authn.RoleClerk); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sync()
	resp := &pensionv1.ListDeathBenefitClaimsResponse{}
	for _, c := range f.claims {
		if c.GetCommunityId() == req.GetCommunityId() {
			resp.Claims = append(resp.Claims, proto.Clone(c).(*pensionv1.DeathBenefitClaim))
		}
	}
	return resp, nil
}

func (f *fakeDeaths) CreateDeathBenefitClaim(ctx context.Context, req *pensionv1.CreateDeathBenefitClaimRequest) (*pensionv1.CreateDeathBenefitClaimResponse, error) {
	f.reg.mu.Lock()
	r := proto.Clone(f.reg.retirees[req.GetRetireeId()]).(*registryv1.Retiree)
	f.reg.mu.Unlock()
	if _, err := allowed(ctx, r.GetCommunityId(), authn.RoleBureau, authn.RoleClerk); err != nil {
		return nil, err
	}
	in := req.GetClaim()
	switch {
	case r.GetStatus() != registryv1.RetireeStatus_DECEASED:
		return nil, status.Error(codes.FailedPrecondition, "RETIREE_NOT_DECEASED")
	case in.GetClaimant().GetName() == "" || in.GetClaimant().GetRelation() == 0 || len(in.GetBankAccount()) < 8:
		return nil, status.Error(codes.InvalidArgument, "claimant and bankAccount: required")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.claims {
		if c.GetRetireeId() == r.GetId() && isOpenClaimState(c.GetState()) {
			return nil, status.Error(codes.AlreadyExists, "OPEN_CLAIM_EXISTS")
		}
	}
	c := proto.Clone(in).(*pensionv1.DeathBenefitClaim)
	c.Id, c.RetireeId, c.CommunityId = fmt.Sprintf("claim-%d", len(f.claims)+1), r.GetId(), r.GetCommunityId()
	c.State, c.DateOfDeath, c.BankAccount = pensionv1.DeathBenefitClaimState_DRAFT, r.GetDateOfDeath(), ""
	f.claims[c.Id] = c
	return &pensionv1.CreateDeathBenefitClaimResponse{Claim: proto.Clone(c).(*pensionv1.DeathBenefitClaim)}, nil
}

// decideClaim moves claim id from state from to state to for a caller
// of roles, after check.
func (f *fakeDeaths) decideClaim(ctx context.Context, id string, roles []authn.Role, from, to pensionv1.DeathBenefitClaimState, check func(*pensionv1.DeathBenefitClaim) error) (*pensionv1.DeathBenefitClaim, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.claims[id]
	if c == nil {
		return nil, status.Error(codes.NotFound, "no such claim")
	}
	if _, err := allowed(ctx, c.GetCommunityId(), roles...); err != nil {
		return nil, err
	}
	if c.GetState() != from {
		return nil, status.Error(codes.FailedPrecondition, "CLAIM_STATE: "+c.GetState().String())
	}
	if check != nil {
		if err := check(c); err != nil {
			return nil, err
		}
	}
	c.State = to
	return proto.Clone(c).(*pensionv1.DeathBenefitClaim), nil
}

func (f *fakeDeaths) SubmitDeathBenefitClaim(ctx context.Context, req *pensionv1.SubmitDeathBenefitClaimRequest) (*pensionv1.SubmitDeathBenefitClaimResponse, error) {
	c, err := f.decideClaim(ctx, req.GetId(), fakeActors, pensionv1.DeathBenefitClaimState_DRAFT, pensionv1.DeathBenefitClaimState_SUBMITTED,
		func(c *pensionv1.DeathBenefitClaim) error {
			if len(f.rules) == 0 {
				return status.Error(codes.FailedPrecondition, "NO_BENEFIT_RULE")
			}
			for _, rule := range f.rules {
				for _, k := range rule.GetRequiredDocuments() {
					if !slices.ContainsFunc(c.GetDocuments(), func(d *pensionv1.BenefitDocument) bool { return d.GetKind() == k }) {
						return status.Error(codes.InvalidArgument, "documents: missing "+k.String())
					}
				}
			}
			return nil
		})
	return &pensionv1.SubmitDeathBenefitClaimResponse{Claim: c}, err
}

func (f *fakeDeaths) ApproveDeathBenefitClaim(ctx context.Context, req *pensionv1.ApproveDeathBenefitClaimRequest) (*pensionv1.ApproveDeathBenefitClaimResponse, error) {
	c, err := f.decideClaim(ctx, req.GetId(), fakeDeciders, pensionv1.DeathBenefitClaimState_SUBMITTED, pensionv1.DeathBenefitClaimState_APPROVED, nil)
	return &pensionv1.ApproveDeathBenefitClaimResponse{Claim: c}, err
}

func (f *fakeDeaths) RejectDeathBenefitClaim(ctx context.Context, req *pensionv1.RejectDeathBenefitClaimRequest) (*pensionv1.RejectDeathBenefitClaimResponse, error) {
	if req.GetReason() == "" {
		return nil, status.Error(codes.InvalidArgument, "reason: required")
	}
	c, err := f.decideClaim(ctx, req.GetId(), fakeDeciders, pensionv1.DeathBenefitClaimState_SUBMITTED, pensionv1.DeathBenefitClaimState_REJECTED, nil)
	return &pensionv1.RejectDeathBenefitClaimResponse{Claim: c}, err
}

func (f *fakeDeaths) MarkDeathBenefitClaimPaid(ctx context.Context, req *pensionv1.MarkDeathBenefitClaimPaidRequest) (*pensionv1.MarkDeathBenefitClaimPaidResponse, error) {
	if req.GetPaidOn() == "" || req.GetBankReference() == "" {
		return nil, status.Error(codes.InvalidArgument, "paidOn and bankReference: required")
	}
	c, err := f.decideClaim(ctx, req.GetId(), fakeDeciders, pensionv1.DeathBenefitClaimState_APPROVED, pensionv1.DeathBenefitClaimState_PAID, nil)
	return &pensionv1.MarkDeathBenefitClaimPaidResponse{Claim: c}, err
}

func (f *fakeDeaths) OffsetRecoveryCase(ctx context.Context, req *pensionv1.OffsetRecoveryCaseRequest) (*pensionv1.OffsetRecoveryCaseResponse, error) {
	f.mu.Lock()
	claim := f.claims[req.GetClaimId()]
	f.mu.Unlock()
	switch {
	case claim == nil:
		return nil, status.Error(codes.NotFound, "no such claim")
	case claim.GetOffsetFen() > 0:
		return &pensionv1.OffsetRecoveryCaseResponse{Claim: claim}, nil
	case claim.GetState() != pensionv1.DeathBenefitClaimState_APPROVED || !claim.GetConsentToOffset():
		return nil, status.Error(codes.FailedPrecondition, "CLAIM_STATE or NO_CONSENT_TO_OFFSET")
	}
	c, err := f.act(ctx, req.GetId(), fakeDeciders, func(_ *authn.Principal, c *pensionv1.RecoveryCase) error {
		if c.GetRetireeId() != claim.GetRetireeId() || req.GetAmountFen() <= 0 || req.GetAmountFen() > c.GetBalanceFen() {
			return status.Error(codes.FailedPrecondition, "another retiree's claim, or AMOUNT_OVER_BALANCE")
		}
		c.OffsetFen += req.GetAmountFen()
		c.BalanceFen -= req.GetAmountFen()
		if c.BalanceFen == 0 {
			c.State = pensionv1.RecoveryState_RECOVERY_REPAID
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	claim.OffsetFen, claim.OffsetCaseId = req.GetAmountFen(), c.GetId()
	return &pensionv1.OffsetRecoveryCaseResponse{Case: c, Claim: proto.Clone(claim).(*pensionv1.DeathBenefitClaim)}, nil
}

// byState counts the fake's cases and claims by state.
func (f *fakeDeaths) byState() (map[pensionv1.RecoveryState]int, map[pensionv1.DeathBenefitClaimState]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sync()
	cases, claims := map[pensionv1.RecoveryState]int{}, map[pensionv1.DeathBenefitClaimState]int{}
	for _, c := range f.cases {
		cases[c.GetState()]++
	}
	for _, c := range f.claims {
		claims[c.GetState()]++
	}
	return cases, claims
}

func startFakeDeaths(t *testing.T, f *fakeDeaths, pub ed25519.PublicKey) string {
	t.Helper()
	return servicetest.Serve(t, servicetest.Options{
		Name: "pension", Keys: servicetest.Keys{Public: pub}, TCP: true,
		Register: func(srv *grpcserver.Server) { pensionv1.RegisterPensionServiceServer(srv.GRPC(), f) },
	}).Addr()
}
