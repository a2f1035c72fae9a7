package requestid

import (
	"regexp"
	"strings"
	"testing"
)

// shaped is the rule for client ids, written independently of Valid as
// the test oracle: a UUID or a ULID, in either case.
var shaped = regexp.MustCompile(`^(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-7][0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{25})$`)

// generated is the shape of the ids New makes: version 4 UUIDs.
var generated = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestFromClient(t *testing.T) {
	tests := []struct {
		name string
		sent string
		keep bool // the sent id is used as is
	}{
		{name: "absent", sent: ""},
		{name: "uuid", sent: "3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6e", keep: true},
		{name: "uuid upper case", sent: "3F6C1D2E-7A0B-4C55-9D0E-1F2A3B4C5D6E", keep: true},
		{name: "uuid v7", sent: "01890a5d-ac96-774b-bcce-b302099a8057", keep: true},
		{name: "ulid", sent: "01ARZ3NDEKTSV4RRFFQ69G5FAV", keep: true},
		{name: "ulid lower case", sent: "01arz3ndektsv4rrffq69g5fav", keep: true},
		{name: "ulid largest time", sent: "7ZZZZZZZZZZZZZZZZZZZZZZZZZ", keep: true},
		{name: "ulid past its range", sent: "8ZZZZZZZZZZZZZZZZZZZZZZZZZ"},
		{name: "ulid with I", sent: "01ARZ3NDEKTSV4RRFFQ69G5FAI"},
		{name: "ulid with U", sent: "01ARZ3NDEKTSV4RRFFQ69G5FAU"},
		{name: "uuid without dashes", sent: "3f6c1d2e7a0b4c559d0e1f2a3b4c5d6e"},
		{name: "uuid with a non-hex digit", sent: "3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6g"},
		{name: "uuid dashes moved", sent: "3f6c1d2e7-a0b-4c55-9d0e-1f2a3b4c5d6e"},
		{name: "uuid in braces", sent: "{3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6e}"},
		{name: "free-form id", sent: "req-1.A_b"},
		{name: "hex of 16", sent: "0123456789abcdef"},
		{name: "ID number", sent: "11010519491231002X"},
		{name: "phone number", sent: "13912345678"},
		{name: "36 letters", sent: strings.Repeat("a", 36)},
		{name: "26 letters with a space", sent: "01ARZ3NDEKTSV4RRFFQ69G5FA "},
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
				t.Errorf("FromClient(%q) = %q, want a fresh version 4 UUID", tc.sent, got)
			}
		})
	}
}

func TestNewIsFreshAndValid(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		id := New()
		if !generated.MatchString(id) || !Valid(id) {
			t.Fatalf("New() = %q, want a version 4 UUID that Valid accepts", id)
		}
		if seen[id] {
			t.Fatalf("New() repeated %q", id)
		}
		seen[id] = true
	}
}

func FuzzFromClient(f *testing.F) {
	for _, s := range []string{
		"", "abc", "req-1.A_b", strings.Repeat("a", 64), "11010519491231002X",
		"3f6c1d2e-7a0b-4c55-9d0e-1f2a3b4c5d6e", "01ARZ3NDEKTSV4RRFFQ69G5FAV", "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
		"a b", "ü", "\x00", `"}`, "a\nb", "0123456789abcdef",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got := FromClient(in)
		if !shaped.MatchString(got) {
			t.Fatalf("FromClient(%q) = %q, not a UUID or ULID", in, got)
		}
		kept := got == in
		if want := shaped.MatchString(in); kept != want {
			t.Fatalf("FromClient(%q) = %q: kept %v, want kept %v", in, got, kept, want)
		}
	})
}
