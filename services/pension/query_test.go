package pension

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// pay imports payments as the bureau: each item is retiree, month, basic.
func (h *harness) pay(t *testing.T, batch string, items ...payItem) {
	t.Helper()
	var records []*pb.PaymentRecord
	for i, it := range items {
		r := payment(t, int64(i+1), it.n, it.month, it.basic)
		r.PersonalAccountFen, r.TransitionalFen, r.OtherFen = 0, 0, 0
		records = append(records, r)
	}
	res := importStream(h.as(bureauP), h.client, header(batch), records)
	if res.err != nil || res.summary.GetRejected() != 0 {
		t.Fatalf("import: %v, rejections %v", res.err, res.rejections())
	}
}

type payItem struct {
	n     int
	month string
	basic int64
}

func TestListPayments(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	var items []payItem
	for m := mustMonth(t, "2024-01"); m <= mustMonth(t, "2026-06"); m++ {
		items = append(items, payItem{0, m.String(), 300000})
	}
	h.pay(t, "history", items...)
	months := func(ps []*pb.Payment) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Month)
		}
		return out
	}
	t.Run("default is the last twelve months", func(t *testing.T) {
		resp, err := h.client.ListPayments(h.as(clerkP), &pb.ListPaymentsRequest{RetireeId: retireeID(0)})
		if err != nil {
			t.Fatal(err)
		}
		got := months(resp.Payments)
		if len(got) != 12 || got[0] != "2025-07" || got[11] != "2026-06" {
			t.Errorf("months = %v, want 2025-07 to 2026-06", got)
		}
	})
	t.Run("range", func(t *testing.T) {
		resp, err := h.client.ListPayments(h.as(bureauP), &pb.ListPaymentsRequest{RetireeId: retireeID(0), FromMonth: "2024-11", ToMonth: "2025-02"})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff([]string{"2024-11", "2024-12", "2025-01", "2025-02"}, months(resp.Payments)); diff != "" {
			t.Errorf("months (-want +got):\n%s", diff)
		}
	})
	t.Run("query by ID number", func(t *testing.T) {
		resp, err := h.client.QueryPayments(h.as(clerkP), &pb.QueryPaymentsRequest{IdNumber: idNumber(t, 0).Digits(), FromMonth: "2026-06", ToMonth: "2026-06"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.RetireeId != retireeID(0) || len(resp.Payments) != 1 || resp.Payments[0].TotalFen != 300000 {
			t.Errorf("QueryPayments = %v", resp)
		}
	})
	for _, tc := range []struct {
		name   string
		req    *pb.ListPaymentsRequest
		fields []string
	}{
		{"bad month", &pb.ListPaymentsRequest{RetireeId: retireeID(0), FromMonth: "2026-6"}, []string{"fromMonth"}},
		{"bad to month", &pb.ListPaymentsRequest{RetireeId: retireeID(0), ToMonth: "June"}, []string{"toMonth"}},
		{"reversed", &pb.ListPaymentsRequest{RetireeId: retireeID(0), FromMonth: "2026-02", ToMonth: "2026-01"}, []string{"fromMonth"}},
		{"too long", &pb.ListPaymentsRequest{RetireeId: retireeID(0), FromMonth: "2016-01", ToMonth: "2026-01"}, []string{"fromMonth"}},
		{"no retiree", &pb.ListPaymentsRequest{}, []string{"retireeId"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.ListPayments(h.as(bureauP), tc.req)
			wantFields(t, err, tc.fields...)
		})
	}
	t.Run("bad ID number is not echoed", func(t *testing.T) {
		_, err := h.client.QueryPayments(h.as(bureauP), &pb.QueryPaymentsRequest{IdNumber: "110105194912310021"})
		st := wantStatus(t, err, codes.InvalidArgument, "110105194912310021")
		if got := badFields(st); len(got) != 1 || got[0] != "idNumber" {
			t.Errorf("fields = %v", got)
		}
	})
	t.Run("the read is audited", func(t *testing.T) {
		entries, _, err := h.store.ListAudit(retireeID(0), 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		actions := map[string]string{}
		for _, e := range entries {
			actions[e.Action] = e.Subject
		}
		if actions["ListPayments"] != bureauP.Subject && actions["ListPayments"] != clerkP.Subject || actions["QueryPayments"] != clerkP.Subject {
			t.Errorf("audit log %v lacks the reads", actions)
		}
	})
}

func TestStatement(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.certify(t, 0, "2025-07-01")
	h.certify(t, 5, "2025-06-01")
	h.pay(t, "s", payItem{0, "2026-01", 300000}, payItem{0, "2026-02", 300000}, payItem{0, "2026-03", 310000},
		payItem{0, "2025-12", 1}, payItem{5, "2026-01", 280000})

	resp, err := h.client.GetStatement(h.as(clerkP), &pb.GetStatementRequest{RetireeId: retireeID(0), Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	want := &pb.GetStatementResponse{
		RetireeId: retireeID(0), Year: 2026, MonthsPaid: 3,
		BasicFen: 910000, OtherFen: 0, TotalFen: 910000,
		MonthsMissing: []string{"2026-04", "2026-05", "2026-06"},
	}
	if diff := cmp.Diff(want, resp, protocmp.Transform(), protocmp.IgnoreFields(&pb.GetStatementResponse{}, "payments")); diff != "" {
		t.Errorf("statement (-want +got):\n%s", diff)
	}
	if len(resp.Payments) != 3 {
		t.Errorf("%d payments in the statement, want 3", len(resp.Payments))
	}

	// Died on 2026-02-10: February is still owed, March on is not.
	resp, err = h.client.GetStatement(h.as(adminP), &pb.GetStatementRequest{RetireeId: retireeID(5), Year: 2026})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"2026-02"}, resp.MonthsMissing); diff != "" {
		t.Errorf("deceased retiree's missing months (-want +got):\n%s", diff)
	}
	// Suspended by the bureau from December 2024: nothing is missing.
	h.decide(t, 1, "SUSPEND 2024-12 NOT_CERTIFIED")
	resp, err = h.client.GetStatement(h.as(adminP), &pb.GetStatementRequest{RetireeId: retireeID(1), Year: 2025})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.MonthsMissing) != 0 {
		t.Errorf("suspended retiree's missing months = %v, want none", resp.MonthsMissing)
	}
	for _, year := range []int32{1949, 2027} {
		_, err := h.client.GetStatement(h.as(adminP), &pb.GetStatementRequest{RetireeId: retireeID(0), Year: year})
		wantFields(t, err, "year")
	}
}
