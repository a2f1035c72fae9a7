package reasontest

import (
	"errors"
	"fmt"
	"testing"
)

var errInvalid = errors.New("invalid")

type reasonError struct{ Reason string }

func (e *reasonError) Error() string        { return e.Reason }
func (e *reasonError) Is(target error) bool { return target == errInvalid }

func reasonOf(e *reasonError) string { return e.Reason }

// recorder stands in for a test so that a failing check can be observed.
type recorder struct {
	testing.TB
	failed bool
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) Fatalf(string, ...any) { r.failed = true; panic(r) }
func (r *recorder) check(err error, want string) (failed bool) {
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failed = r.failed
	}()
	WantReason(r, err, reasonOf, want, errInvalid)
	return false
}

func TestWantReason(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantFailed bool
	}{
		{"matching reason", fmt.Errorf("wrapped: %w", &reasonError{Reason: "R"}), false},
		{"other reason", &reasonError{Reason: "S"}, true},
		{"not the error type", errInvalid, true},
		{"nil", nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{TB: t}
			if got := r.check(tc.err, "R"); got != tc.wantFailed {
				t.Errorf("WantReason(%v) failed = %v, want %v", tc.err, got, tc.wantFailed)
			}
		})
	}
}
