package pension

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// decide records bureau decisions of retiree n ("SUSPEND 2026-03
// NOT_CERTIFIED", see decisions) by RecordDecision, one after another.
func (h *harness) decide(t *testing.T, n int, lines ...string) {
	t.Helper()
	for _, d := range decisions(t, lines...) {
		if _, err := h.client.RecordDecision(h.as(bureauP), &pb.RecordDecisionRequest{RetireeId: retireeID(n), Decision: d}); err != nil {
			t.Fatalf("decide %v for %d: %v", d, n, err)
		}
	}
}

// payOn imports one payment of retiree n for a month, paid on paidOn,
// with its kind left to the rule (REGULAR when paid by the end of the
// following month, ARREARS after).
func (h *harness) payOn(t *testing.T, n int, m, paidOn string, totalFen int64) {
	t.Helper()
	r := &pb.PaymentRecord{Index: 1, IdNumber: idNumber(t, n).Digits(), Month: m, BasicFen: totalFen, PaidOn: paidOn, BankAccountMasked: "6222************1234"}
	res := importStream(h.as(bureauP), h.client, header(fmt.Sprintf("pay-%d-%s-%s", n, m, paidOn)), []*pb.PaymentRecord{r})
	if res.err != nil || res.summary.GetRejected() != 0 {
		t.Fatalf("import: %v, rejections %v", res.err, res.rejections())
	}
}

// entitlement reads retiree n's entitlement as the bureau on asOf.
func (h *harness) entitlement(t *testing.T, n int, asOf string) *pb.GetEntitlementResponse {
	t.Helper()
	resp, err := h.client.GetEntitlement(h.as(bureauP), &pb.GetEntitlementRequest{RetireeId: retireeID(n), AsOf: asOf})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestEntitlementFromDecisions: the bureau suspends a retiree from March
// and restores him from June; his entitlement owes March to May until
// ARREARS payments for them arrive. socmgmt's own certification status
// never suspends anybody.
func TestEntitlementFromDecisions(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.certify(t, 0, "2025-09-01")

	// Never certified since 2010, overdue, and still ACTIVE.
	ent := h.entitlement(t, 1, "")
	if ent.State != pb.EntitlementState_ACTIVE || ent.Certification.GetStatus() != pb.CertificationStatus_OVERDUE {
		t.Errorf("retiree never certified: %v, want ACTIVE and OVERDUE", ent)
	}

	h.decide(t, 0, "SUSPEND 2026-03 NOT_CERTIFIED")
	ent = h.entitlement(t, 0, "2026-04-10")
	if ent.State != pb.EntitlementState_SUSPENDED || ent.Reason != pb.DecisionReason_NOT_CERTIFIED || ent.StateSince != "2026-03" || len(ent.BackPayMonths) != 0 {
		t.Errorf("after the suspension: %v", ent)
	}
	h.decide(t, 0, "RESTORE 2026-06")
	want := &pb.GetEntitlementResponse{
		RetireeId: retireeID(0), AsOf: "2026-06-15", State: pb.EntitlementState_ACTIVE, StateSince: "2026-06",
		BackPayMonths:   []string{"2026-03", "2026-04", "2026-05"},
		LastCertifiedOn: "2025-09-01", NextDueOn: "2026-09-01",
		Certification: &pb.CertificationState{
			Status: pb.CertificationStatus_CURRENT, LastCertifiedOn: "2025-09-01", DueOn: "2026-09-01", LastChannel: pb.CertificationMethod_DATA_MATCH,
		},
	}
	if diff := cmp.Diff(want, h.entitlement(t, 0, ""), protocmp.Transform()); diff != "" {
		t.Errorf("after the restoration (-want +got):\n%s", diff)
	}

	// A regular payment of April (paid in time) and arrears of March and
	// May paid in July clear them; an early arrears payment of a month
	// paid in time counts as regular.
	h.now.Set(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	h.payOn(t, 0, "2026-04", "2026-04-15", 300000)
	h.payOn(t, 0, "2026-03", "2026-07-10", 300000)
	if got := h.entitlement(t, 0, "").BackPayMonths; !cmp.Equal(got, []string{"2026-05"}) {
		t.Errorf("back-pay after March's arrears and April's payment = %v, want 2026-05", got)
	}
	h.payOn(t, 0, "2026-05", "2026-07-10", 300000)
	if got := h.entitlement(t, 0, "").BackPayMonths; len(got) != 0 {
		t.Errorf("back-pay after the arrears = %v, want none", got)
	}

	// A death recorded in registry stops the pension from the next month.
	st := h.registry.State(retireeID(2))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-05-31"
	h.change(st, registryv1.ChangeKind_DIED)
	ent = h.entitlement(t, 2, "2026-06-01")
	if ent.State != pb.EntitlementState_STOPPED || ent.Reason != pb.DecisionReason_DECEASED || ent.StateSince != "2026-06" || ent.DateOfDeath != "2026-05-31" {
		t.Errorf("after the death: %v", ent)
	}
	if ent.Certification.GetStatus() != pb.CertificationStatus_CERTIFICATION_STATUS_UNSPECIFIED {
		t.Errorf("a deceased retiree's certification status = %v, want none", ent.Certification.GetStatus())
	}
	if ent := h.entitlement(t, 2, "2026-05-31"); ent.State != pb.EntitlementState_ACTIVE {
		t.Errorf("in the month of death: %v, want ACTIVE", ent.State)
	}
}

// TestAnomalyPageBound checks that a page computes the anomalies of at
// most maxAnomalyExamined retirees when no smaller bound is set: a large
// community with none is read in pages that end short, each with a token.
func TestAnomalyPageBound(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	states := make([]*registryv1.RetireeState, maxAnomalyExamined+500)
	for n := range states {
		states[n] = retiree(t, keyer, n, communityA)
	}
	e := newEnv(t, states...)
	// Before they retired: nobody was payable, nobody was paid.
	f := AnomalyFilter{CommunityID: communityA, Month: month(2009 * 12), DropShare: 0.1}
	list, next, err := e.store.ListAnomalies(f, 100, nil)
	if err != nil || len(list) != 0 || next == nil {
		t.Fatalf("first page: %d anomalies, next %q, %v; want none and a token", len(list), next, err)
	}
	ids := make([]string, len(states))
	for n, st := range states {
		ids[n] = st.Id
	}
	slices.Sort(ids)
	if id, _, _ := splitAnomalyKey(next); id != ids[maxAnomalyExamined-1] {
		t.Errorf("first page resumes after %s, want the %d-th retiree %s", id, maxAnomalyExamined, ids[maxAnomalyExamined-1])
	}
	list, next, err = e.store.ListAnomalies(f, 100, next)
	if err != nil || len(list) != 0 || next != nil {
		t.Fatalf("second page: %d anomalies, next %q, %v; want none and the end", len(list), next, err)
	}
}

// TestPaymentAnomalies: a month's anomalies follow the bureau's decisions
// and the kinds of the payments, never socmgmt's certification status.
func TestPaymentAnomalies(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	var states []*registryv1.RetireeState
	for n := range 9 {
		st := retiree(t, keyer, n, communityA)
		switch n {
		case 5:
			st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-02-10"
		case 6:
			st.CommunityId = communityB
		case 7:
			st.RetirementDate = "2026-05-01"
		}
		states = append(states, st)
	}
	h := newHarness(t, newEnv(t, states...), harnessOptions{})
	// Nobody is certified: that makes nobody suspended.
	h.decide(t, 0, "SUSPEND 2026-04 NOT_CERTIFIED")            // and not restored: paid while suspended
	h.decide(t, 4, "SUSPEND 2026-03 LOST_CONTACT")             // not paid: not missing
	h.decide(t, 8, "SUSPEND 2026-04 OTHER", "RESTORE 2026-06") // back-pay: no anomaly
	h.pay(t, "april",
		payItem{0, "2026-04", 300000}, payItem{2, "2026-04", 400000}, payItem{3, "2026-04", 400000}, payItem{5, "2026-04", 300000})
	h.pay(t, "may",
		payItem{0, "2026-05", 300000}, payItem{2, "2026-05", 300000}, payItem{3, "2026-05", 330000}, payItem{5, "2026-05", 300000},
		payItem{8, "2026-05", 300000})

	want := []*pb.Anomaly{
		{Kind: pb.AnomalyKind_PAID_WHILE_SUSPENDED, RetireeId: retireeID(0), TotalFen: 300000, LastCertifiedOn: "2010-02-01"},
		{Kind: pb.AnomalyKind_MISSING, RetireeId: retireeID(1), LastCertifiedOn: "2010-02-01"},
		{Kind: pb.AnomalyKind_AMOUNT_DROP, RetireeId: retireeID(2), TotalFen: 300000, PreviousTotalFen: 400000, LastCertifiedOn: "2010-02-01"},
		{Kind: pb.AnomalyKind_PAID_AFTER_DEATH, RetireeId: retireeID(5), TotalFen: 300000, LastCertifiedOn: "2010-02-01", DateOfDeath: "2026-02-10"},
	}
	for _, a := range want {
		a.Month = "2026-05"
	}
	sortAnomalies(want)
	pages := 0
	list := func(t *testing.T, size int32) []*pb.Anomaly {
		pages = 0
		return servicetest.AllPages(t, 20, func(token string) ([]*pb.Anomaly, string, error) {
			pages++
			resp, err := h.client.ListPaymentAnomalies(h.as(clerkP), &pb.ListPaymentAnomaliesRequest{
				Month: "2026-05", CommunityId: communityA, PageSize: size, PageToken: token,
			})
			if len(resp.GetAnomalies()) > int(size) {
				t.Errorf("page of %d anomalies, asked for %d", len(resp.Anomalies), size)
			}
			return resp.GetAnomalies(), resp.GetNextPageToken(), err
		})
	}
	for _, size := range []int32{1, 2, 50} {
		t.Run(fmt.Sprintf("pages of %d", size), func(t *testing.T) {
			if diff := cmp.Diff(want, list(t, size), protocmp.Transform()); diff != "" {
				t.Errorf("anomalies (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a page examines a bounded number of retirees", func(t *testing.T) {
		h.store.maxExamined = 2
		defer func() { h.store.maxExamined = 0 }()
		if diff := cmp.Diff(want, list(t, 50), protocmp.Transform()); diff != "" {
			t.Errorf("anomalies (-want +got):\n%s", diff)
		}
		// Eight retirees of community A, two examined a page.
		if pages != 4 {
			t.Errorf("%d pages, want 4", pages)
		}
	})

	// Arrears pay the month and are left out of AMOUNT_DROP: retiree 1's
	// May, paid late, is no longer missing, and retiree 2's May arrears
	// do not lift his regular total back over April's. A second regular
	// payment of May on another day is PAID_TWICE.
	h.now.Set(time.Date(2026, 7, 20, 9, 0, 0, 0, time.UTC))
	h.payOn(t, 1, "2026-05", "2026-07-10", 300000)
	h.payOn(t, 2, "2026-05", "2026-07-10", 100000)
	h.payOn(t, 3, "2026-05", "2026-05-25", 330000)
	want = []*pb.Anomaly{
		{Kind: pb.AnomalyKind_PAID_WHILE_SUSPENDED, RetireeId: retireeID(0), TotalFen: 300000, LastCertifiedOn: "2010-02-01"},
		{Kind: pb.AnomalyKind_AMOUNT_DROP, RetireeId: retireeID(2), TotalFen: 300000, PreviousTotalFen: 400000, LastCertifiedOn: "2010-02-01"},
		{Kind: pb.AnomalyKind_PAID_TWICE, RetireeId: retireeID(3), TotalFen: 660000, LastCertifiedOn: "2010-02-01"},
		{Kind: pb.AnomalyKind_PAID_AFTER_DEATH, RetireeId: retireeID(5), TotalFen: 300000, LastCertifiedOn: "2010-02-01", DateOfDeath: "2026-02-10"},
	}
	for _, a := range want {
		a.Month = "2026-05"
	}
	sortAnomalies(want)
	if diff := cmp.Diff(want, list(t, 50), protocmp.Transform()); diff != "" {
		t.Errorf("anomalies after arrears and a second payment (-want +got):\n%s", diff)
	}
}

func sortAnomalies(list []*pb.Anomaly) {
	for i := range list {
		for j := i + 1; j < len(list); j++ {
			if list[j].RetireeId < list[i].RetireeId || list[j].RetireeId == list[i].RetireeId && list[j].Kind < list[i].Kind {
				list[i], list[j] = list[j], list[i]
			}
		}
	}
}
