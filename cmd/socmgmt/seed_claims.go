package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// claimOf is the claim a clerk files for the family of r: the child who
// owes the overpayment claims, with every document of the seed rule's
// checklist and, where consent, the family's consent to offset.
func claimOf(r *registryv1.Retiree, consent bool) *pensionv1.CreateDeathBenefitClaimRequest {
	ref := r.GetId()
	return &pensionv1.CreateDeathBenefitClaimRequest{RetireeId: r.GetId(), Claim: &pensionv1.DeathBenefitClaim{
		Claimant: &pensionv1.Claimant{Name: claimantName(r), Relation: registryv1.Carer_CHILD, Phone: "13900001234"},
		Documents: []*pensionv1.BenefitDocument{
			{Kind: pensionv1.BenefitDocument_DEATH_CERTIFICATE, Reference: "YX-" + ref},
			{Kind: pensionv1.BenefitDocument_CLAIMANT_ID, Reference: "SFZ-" + ref},
			{Kind: pensionv1.BenefitDocument_RELATIONSHIP_PROOF, Reference: "GX-" + ref},
			{Kind: pensionv1.BenefitDocument_BANK_CARD, Reference: "YHK-" + ref},
		},
		BankAccount:     "6222020200112233445",
		ConsentToOffset: consent,
	}}
}

// driveClaim brings the claim for the death of r to target, filing it as
// the clerk if there is none, and tells whether it had to. A claim the
// reversal of the death voided has gone past any target.
func (ds *deathSeeder) driveClaim(ctx context.Context, r *registryv1.Retiree, clerk grpc.CallOption, target pensionv1.DeathBenefitClaimState, consent bool) (bool, error) {
	c, err := ds.findClaim(ctx, r)
	if err != nil {
		return false, err
	}
	changed := c == nil
	if c == nil {
		err = ds.call(ctx, func(ctx context.Context) error {
			resp, err := ds.pension.CreateDeathBenefitClaim(ctx, claimOf(r, consent), clerk)
			c = resp.GetClaim()
			return err
		})
		if err != nil {
			return false, err
		}
	}
	for range maxSteps {
		if c.GetState() == target || c.GetState() == pensionv1.DeathBenefitClaimState_VOID {
			return changed, nil
		}
		step := ds.nextClaimStep(c, target, clerk)
		if step == nil {
			return changed, fmt.Errorf("the claim is %s", c.GetState())
		}
		err := ds.call(ctx, func(ctx context.Context) error {
			var err error
			c, err = step(ctx)
			return err
		})
		if err != nil {
			return changed, err
		}
		changed = true
	}
	return changed, fmt.Errorf("the claim is %s after %d steps", c.GetState(), maxSteps)
}

// nextClaimStep is the step that moves c towards target, nil if none
// does: the clerk submits, the bureau decides and pays.
func (ds *deathSeeder) nextClaimStep(c *pensionv1.DeathBenefitClaim, target pensionv1.DeathBenefitClaimState, clerk grpc.CallOption) claimStep {
	switch c.GetState() {
	case pensionv1.DeathBenefitClaimState_DRAFT:
		return func(ctx context.Context) (*pensionv1.DeathBenefitClaim, error) {
			resp, err := ds.pension.SubmitDeathBenefitClaim(ctx, &pensionv1.SubmitDeathBenefitClaimRequest{Id: c.GetId()}, clerk)
			return resp.GetClaim(), err
		}
	case pensionv1.DeathBenefitClaimState_SUBMITTED:
		if target == pensionv1.DeathBenefitClaimState_REJECTED {
			return func(ctx context.Context) (*pensionv1.DeathBenefitClaim, error) {
				resp, err := ds.pension.RejectDeathBenefitClaim(ctx, &pensionv1.RejectDeathBenefitClaimRequest{Id: c.GetId(), Reason: claimRejectReason}, ds.bureau)
				return resp.GetClaim(), err
			}
		}
		return func(ctx context.Context) (*pensionv1.DeathBenefitClaim, error) {
			resp, err := ds.pension.ApproveDeathBenefitClaim(ctx, &pensionv1.ApproveDeathBenefitClaimRequest{Id: c.GetId()}, ds.bureau)
			return resp.GetClaim(), err
		}
	case pensionv1.DeathBenefitClaimState_APPROVED:
		if target != pensionv1.DeathBenefitClaimState_PAID {
			return nil
		}
		return func(ctx context.Context) (*pensionv1.DeathBenefitClaim, error) {
			resp, err := ds.pension.MarkDeathBenefitClaimPaid(ctx, &pensionv1.MarkDeathBenefitClaimPaidRequest{Id: c.GetId(), PaidOn: ds.today, BankReference: "SEED-PAY-" + c.GetId()}, ds.bureau)
			return resp.GetClaim(), err
		}
	}
	return nil
}

// findClaim returns the newest claim for the death of r, or nil.
func (ds *deathSeeder) findClaim(ctx context.Context, r *registryv1.Retiree) (*pensionv1.DeathBenefitClaim, error) {
	var found *pensionv1.DeathBenefitClaim
	req := &pensionv1.ListDeathBenefitClaimsRequest{CommunityId: r.GetCommunityId(), PageSize: 100}
	for range maxSteps * 4 {
		var resp *pensionv1.ListDeathBenefitClaimsResponse
		err := ds.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = ds.pension.ListDeathBenefitClaims(ctx, req, ds.bureau)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, c := range resp.GetClaims() {
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
