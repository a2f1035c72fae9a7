package pension

import (
	"fmt"
	"slices"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// approvedClaim files, submits and approves a claim for retiree n as the
// bureau, with consent to offset or without.
func (h *harness) approvedClaim(t *testing.T, n int, consent bool) *pb.DeathBenefitClaim {
	t.Helper()
	bureau := h.as(bureauP)
	draft := claimDraft(allDocuments...)
	draft.ConsentToOffset = consent
	c, err := h.file(bureau, n, draft)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.client.SubmitDeathBenefitClaim(bureau, &pb.SubmitDeathBenefitClaimRequest{Id: c.Id}); err != nil {
		t.Fatal(err)
	}
	resp, err := h.client.ApproveDeathBenefitClaim(bureau, &pb.ApproveDeathBenefitClaimRequest{Id: c.Id})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Claim
}

// diedOn15March pays retiree n REGULAR pensions from January to May 2026
// (April's and May's distinct) and records the death on 15 March.
func (h *harness) diedOn15March(t *testing.T, n int) {
	t.Helper()
	for m := 1; m <= 5; m++ {
		h.payOn(t, n, fmt.Sprintf("2026-%02d", m), fmt.Sprintf("2026-%02d-10", m), 300000+int64(m))
	}
	h.die(t, n, "2026-03-15")
}

// TestOffsetAgainstApprovedClaim is the scenario: a death on 15
// March with payments through May opens a case for exactly April and May;
// a claim approved afterwards absorbs it with the claimant's consent (the
// case REPAID by the offset, the claim's net payable less exactly the
// principal, which is what it is then paid); without consent the offset is
// refused and changes nothing.
func TestOffsetAgainstApprovedClaim(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	bureau := h.as(bureauP)
	if _, err := h.client.CreateBenefitRule(h.as(adminP), &pb.CreateBenefitRuleRequest{Rule: benefitRule("2101", "2025-01-01")}); err != nil {
		t.Fatal(err)
	}
	h.diedOn15March(t, 0)
	c := h.oneCase(t, 0)
	principal := int64(300004 + 300005)
	if !slices.Equal(c.Months, []string{"2026-04", "2026-05"}) || c.PrincipalFen != principal || c.State != pb.RecoveryState_RECOVERY_OPEN {
		t.Fatalf("case months %v principal %d state %v, want April and May, %d, OPEN", c.Months, c.PrincipalFen, c.State, principal)
	}
	claim := h.approvedClaim(t, 0, true)
	total := claim.Amounts.TotalFen
	if claim.NetPayableFen != total || total <= principal {
		t.Fatalf("approved claim's net payable %d, total %d", claim.NetPayableFen, total)
	}
	resp, err := h.client.OffsetRecoveryCase(bureau, &pb.OffsetRecoveryCaseRequest{Id: c.Id, ClaimId: claim.Id})
	if err != nil {
		t.Fatal(err)
	}
	got, cl := resp.Case, resp.Claim
	if got.State != pb.RecoveryState_RECOVERY_REPAID || got.OffsetFen != principal || got.BalanceFen != 0 || !invariantHolds(got) {
		t.Errorf("case after the offset: state %v offset %d balance %d", got.State, got.OffsetFen, got.BalanceFen)
	}
	last := got.Entries[len(got.Entries)-1]
	if last.Kind != pb.RecoveryEntryKind_OFFSET || last.AmountFen != principal || last.ClaimId != claim.Id || last.Actor != bureauP.Subject {
		t.Errorf("the offset's entry = %v", last)
	}
	if cl.OffsetFen != principal || cl.OffsetCaseId != c.Id || cl.NetPayableFen != total-principal || cl.State != pb.DeathBenefitClaimState_APPROVED {
		t.Errorf("claim after the offset: offset %d case %q net %d state %v", cl.OffsetFen, cl.OffsetCaseId, cl.NetPayableFen, cl.State)
	}
	noSecrets(t, cl)

	// Again: nothing is offset twice.
	again, err := h.client.OffsetRecoveryCase(bureau, &pb.OffsetRecoveryCaseRequest{Id: c.Id, ClaimId: claim.Id})
	if err != nil || len(again.Case.Entries) != len(got.Entries) || again.Claim.OffsetFen != principal {
		t.Errorf("repeated offset: %v, %v", again, err)
	}
	paid, err := h.client.MarkDeathBenefitClaimPaid(bureau, &pb.MarkDeathBenefitClaimPaidRequest{Id: claim.Id, PaidOn: "2026-06-01", BankReference: "R-OFFSET"})
	if err != nil || paid.Claim.NetPayableFen != total-principal || paid.Claim.State != pb.DeathBenefitClaimState_PAID {
		t.Errorf("paid claim: %v, %v", paid, err)
	}

	// Without consent: refused, and nothing changes.
	h.diedOn15March(t, 1)
	c1 := h.oneCase(t, 1)
	refused := h.approvedClaim(t, 1, false)
	_, err = h.client.OffsetRecoveryCase(bureau, &pb.OffsetRecoveryCaseRequest{Id: c1.Id, ClaimId: refused.Id})
	wantReason(t, err, codes.FailedPrecondition, ReasonNoConsentToOffset)
	if after := h.oneCase(t, 1); after.BalanceFen != c1.BalanceFen || len(after.Entries) != len(c1.Entries) {
		t.Errorf("a refused offset changed the case: %v", after)
	}
}

// TestOffsetRefusals: a partial offset leaves the case open; a claim of
// another retiree, a claim not yet approved, an amount over the balance
// or the net payable and bad input are refused; a reversal voids the case
// and the claim with the offset kept on both.
func TestOffsetRefusals(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	bureau := h.as(bureauP)
	if _, err := h.client.CreateBenefitRule(h.as(adminP), &pb.CreateBenefitRuleRequest{Rule: benefitRule("2101", "2025-01-01")}); err != nil {
		t.Fatal(err)
	}
	h.diedOn15March(t, 0)
	h.diedOn15March(t, 1)
	c := h.oneCase(t, 0)
	other := h.approvedClaim(t, 1, true)
	offsetBy := func(claim string, amount int64) (*pb.OffsetRecoveryCaseResponse, error) {
		return h.client.OffsetRecoveryCase(bureau, &pb.OffsetRecoveryCaseRequest{Id: c.Id, ClaimId: claim, AmountFen: amount})
	}
	_, err := offsetBy(other.Id, 0)
	wantReason(t, err, codes.FailedPrecondition, ReasonClaimOtherRetiree)

	draft, err := h.file(bureau, 0, claimDraft(allDocuments...))
	if err != nil {
		t.Fatal(err)
	}
	_, err = offsetBy(draft.Id, 0)
	wantReason(t, err, codes.FailedPrecondition, ReasonClaimNotApproved)
	if _, err := h.client.SubmitDeathBenefitClaim(bureau, &pb.SubmitDeathBenefitClaimRequest{Id: draft.Id}); err != nil {
		t.Fatal(err)
	}
	approved, err := h.client.ApproveDeathBenefitClaim(bureau, &pb.ApproveDeathBenefitClaimRequest{Id: draft.Id})
	if err != nil {
		t.Fatal(err)
	}
	_, err = offsetBy(draft.Id, c.BalanceFen+1)
	wantReason(t, err, codes.FailedPrecondition, ReasonAmountOverBalance)
	_, err = offsetBy(draft.Id, approved.Claim.NetPayableFen+1)
	wantReason(t, err, codes.FailedPrecondition, ReasonOverNetPayable)
	_, err = offsetBy("not-an-id", -1)
	wantFields(t, err, "claimId", "amountFen")
	_, err = offsetBy(inputcheck.NewOpaqueID(), 0)
	wantStatus(t, err, codes.NotFound)

	part, err := offsetBy(draft.Id, 100)
	if err != nil || part.Case.State != pb.RecoveryState_RECOVERY_OPEN || part.Case.BalanceFen != c.BalanceFen-100 || part.Claim.NetPayableFen != approved.Claim.NetPayableFen-100 {
		t.Fatalf("partial offset: %v, %v", part, err)
	}
	// The claim is offset once: a second amount is not taken.
	if again, err := offsetBy(draft.Id, 50); err != nil || again.Case.OffsetFen != 100 {
		t.Errorf("second offset of the claim: %v, %v", again, err)
	}

	// The death reversed: case and claim void, the offset on both.
	h.change(retiree(t, testKeyer(t), 0, communityA), registryv1.ChangeKind_UPDATED)
	voided := h.casesOf(t, 0)
	if len(voided) != 1 || voided[0].State != pb.RecoveryState_RECOVERY_VOID || voided[0].OffsetFen != 100 {
		t.Errorf("case after the reversal: %v", voided)
	}
	got, err := h.client.GetDeathBenefitClaim(bureau, &pb.GetDeathBenefitClaimRequest{Id: draft.Id})
	if err != nil || got.Claim.State != pb.DeathBenefitClaimState_VOID || got.Claim.OffsetFen != 100 || got.Claim.OffsetCaseId != c.Id {
		t.Errorf("claim after the reversal: %v, %v", got, err)
	}
}
