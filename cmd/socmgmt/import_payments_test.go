package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// paymentValues are the values of a payment row in the order of
// paymentColumns, with fields changed by the caller.
func paymentValues(change func(v []string)) []string {
	v := []string{"11010519491231002X", "2026-05", "350000", "87500", "35000", "1000", "2026-05-15", "6222****1234", ""}
	if change != nil {
		change(v)
	}
	return v
}

func TestParsePaymentRow(t *testing.T) {
	want := &pensionv1.PaymentRecord{Index: 7, IdNumber: "11010519491231002X", Month: "2026-05", BasicFen: 350000, PersonalAccountFen: 87500,
		TransitionalFen: 35000, OtherFen: 1000, PaidOn: "2026-05-15", BankAccountMasked: "6222****1234"}
	got, rj := parsePaymentRow(7, paymentValues(nil))
	if rj != nil {
		t.Fatalf("rejected: %v", rj)
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("record (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		name   string
		change func(v []string)
		kind   pensionv1.PaymentKind
		reason string
	}{
		{"kind in English", func(v []string) { v[payKind] = "arrears" }, pensionv1.PaymentKind_ARREARS, ""},
		{"kind in Chinese", func(v []string) { v[payKind] = "调整补发" }, pensionv1.PaymentKind_ADJUSTMENT, ""},
		{"kind regular", func(v []string) { v[payKind] = "正常发放" }, pensionv1.PaymentKind_REGULAR, ""},
		{"empty amounts are 0", func(v []string) { v[payPersonal], v[payOther] = "", "" }, 0, ""},
		{"unknown kind", func(v []string) { v[payKind] = "BONUS" }, 0, "KIND_INVALID"},
		{"kind by number", func(v []string) { v[payKind] = "2" }, 0, "KIND_INVALID"},
		{"unspecified by name", func(v []string) { v[payKind] = "PAYMENT_KIND_UNSPECIFIED" }, 0, "KIND_INVALID"},
		{"yuan", func(v []string) { v[payBasic] = "3500.00" }, 0, reasonAmountInvalid},
		{"thousands", func(v []string) { v[payTransitional] = "35,000" }, 0, reasonAmountThousands},
		{"scientific ID", func(v []string) { v[payID] = "1.10105E+17" }, 0, reasonIDNumberAsNumber},
		{"month as a date", func(v []string) { v[payMonth] = "2026/5/1" }, 0, reasonDateNotISO},
		{"paid_on as a serial", func(v []string) { v[payPaidOn] = "46157" }, 0, reasonDateAsNumber},
		{"bad month goes to the service", func(v []string) { v[payMonth] = "2026-13" }, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rj := parsePaymentRow(1, paymentValues(tc.change))
			switch {
			case tc.reason == "" && rj != nil:
				t.Fatalf("rejected: %v", rj)
			case tc.reason != "" && (rj == nil || rj.code != tc.reason):
				t.Fatalf("got %v, %v; want rejected %s", got, rj, tc.reason)
			case tc.reason == "" && got.GetKind() != tc.kind:
				t.Errorf("kind %v, want %v", got.GetKind(), tc.kind)
			}
			if rj != nil && strings.Contains(rj.message, "11010519491231002X") {
				t.Errorf("message shows the ID number: %s", rj.message)
			}
		})
	}
}

// FuzzParsePaymentRow checks the row parser on its own: no panic, an
// accepted row keeps its ID number, month and date as given, and a
// rejection has a code and a message that repeats no long run of digits.
func FuzzParsePaymentRow(f *testing.F) {
	f.Add("11010519491231002X", "2026-05", "350000", "87500", "35000", "1000", "2026-05-15", "6222****1234", "")
	f.Add(" x ", "", "", "-1", "+5", "0x10", "", "", "补发")
	f.Add("a", "b", "9223372036854775808", "1", "1", "1", "c", "d", "ARREARS")
	f.Add("1.10105E+17", "May-26", "350,000", "3500.00", "", "", "2026/7/15", "", "regular")
	f.Add("110105194912310000", "46143", "", "", "", "", "46218.5", "", "")
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g, h, i, k string) {
		v := []string{a, b, c, d, e, g, h, i, k}
		r, rj := parsePaymentRow(3, v)
		if rj != nil {
			if rj.code == "" || rj.message == "" {
				t.Fatalf("rejection without code or message: %+v", rj)
			}
			checkNoInputDigits(t, rj.message, strings.Join(v, "\x00"))
			return
		}
		if r.Index != 3 || r.IdNumber != a || r.Month != b || r.PaidOn != h {
			t.Fatalf("parsed %v from %q", r, v)
		}
	})
}
