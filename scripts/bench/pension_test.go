package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLastMonths(t *testing.T) {
	got := lastMonths(time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC), 3)
	want := []benchMonth{{"2025-10", "2025-10-15"}, {"2025-11", "2025-11-15"}, {"2025-12", "2025-12-15"}}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(benchMonth{})); diff != "" {
		t.Errorf("lastMonths (-want +got):\n%s", diff)
	}
}

func TestBenchIDNumbersMatchTheLoadedRetirees(t *testing.T) {
	ids, err := benchIDNumbers(20)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for n, id := range ids {
		r, err := benchRetiree(n, []string{"c"}, []string{"e"})
		if err != nil {
			t.Fatal(err)
		}
		if id != r.GetIdNumber() || seen[id] {
			t.Fatalf("ID number %d does not match the loaded retiree's, or repeats", n)
		}
		seen[id] = true
	}
	p := benchPayment(7, ids[3], lastMonths(time.Now(), 1)[0], benchBankAccounts(), 3)
	if p.Index != 7 || p.BasicFen <= 0 || len(p.BankAccountMasked) != 20 {
		t.Errorf("benchPayment = %v", p)
	}
}

func TestLastDays(t *testing.T) {
	got := lastDays(time.Date(2026, 3, 2, 23, 0, 0, 0, time.UTC), 3)
	want := []string{"2026-02-27", "2026-02-28", "2026-03-01"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("lastDays (-want +got):\n%s", diff)
	}
}
