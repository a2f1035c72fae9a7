package pension

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// certify records certifications as the bureau, failing the test on error.
func (h *harness) certify(t *testing.T, n int, days ...string) {
	t.Helper()
	for _, d := range days {
		_, err := h.client.RecordCertification(h.as(bureauP), &pb.RecordCertificationRequest{
			RetireeId:     retireeID(n),
			Certification: &pb.Certification{Method: pb.CertificationMethod_IN_PERSON, CertifiedOn: d},
		})
		if err != nil {
			t.Fatalf("certify %d on %s: %v", n, d, err)
		}
	}
}

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
	// Never certified: suspended all along, so nothing is missing.
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

func TestCertifications(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(clerkP)
	record := func(n int, method pb.CertificationMethod, day string) (*pb.Certification, error) {
		resp, err := h.client.RecordCertification(ctx, &pb.RecordCertificationRequest{
			RetireeId: retireeID(n), Certification: &pb.Certification{Method: method, CertifiedOn: day},
		})
		return resp.GetCertification(), err
	}
	for _, tc := range []struct {
		name   string
		method pb.CertificationMethod
		day    string
		fields []string
	}{
		{"no method", 0, "2026-01-01", []string{"method"}},
		{"unknown method", 9, "2026-01-01", []string{"method"}},
		{"no date", pb.CertificationMethod_HOME_VISIT, "", []string{"certifiedOn"}},
		{"bad date", pb.CertificationMethod_HOME_VISIT, "2026-02-30", []string{"certifiedOn"}},
		{"future", pb.CertificationMethod_HOME_VISIT, "2026-06-16", []string{"certifiedOn"}},
		{"before 2000", pb.CertificationMethod_HOME_VISIT, "1999-12-31", []string{"certifiedOn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := record(0, tc.method, tc.day)
			wantFields(t, err, tc.fields...)
		})
	}

	first, err := record(0, pb.CertificationMethod_HOME_VISIT, "2025-01-10")
	if err != nil {
		t.Fatal(err)
	}
	if first.RecordedBy != clerkP.Subject || first.RetireeId != retireeID(0) || first.RecordTime == nil {
		t.Errorf("recorded certification = %v", first)
	}
	again, err := record(0, pb.CertificationMethod_HOME_VISIT, "2025-01-10")
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(first, again, protocmp.Transform()) {
		t.Errorf("a repeated certification was recorded anew: %v", again)
	}
	for _, d := range []string{"2024-01-05", "2026-01-08", "2023-01-11"} {
		if _, err := record(0, pb.CertificationMethod_REMOTE_FACE, d); err != nil {
			t.Fatal(err)
		}
	}
	issued := "" // a token retiree 0's list issued
	got := servicetest.AllPages(t, 5, func(token string) ([]string, string, error) {
		resp, err := h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(0), PageSize: 3, PageToken: token})
		if resp.GetNextPageToken() != "" {
			issued = resp.GetNextPageToken()
		}
		var days []string
		for _, c := range resp.GetCertifications() {
			days = append(days, c.CertifiedOn)
		}
		return days, resp.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{"2026-01-08", "2025-01-10", "2024-01-05", "2023-01-11"}, got); diff != "" {
		t.Errorf("certifications newest first (-want +got):\n%s", diff)
	}
	_, err = h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(1), PageToken: issued + "x"})
	wantFields(t, err, "pageToken")

	_, err = h.client.RecordCertification(h.as(adminP), &pb.RecordCertificationRequest{
		RetireeId: retireeID(5), Certification: &pb.Certification{Method: pb.CertificationMethod_DATA_MATCH, CertifiedOn: "2026-03-01"},
	})
	wantReason(t, err, codes.FailedPrecondition, reasonDeceased)

	ent, err := h.client.GetEntitlement(ctx, &pb.GetEntitlementRequest{RetireeId: retireeID(0)})
	if err != nil {
		t.Fatal(err)
	}
	if ent.State != pb.EntitlementState_ACTIVE || ent.NextDueOn != "2027-01-08" || ent.AsOf != "2026-06-15" {
		t.Errorf("entitlement = %v", ent)
	}
	_, err = h.client.GetEntitlement(ctx, &pb.GetEntitlementRequest{RetireeId: retireeID(0), AsOf: "2026-6-1"})
	wantFields(t, err, "asOf")
}

func TestOverdueCertifications(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.certify(t, 0, "2024-02-01", "2025-05-01") // due 2026-05-01: 45 days overdue
	h.certify(t, 1, "2025-07-10")               // due 2026-07-10: within 30 days
	h.certify(t, 2, "2025-09-01")               // due later
	// 3 and 4 were never certified; 5 died; 6 lives in communityB.

	list := func(community string, size int32) []string {
		t.Helper()
		return servicetest.AllPages(t, 10, func(token string) ([]string, string, error) {
			resp, err := h.client.ListOverdueCertifications(h.as(adminP), &pb.ListOverdueCertificationsRequest{
				CommunityId: community, PageSize: size, PageToken: token,
			})
			var out []string
			for _, o := range resp.GetOverdue() {
				out = append(out, fmt.Sprintf("%s %s %s %d", o.RetireeId, o.LastCertifiedOn, o.DueOn, o.DaysOverdue))
			}
			return out, resp.GetNextPageToken(), err
		})
	}
	never := []string{retireeID(3) + "   0", retireeID(4) + "   0"}
	if retireeID(4) < retireeID(3) {
		never[0], never[1] = never[1], never[0]
	}
	want := append(never,
		retireeID(0)+" 2025-05-01 2026-05-01 45",
		retireeID(1)+" 2025-07-10 2026-07-10 -25",
	)
	if diff := cmp.Diff(want, list(communityA, 1)); diff != "" {
		t.Errorf("overdue in A, pages of one (-want +got):\n%s", diff)
	}

	// A certification, a transfer and a death move retirees off the list.
	h.certify(t, 0, "2026-06-01")
	st := h.registry.State(retireeID(3))
	st.CommunityId = communityB
	h.change(st, registryv1.ChangeKind_TRANSFERRED)
	st = h.registry.State(retireeID(4))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-06-01"
	h.change(st, registryv1.ChangeKind_DIED)
	if diff := cmp.Diff([]string{retireeID(1) + " 2025-07-10 2026-07-10 -25"}, list(communityA, 50)); diff != "" {
		t.Errorf("overdue in A after the changes (-want +got):\n%s", diff)
	}
	gotB := list(communityB, 50)
	if len(gotB) != 2 {
		t.Errorf("overdue in B = %v, want the transferred retiree and 6", gotB)
	}
	_, err := h.client.ListOverdueCertifications(h.as(adminP), &pb.ListOverdueCertificationsRequest{})
	wantFields(t, err, "communityId")
}

func TestPaymentAnomalies(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	var states []*registryv1.RetireeState
	for n := range 8 {
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
	h.certify(t, 0, "2025-03-01") // suspended from April 2026
	for _, n := range []int{1, 2, 3, 5, 6, 7} {
		h.certify(t, n, "2025-09-01")
	}
	h.pay(t, "april",
		payItem{0, "2026-04", 300000}, payItem{2, "2026-04", 400000}, payItem{3, "2026-04", 400000}, payItem{5, "2026-04", 300000})
	h.pay(t, "may",
		payItem{0, "2026-05", 300000}, payItem{2, "2026-05", 300000}, payItem{3, "2026-05", 330000}, payItem{5, "2026-05", 300000})

	want := []*pb.Anomaly{
		{Kind: pb.AnomalyKind_PAID_WHILE_SUSPENDED, RetireeId: retireeID(0), TotalFen: 300000, LastCertifiedOn: "2025-03-01"},
		{Kind: pb.AnomalyKind_MISSING, RetireeId: retireeID(1), LastCertifiedOn: "2025-09-01"},
		{Kind: pb.AnomalyKind_AMOUNT_DROP, RetireeId: retireeID(2), TotalFen: 300000, PreviousTotalFen: 400000, LastCertifiedOn: "2025-09-01"},
		{Kind: pb.AnomalyKind_PAID_AFTER_DEATH, RetireeId: retireeID(5), TotalFen: 300000, LastCertifiedOn: "2025-09-01", DateOfDeath: "2026-02-10"},
	}
	for _, a := range want {
		a.Month = "2026-05"
	}
	// Sorted by retiree id.
	sortAnomalies(want)

	for _, size := range []int32{1, 2, 50} {
		t.Run(fmt.Sprintf("pages of %d", size), func(t *testing.T) {
			got := servicetest.AllPages(t, 10, func(token string) ([]*pb.Anomaly, string, error) {
				resp, err := h.client.ListPaymentAnomalies(h.as(clerkP), &pb.ListPaymentAnomaliesRequest{
					Month: "2026-05", CommunityId: communityA, PageSize: size, PageToken: token,
				})
				if len(resp.GetAnomalies()) > int(size) {
					t.Errorf("page of %d anomalies, asked for %d", len(resp.Anomalies), size)
				}
				return resp.GetAnomalies(), resp.GetNextPageToken(), err
			})
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("anomalies (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("a page examines a bounded number of retirees", func(t *testing.T) {
		h.store.maxExamined = 2
		defer func() { h.store.maxExamined = 0 }()
		pages := 0
		got := servicetest.AllPages(t, 10, func(token string) ([]*pb.Anomaly, string, error) {
			pages++
			resp, err := h.client.ListPaymentAnomalies(h.as(clerkP), &pb.ListPaymentAnomaliesRequest{
				Month: "2026-05", CommunityId: communityA, PageSize: 50, PageToken: token,
			})
			return resp.GetAnomalies(), resp.GetNextPageToken(), err
		})
		// Seven retirees of community A, two examined a page.
		if pages != 4 {
			t.Errorf("%d pages, want 4", pages)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("anomalies (-want +got):\n%s", diff)
		}
	})
	// Both kinds for one retiree: paid while suspended and dropped.
	h.pay(t, "may-fix", payItem{0, "2026-05", 100000})
	var kinds []pb.AnomalyKind
	all := servicetest.AllPages(t, 10, func(token string) ([]*pb.Anomaly, string, error) {
		resp, err := h.client.ListPaymentAnomalies(h.as(bureauP), &pb.ListPaymentAnomaliesRequest{Month: "2026-05", CommunityId: communityA, PageSize: 1, PageToken: token})
		return resp.GetAnomalies(), resp.GetNextPageToken(), err
	})
	for _, a := range all {
		if a.RetireeId == retireeID(0) {
			kinds = append(kinds, a.Kind)
		}
	}
	if diff := cmp.Diff([]pb.AnomalyKind{pb.AnomalyKind_PAID_WHILE_SUSPENDED, pb.AnomalyKind_AMOUNT_DROP}, kinds); diff != "" {
		t.Errorf("retiree 0's anomalies over pages of one (-want +got):\n%s", diff)
	}

	for _, tc := range []struct {
		name   string
		req    *pb.ListPaymentAnomaliesRequest
		fields []string
	}{
		{"no month", &pb.ListPaymentAnomaliesRequest{CommunityId: communityA}, []string{"month"}},
		{"future month", &pb.ListPaymentAnomaliesRequest{CommunityId: communityA, Month: "2026-07"}, []string{"month"}},
		{"no community", &pb.ListPaymentAnomaliesRequest{Month: "2026-05"}, []string{"communityId"}},
		{"bad community", &pb.ListPaymentAnomaliesRequest{Month: "2026-05", CommunityId: "21010200100x"}, []string{"communityId"}},
		{"bad page size", &pb.ListPaymentAnomaliesRequest{Month: "2026-05", CommunityId: communityA, PageSize: 1001}, []string{"pageSize"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.ListPaymentAnomalies(h.as(adminP), tc.req)
			wantFields(t, err, tc.fields...)
		})
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
