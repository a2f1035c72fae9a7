package httpmethod

import "testing"

func TestLabel(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"GET": "GET", "DELETE": "DELETE", "OPTIONS": "OPTIONS", "PROPFIND": "OTHER", "get": "OTHER", "X-anything-a-client-sends": "OTHER"} {
		if got := Label(in); got != want {
			t.Errorf("Label(%q) = %q, want %q", in, got, want)
		}
	}
}
