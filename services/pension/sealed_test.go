package pension

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// TestStoredPaymentsRevealNoBankAccount imports payments, and corrections
// of them, each with its own bank-account fragment, stops the service and
// greps its file for the fragments: none is there, while the service
// still answers them.
func TestStoredPaymentsRevealNoBankAccount(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	account := func(n int, m string) string { return fmt.Sprintf("6222******%s%02d", m[5:7], 10+n) }
	var records []*pb.PaymentRecord
	var want []string
	for n := range 4 {
		for i, m := range []string{"2026-01", "2026-02", "2026-03"} {
			r := payment(t, int64(len(records)+1), n, m, 300000)
			r.BankAccountMasked = account(n, m)
			records = append(records, r)
			want = append(want, r.BankAccountMasked)
			if i == 2 { // corrected: the first version goes to the versions
				c := payment(t, int64(len(records)+1), n, m, 310000)
				c.BankAccountMasked = account(n, m) + "9"
				records = append(records, c)
				want = append(want, c.BankAccountMasked)
			}
		}
	}
	res := importStream(h.as(bureauP), h.client, header("sealed"), records)
	if res.err != nil {
		t.Fatal(res.err)
	}
	if res.summary.Corrections != 4 {
		t.Fatalf("summary %v, want 4 corrections", res.summary)
	}
	versions, err := h.client.ListPaymentVersions(h.as(clerkP), &pb.ListPaymentVersionsRequest{RetireeId: retireeID(1), Month: "2026-03"})
	if err != nil {
		t.Fatal(err)
	}
	if len(versions.Versions) != 2 || versions.Versions[0].BankAccountMasked != account(1, "2026-03")+"9" || versions.Versions[1].BankAccountMasked != account(1, "2026-03") {
		t.Errorf("versions %v, want the corrected account and the first", versions.Versions)
	}
	h.close()
	data, err := os.ReadFile(h.path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range want {
		if bytes.Contains(data, []byte(a)) {
			t.Errorf("the file holds bank account %s in plain text", a)
		}
	}
}
