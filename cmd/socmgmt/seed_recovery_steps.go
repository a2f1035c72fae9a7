package main

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// maxSteps bounds the steps from a case's or claim's state to its
// target: no path is longer.
const maxSteps = 5

// caseStep is one call that moves a case on, returning it changed.
type caseStep func(ctx context.Context) (*pensionv1.RecoveryCase, error)

// claimStep is one call that moves a claim on, returning it changed.
type claimStep func(ctx context.Context) (*pensionv1.DeathBenefitClaim, error)

// drive brings the case and the claim of the death of r to t.
func (ds *deathSeeder) drive(ctx context.Context, r *registryv1.Retiree, t caseTarget) error {
	var found *registryv1.Retiree
	err := ds.call(ctx, func(ctx context.Context) error {
		resp, err := ds.registry.LookupRetiree(ctx, &registryv1.LookupRetireeRequest{IdNumber: r.GetIdNumber()})
		found = resp.GetRetiree()
		return err
	})
	if err != nil {
		return err
	}
	clerk, err := ds.as(authn.Principal{Subject: "seed-clerk-" + found.GetCommunityId(), Role: authn.RoleClerk, Communities: []string{found.GetCommunityId()}})
	if err != nil {
		return err
	}
	c, err := ds.waitCase(ctx, found, func(*pensionv1.RecoveryCase) bool { return true })
	if err != nil {
		return err
	}
	if t.state == pensionv1.RecoveryState_RECOVERY_VOID {
		return ds.reverse(ctx, found, clerk)
	}
	changed, err := ds.driveCase(ctx, c, t.state, clerk, found)
	if err != nil {
		return fmt.Errorf("case %s to %s: %w", c.GetId(), t.state, err)
	}
	count(ds.cases[t.state], changed)
	if t.claim == pensionv1.DeathBenefitClaimState_DEATH_BENEFIT_CLAIM_STATE_UNSPECIFIED {
		return nil
	}
	changed, err = ds.driveClaim(ctx, found, clerk, t.claim, t.consent)
	if err != nil {
		return fmt.Errorf("claim to %s: %w", t.claim, err)
	}
	count(ds.claims[t.claim], changed)
	if !t.offset {
		return nil
	}
	changed, err = ds.offset(ctx, found)
	if err != nil {
		return fmt.Errorf("offset against the claim: %w", err)
	}
	count(&ds.offsets, changed)
	return nil
}

// offset keeps half the balance of r's case from r's approved claim, as
// the bureau, unless the claim was offset already, and tells whether it
// had to.
func (ds *deathSeeder) offset(ctx context.Context, r *registryv1.Retiree) (bool, error) {
	claim, err := ds.findClaim(ctx, r)
	if err != nil || claim.GetOffsetFen() > 0 {
		return false, err
	}
	c, err := ds.findCase(ctx, r)
	if err != nil {
		return false, err
	}
	return true, ds.call(ctx, func(ctx context.Context) error {
		_, err := ds.pension.OffsetRecoveryCase(ctx, &pensionv1.OffsetRecoveryCaseRequest{Id: c.GetId(), ClaimId: claim.GetId(), AmountFen: max(1, c.GetBalanceFen()/2)}, ds.bureau)
		return err
	})
}

// reverse files and submits a claim for the death of r, then reverses
// the death as admin, as a death recorded by mistake, and waits for the
// pension service to void the case and the claim.
func (ds *deathSeeder) reverse(ctx context.Context, r *registryv1.Retiree, clerk grpc.CallOption) error {
	if _, err := ds.driveClaim(ctx, r, clerk, pensionv1.DeathBenefitClaimState_SUBMITTED, false); err != nil {
		return fmt.Errorf("claim before the reversal: %w", err)
	}
	reversed := r.GetStatus() == registryv1.RetireeStatus_LIVING
	if !reversed {
		var reports []*registryv1.DeathReport
		err := ds.call(ctx, func(ctx context.Context) error {
			resp, err := ds.registry.ListRetireeDeathReports(ctx, &registryv1.ListRetireeDeathReportsRequest{Id: r.GetId(), PageSize: 10})
			reports = resp.GetDeathReports()
			return err
		})
		if err != nil {
			return err
		}
		for _, d := range reports {
			if d.GetState() == registryv1.DeathReportState_VERIFIED {
				err = ds.call(ctx, func(ctx context.Context) error {
					_, err := ds.registry.ReverseDeathReport(ctx, &registryv1.ReverseDeathReportRequest{Id: d.GetId(), Reason: reverseReason})
					return err
				})
			}
		}
		if err != nil {
			return fmt.Errorf("reverse the death: %w", err)
		}
	}
	if _, err := ds.waitCase(ctx, r, func(c *pensionv1.RecoveryCase) bool {
		return c.GetState() == pensionv1.RecoveryState_RECOVERY_VOID
	}); err != nil {
		return err
	}
	count(ds.cases[pensionv1.RecoveryState_RECOVERY_VOID], !reversed)
	count(ds.claims[pensionv1.DeathBenefitClaimState_VOID], !reversed)
	return nil
}

// waitCase returns the recovery case of r once ready says it is: the
// case opens when the pension service has learnt both the death and a
// payment after it, and is voided when it learns of a reversal.
func (ds *deathSeeder) waitCase(ctx context.Context, r *registryv1.Retiree, ready func(*pensionv1.RecoveryCase) bool) (*pensionv1.RecoveryCase, error) {
	deadline := time.Now().Add(caseWait)
	for {
		c, err := ds.findCase(ctx, r)
		switch {
		case err != nil:
			return nil, err
		case c != nil && ready(c):
			return c, nil
		case time.Now().After(deadline):
			return nil, fmt.Errorf("the pension service opened no recovery case in the expected state within %v (the retiree's payments after death were imported)", caseWait)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// findCase returns the newest recovery case of r, or nil.
func (ds *deathSeeder) findCase(ctx context.Context, r *registryv1.Retiree) (*pensionv1.RecoveryCase, error) {
	var found *pensionv1.RecoveryCase
	req := &pensionv1.ListRecoveryCasesRequest{CommunityId: r.GetCommunityId(), PageSize: 100}
	for range maxSteps * 4 {
		var resp *pensionv1.ListRecoveryCasesResponse
		err := ds.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = ds.pension.ListRecoveryCases(ctx, req, ds.bureau)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, c := range resp.GetCases() {
			if c.GetRetireeId() == r.GetId() {
				found = c
			}
		}
		if req.PageToken = resp.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return found, nil
}

// driveCase moves c to target and tells whether it had to.
func (ds *deathSeeder) driveCase(ctx context.Context, c *pensionv1.RecoveryCase, target pensionv1.RecoveryState, clerk grpc.CallOption, r *registryv1.Retiree) (bool, error) {
	for n := range maxSteps {
		if c.GetState() == target {
			return n > 0, nil
		}
		step := ds.nextCaseStep(c, target, clerk, r)
		if step == nil {
			return n > 0, fmt.Errorf("the case is %s", c.GetState())
		}
		var next *pensionv1.RecoveryCase
		err := ds.call(ctx, func(ctx context.Context) error {
			var err error
			next, err = step(ctx)
			return err
		})
		if err != nil {
			return n > 0, err
		}
		c = next
	}
	return true, fmt.Errorf("the case is %s after %d steps", c.GetState(), maxSteps)
}

// nextCaseStep is the step that moves c towards target, nil if none
// does. The clerk orders, agrees the plan, records the repayment and the
// refusal; the bureau escalates and writes off, a second subject of the
// bureau approving what the first proposed.
func (ds *deathSeeder) nextCaseStep(c *pensionv1.RecoveryCase, target pensionv1.RecoveryState, clerk grpc.CallOption, r *registryv1.Retiree) caseStep {
	st := c.GetState()
	switch {
	case target == pensionv1.RecoveryState_RECOVERY_WRITTEN_OFF && c.GetWriteOffProposal() == nil:
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.ProposeRecoveryWriteOff(ctx, &pensionv1.ProposeRecoveryWriteOffRequest{Id: c.GetId(), AmountFen: c.GetBalanceFen(), Reason: writeOffReason}, ds.bureau)
			return resp.GetCase(), err
		}
	case target == pensionv1.RecoveryState_RECOVERY_WRITTEN_OFF:
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.ApproveRecoveryWriteOff(ctx, &pensionv1.ApproveRecoveryWriteOffRequest{Id: c.GetId()}, ds.checker)
			return resp.GetCase(), err
		}
	case st == pensionv1.RecoveryState_RECOVERY_OPEN:
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.IssueRecoveryOrder(ctx, &pensionv1.IssueRecoveryOrderRequest{Id: c.GetId(), DebtorName: claimantName(r), DebtorRelation: "子女"}, clerk)
			return resp.GetCase(), err
		}
	case st == pensionv1.RecoveryState_RECOVERY_ORDERED && target == pensionv1.RecoveryState_RECOVERY_INSTALMENTS:
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.SetRecoveryInstalmentPlan(ctx, &pensionv1.SetRecoveryInstalmentPlanRequest{Id: c.GetId(), Instalments: instalments(c.GetBalanceFen(), time.Now().In(workdays.ChinaTime))}, clerk)
			return resp.GetCase(), err
		}
	case st == pensionv1.RecoveryState_RECOVERY_ORDERED && target == pensionv1.RecoveryState_RECOVERY_REPAID:
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.RecordRecoveryRepayment(ctx, &pensionv1.RecordRecoveryRepaymentRequest{Id: c.GetId(), AmountFen: c.GetBalanceFen(), PaidOn: ds.today, BankReference: "SEED-" + c.GetId()}, clerk)
			return resp.GetCase(), err
		}
	case target == pensionv1.RecoveryState_RECOVERY_ENFORCEMENT && c.GetRefusedOn() == "":
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.RecordRecoveryRefusal(ctx, &pensionv1.RecordRecoveryRefusalRequest{Id: c.GetId(), Reason: refusalReason}, clerk)
			return resp.GetCase(), err
		}
	case target == pensionv1.RecoveryState_RECOVERY_ENFORCEMENT:
		return func(ctx context.Context) (*pensionv1.RecoveryCase, error) {
			resp, err := ds.pension.EscalateRecoveryCase(ctx, &pensionv1.EscalateRecoveryCaseRequest{Id: c.GetId(), Reason: escalateReason}, ds.bureau)
			return resp.GetCase(), err
		}
	}
	return nil
}

// instalments splits balance into three monthly instalments from a
// month after now, the last taking the remainder.
func instalments(balance int64, now time.Time) []*pensionv1.RecoveryInstalment {
	const n = 3
	out := make([]*pensionv1.RecoveryInstalment, n)
	for i := range out {
		amount := balance / n
		if i == n-1 {
			amount = balance - amount*(n-1)
		}
		out[i] = &pensionv1.RecoveryInstalment{DueOn: now.AddDate(0, i+1, 0).Format(dateLayout), AmountFen: amount}
	}
	return out
}

// claimantName is the name of the child who claims for r and owes what
// was paid after r's death.
func claimantName(r *registryv1.Retiree) string {
	return string([]rune(r.GetName())[:1]) + "建华"
}
