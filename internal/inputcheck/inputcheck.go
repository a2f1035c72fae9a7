// Package inputcheck holds the field rules several services apply to
// their input: free text and community ids. Each adds a violation to an
// fault.Violations, so a request's every problem is reported at once.
package inputcheck

import (
	"crypto/rand"
	"encoding/base32"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// CommunityIDLen is the length of a community id: the 12-digit statistical
// division code.
const CommunityIDLen = 12

// IsCommunityID reports whether s is a 12-digit statistical division code.
func IsCommunityID(s string) bool {
	if len(s) != CommunityIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CommunityID requires field to hold a community id.
func CommunityID(v *fault.Violations, field, s string) {
	switch {
	case s == "":
		v.Add(field, "required")
	case !IsCommunityID(s):
		v.Add(field, "must be a 12-digit division code")
	}
}

// Text checks a single-line free-text field: present when required, valid
// UTF-8, at most max characters, no leading or trailing white space, no
// control characters.
func Text(v *fault.Violations, field, s string, required bool, max int) {
	text(v, field, s, required, max, unicode.IsControl)
}

// MultilineText is Text that allows newlines.
func MultilineText(v *fault.Violations, field, s string, required bool, max int) {
	text(v, field, s, required, max, func(r rune) bool { return r != '\n' && unicode.IsControl(r) })
}

func text(v *fault.Violations, field, s string, required bool, max int, control func(rune) bool) {
	switch {
	case s == "" && required:
		v.Add(field, "required")
	case !utf8.ValidString(s):
		v.Add(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Addf(field, "longer than %d characters", max)
	case strings.TrimSpace(s) != s:
		v.Add(field, "leading or trailing white space")
	case strings.IndexFunc(s, control) >= 0:
		v.Add(field, "contains control characters")
	}
}

// OpaqueIDLen is the length of the opaque ids the services give retirees,
// venues and activities: 10 random bytes in lowercase base32.
const OpaqueIDLen = 16

// opaqueIDEncoding writes opaque ids; its alphabet is what IsOpaqueID
// accepts.
var opaqueIDEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewOpaqueID returns a new random opaque id (see OpaqueIDLen): nothing
// about the object can be read from it or guessed from a neighbour's.
func NewOpaqueID() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return opaqueIDEncoding.EncodeToString(b[:])
}

// IsOpaqueID reports whether s has the shape of an opaque id (see
// OpaqueIDLen), so that a malformed id never reaches a key.
func IsOpaqueID(s string) bool {
	if len(s) != OpaqueIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
