package inputcheck

import (
	"errors"
	"strings"
	"testing"

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
	} {
		got := violations(t, func(v *fault.Violations) { CommunityID(v, "communityId", tc.in) })
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
