package inputcheck

import (
	"strings"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// What PersonalNumber finds.
const (
	// FoundIDNumber is an 18-character resident ID number: 17 digits and
	// a digit or X.
	FoundIDNumber = "an ID number"
	// FoundMobile is an 11-digit mainland mobile number (1[3-9]…),
	// optionally after 86 or +86.
	FoundMobile = "a mobile phone number"
)

// PersonalNumber reports what personal number free text s holds, or ""
// when it holds none. Numbers are found as people write them: ASCII or
// full-width digits, in groups separated by single spaces or dashes
// ("138 1234 5678", "138-1234-5678"). A run of 18 or more digits is taken
// for an ID number (one may hide in it); groups joined by separators are
// an ID or mobile number only at exactly their lengths, so that a list
// of dates or amounts is neither.
func PersonalNumber(s string) string {
	rs := append([]rune(s), 0) // a last non-digit ends the last run
	var joined, raw []byte
	for i, r := range rs {
		if d, ok := digit(r); ok {
			joined, raw = append(joined, d), append(raw, d)
			continue
		}
		x := isX(r)
		if len(raw) >= 18 || (len(raw) == 17 && x) {
			return FoundIDNumber
		}
		raw = raw[:0]
		if len(joined) > 0 && separates(rs, i) {
			continue
		}
		if found := classify(string(joined), x); found != "" {
			return found
		}
		joined = joined[:0]
	}
	return ""
}

// isX reports whether r is the check character X of an ID number.
func isX(r rune) bool { return r == 'X' || r == 'x' || r == 'Ｘ' || r == 'ｘ' }

// separates reports whether rs[i] is a space or dash inside a number: a
// digit follows it.
func separates(rs []rune, i int) bool {
	if rs[i] != ' ' && rs[i] != '-' || i+1 >= len(rs) {
		return false
	}
	_, ok := digit(rs[i+1])
	return ok
}

// classify names the personal number a run of digits is, x when an X
// follows it.
func classify(d string, x bool) string {
	switch {
	case len(d) == 18 || (len(d) == 17 && x):
		return FoundIDNumber
	case len(d) == 11 && isMobile(d):
		return FoundMobile
	case len(d) == 13 && strings.HasPrefix(d, "86") && isMobile(d[2:]):
		return FoundMobile
	}
	return ""
}

func isMobile(d string) bool { return d[0] == '1' && d[1] >= '3' && d[1] <= '9' }

// digit returns r as an ASCII digit, taking full-width digits as digits.
func digit(r rune) (byte, bool) {
	switch {
	case r >= '0' && r <= '9':
		return "0123456789"[r-'0'], true
	case r >= '０' && r <= '９':
		return "0123456789"[r-'０'], true
	}
	return 0, false
}

// NoPersonalNumbers refuses free text that holds an ID number or a mobile
// number: such text is stored, listed and shown to many, and the person it
// concerns is named by id instead. The violation names the field and what
// was found, never the number.
func NoPersonalNumbers(v *fault.Violations, field, s string) {
	if found := PersonalNumber(s); found != "" {
		v.Addf(field, "must not contain %s; name the retiree by id and leave contact numbers out", found)
	}
}
