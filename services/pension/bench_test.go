package pension

import (
	"testing"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// benchRetirees is how many retirees the import benchmarks pay.
const benchRetirees = 10_000

func benchEnv(b *testing.B) *env {
	b.Helper()
	keyer := testKeyer(b)
	states := make([]*registryv1.RetireeState, benchRetirees)
	for n := range states {
		states[n] = retiree(b, keyer, n, communityA)
	}
	return newEnv(b, states...)
}

// benchRecords returns n records, month after month for every retiree,
// as a bureau's monthly files would be concatenated.
func benchRecords(b testing.TB, n int) []*pb.PaymentRecord {
	b.Helper()
	out := make([]*pb.PaymentRecord, n)
	for i := range out {
		k := i % benchRetirees
		m := month(2000*12) + month(i/benchRetirees)
		out[i] = payment(b, int64(i+1), k, m.String(), 300000+int64(k))
	}
	return out
}

// BenchmarkImportCommit measures one record through the checker and the
// group commit (durable: one fsync per group of maxGroup records).
func BenchmarkImportCommit(b *testing.B) {
	e := benchEnv(b)
	records := benchRecords(b, b.N)
	checker := &recordChecker{keyer: e.keyer, now: e.now.Now}
	kind := new(paymentKind)
	im := newImporter(e.store, kind, rpcImportPayments, "bench", Actor{Subject: "bench", Role: "bureau"})
	group := make([]paymentRecord, 0, maxGroup)
	b.ReportAllocs()
	b.ResetTimer()
	for _, in := range records {
		group = append(group, kind.check(checker, in))
		if len(group) == maxGroup {
			if _, err := im.commit(group); err != nil {
				b.Fatal(err)
			}
			group = group[:0]
		}
	}
	if len(group) > 0 {
		if _, err := im.commit(group); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if im.sum.Accepted != int64(b.N) {
		b.Fatalf("accepted %d of %d", im.sum.Accepted, b.N)
	}
}

// BenchmarkImportStream measures one record through ImportPayments over
// bufconn: the gRPC stream, the receiving goroutine and the commits.
func BenchmarkImportStream(b *testing.B) {
	h := newHarness(b, benchEnv(b), harnessOptions{})
	records := benchRecords(b, b.N)
	ctx := h.as(bureauP)
	b.ReportAllocs()
	b.ResetTimer()
	res := importStream(ctx, h.client, header("bench"), records)
	b.StopTimer()
	if res.err != nil || res.summary.GetAccepted() != int64(b.N) {
		b.Fatalf("import: %v, summary %v", res.err, res.summary)
	}
}

// benchCertifications returns n certification records, day after day for
// every retiree, as a bureau's data-matching runs would be sent.
func benchCertifications(b testing.TB, n int) []*pb.CertificationRecord {
	b.Helper()
	out := make([]*pb.CertificationRecord, n)
	first := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		k := i % benchRetirees
		day := formatDate(first.AddDate(0, 0, i/benchRetirees))
		out[i] = certRecord(b, int64(i+1), k, day, pb.CertificationMethod_DATA_MATCH, "")
	}
	return out
}

// BenchmarkImportCertificationsCommit measures one certification through
// the checker and the group commit (addCertification and the due-date
// index; one audit entry and one fsync per group of maxGroup records).
func BenchmarkImportCertificationsCommit(b *testing.B) {
	e := benchEnv(b)
	records := benchCertifications(b, b.N)
	checker := &recordChecker{keyer: e.keyer, now: e.now.Now}
	kind := new(certificationKind)
	im := newImporter(e.store, kind, rpcImportCertifications, "bench", Actor{Subject: "bench", Role: "bureau"})
	group := make([]certificationRecord, 0, maxGroup)
	b.ReportAllocs()
	b.ResetTimer()
	for _, in := range records {
		group = append(group, kind.check(checker, in))
		if len(group) == maxGroup {
			if _, err := im.commit(group); err != nil {
				b.Fatal(err)
			}
			group = group[:0]
		}
	}
	if len(group) > 0 {
		if _, err := im.commit(group); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if im.sum.Accepted != int64(b.N) {
		b.Fatalf("accepted %d of %d", im.sum.Accepted, b.N)
	}
}

// BenchmarkAnomalyPage measures a page of 100 of a community's payment
// anomalies for a month, pages in turn: benchRetirees retirees with a
// year of payments and a certification each, 2 % of whom were paid a
// fifth less in the last month.
func BenchmarkAnomalyPage(b *testing.B) {
	e := benchEnv(b)
	const months = 12
	first := month(2025 * 12)
	records := make([]*pb.PaymentRecord, 0, months*benchRetirees)
	for m := range months {
		for k := range benchRetirees {
			base := int64(300000 + k)
			if m == months-1 && k%50 == 0 {
				base = base * 4 / 5
			}
			records = append(records, payment(b, int64(len(records)+1), k, (first+month(m)).String(), base))
		}
	}
	h := newHarness(b, e, harnessOptions{})
	if res := importStream(h.as(bureauP), h.client, header("bench"), records); res.err != nil {
		b.Fatal(res.err)
	}
	certs := make([]*pb.CertificationRecord, benchRetirees)
	for k := range certs {
		certs[k] = certRecord(b, int64(k+1), k, "2025-06-10", pb.CertificationMethod_DATA_MATCH, "")
	}
	if res := certificationFraming.run(h.as(bureauP), h.client, header("bench-dm"), certs); res.err != nil || res.summary.GetAccepted() != benchRetirees {
		b.Fatalf("certifications: %v, summary %v", res.err, res.summary)
	}
	f := AnomalyFilter{CommunityID: communityA, Month: first + months - 1, DropShare: 0.1}
	var after []byte
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		list, next, err := e.store.ListAnomalies(f, 100, after)
		if err != nil {
			b.Fatal(err)
		}
		if len(list) == 0 && next == nil {
			b.Fatal("no anomalies")
		}
		after = next
	}
}
