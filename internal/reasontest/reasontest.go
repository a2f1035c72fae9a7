// Package reasontest checks the typed validation errors of the identifier
// packages (idnumber, creditcode): an *Error carrying a stable Reason that
// also matches the package's ErrInvalid sentinel. It is separate from
// servicetest because servicetest imports those packages, so their tests
// cannot import it.
package reasontest

import (
	"errors"
	"testing"
)

// WantReason fails t unless err is an E (found with errors.As) whose
// reason is want and which matches invalid with errors.Is. reason reads the
// Reason field, which the packages' Error types share without an interface.
func WantReason[E error](t testing.TB, err error, reason func(E) string, want string, invalid error) {
	t.Helper()
	var e E
	if !errors.As(err, &e) {
		t.Fatalf("error = %v, want reason %s", err, want)
	}
	if got := reason(e); got != want {
		t.Errorf("reason = %s, want %s", got, want)
	}
	if !errors.Is(err, invalid) {
		t.Errorf("errors.Is(%v, %v) = false", err, invalid)
	}
}
