package pension

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// die records retiree n's death in registry and waits for the projection.
func (h *harness) die(t *testing.T, n int, day string) {
	t.Helper()
	st := h.registry.State(retireeID(n))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, day
	h.change(st, registryv1.ChangeKind_DIED)
}

// caseOf returns retiree n's cases as the bureau lists them.
func (h *harness) casesOf(t *testing.T, n int) []*pb.RecoveryCase {
	t.Helper()
	resp, err := h.client.ListRecoveryCases(h.as(bureauP), &pb.ListRecoveryCasesRequest{CommunityId: communityA, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []*pb.RecoveryCase
	for _, c := range resp.Cases {
		if c.RetireeId == retireeID(n) {
			got, err := h.client.GetRecoveryCase(h.as(bureauP), &pb.GetRecoveryCaseRequest{Id: c.Id})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, got.Case)
		}
	}
	return out
}

// oneCase returns retiree n's only case.
func (h *harness) oneCase(t *testing.T, n int) *pb.RecoveryCase {
	t.Helper()
	cs := h.casesOf(t, n)
	if len(cs) != 1 {
		t.Fatalf("retiree %d has %d recovery cases, want 1", n, len(cs))
	}
	return cs[0]
}

// TestDeathOpensRecoveryCase: regular payments January to May, a death on
// 15 March: the pension stops from April, a case opens for April and May
// with their exact sum; re-applying the death, re-importing a payment
// change nothing; a later payment and a correction change the principal.
func TestDeathOpensRecoveryCase(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	for m := 1; m <= 5; m++ {
		h.payOn(t, 0, fmt.Sprintf("2026-%02d", m), fmt.Sprintf("2026-%02d-10", m), 300000+int64(m))
	}
	if cs := h.casesOf(t, 0); len(cs) != 0 {
		t.Fatalf("a living retiree has cases %v", cs)
	}
	h.die(t, 0, "2026-03-15")
	if ent := h.entitlement(t, 0, "2026-04-01"); ent.State != pb.EntitlementState_STOPPED || ent.StateSince != "2026-04" {
		t.Errorf("entitlement in April = %v since %q, want STOPPED since 2026-04", ent.State, ent.StateSince)
	}
	if ent := h.entitlement(t, 0, "2026-03-31"); ent.State != pb.EntitlementState_ACTIVE {
		t.Errorf("entitlement in March = %v, want ACTIVE", ent.State)
	}
	c := h.oneCase(t, 0)
	if want := int64(300004 + 300005); c.PrincipalFen != want || c.BalanceFen != want || c.State != pb.RecoveryState_RECOVERY_OPEN {
		t.Errorf("case principal %d balance %d state %v, want %d, %d, OPEN", c.PrincipalFen, c.BalanceFen, c.State, want, want)
	}
	if !slices.Equal(c.Months, []string{"2026-04", "2026-05"}) || c.DateOfDeath != "2026-03-15" || c.CommunityId != communityA {
		t.Errorf("case months %v death %q community %q", c.Months, c.DateOfDeath, c.CommunityId)
	}

	// The same state again (a re-sent feed entry) changes nothing.
	h.change(h.registry.State(retireeID(0)), registryv1.ChangeKind_UPDATED)
	// The same payment again changes nothing.
	h.payOn(t, 0, "2026-05", "2026-05-10", 300005)
	if again := h.oneCase(t, 0); again.PrincipalFen != c.PrincipalFen || len(again.Entries) != len(c.Entries) {
		t.Errorf("re-applying changed the case: %d entries, principal %d", len(again.Entries), again.PrincipalFen)
	}
	// June paid after the death is known; May corrected down by 5 fen.
	h.payOn(t, 0, "2026-06", "2026-06-10", 300006)
	h.payOn(t, 0, "2026-05", "2026-05-10", 300000)
	c = h.oneCase(t, 0)
	if want := int64(300004 + 300000 + 300006); c.PrincipalFen != want || c.BalanceFen != want {
		t.Errorf("after June and May's correction principal %d balance %d, want %d", c.PrincipalFen, c.BalanceFen, want)
	}
	if !slices.Equal(c.Months, []string{"2026-04", "2026-05", "2026-06"}) {
		t.Errorf("months %v", c.Months)
	}
	// Reading a case is reading the retiree's data: audited.
	audited := auditCount(t, h, 0)
	h.oneCase(t, 0)
	if auditCount(t, h, 0) <= audited {
		t.Error("reading the case was not audited")
	}
	last := c.Entries[len(c.Entries)-1]
	if last.Kind != pb.RecoveryEntryKind_PRINCIPAL_ADDED || last.AmountFen != -5 || last.Month != "2026-05" || last.PaidOn != "2026-05-10" {
		t.Errorf("the correction's entry = %v", last)
	}
}

// TestNothingPaidAfterDeathNoCase: a death after the last payment opens no
// case.
func TestNothingPaidAfterDeathNoCase(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 1, "2026-03", "2026-03-10", 300000)
	h.die(t, 1, "2026-05-02")
	if cs := h.casesOf(t, 1); len(cs) != 0 {
		t.Errorf("cases %v, want none", cs)
	}
}

// TestRecoveryCaseLifecycle: order (due 30 working days later), plan,
// repayment idempotent by bank reference, maker-checker write-off, and
// the reversal voiding the case with its ledger kept.
func TestRecoveryCaseLifecycle(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-04", "2026-04-10", 100000)
	h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
	h.die(t, 0, "2026-03-15")
	id := h.oneCase(t, 0).Id

	var r interface{ GetCase() *pb.RecoveryCase }
	var err error
	r, err = h.client.IssueRecoveryOrder(h.as(clerkP), &pb.IssueRecoveryOrderRequest{Id: id, DebtorName: "王芳", DebtorRelation: "daughter"})
	if err != nil {
		t.Fatal(err)
	}
	// 2026-06-15 (Monday) + 30 working days; the Dragon Boat Festival
	// holiday (19 June) is not one.
	if o := r.GetCase().GetOrder(); o.IssuedOn != "2026-06-15" || o.DueOn != "2026-07-28" || o.DueOnProvisional {
		t.Errorf("order %v, want issued 2026-06-15 due 2026-07-28", o)
	}
	_, err = h.client.SetRecoveryInstalmentPlan(h.as(clerkP), &pb.SetRecoveryInstalmentPlanRequest{Id: id, Instalments: []*pb.RecoveryInstalment{{DueOn: "2026-07-01", AmountFen: 100000}, {DueOn: "2026-08-01", AmountFen: 99999}}})
	wantReason(t, err, codes.FailedPrecondition, ReasonPlanSum)
	r, err = h.client.SetRecoveryInstalmentPlan(h.as(clerkP), &pb.SetRecoveryInstalmentPlanRequest{Id: id, Instalments: []*pb.RecoveryInstalment{{DueOn: "2026-07-01", AmountFen: 100000}, {DueOn: "2026-08-01", AmountFen: 100000}}})
	if err != nil || r.GetCase().GetState() != pb.RecoveryState_RECOVERY_INSTALMENTS {
		t.Fatalf("plan: %v, %v", r.GetCase().GetState(), err)
	}
	pay := &pb.RecordRecoveryRepaymentRequest{Id: id, AmountFen: 100000, PaidOn: "2026-06-14", BankReference: "BOC-0001"}
	first, err := h.client.RecordRecoveryRepayment(h.as(clerkP), pay)
	if err != nil {
		t.Fatal(err)
	}
	again, err := h.client.RecordRecoveryRepayment(h.as(clerkP), pay)
	if err != nil || again.GetCase().GetBalanceFen() != first.GetCase().GetBalanceFen() || len(again.GetCase().GetEntries()) != len(first.GetCase().GetEntries()) || first.GetCase().GetBalanceFen() != 100000 {
		t.Errorf("the same reference again: balance %d (first %d), %v", again.GetCase().GetBalanceFen(), first.GetCase().GetBalanceFen(), err)
	}
	_, err = h.client.RecordRecoveryRepayment(h.as(clerkP), &pb.RecordRecoveryRepaymentRequest{Id: id, AmountFen: 100001, PaidOn: "2026-06-14"})
	wantReason(t, err, codes.FailedPrecondition, ReasonAmountOverBalance)

	other := authn.Principal{Subject: "bureau-second", Role: authn.RoleBureau}
	if _, err := h.client.ProposeRecoveryWriteOff(h.as(clerkP), &pb.ProposeRecoveryWriteOffRequest{Id: id, AmountFen: 500, Reason: "hardship"}); err == nil {
		t.Error("a clerk proposed a write-off")
	}
	if _, err := h.client.ProposeRecoveryWriteOff(h.as(bureauP), &pb.ProposeRecoveryWriteOffRequest{Id: id, AmountFen: 500, Reason: "hardship"}); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.ApproveRecoveryWriteOff(h.as(bureauP), &pb.ApproveRecoveryWriteOffRequest{Id: id})
	wantReason(t, err, codes.FailedPrecondition, ReasonWriteOffSamePerson)
	r, err = h.client.ApproveRecoveryWriteOff(h.as(other), &pb.ApproveRecoveryWriteOffRequest{Id: id})
	if err != nil || r.GetCase().GetWrittenOffFen() != 500 || r.GetCase().GetBalanceFen() != 99500 {
		t.Fatalf("approval by a second person: %v, %v", r.GetCase(), err)
	}
	if !invariantHolds(r.GetCase()) {
		t.Errorf("invariant broken: %v", r)
	}

	// The death is reversed: the case is void, its ledger kept.
	st := h.registry.State(retireeID(0))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_LIVING, ""
	h.change(st, registryv1.ChangeKind_UPDATED)
	c := h.oneCase(t, 0)
	if c.State != pb.RecoveryState_RECOVERY_VOID || c.ClosingReason != voidReasonReversed || c.RepaidFen != 100000 {
		t.Errorf("after the reversal: %v %q repaid %d", c.State, c.ClosingReason, c.RepaidFen)
	}
	if k := c.Entries[len(c.Entries)-1].Kind; k != pb.RecoveryEntryKind_CASE_VOIDED {
		t.Errorf("last entry %v, want CASE_VOIDED", k)
	}
	_, err = h.client.RecordRecoveryRepayment(h.as(clerkP), &pb.RecordRecoveryRepaymentRequest{Id: id, AmountFen: 1, PaidOn: "2026-06-14"})
	wantReason(t, err, codes.FailedPrecondition, ReasonCaseClosed)
}

// TestEscalation: escalation needs a refusal or a passed final due date.
func TestEscalation(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
	h.die(t, 0, "2026-04-15")
	id := h.oneCase(t, 0).Id
	esc := &pb.EscalateRecoveryCaseRequest{Id: id, Reason: "refused"}
	_, err := h.client.EscalateRecoveryCase(h.as(clerkP), esc)
	wantReason(t, err, codes.FailedPrecondition, ReasonNotEscalable)
	if _, err := h.client.IssueRecoveryOrder(h.as(clerkP), &pb.IssueRecoveryOrderRequest{Id: id, DebtorName: "李明", DebtorRelation: "son"}); err != nil {
		t.Fatal(err)
	}
	h.now.Set(time.Date(2026, 7, 28, 10, 0, 0, 0, time.UTC))
	_, err = h.client.EscalateRecoveryCase(h.as(clerkP), esc)
	wantReason(t, err, codes.FailedPrecondition, ReasonNotEscalable)
	h.now.Set(time.Date(2026, 7, 29, 10, 0, 0, 0, time.UTC))
	r, err := h.client.EscalateRecoveryCase(h.as(clerkP), esc)
	if err != nil || r.GetCase().GetState() != pb.RecoveryState_RECOVERY_ENFORCEMENT {
		t.Fatalf("after the due date: %v, %v", r.GetCase().GetState(), err)
	}
}

// TestImportRecoveryRepayments: per-item results, idempotent by reference.
func TestImportRecoveryRepayments(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
	h.die(t, 0, "2026-04-15")
	id := h.oneCase(t, 0).Id
	req := &pb.ImportRecoveryRepaymentsRequest{Repayments: []*pb.RecoveryRepayment{
		{CaseId: id, AmountFen: 40000, PaidOn: "2026-06-01", BankReference: "R1"},
		{CaseId: id, AmountFen: 90000, PaidOn: "2026-06-02", BankReference: "R2"},
		{CaseId: "aaaaaaaaaaaaaaaaaaaaaaaaaa"[:len(id)], AmountFen: 1, PaidOn: "2026-06-02", BankReference: "R3"},
	}}
	resp, err := h.client.ImportRecoveryRepayments(h.as(bureauP), req)
	if err != nil {
		t.Fatal(err)
	}
	got := []string{resp.Results[0].Outcome, resp.Results[1].Reason, resp.Results[2].Reason}
	if want := []string{outcomeRecorded, ReasonAmountOverBalance, "CASE_NOT_FOUND"}; !slices.Equal(got, want) {
		t.Errorf("results %v, want %v", got, want)
	}
	resp, err = h.client.ImportRecoveryRepayments(h.as(bureauP), &pb.ImportRecoveryRepaymentsRequest{Repayments: req.Repayments[:1]})
	if err != nil || resp.Results[0].Outcome != outcomeDuplicate || resp.Results[0].BalanceFen != 60000 {
		t.Errorf("again: %v, %v", resp, err)
	}
	_, err = h.client.ImportRecoveryRepayments(h.as(clerkP), req)
	wantStatus(t, err, codes.PermissionDenied)
	rep, err := h.client.GetRecoveryReport(h.as(districtP), &pb.GetRecoveryReportRequest{GroupBy: "street"})
	if err != nil || len(rep.Groups) != 1 || rep.Groups[0].RepaidFen != 40000 || rep.Groups[0].RecoveryRate != 0.4 {
		t.Errorf("report %v, %v", rep, err)
	}
}

// TestLedgerInvariantProperty: random sequences of principal additions,
// repayments, offsets, write-off proposals, approvals and rejections keep
// the invariant, and a refused step leaves the case exactly as it was.
func TestLedgerInvariantProperty(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(14, 14))
	at := func(who string) step { return step{actor: who, time: testNow} }
	offsets := 0
	for run := 0; run < 200; run++ {
		c := &pb.RecoveryCase{Id: "c", State: pb.RecoveryState_RECOVERY_OPEN}
		for i := 0; i < 60; i++ {
			before := cloneCase(c)
			amount := rng.Int64N(300000) - 1000
			var err error
			switch rng.IntN(7) {
			case 0:
				err = addPrincipal(c, at("projection"), &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_PRINCIPAL_ADDED, AmountFen: amount, Month: "2026-05"})
			case 1, 2:
				err = repay(c, at("clerk"), amount, "2026-06-01", "")
			case 3:
				err = proposeWriteOff(c, at([]string{"a", "b"}[rng.IntN(2)]), amount, "hardship")
			case 4:
				err = approveWriteOff(c, at([]string{"a", "b"}[rng.IntN(2)]))
			case 5:
				err = rejectWriteOff(c, at("a"), "no")
			case 6:
				err = offset(c, at("bureau"), amount, "claim")
				if err == nil {
					offsets++
				}
			}
			if !invariantHolds(c) {
				t.Fatalf("run %d step %d: invariant broken: %v", run, i, c)
			}
			if err != nil && !sameCase(before, c) {
				t.Fatalf("run %d step %d: refused step %v changed the case", run, i, err)
			}
		}
	}
	if offsets == 0 {
		t.Error("no offset was made: the property says nothing of them")
	}
}

func cloneCase(c *pb.RecoveryCase) *pb.RecoveryCase {
	out, _ := proto.Clone(c).(*pb.RecoveryCase)
	return out
}

func sameCase(a, b *pb.RecoveryCase) bool { return proto.Equal(a, b) }

// TestDeathDateChangedAndDiedAgain: a corrected date of death recomputes
// the principal; a reversal voids the case, and a death recorded again
// opens a new one.
func TestDeathDateChangedAndDiedAgain(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-04", "2026-04-10", 100000)
	h.payOn(t, 0, "2026-05", "2026-05-10", 200000)
	h.die(t, 0, "2026-03-15")
	h.die(t, 0, "2026-04-20")
	c := h.oneCase(t, 0)
	last := c.Entries[len(c.Entries)-1]
	if c.PrincipalFen != 200000 || !slices.Equal(c.Months, []string{"2026-05"}) || last.Kind != pb.RecoveryEntryKind_PRINCIPAL_RECOMPUTED || last.AmountFen != -100000 {
		t.Errorf("after the date changed: principal %d months %v last entry %v", c.PrincipalFen, c.Months, last)
	}
	st := h.registry.State(retireeID(0))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_LIVING, ""
	h.change(st, registryv1.ChangeKind_UPDATED)
	h.die(t, 0, "2026-03-15")
	cs := h.casesOf(t, 0)
	states := map[pb.RecoveryState]int64{}
	for _, c := range cs {
		states[c.State] = c.PrincipalFen
	}
	if len(cs) != 2 || states[pb.RecoveryState_RECOVERY_VOID] != 200000 || states[pb.RecoveryState_RECOVERY_OPEN] != 300000 {
		t.Errorf("after reversal and a new death: %v", states)
	}
}

// TestOrderDueAcrossNationalDay: an order issued on Friday 18 September
// 2026 counts the make-up working days (Sunday 20 September, Saturday 10
// October) and skips the Mid-Autumn and National Day holidays; one issued
// in December reaches 2027, which the calendar does not know, and is
// provisional.
func TestOrderDueAcrossNationalDay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		now, due    string
		provisional bool
	}{
		{"2026-09-18", "2026-11-05", false},
		{"2026-12-01", "2027-01-12", true},
	} {
		h := importFixture(t, harnessOptions{})
		h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
		h.die(t, 0, "2026-04-15")
		id := h.oneCase(t, 0).Id
		day, _ := parseDate(tc.now)
		h.now.Set(day.Add(10 * time.Hour))
		r, err := h.client.IssueRecoveryOrder(h.as(bureauP), &pb.IssueRecoveryOrderRequest{Id: id, DebtorName: "王芳", DebtorRelation: "daughter"})
		if err != nil {
			t.Fatal(err)
		}
		if o := r.GetCase().GetOrder(); o.IssuedOn != tc.now || o.DueOn != tc.due || o.DueOnProvisional != tc.provisional {
			t.Errorf("order issued %s: %v, want due %s provisional %v", tc.now, o, tc.due, tc.provisional)
		}
	}
}

// TestRecoveryBadInput: each bad request names its field and changes
// nothing.
func TestRecoveryBadInput(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
	h.die(t, 0, "2026-04-15")
	before := h.oneCase(t, 0)
	id := before.Id
	ctx := h.as(bureauP)
	long := make([]*pb.RecoveryInstalment, maxInstalments+1)
	for i := range long {
		long[i] = &pb.RecoveryInstalment{DueOn: testNow.AddDate(0, 0, i+1).Format(time.DateOnly), AmountFen: 1}
	}
	_, err := h.client.IssueRecoveryOrder(ctx, &pb.IssueRecoveryOrderRequest{Id: id, DebtorRelation: "son"})
	wantFields(t, err, "debtorName")
	_, err = h.client.IssueRecoveryOrder(ctx, &pb.IssueRecoveryOrderRequest{Id: "not-an-id", DebtorName: "李明", DebtorRelation: "son"})
	wantFields(t, err, "id")
	_, err = h.client.SetRecoveryInstalmentPlan(ctx, &pb.SetRecoveryInstalmentPlanRequest{Id: id, Instalments: long})
	wantFields(t, err, "instalments")
	_, err = h.client.SetRecoveryInstalmentPlan(ctx, &pb.SetRecoveryInstalmentPlanRequest{Id: id, Instalments: []*pb.RecoveryInstalment{{DueOn: "2026-08-01", AmountFen: 50000}, {DueOn: "2026-07-01", AmountFen: 50000}}})
	wantFields(t, err, "instalments")
	_, err = h.client.RecordRecoveryRepayment(ctx, &pb.RecordRecoveryRepaymentRequest{Id: id, AmountFen: 0, PaidOn: "2026-06-16"})
	wantFields(t, err, "amountFen", "paidOn")
	_, err = h.client.ProposeRecoveryWriteOff(ctx, &pb.ProposeRecoveryWriteOffRequest{Id: id, AmountFen: 5})
	wantFields(t, err, "reason")
	_, err = h.client.EscalateRecoveryCase(ctx, &pb.EscalateRecoveryCaseRequest{Id: id})
	wantFields(t, err, "reason")
	_, err = h.client.ImportRecoveryRepayments(ctx, &pb.ImportRecoveryRepaymentsRequest{Repayments: []*pb.RecoveryRepayment{
		{CaseId: id, AmountFen: 1, PaidOn: "2026-06-01"},
		{CaseId: id, AmountFen: 1, PaidOn: "2026-06-01", BankReference: "X"},
		{CaseId: id, AmountFen: 1, PaidOn: "2026-06-01", BankReference: "X"},
	}})
	wantFields(t, err, "repayments[0]", "repayments[2]")
	_, err = h.client.ImportRecoveryRepayments(ctx, &pb.ImportRecoveryRepaymentsRequest{Repayments: make([]*pb.RecoveryRepayment, 0)})
	wantFields(t, err, "repayments")
	_, err = h.client.GetRecoveryReport(ctx, &pb.GetRecoveryReportRequest{GroupBy: "city"})
	wantFields(t, err, "groupBy")
	_, err = h.client.ListRecoveryCases(h.as(clerkP), &pb.ListRecoveryCasesRequest{})
	wantFields(t, err, "communityId")
	if after := h.oneCase(t, 0); !proto.Equal(before, after) {
		t.Errorf("bad requests changed the case:\n%v\n%v", before, after)
	}
}

// TestStoredCaseRevealsNoDebtor: the debtor's name is sealed in the file,
// while the service answers it.
func TestStoredCaseRevealsNoDebtor(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-05", "2026-05-10", 100000)
	h.die(t, 0, "2026-04-15")
	const debtor = "欧阳秀英"
	r, err := h.client.IssueRecoveryOrder(h.as(clerkP), &pb.IssueRecoveryOrderRequest{Id: h.oneCase(t, 0).Id, DebtorName: debtor, DebtorRelation: "daughter"})
	if err != nil || r.GetCase().GetOrder().GetDebtorName() != debtor {
		t.Fatalf("order: %v, %v", r.GetCase().GetOrder(), err)
	}
	h.close()
	data, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(debtor)) {
		t.Error("the file holds the debtor's name in plain text")
	}
}
