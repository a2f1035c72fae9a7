package pension

import (
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// FuzzCheckRecord feeds arbitrary records to the checker: it must not
// panic, must reject or key every record, and its messages must never
// carry the ID number or a run of its digits.
func FuzzCheckRecord(f *testing.F) {
	f.Add(int64(1), "11010519491231002X", "2026-05", int64(300000), int64(0), "2026-05-15", "6222****1234")
	f.Add(int64(2), "110105194912310021", "2026-13", int64(-1), int64(10_000_001), "2026-02-30", "abc")
	f.Add(int64(0), "110105491231002", "1949-12", int64(0), int64(0), "", "")
	f.Add(int64(3), " 11010519491231002x ", "2026-06", int64(1), int64(1), "2026-07-31", "**")
	keyer := testKeyer(f)
	fixedNow := func() time.Time { return testNow }
	f.Fuzz(func(t *testing.T, index int64, id, month string, basic, other int64, paidOn, bank string) {
		checker := &recordChecker{keyer: keyer, now: fixedNow}
		r := new(paymentKind).check(checker, &pb.PaymentRecord{Index: index, IdNumber: id, Month: month, BasicFen: basic, OtherFen: other, PaidOn: paidOn, BankAccountMasked: bank})
		if (r.reason == "") == (r.idKey == nil) {
			t.Fatalf("record with reason %q and key %x", r.reason, r.idKey)
		}
		if r.reason == "" && (r.paidOn != paidOn || r.bank != bank || r.basic != basic) {
			t.Fatalf("accepted record changed: %+v", r)
		}
		if trimmed := strings.TrimSpace(id); len(trimmed) >= 8 && strings.Contains(r.message, trimmed) {
			t.Fatalf("message %q repeats the ID number", r.message)
		}
		if servicetest.LooksLikeIDNumber(r.message) {
			t.Fatalf("message %q looks like an ID number", r.message)
		}
	})
}

func TestValidBankAccount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"", true},
		{"6222************1234", true},
		{"622202******1234", true},
		{"****1234", true},
		{"6222020012341234", false},                  // a full account number
		{"6222020012341234***", false},               // too many digits shown
		{"6222-****-1234", false},                    // not digits and '*'
		{"6222***1234", false},                       // fewer than four '*'
		{"*********************************", false}, // over 32 characters
	} {
		if got := validBankAccount(tc.in); got != tc.want {
			t.Errorf("validBankAccount(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

// FuzzCheckCertificationRecord feeds arbitrary certification records to
// the checker: it must not panic, must reject or key every record, keep
// an accepted record's fields, and never repeat the ID number.
func FuzzCheckCertificationRecord(f *testing.F) {
	f.Add(int64(1), "11010519491231002X", "2026-05-15", int32(4), "DM/2026/1")
	f.Add(int64(2), "110105194912310021", "2026-02-30", int32(8), "a b")
	f.Add(int64(0), "110105491231002", "1999-12-31", int32(0), "")
	f.Add(int64(3), " 11010519491231002x ", "2026-06-16", int32(99), "长")
	keyer := testKeyer(f)
	fixedNow := func() time.Time { return testNow }
	f.Fuzz(func(t *testing.T, index int64, id, day string, channel int32, reference string) {
		checker := &recordChecker{keyer: keyer, now: fixedNow}
		in := &pb.CertificationRecord{Index: index, IdNumber: id, CertifiedOn: day, Channel: pb.CertificationMethod(channel), Reference: reference}
		r := new(certificationKind).check(checker, in)
		if (r.reason == "") == (r.idKey == nil) {
			t.Fatalf("record with reason %q and key %x", r.reason, r.idKey)
		}
		if r.reason == "" && (r.day != day || r.reference != reference || int32(r.channel) != channel || len(reference) > maxReferenceLen) {
			t.Fatalf("accepted record changed: %+v", r)
		}
		checkRejectionMessage(t, id, r.message)
	})
}

// FuzzCheckDecisionRecord does the same for decision records.
func FuzzCheckDecisionRecord(f *testing.F) {
	f.Add(int64(1), "11010519491231002X", int32(1), "2026-05", int32(1), "no answer", "D-1")
	f.Add(int64(2), "11010519491231002X", int32(2), "2026-07", int32(0), "", "")
	f.Add(int64(3), "11010519491231002X", int32(2), "2026-08", int32(5), "two\nlines", "bad ref")
	f.Add(int64(0), "110105491231002", int32(9), "26-05", int32(42), " x", "")
	keyer := testKeyer(f)
	fixedNow := func() time.Time { return testNow }
	f.Fuzz(func(t *testing.T, index int64, id string, action int32, m string, reason int32, note, reference string) {
		checker := &recordChecker{keyer: keyer, now: fixedNow}
		in := &pb.DecisionRecord{Index: index, IdNumber: id, Action: pb.DecisionAction(action), EffectiveMonth: m,
			Reason: pb.DecisionReason(reason), Note: note, Reference: reference}
		r := decisionKind{}.check(checker, in)
		if (r.reason == "") == (r.idKey == nil) {
			t.Fatalf("record with reason %q and key %x", r.reason, r.idKey)
		}
		if r.reason == "" && (r.in.month.String() != m || r.in.note != note || r.in.reference != reference ||
			(r.in.action == pb.DecisionAction_RESTORE) != (r.in.reason == pb.DecisionReason_DECISION_REASON_UNSPECIFIED)) {
			t.Fatalf("accepted record changed or inconsistent: %+v", r)
		}
		checkRejectionMessage(t, id, r.message)
	})
}

// checkRejectionMessage fails t when a rejection message repeats the ID
// number or looks like one.
func checkRejectionMessage(t *testing.T, id, message string) {
	t.Helper()
	if trimmed := strings.TrimSpace(id); len(trimmed) >= 8 && strings.Contains(message, trimmed) {
		t.Fatalf("message %q repeats the ID number", message)
	}
	if servicetest.LooksLikeIDNumber(message) {
		t.Fatalf("message %q looks like an ID number", message)
	}
}
