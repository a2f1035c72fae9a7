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
// for an ID number (one may hide in it). Each group, and each run of
// groups that ends with it, is an ID or mobile number only at exactly
// their lengths, so that a list of dates or amounts is neither, while a
// mobile number beside another ("2024-05-03 13812345678",
// "13812345678-2") is still found.
func PersonalNumber(s string) string {
	rs := append([]rune(s), 0) // a last non-digit ends the last group
	var joined []byte
	var starts []int // where each group of joined starts
	inGroup := false
	for i, r := range rs {
		if d, ok := digit(r); ok {
			if !inGroup {
				starts, inGroup = append(starts, len(joined)), true
			}
			joined = append(joined, d)
			continue
		}
		if inGroup {
			if found := endOfGroup(joined, starts, isX(r)); found != "" {
				return found
			}
			inGroup = false
		}
		if len(joined) > 0 && separates(rs, i) {
			continue
		}
		joined, starts = joined[:0], starts[:0]
	}
	return ""
}

// endOfGroup classifies the group of digits that has just ended (the
// last of starts) and every run of groups ending with it; x when an X
// follows it.
func endOfGroup(joined []byte, starts []int, x bool) string {
	last := joined[starts[len(starts)-1]:]
	if len(last) >= 18 || (len(last) == 17 && x) {
		return FoundIDNumber
	}
	if found := classify(string(joined), x); found != "" {
		return found
	}
	// A run of groups that starts later is looked at for a mobile number
	// only: an ID number's 18 digits are too easily made of dates.
	for _, st := range starts[1:] {
		if found := classify(string(joined[st:]), x); found == FoundMobile {
			return found
		}
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
