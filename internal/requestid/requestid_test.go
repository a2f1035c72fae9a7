package requestid

import (
	"regexp"
	"strings"
	"testing"
)

// sane is the rule for client ids, written independently of Valid as the
// test oracle.
var sane = regexp.MustCompile(`^[A-Za-z0-9._-]{1,64}$`)

// generated is the shape of the ids New makes.
var generated = regexp.MustCompile(`^[0-9a-f]{16}$`)

func TestFromClient(t *testing.T) {
	long64 := strings.Repeat("a", MaxLen)
	tests := []struct {
		name string
		sent string
		keep bool // the sent id is used as is
	}{
		{name: "absent", sent: ""},
		{name: "plain", sent: "req-1.A_b", keep: true},
		{name: "uuid", sent: "3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6e", keep: true},
		{name: "64 chars", sent: long64, keep: true},
		{name: "65 chars", sent: long64 + "a"},
		{name: "space", sent: "a b"},
		{name: "quote and newline", sent: "evil\"\nid"},
		{name: "log injection", sent: `a","level":"error`},
		{name: "non-ASCII", sent: "ü"},
		{name: "NUL", sent: "\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Valid(tc.sent); got != tc.keep {
				t.Errorf("Valid(%q) = %v, want %v", tc.sent, got, tc.keep)
			}
			got := FromClient(tc.sent)
			if tc.keep {
				if got != tc.sent {
					t.Errorf("FromClient(%q) = %q, want it kept", tc.sent, got)
				}
				return
			}
			if !generated.MatchString(got) {
				t.Errorf("FromClient(%q) = %q, want a fresh 16 hex characters", tc.sent, got)
			}
		})
	}
}

func TestNewIsFreshAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !generated.MatchString(id) || !Valid(id) {
			t.Fatalf("New() = %q, want 16 hex characters that Valid accepts", id)
		}
		if seen[id] {
			t.Fatalf("New() repeated %q", id)
		}
		seen[id] = true
	}
}

func FuzzFromClient(f *testing.F) {
	for _, s := range []string{
		"", "abc", "req-1.A_b", strings.Repeat("a", 64), strings.Repeat("a", 65),
		"a b", "ü", "\x00", `"}`, "a\nb", "0123456789abcdef",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := FromClient(in)
		if !sane.MatchString(got) {
			t.Fatalf("FromClient(%q) = %q, not a sane id", in, got)
		}
		kept := got == in
		if want := sane.MatchString(in); kept != want {
			t.Fatalf("FromClient(%q) = %q: kept %v, want kept %v", in, got, kept, want)
		}
	})
}
