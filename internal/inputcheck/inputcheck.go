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

// provinces are the first two digits of the GB/T 2260 division codes in
// use: the provinces, autonomous regions and municipalities (11–65),
// Taiwan (71), Hong Kong (81) and Macao (82). A community id starting with
// anything else names no place.
var provinces = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// IsCommunityID reports whether s is a 12-digit statistical division code
// whose first two digits are a province code in use.
func IsCommunityID(s string) bool {
	return allDigits(s, CommunityIDLen) && provinces[s[:2]]
}

// StreetCodeLen and DistrictCodeLen are the lengths of a street office's
// and a district's division codes: the first 9 and the first 6 digits of
// the community ids under them.
const (
	StreetCodeLen   = 9
	DistrictCodeLen = 6
)

// IsStreetCode reports whether s is a street office's 9-digit division
// code whose first two digits are a province code in use.
func IsStreetCode(s string) bool {
	return allDigits(s, StreetCodeLen) && provinces[s[:2]]
}

// IsDistrictCode reports whether s is a district's 6-digit division code
// whose first two digits are a province code in use.
func IsDistrictCode(s string) bool {
	return allDigits(s, DistrictCodeLen) && provinces[s[:2]]
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// CommunityID requires field to hold a community id (see IsCommunityID).
func CommunityID(v *fault.Violations, field, s string) {
	switch {
	case s == "":
		v.Add(field, "required")
	case !allDigits(s, CommunityIDLen):
		v.Add(field, "must be a 12-digit division code")
	case !provinces[s[:2]]:
		v.Add(field, "must start with a province code in use (11–82, GB/T 2260)")
	}
}

// Text checks a single-line free-text field: present when required, valid
// UTF-8, at most max characters, no leading or trailing white space, and
// nothing that does not show as itself (see TextProblem).
func Text(v *fault.Violations, field, s string, required bool, max int) {
	text(v, field, s, required, max, false)
}

// MultilineText is Text that allows newlines ("\n"; not "\r").
func MultilineText(v *fault.Violations, field, s string, required bool, max int) {
	text(v, field, s, required, max, true)
}

func text(v *fault.Violations, field, s string, required bool, max int, multiline bool) {
	switch {
	case s == "" && required:
		v.Add(field, "required")
	case !utf8.ValidString(s):
		v.Add(field, "not valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		v.Addf(field, "longer than %d characters", max)
	case strings.TrimSpace(s) != s:
		v.Add(field, "leading or trailing white space")
	default:
		if problem := TextProblem(s, multiline); problem != "" {
			v.Add(field, problem)
		}
	}
}

// TextProblem says what in s would not show as itself, or "" when nothing
// does. Refused are control characters (but "\n" when multiline), line and
// paragraph separators, bidirectional formatting characters (which make a
// name render backwards), the other format characters such as zero-width
// spaces and joiners and the byte-order mark (which make one render as
// nothing, or two different names look alike), and Unicode non-characters.
// s must be valid UTF-8.
func TextProblem(s string, multiline bool) string {
	for _, r := range s {
		switch {
		case r == '\n' && multiline:
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return "contains control characters"
		case unicode.Is(unicode.Bidi_Control, r):
			return "contains bidirectional formatting characters"
		case unicode.Is(unicode.Cf, r):
			return "contains invisible formatting characters (such as zero-width spaces)"
		case IsNoncharacter(r):
			return "contains Unicode non-characters"
		}
	}
	return ""
}

// IsNoncharacter reports whether r is one of the 66 code points Unicode
// reserves never to be characters: U+FDD0..U+FDEF and the last two of
// every plane.
func IsNoncharacter(r rune) bool {
	return r >= 0xFDD0 && r <= 0xFDEF || r&0xFFFE == 0xFFFE && r <= unicode.MaxRune
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

// opaqueGroupPrefix is how many of an opaque id's 10 bytes an
// OpaqueIDGroup shares: 5 bytes, 8 characters of base32, so that the ids
// of a group share a prefix of their text as well.
const opaqueGroupPrefix = 5

// OpaqueIDGroup makes opaque ids (see OpaqueIDLen) for many objects
// created together, such as one transaction of a bulk import: they share
// a random prefix, so that stored under their ids the objects sit side by
// side in a B+tree rather than across all of it, and a transaction of
// thousands dirties hundreds of pages rather than thousands. The rest of
// each id, 40 bits, is random: one id tells of another only that the two
// were created together, which their records say anyway.
type OpaqueIDGroup struct {
	prefix [opaqueGroupPrefix]byte
}

// NewOpaqueIDGroup returns a group with a new random prefix.
func NewOpaqueIDGroup() *OpaqueIDGroup {
	g := new(OpaqueIDGroup)
	if _, err := rand.Read(g.prefix[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return g
}

// Next returns a new id of the group.
func (g *OpaqueIDGroup) Next() string {
	var b [10]byte
	copy(b[:], g.prefix[:])
	if _, err := rand.Read(b[opaqueGroupPrefix:]); err != nil {
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

// MaxBatchIDLen bounds the batch id of an import stream.
const MaxBatchIDLen = 64

// BatchID checks the batch id of an import stream: 1 to MaxBatchIDLen
// characters of [A-Za-z0-9._-], so that it can go into a log line and a
// key as it is.
func BatchID(v *fault.Violations, field, id string) {
	if id == "" {
		v.Add(field, "required")
		return
	}
	if len(id) > MaxBatchIDLen {
		v.Addf(field, "longer than %d characters", MaxBatchIDLen)
		return
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			v.Add(field, "may hold only letters, digits, '.', '_' and '-'")
			return
		}
	}
}
