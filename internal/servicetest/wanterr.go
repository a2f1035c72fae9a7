package servicetest

import (
	"errors"
	"testing"
)

// WantErr checks err against the error a table case expects: with want
// set, err must match it with errors.Is; with want nil, err must be nil.
// It reports whether want was set, so that such a case can stop there.
func WantErr(t testing.TB, err, want error) (wanted bool) {
	t.Helper()
	if want != nil {
		if !errors.Is(err, want) {
			t.Fatalf("error %v, want %v", err, want)
		}
		return true
	}
	if err != nil {
		t.Fatal(err)
	}
	return false
}
