package pension

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Retirees of the death-benefit tests: deadA died on 15 March 2026 in
// communityA, livingA lives there, deadB died in communityB.
const (
	deadA   = 20
	livingA = 21
	deadB   = 22
	// claimantPhone and bankAccount are personal data no answer or error
	// may repeat except where the API says.
	claimantPhone = "13912345678"
	bankAccount   = "6222020200112233445"
)

// benefitFixture serves retirees deadA, livingA and deadB, with REGULAR
// payments of deadA from January to May 2026 (January and February at a
// lower amount, so that the month of death's is the one that counts), and
// a benefit rule for 2101 that the admin creates.
func benefitFixture(t *testing.T, more ...*registryv1.RetireeState) *harness {
	t.Helper()
	keyer := testKeyer(t)
	dead := func(n int, community string) *registryv1.RetireeState {
		st := retiree(t, keyer, n, community)
		st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-03-15"
		return st
	}
	states := append([]*registryv1.RetireeState{dead(deadA, communityA), retiree(t, keyer, livingA, communityA), dead(deadB, communityB)}, more...)
	h := newHarness(t, newEnv(t, states...), harnessOptions{})
	var records []*pb.PaymentRecord
	for i, m := range []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05"} {
		base := int64(300000)
		if i < 2 {
			base = 280000
		}
		records = append(records, payment(t, int64(i+1), deadA, m, base))
	}
	if res := importStream(h.as(bureauP), h.client, header("benefit-payments"), records); res.err != nil {
		t.Fatal(res.err)
	}
	_, err := h.client.CreateBenefitRule(h.as(adminP), &pb.CreateBenefitRuleRequest{Rule: benefitRule("2101", "2025-01-01")})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// benefitRule is a rule of region from day: 5000 yuan, three months,
// death certificate, claimant's ID and bank card.
func benefitRule(region, day string) *pb.BenefitRule {
	return &pb.BenefitRule{
		RegionPrefix: region, EffectiveOn: day, FuneralGrantFixedFen: 500000, SurvivorMonths: 3,
		RequiredDocuments: []DocumentKind{pb.BenefitDocument_DEATH_CERTIFICATE, pb.BenefitDocument_CLAIMANT_ID, pb.BenefitDocument_BANK_CARD},
	}
}

// claimDraft is a claim by a daughter with the documents given.
func claimDraft(kinds ...DocumentKind) *pb.DeathBenefitClaim {
	c := &pb.DeathBenefitClaim{
		Claimant:    &pb.Claimant{Name: "王秀兰", Relation: registryv1.Carer_CHILD, Phone: claimantPhone},
		BankAccount: bankAccount, ConsentToOffset: true,
	}
	for i, k := range kinds {
		c.Documents = append(c.Documents, &pb.BenefitDocument{Kind: k, Reference: fmt.Sprintf("DOC-%d", i)})
	}
	return c
}

// allDocuments are the documents benefitRule requires.
var allDocuments = []DocumentKind{pb.BenefitDocument_DEATH_CERTIFICATE, pb.BenefitDocument_CLAIMANT_ID, pb.BenefitDocument_BANK_CARD}

// file files a claim for retiree n as ctx's caller.
func (h *harness) file(ctx context.Context, n int, c *pb.DeathBenefitClaim) (*pb.DeathBenefitClaim, error) {
	resp, err := h.client.CreateDeathBenefitClaim(ctx, &pb.CreateDeathBenefitClaimRequest{RetireeId: retireeID(n), Claim: c})
	return resp.GetClaim(), err
}

// noSecrets fails t when an answer repeats the account number.
func noSecrets(t *testing.T, c *pb.DeathBenefitClaim) {
	t.Helper()
	if strings.Contains(c.String(), bankAccount) || c.BankAccountMasked != "***************3445" {
		t.Errorf("claim shows the account: %v", c)
	}
}

// TestDeathBenefitClaimLifecycle files, submits, approves and pays a
// claim as the clerk and the bureau would, with the refusals on the way.
func TestDeathBenefitClaimLifecycle(t *testing.T) {
	t.Parallel()
	h := benefitFixture(t)
	clerk, bureau := h.as(clerkP), h.as(bureauP)

	_, err := h.file(clerk, livingA, claimDraft(allDocuments...))
	wantReason(t, err, codes.FailedPrecondition, reasonNotDeceased)
	_, err = h.file(clerk, deadA, &pb.DeathBenefitClaim{Claimant: &pb.Claimant{Name: "王秀兰", Phone: "12"}, BankAccount: "12ab"})
	wantFields(t, err, "claimant.relation", "claimant.phone", "bankAccount")

	c, err := h.file(clerk, deadA, claimDraft(pb.BenefitDocument_DEATH_CERTIFICATE))
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, c)
	if c.State != pb.DeathBenefitClaimState_DRAFT || c.DateOfDeath != "2026-03-15" || c.CommunityId != communityA ||
		c.ConsentTime == nil || c.Claimant.Phone != "" || c.Claimant.PhoneMasked != "139****5678" {
		t.Errorf("filed claim = %v", c)
	}
	_, err = h.file(h.as(bureauP), deadA, claimDraft())
	wantReason(t, err, codes.AlreadyExists, reasonOpenClaim)

	// The checklist names what is missing, and nothing changes.
	_, err = h.client.SubmitDeathBenefitClaim(clerk, &pb.SubmitDeathBenefitClaimRequest{Id: c.Id})
	st := wantStatus(t, err, codes.InvalidArgument, claimantPhone, bankAccount)
	if !strings.Contains(st.Proto().String(), "CLAIMANT_ID, BANK_CARD") {
		t.Errorf("the refusal does not name the missing documents: %v", st.Proto())
	}
	// The clerk adds them; the account stays when none is given.
	up, err := h.client.UpdateDeathBenefitClaim(clerk, &pb.UpdateDeathBenefitClaimRequest{Id: c.Id, Claim: &pb.DeathBenefitClaim{
		Claimant: claimDraft().Claimant, Documents: claimDraft(allDocuments...).Documents, ConsentToOffset: true,
	}})
	if err != nil {
		t.Fatal(err)
	}
	noSecrets(t, up.Claim)
	if !up.Claim.ConsentTime.AsTime().Equal(c.ConsentTime.AsTime()) {
		t.Errorf("consent kept but its time changed: %v -> %v", c.ConsentTime, up.Claim.ConsentTime)
	}

	// A clerk neither approves nor pays.
	_, err = h.client.ApproveDeathBenefitClaim(clerk, &pb.ApproveDeathBenefitClaimRequest{Id: c.Id})
	wantStatus(t, err, codes.PermissionDenied)
	_, err = h.client.ApproveDeathBenefitClaim(bureau, &pb.ApproveDeathBenefitClaimRequest{Id: c.Id})
	wantReason(t, err, codes.FailedPrecondition, "CLAIM_STATE")

	sub, err := h.client.SubmitDeathBenefitClaim(clerk, &pb.SubmitDeathBenefitClaimRequest{Id: c.Id})
	if err != nil {
		t.Fatal(err)
	}
	// March's REGULAR payment: 300000 + 75000 + 30000 + 1000.
	a := sub.Claim.Amounts
	if sub.Claim.State != pb.DeathBenefitClaimState_SUBMITTED || a.RuleId != "2101-20250101" || a.LastRegularMonth != "2026-03" ||
		a.LastRegularTotalFen != 406000 || a.FuneralGrantFen != 500000 || a.SurvivorPaymentFen != 1218000 || a.TotalFen != 1718000 {
		t.Errorf("submitted = %v", sub.Claim)
	}
	_, err = h.client.UpdateDeathBenefitClaim(clerk, &pb.UpdateDeathBenefitClaimRequest{Id: c.Id, Claim: claimDraft()})
	wantReason(t, err, codes.FailedPrecondition, "CLAIM_STATE")

	if _, err := h.client.ApproveDeathBenefitClaim(bureau, &pb.ApproveDeathBenefitClaimRequest{Id: c.Id}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.MarkDeathBenefitClaimPaid(bureau, &pb.MarkDeathBenefitClaimPaidRequest{Id: c.Id, PaidOn: "2099-01-01", BankReference: "bad ref"})
	wantFields(t, err, "paidOn", "bankReference")
	paid, err := h.client.MarkDeathBenefitClaimPaid(bureau, &pb.MarkDeathBenefitClaimPaidRequest{Id: c.Id, PaidOn: "2026-06-10", BankReference: "ICBC-20260610-0001"})
	if err != nil {
		t.Fatal(err)
	}
	if paid.Claim.State != pb.DeathBenefitClaimState_PAID || paid.Claim.DecidedBy != bureauP.Subject || paid.Claim.PaidOn != "2026-06-10" {
		t.Errorf("paid = %v", paid.Claim)
	}

	// The claim's own GET shows the phone to the clerk, not to a
	// supervisor; lists mask it for everyone.
	audited := auditCount(t, h, deadA)
	got, err := h.client.GetDeathBenefitClaim(clerk, &pb.GetDeathBenefitClaimRequest{Id: c.Id})
	if err != nil || got.Claim.Claimant.Phone != claimantPhone {
		t.Errorf("clerk's GET = %v, %v", got.GetClaim(), err)
	}
	if auditCount(t, h, deadA) <= audited {
		t.Error("the clerk's read of the claim was not audited")
	}
	got, err = h.client.GetDeathBenefitClaim(h.as(streetP), &pb.GetDeathBenefitClaimRequest{Id: c.Id})
	if err != nil || got.Claim.Claimant.Phone != "" {
		t.Errorf("street's GET = %v, %v", got.GetClaim(), err)
	}
	list, err := h.client.ListDeathBenefitClaims(clerk, &pb.ListDeathBenefitClaimsRequest{CommunityId: communityA, State: pb.DeathBenefitClaimState_PAID})
	if err != nil || len(list.Claims) != 1 || list.Claims[0].Claimant.Phone != "" {
		t.Errorf("list = %v, %v", list, err)
	}
	// A PAID claim is no longer open: another may be filed.
	if _, err := h.file(clerk, deadA, claimDraft()); err != nil {
		t.Errorf("a claim after a paid one: %v", err)
	}
}

// TestDeathBenefitClaimRejectAndNoRule covers a rejection with its reason
// and a submission where no rule governs the community.
func TestDeathBenefitClaimRejectAndNoRule(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	elsewhere := retiree(t, keyer, 23, "330102001001")
	elsewhere.Status, elsewhere.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-03-15"
	h := benefitFixture(t, elsewhere)
	bureau := h.as(bureauP)

	c, err := h.file(bureau, 23, claimDraft(allDocuments...))
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.client.SubmitDeathBenefitClaim(bureau, &pb.SubmitDeathBenefitClaimRequest{Id: c.Id})
	wantReason(t, err, codes.FailedPrecondition, reasonNoBenefitRule)

	c, err = h.file(bureau, deadB, claimDraft(allDocuments...))
	if err != nil {
		t.Fatal(err)
	}
	// deadB has no payment: the survivor payment cannot be computed.
	_, err = h.client.SubmitDeathBenefitClaim(bureau, &pb.SubmitDeathBenefitClaimRequest{Id: c.Id})
	wantReason(t, err, codes.FailedPrecondition, reasonNoRegularPayment)

	_, err = h.client.RejectDeathBenefitClaim(bureau, &pb.RejectDeathBenefitClaimRequest{Id: c.Id, Reason: "the family withdrew"})
	wantReason(t, err, codes.FailedPrecondition, "CLAIM_STATE")
	_, err = h.client.RejectDeathBenefitClaim(bureau, &pb.RejectDeathBenefitClaimRequest{Id: c.Id})
	wantFields(t, err, "reason")
}

// TestDeathBenefitClaimsOnReversal reverses a death through the change
// feed: the open claim becomes VOID and a paid one is flagged.
func TestDeathBenefitClaimsOnReversal(t *testing.T) {
	t.Parallel()
	h := benefitFixture(t)
	bureau := h.as(bureauP)
	open, err := h.file(bureau, deadB, claimDraft())
	if err != nil {
		t.Fatal(err)
	}
	paid, err := h.file(bureau, deadA, claimDraft(allDocuments...))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []func() error{
		func() error {
			_, err := h.client.SubmitDeathBenefitClaim(bureau, &pb.SubmitDeathBenefitClaimRequest{Id: paid.Id})
			return err
		},
		func() error {
			_, err := h.client.ApproveDeathBenefitClaim(bureau, &pb.ApproveDeathBenefitClaimRequest{Id: paid.Id})
			return err
		},
		func() error {
			_, err := h.client.MarkDeathBenefitClaimPaid(bureau, &pb.MarkDeathBenefitClaimPaidRequest{Id: paid.Id, PaidOn: "2026-06-01", BankReference: "R1"})
			return err
		},
	} {
		if err := step(); err != nil {
			t.Fatal(err)
		}
	}
	keyer := testKeyer(t)
	for _, n := range []int{deadA, deadB} {
		community := communityA
		if n == deadB {
			community = communityB
		}
		h.change(retiree(t, keyer, n, community), registryv1.ChangeKind_UPDATED)
	}
	get := func(id string) *pb.DeathBenefitClaim {
		resp, err := h.client.GetDeathBenefitClaim(bureau, &pb.GetDeathBenefitClaimRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Claim
	}
	if c := get(open.Id); c.State != pb.DeathBenefitClaimState_VOID || c.DeathReversed {
		t.Errorf("open claim after the reversal = %v", c)
	}
	if c := get(paid.Id); c.State != pb.DeathBenefitClaimState_PAID || !c.DeathReversed {
		t.Errorf("paid claim after the reversal = %v", c)
	}
	// The retiree is living: no claim.
	_, err = h.file(bureau, deadB, claimDraft())
	wantReason(t, err, codes.FailedPrecondition, reasonNotDeceased)
}

// TestStoredClaimsRevealNoPersonalData files a claim, stops the service
// and greps its file for the account, the phone and the ID number: none is
// there, while the service still answers the phone to the clerk.
func TestStoredClaimsRevealNoPersonalData(t *testing.T) {
	t.Parallel()
	h := benefitFixture(t)
	draft := claimDraft(allDocuments...)
	draft.Claimant.IdNumber = idNumber(t, 77).Digits()
	c, err := h.file(h.as(clerkP), deadA, draft)
	if err != nil {
		t.Fatal(err)
	}
	got, err := h.client.GetDeathBenefitClaim(h.as(clerkP), &pb.GetDeathBenefitClaimRequest{Id: c.Id})
	if err != nil || got.Claim.Claimant.Phone != claimantPhone || got.Claim.Claimant.IdNumberMasked == "" || got.Claim.Claimant.IdNumber != "" {
		t.Fatalf("GET = %v, %v", got.GetClaim(), err)
	}
	h.close()
	data, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{bankAccount, claimantPhone, draft.Claimant.IdNumber} {
		if bytes.Contains(data, []byte(secret)) {
			t.Errorf("the file holds %s in plain text", secret)
		}
	}
}
