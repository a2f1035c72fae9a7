package pension

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// TestPaymentKindRules checks the paid_on rule and the kind a record gets,
// through the checker, on the tests' today (2026-06-15).
func TestPaymentKindRules(t *testing.T) {
	t.Parallel()
	const (
		unspecified = pb.PaymentKind_PAYMENT_KIND_UNSPECIFIED
		regular     = pb.PaymentKind_REGULAR
		arrears     = pb.PaymentKind_ARREARS
		adjustment  = pb.PaymentKind_ADJUSTMENT
	)
	for _, tc := range []struct {
		name          string
		month, paidOn string
		said          pb.PaymentKind
		want          pb.PaymentKind
		reason        string
	}{
		{name: "paid in its month", month: "2026-04", paidOn: "2026-04-20", said: unspecified, want: regular},
		{name: "paid on its first day", month: "2026-04", paidOn: "2026-04-01", said: regular, want: regular},
		{name: "paid on the last day of the following month", month: "2026-04", paidOn: "2026-05-31", said: unspecified, want: regular},
		{name: "following month across the year", month: "2025-12", paidOn: "2026-01-31", said: unspecified, want: regular},
		{name: "paid after the end of the following month", month: "2026-04", paidOn: "2026-06-01", said: unspecified, want: arrears},
		{name: "late across the year", month: "2025-12", paidOn: "2026-02-01", said: unspecified, want: arrears},
		{name: "late and said to be regular", month: "2026-04", paidOn: "2026-06-01", said: regular, want: arrears},
		{name: "late adjustment kept", month: "2026-01", paidOn: "2026-06-10", said: adjustment, want: adjustment},
		{name: "adjustment in time kept", month: "2026-05", paidOn: "2026-05-20", said: adjustment, want: adjustment},
		{name: "arrears in time kept", month: "2026-04", paidOn: "2026-05-02", said: arrears, want: arrears},
		{name: "paid today, months late", month: "2025-01", paidOn: "2026-06-15", said: unspecified, want: arrears},
		{name: "paid before its month", month: "2026-04", paidOn: "2026-03-31", said: unspecified, reason: ReasonPaidOnInvalid},
		{name: "paid in the future", month: "2026-06", paidOn: "2026-06-16", said: unspecified, reason: ReasonPaidOnInvalid},
		{name: "paid in the future, late", month: "2026-01", paidOn: "2026-07-01", said: adjustment, reason: ReasonPaidOnInvalid},
		{name: "unknown kind", month: "2026-04", paidOn: "2026-04-20", said: pb.PaymentKind(4), reason: ReasonKindInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := &recordChecker{keyer: testKeyer(t), now: func() time.Time { return testNow }}
			in := payment(t, 1, 0, tc.month, 300000)
			in.PaidOn, in.Kind = tc.paidOn, tc.said
			r := new(paymentKind).check(c, in)
			if r.reason != tc.reason {
				t.Fatalf("reason = %q (%s), want %q", r.reason, r.message, tc.reason)
			}
			if tc.reason == "" && r.kind != tc.want {
				t.Errorf("kind = %v, want %v", r.kind, tc.want)
			}
		})
	}
}

// TestSeveralPaymentsPerMonth imports a month's regular payment, its
// correction, a second regular payment on another day, back-pay and an
// adjustment: each (month, kind, paid_on) is one payment, and the reads
// list them all.
func TestSeveralPaymentsPerMonth(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	rec := func(index int64, paidOn string, kind pb.PaymentKind, base int64) *pb.PaymentRecord {
		r := payment(t, index, 0, "2026-03", base)
		r.PaidOn, r.Kind = paidOn, kind
		return r
	}
	res := importStream(h.as(bureauP), h.client, header("march"), []*pb.PaymentRecord{
		rec(1, "2026-03-15", pb.PaymentKind_PAYMENT_KIND_UNSPECIFIED, 300000),
		rec(2, "2026-06-10", pb.PaymentKind_PAYMENT_KIND_UNSPECIFIED, 300000), // late: ARREARS
		rec(3, "2026-06-10", pb.PaymentKind_ADJUSTMENT, 20000),
		rec(4, "2026-03-20", pb.PaymentKind_REGULAR, 300000), // paid twice
		rec(5, "2026-03-15", pb.PaymentKind_REGULAR, 310000), // corrects 1
		rec(6, "2026-06-10", pb.PaymentKind_REGULAR, 300000), // late: 2 again
	})
	if res.err != nil {
		t.Fatal(res.err)
	}
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "march", Received: 6, Accepted: 4, Corrections: 1, Duplicates: 1, LastIndex: 6})

	describe := func(list []*pb.Payment) []string {
		var out []string
		for _, p := range list {
			out = append(out, fmt.Sprintf("%s %s %v v%d basic=%d", p.Month, p.PaidOn, p.Kind, p.Version, p.BasicFen))
		}
		return out
	}
	ctx := h.as(clerkP)
	list, err := h.client.ListPayments(ctx, &pb.ListPaymentsRequest{RetireeId: retireeID(0), FromMonth: "2026-03", ToMonth: "2026-04"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"2026-03 2026-03-15 REGULAR v2 basic=310000",
		"2026-03 2026-03-20 REGULAR v1 basic=300000",
		"2026-03 2026-06-10 ARREARS v1 basic=300000",
		"2026-03 2026-06-10 ADJUSTMENT v1 basic=20000",
	}
	if diff := cmp.Diff(want, describe(list.Payments)); diff != "" {
		t.Errorf("ListPayments (-want +got):\n%s", diff)
	}
	versions, err := h.client.ListPaymentVersions(ctx, &pb.ListPaymentVersionsRequest{RetireeId: retireeID(0), Month: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	want = append(want[:1:1], append([]string{"2026-03 2026-03-15 REGULAR v1 basic=300000"}, want[1:]...)...)
	if diff := cmp.Diff(want, describe(versions.Versions)); diff != "" {
		t.Errorf("ListPaymentVersions (-want +got):\n%s", diff)
	}

	st, err := h.client.GetStatement(ctx, &pb.GetStatementRequest{RetireeId: retireeID(0), Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, p := range list.Payments {
		total += p.TotalFen
	}
	if st.MonthsPaid != 1 || st.TotalFen != total || st.BasicFen != 310000+300000+300000+20000 || len(st.Payments) != 4 {
		t.Errorf("statement: months paid %d, total %d (want 1 and %d), basic %d, %d payments", st.MonthsPaid, st.TotalFen, total, st.BasicFen, len(st.Payments))
	}

	var paid []bool
	err = h.store.DB().View(func(tx *bolt.Tx) error {
		for _, m := range []string{"2026-02", "2026-03"} {
			mm, _ := parseMonth(m)
			paid = append(paid, monthPaid(tx, retireeID(0), mm))
		}
		march, _ := parseMonth("2026-03")
		got, err := h.store.paymentsOfMonth(tx, retireeID(0), march)
		if diff := cmp.Diff(want[0:1], describe(got[:1])); diff != "" || len(got) != 4 {
			t.Errorf("paymentsOfMonth: %d payments, first (-want +got):\n%s", len(got), diff)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]bool{false, true}, paid); diff != "" {
		t.Errorf("monthPaid for February and March (-want +got):\n%s", diff)
	}
}
