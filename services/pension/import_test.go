package pension

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// importFixture is an env with a harness and these retirees: 0-4 living
// in communityA, 5 died on 2026-02-10, 6 living in communityB. n ≥ 100 are
// valid ID numbers nobody has.
func importFixture(t *testing.T, o harnessOptions) *harness {
	t.Helper()
	keyer := testKeyer(t)
	var states []*registryv1.RetireeState
	for n := range 7 {
		community := communityA
		if n == 6 {
			community = communityB
		}
		st := retiree(t, keyer, n, community)
		if n == 5 {
			st.Status = registryv1.RetireeStatus_DECEASED
			st.DateOfDeath = "2026-02-10"
		}
		states = append(states, st)
	}
	return newHarness(t, newEnv(t, states...), o)
}

// payment returns a record of the n-th ID number for month m, paid on the
// 15th, with amounts derived from base.
func payment(t testing.TB, index int64, n int, m string, base int64) *pb.PaymentRecord {
	t.Helper()
	return &pb.PaymentRecord{
		Index: index, IdNumber: idNumber(t, n).Digits(), Month: m,
		BasicFen: base, PersonalAccountFen: base / 4, TransitionalFen: base / 10, OtherFen: 1000,
		PaidOn: m + "-15", BankAccountMasked: "6222************1234",
	}
}

func header(batch string) *pb.ImportHeader { return &pb.ImportHeader{BatchId: batch, FormatVersion: 1} }

// summaryOf compares a summary's counts.
func wantSummary(t *testing.T, got *pb.ImportSummary, want *pb.ImportSummary) {
	t.Helper()
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
}

func TestImportDuplicatesCorrectionsAndResend(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(bureauP)

	var batch1 []*pb.PaymentRecord
	for n := range 3 {
		for _, m := range []string{"2026-01", "2026-02", "2026-03"} {
			batch1 = append(batch1, payment(t, int64(len(batch1)+1), n, m, 350000+int64(n)*1000))
		}
	}
	// The deceased retiree's payment after death is accepted: it is an
	// anomaly to report, not a record to refuse.
	batch1 = append(batch1, payment(t, int64(len(batch1)+1), 5, "2026-03", 300000))

	res := importStream(ctx, h.client, header("2026Q1-shenyang"), batch1)
	if res.err != nil {
		t.Fatalf("first import: %v", res.err)
	}
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026Q1-shenyang", Received: 10, Accepted: 10, LastIndex: 10})
	if res.lastDurable() != 10 || len(res.rejections()) != 0 {
		t.Errorf("acks durable through %d with rejections %v, want 10 and none", res.lastDurable(), res.rejections())
	}
	before := allPayments(t, h.store)
	if len(before) != 10 {
		t.Fatalf("%d payments stored, want 10", len(before))
	}
	dead := before[retireeID(5)+"/2026-03"]
	if dead == nil || dead.TotalFen != 300000+75000+30000+1000 || dead.Version != 1 || dead.BatchId != "2026Q1-shenyang" {
		t.Errorf("deceased retiree's payment = %v", dead)
	}

	t.Run("re-sent batch is all duplicates", func(t *testing.T) {
		res := importStream(ctx, h.client, header("2026Q1-shenyang"), batch1)
		if res.err != nil {
			t.Fatal(res.err)
		}
		wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026Q1-shenyang", Received: 10, Duplicates: 10, LastIndex: 10})
		if diff := cmp.Diff(before, allPayments(t, h.store), protocmp.Transform()); diff != "" {
			t.Errorf("a re-sent batch changed the payments (-before +after):\n%s", diff)
		}
		b, err := h.store.BatchProgress(rpcImportPayments, "2026Q1-shenyang")
		if err != nil {
			t.Fatal(err)
		}
		wantSummary(t, b, &pb.ImportSummary{BatchId: "2026Q1-shenyang", Received: 20, Accepted: 10, Duplicates: 10, LastIndex: 10})
	})

	t.Run("correction keeps the old version", func(t *testing.T) {
		fix := payment(t, 1, 0, "2026-02", 360000)
		again := payment(t, 2, 0, "2026-02", 360000) // identical to the correction
		res := importStream(ctx, h.client, header("2026-02-fix"), []*pb.PaymentRecord{fix, again})
		if res.err != nil {
			t.Fatal(res.err)
		}
		wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "2026-02-fix", Received: 2, Corrections: 1, Duplicates: 1, LastIndex: 2})
		resp, err := h.client.ListPaymentVersions(h.as(adminP), &pb.ListPaymentVersionsRequest{RetireeId: retireeID(0), Month: "2026-02"})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range resp.Versions {
			got = append(got, fmt.Sprintf("v%d %s basic=%d total=%d", p.Version, p.BatchId, p.BasicFen, p.TotalFen))
		}
		want := []string{
			"v2 2026-02-fix basic=360000 total=487000",
			"v1 2026Q1-shenyang basic=350000 total=473500",
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("versions (-want +got):\n%s", diff)
		}
		entries, _, err := h.store.ListAudit(retireeID(0), 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		var corrections int
		for _, e := range entries {
			if e.Action == "ImportPayments" && e.Subject == bureauP.Subject {
				corrections++
			}
		}
		if corrections != 1 {
			t.Errorf("%d audited corrections of retiree 0, want 1", corrections)
		}
	})

	t.Run("same month twice in one group applies in index order", func(t *testing.T) {
		res := importStream(ctx, h.client, header("twice"), []*pb.PaymentRecord{
			payment(t, 1, 1, "2026-04", 100000),
			payment(t, 2, 2, "2026-04", 100000),
			payment(t, 3, 1, "2026-04", 200000),
		})
		if res.err != nil {
			t.Fatal(res.err)
		}
		wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "twice", Received: 3, Accepted: 2, Corrections: 1, LastIndex: 3})
		p := allPayments(t, h.store)[retireeID(1)+"/2026-04"]
		if p.GetBasicFen() != 200000 || p.GetVersion() != 2 {
			t.Errorf("payment = basic %d version %d, want the later record's 200000 as version 2", p.GetBasicFen(), p.GetVersion())
		}
	})
}

// allPayments returns every current payment by "retiree/month".
func allPayments(t *testing.T, s *Store) map[string]*pb.Payment {
	t.Helper()
	out := map[string]*pb.Payment{}
	for n := range 7 {
		list, err := s.Payments(retireeID(n), month(1950*12), month(2100*12))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range list {
			out[p.RetireeId+"/"+p.Month] = p
		}
	}
	return out
}

func TestImportRejectsRecordsOneByOne(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	good := func(i int64) *pb.PaymentRecord { return payment(t, i, 1, "2026-05", 300000) }
	with := func(i int64, f func(r *pb.PaymentRecord)) *pb.PaymentRecord {
		r := payment(t, i, 2, "2026-04", 300000)
		f(r)
		return r
	}
	records := []*pb.PaymentRecord{
		good(1),
		with(2, func(r *pb.PaymentRecord) { r.IdNumber = "110105194912310021" }),
		with(3, func(r *pb.PaymentRecord) { r.IdNumber = idNumber(t, 100).Digits() }),
		with(4, func(r *pb.PaymentRecord) { r.Month = "2026-13" }),
		with(5, func(r *pb.PaymentRecord) { r.Month = "26-04" }),
		with(6, func(r *pb.PaymentRecord) { r.Month, r.PaidOn = "2026-07", "2026-06-01" }),
		with(7, func(r *pb.PaymentRecord) { r.BasicFen = -1 }),
		with(8, func(r *pb.PaymentRecord) { r.OtherFen = 10_000_001 }),
		with(9, func(r *pb.PaymentRecord) { r.PaidOn = "2026-03-31" }),
		with(10, func(r *pb.PaymentRecord) { r.Kind = pb.PaymentKind(9) }),
		with(11, func(r *pb.PaymentRecord) { r.Month, r.PaidOn = "2026-06", "2026-06-16" }),
		with(12, func(r *pb.PaymentRecord) { r.PaidOn = "2026-04-31" }),
		with(13, func(r *pb.PaymentRecord) { r.BankAccountMasked = "6222-1234" }),
		with(13, func(*pb.PaymentRecord) {}),
		with(0, func(*pb.PaymentRecord) {}),
		with(14, func(r *pb.PaymentRecord) { r.IdNumber = "" }),
		with(15, func(r *pb.PaymentRecord) { r.IdNumber = "11010519491231002X" + "0" }),
		// Paid on the last day of the next month is still REGULAR; the
		// 15-digit form of a known number is that number.
		with(16, func(r *pb.PaymentRecord) {
			r.PaidOn = "2026-05-31"
			d := idNumber(t, 2).Digits()
			r.IdNumber = d[:6] + d[8:17]
		}),
		good(17),
	}
	records[len(records)-1].Month, records[len(records)-1].PaidOn = "2026-06", "2026-06-15"

	res := importStream(h.as(bureauP), h.client, header("bad-records"), records)
	if res.err != nil {
		t.Fatal(res.err)
	}
	want := map[int64]string{
		2: ReasonIDNumberInvalid, 3: ReasonUnknownRetiree, 4: ReasonMonthInvalid, 5: ReasonMonthInvalid,
		6: ReasonMonthInFuture, 7: ReasonAmountInvalid, 8: ReasonAmountInvalid, 9: ReasonPaidOnInvalid,
		10: ReasonKindInvalid, 11: ReasonPaidOnInvalid, 12: ReasonPaidOnInvalid, 13: ReasonBankAccountInvalid,
		14: ReasonIDNumberInvalid, 15: ReasonIDNumberInvalid,
	}
	got := res.rejections()
	// The repeated 13 and the 0 are out of order; they share their
	// indexes with others, so they are checked through the acks.
	var outOfOrder int
	for _, a := range res.acks {
		for _, rj := range a.Rejections {
			if servicetest.LooksLikeIDNumber(rj.Message) || strings.Contains(rj.Message, "1101051949") {
				t.Errorf("rejection %d message repeats the ID number: %q", rj.Index, rj.Message)
			}
			if rj.Reason == ReasonIndexOutOfOrder {
				outOfOrder++
			}
		}
	}
	if outOfOrder != 2 {
		t.Errorf("%d INDEX_OUT_OF_ORDER rejections, want 2", outOfOrder)
	}
	delete(got, 0)
	if got[13] == ReasonIndexOutOfOrder {
		got[13] = ReasonBankAccountInvalid
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rejections (-want +got):\n%s", diff)
	}
	wantSummary(t, res.summary, &pb.ImportSummary{BatchId: "bad-records", Received: 19, Accepted: 3, Rejected: 16, LastIndex: 17})
	stored := allPayments(t, h.store)
	if len(stored) != 3 || stored[retireeID(1)+"/2026-05"] == nil || stored[retireeID(1)+"/2026-06"] == nil || stored[retireeID(2)+"/2026-04"] == nil {
		t.Errorf("stored %d payments, want the 3 good ones: %v", len(stored), stored)
	}
}

func TestImportStreamRules(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{maxRecords: 5})
	ctx := h.as(bureauP)
	rec := func(i int64) *pb.PaymentRecord {
		return payment(t, i, int(i%5), fmt.Sprintf("2025-%02d", 1+i/5), 300000)
	}
	for _, tc := range []struct {
		name    string
		header  *pb.ImportHeader
		records []*pb.PaymentRecord
		code    codes.Code
		fields  []string
	}{
		{name: "no header", records: []*pb.PaymentRecord{rec(1)}, code: codes.InvalidArgument, fields: []string{"header"}},
		{name: "nothing at all", code: codes.InvalidArgument, fields: []string{"header"}},
		{name: "empty batch id", header: &pb.ImportHeader{}, records: []*pb.PaymentRecord{rec(1)}, code: codes.InvalidArgument, fields: []string{"header.batchId"}},
		{name: "batch id with a slash", header: header("2026/01"), records: []*pb.PaymentRecord{rec(1)}, code: codes.InvalidArgument, fields: []string{"header.batchId"}},
		{name: "batch id too long", header: header(strings.Repeat("b", 65)), code: codes.InvalidArgument, fields: []string{"header.batchId"}},
		{name: "unknown format", header: &pb.ImportHeader{BatchId: "b", FormatVersion: 2}, records: []*pb.PaymentRecord{rec(1)}, code: codes.InvalidArgument, fields: []string{"header.formatVersion"}},
		{name: "announced over the bound", header: &pb.ImportHeader{BatchId: "b", ExpectedRecords: 6}, records: []*pb.PaymentRecord{rec(1)}, code: codes.ResourceExhausted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := importStream(ctx, h.client, tc.header, tc.records)
			if tc.fields != nil {
				wantFields(t, res.err, tc.fields...)
			} else {
				wantStatus(t, res.err, tc.code)
			}
			if len(res.acks) != 0 {
				t.Errorf("got %d acks from a refused stream", len(res.acks))
			}
			if n := len(allPayments(t, h.store)); n != 0 {
				t.Errorf("a refused stream stored %d payments", n)
			}
		})
	}

	t.Run("a second header is refused", func(t *testing.T) {
		stream, err := h.client.ImportPayments(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*pb.ImportPaymentsRequest{
			{Message: &pb.ImportPaymentsRequest_Header{Header: header("two-headers")}},
			{Message: &pb.ImportPaymentsRequest_Header{Header: header("two-headers")}},
		} {
			if err := stream.Send(m); err != nil {
				t.Fatal(err)
			}
		}
		for {
			if _, err = stream.Recv(); err != nil {
				break
			}
		}
		wantFields(t, err, "record")
	})

	t.Run("over the bound mid-stream", func(t *testing.T) {
		var records []*pb.PaymentRecord
		for i := int64(1); i <= 8; i++ {
			records = append(records, rec(i))
		}
		res := importStream(ctx, h.client, header("too-long"), records)
		wantReason(t, res.err, codes.ResourceExhausted, reasonTooManyRecords)
		// What was acknowledged stays; nothing beyond the bound landed.
		stored := allPayments(t, h.store)
		if int64(len(stored)) < res.lastDurable() || len(stored) > 5 {
			t.Errorf("%d payments stored after acks through %d, want between them and 5", len(stored), res.lastDurable())
		}
	})
}

func TestImportAfterProjectionChange(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(bureauP)
	unknown := 100
	res := importStream(ctx, h.client, header("late"), []*pb.PaymentRecord{payment(t, 1, unknown, "2026-05", 300000)})
	if got := res.rejections()[1]; got != ReasonUnknownRetiree {
		t.Fatalf("rejection = %q, want %s", got, ReasonUnknownRetiree)
	}
	// Once registry has the retiree, the projection knows it and the same
	// record lands.
	h.change(retiree(t, h.keyer, unknown, communityA), registryv1.ChangeKind_CREATED)
	res = importStream(ctx, h.client, header("late"), []*pb.PaymentRecord{payment(t, 1, unknown, "2026-05", 300000)})
	if res.err != nil || res.summary.GetAccepted() != 1 {
		t.Fatalf("after the retiree was registered: %v, summary %v", res.err, res.summary)
	}
}
