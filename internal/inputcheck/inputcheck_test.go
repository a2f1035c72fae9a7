package inputcheck

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/fault"
)

func violations(t *testing.T, check func(*fault.Violations)) []fault.FieldViolation {
	t.Helper()
	var v fault.Violations
	check(&v)
	var verr *fault.ValidationError
	if err := v.Err(); err == nil {
		return nil
	} else if !errors.As(err, &verr) {
		t.Fatalf("err %T", err)
	}
	return verr.Fields
}

func TestCommunityID(t *testing.T) {
	for _, tc := range []struct {
		in, want string
	}{
		{"210102001001", ""},
		{"", "required"},
		{"21010200100", "must be a 12-digit division code"},
		{"2101020010011", "must be a 12-digit division code"},
		{"21010200100a", "must be a 12-digit division code"},
		{"110105001001", ""},
		{"820000000001", ""},
		{"000000000001", "must start with a province code in use (11–82, GB/T 2260)"},
		{"100102001001", "must start with a province code in use (11–82, GB/T 2260)"},
		{"160102001001", "must start with a province code in use (11–82, GB/T 2260)"},
		{"550102001001", "must start with a province code in use (11–82, GB/T 2260)"},
		{"720102001001", "must start with a province code in use (11–82, GB/T 2260)"},
		{"830102001001", "must start with a province code in use (11–82, GB/T 2260)"},
		{"990102001001", "must start with a province code in use (11–82, GB/T 2260)"},
	} {
		got := violations(t, func(v *fault.Violations) { CommunityID(v, "communityId", tc.in) })
		if IsCommunityID(tc.in) != (tc.want == "") {
			t.Errorf("IsCommunityID(%q) = %v, want %v", tc.in, !(tc.want == ""), tc.want == "")
		}
		var want []fault.FieldViolation
		if tc.want != "" {
			want = []fault.FieldViolation{{Field: "communityId", Description: tc.want}}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, diff)
		}
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name, in  string
		required  bool
		multiline bool
		want      string
	}{
		{"ok", "北市场社区", true, false, ""},
		{"optional empty", "", false, false, ""},
		{"required empty", "", true, false, "required"},
		{"bad utf-8", "\xff", false, false, "not valid UTF-8"},
		{"too long in characters", strings.Repeat("社", 11), false, false, "longer than 10 characters"},
		{"ten characters of three bytes", strings.Repeat("社", 10), false, false, ""},
		{"padded", " x", false, false, "leading or trailing white space"},
		{"control", "a\tb", false, false, "contains control characters"},
		{"newline in one line", "a\nb", false, false, "contains control characters"},
		{"newline allowed", "a\nb", false, true, ""},
		{"tab in multiline", "a\tb", false, true, "contains control characters"},
		{"carriage return in multiline", "a\r\nb", false, true, "contains control characters"},
		{"DEL", "a\x7fb", false, false, "contains control characters"},
		{"C1 control", "a\u0085b", false, false, "contains control characters"},
		{"line separator", "a\u2028b", false, true, "contains control characters"},
		{"paragraph separator", "a\u2029b", false, false, "contains control characters"},
		{"right-to-left override", "张\u202e三", false, false, "contains bidirectional formatting characters"},
		{"left-to-right embedding", "\u202a张三", false, false, "contains bidirectional formatting characters"},
		{"first-strong isolate", "张\u2068三", false, false, "contains bidirectional formatting characters"},
		{"right-to-left mark", "张\u200f三", false, false, "contains bidirectional formatting characters"},
		{"arabic letter mark", "a\u061cb", false, false, "contains bidirectional formatting characters"},
		{"zero-width space", "张\u200b三", false, false, "contains invisible formatting characters (such as zero-width spaces)"},
		{"zero-width joiner", "张\u200d三", false, false, "contains invisible formatting characters (such as zero-width spaces)"},
		{"word joiner", "张\u2060三", false, false, "contains invisible formatting characters (such as zero-width spaces)"},
		{"byte-order mark", "\ufeff张三", false, false, "contains invisible formatting characters (such as zero-width spaces)"},
		{"soft hyphen", "a\u00adb", false, false, "contains invisible formatting characters (such as zero-width spaces)"},
		{"only zero-width", "\u200b\u200b", true, false, "contains invisible formatting characters (such as zero-width spaces)"},
		{"non-character FDD0", "a\ufdd0", false, false, "contains Unicode non-characters"},
		{"non-character FFFE", "a\ufffeb", false, false, "contains Unicode non-characters"},
		{"non-character of plane 16", "a\U0010ffff", false, false, "contains Unicode non-characters"},
		{"ideographic space inside", "张\u3000三", false, false, ""},
		{"ideographic variation sequence", "葛\U000e0100", false, false, ""},
		{"emoji", "太极拳🥋", false, false, ""},
		{"ideographic space only", "\u3000", true, false, "leading or trailing white space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := violations(t, func(v *fault.Violations) {
				if tc.multiline {
					MultilineText(v, "notes", tc.in, tc.required, 10)
				} else {
					Text(v, "notes", tc.in, tc.required, 10)
				}
			})
			var want []fault.FieldViolation
			if tc.want != "" {
				want = []fault.FieldViolation{{Field: "notes", Description: tc.want}}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewOpaqueID(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := NewOpaqueID()
		if !IsOpaqueID(id) || seen[id] {
			t.Fatalf("NewOpaqueID() = %q: shape ok %v, seen before %v", id, IsOpaqueID(id), seen[id])
		}
		seen[id] = true
	}
}

// FuzzText checks Text against a restatement of its rule, character by
// character, and that it never panics on any input.
func FuzzText(f *testing.F) {
	for _, seed := range []string{"北市场社区", "", " x", "a\nb", "\xff", "张\u202e三", "\u200b", "a\ufffe", "葛\U000e0100", "a\u2028b", strings.Repeat("社", 11)} {
		f.Add(seed, false)
		f.Add(seed, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		const max = 10
		got := violations(t, func(v *fault.Violations) {
			if multiline {
				MultilineText(v, "notes", s, false, max)
			} else {
				Text(v, "notes", s, false, max)
			}
		})
		want := utf8.ValidString(s) && utf8.RuneCountInString(s) <= max && strings.TrimSpace(s) == s
		for _, r := range s {
			if r == '\n' && multiline {
				continue
			}
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp) || r >= 0xFDD0 && r <= 0xFDEF || r%0x10000 >= 0xFFFE {
				want = false
			}
		}
		if (len(got) == 0) != want {
			t.Fatalf("Text(%q, multiline %v) = %v, want accepted %v", s, multiline, got, want)
		}
		if len(got) > 1 {
			t.Fatalf("Text(%q) reported %d problems, want at most one", s, len(got))
		}
	})
}

func TestAreaCodes(t *testing.T) {
	for _, tc := range []struct {
		in               string
		street, district bool
	}{
		{"210102001", true, false},
		{"210102", false, true},
		{"210102001001", false, false},
		{"21010200", false, false},
		{"2101020", false, false},
		{"21010200a", false, false},
		{"99010200 ", false, false},
		{"990102001", false, false},
		{"990102", false, false},
		{"", false, false},
	} {
		if got := IsStreetCode(tc.in); got != tc.street {
			t.Errorf("IsStreetCode(%q) = %v, want %v", tc.in, got, tc.street)
		}
		if got := IsDistrictCode(tc.in); got != tc.district {
			t.Errorf("IsDistrictCode(%q) = %v, want %v", tc.in, got, tc.district)
		}
	}
}

// TestOpaqueIDGroup: a group's ids are opaque ids, distinct, and share
// their first 8 characters; another group's do not share them.
func TestOpaqueIDGroup(t *testing.T) {
	t.Parallel()
	g := NewOpaqueIDGroup()
	seen := map[string]bool{}
	first := g.Next()
	for range 10_000 {
		id := g.Next()
		if !IsOpaqueID(id) {
			t.Fatalf("%q is not an opaque id", id)
		}
		if seen[id] {
			t.Fatalf("%q made twice", id)
		}
		seen[id] = true
		if id[:8] != first[:8] {
			t.Fatalf("%q and %q do not share a prefix", id, first)
		}
	}
	if other := NewOpaqueIDGroup().Next(); other[:8] == first[:8] {
		t.Errorf("two groups share the prefix %q", first[:8])
	}
}
