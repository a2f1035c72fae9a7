package inputcheck

import (
	"regexp"
	"strings"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// phoneRE is the shape of a phone number as people write it.
var phoneRE = regexp.MustCompile(`^\+?[0-9][0-9 -]{4,18}[0-9]$`)

// IsPhone reports whether s has the shape of a phone number (see Phone).
func IsPhone(s string) bool { return phoneRE.MatchString(s) }

// Phone checks an optional phone number: 6 to 20 digits, spaces or
// dashes, with an optional leading +. The description never repeats it.
func Phone(v *fault.Violations, field, s string) {
	if s != "" && !phoneRE.MatchString(s) {
		v.Add(field, "must be 6 to 20 digits, spaces or dashes, optionally with a leading +")
	}
}

// MaskPhone keeps the first three and last four characters of a phone
// number, enough to recognise it and too few to call it.
func MaskPhone(s string) string {
	if s == "" {
		return ""
	}
	if len(s) < 8 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-7) + s[len(s)-4:]
}
