package idnumber

import (
	"strings"
	"unicode/utf8"
)

// Mask hides the birth date of anything shaped like an ID number without
// validating it, for showing input that may be wrong. An 18-character
// string of digits (the last may be X) keeps its first 6 and last 4
// characters ("110105********002X"); a 15-digit legacy number keeps its
// area code and 3-digit sequence ("110105******002"). Anything else, after
// trimming surrounding space, becomes one '*' per character, because a
// malformed number may still be mostly someone's real number.
func Mask(s string) string {
	s = strings.TrimSpace(s)
	switch {
	case len(s) == length && isIDShaped(s):
		var out [length]byte
		maskInto(out[:], []byte(s))
		if out[length-1] == 'x' {
			out[length-1] = 'X'
		}
		return string(out[:])
	case len(s) == legacyLength && allDigits(s):
		return s[:6] + "******" + s[legacyLength-3:]
	default:
		return strings.Repeat("*", utf8.RuneCountInString(s))
	}
}

// maskInto copies the 18 bytes of src to dst with the date hidden.
func maskInto(dst, src []byte) {
	copy(dst, src)
	for i := 6; i < 14; i++ {
		dst[i] = '*'
	}
}

func isIDShaped(s string) bool {
	if !allDigits(s[:length-1]) {
		return false
	}
	c := s[length-1]
	return isDigit(c) || c == 'X' || c == 'x'
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// TailLen is the number of characters at the end of an ID number that a
// masked number shows.
const TailLen = 4

// IsTail reports whether s has the shape of the last TailLen characters
// of a normalised ID number, the part a masked number shows: digits, the
// last of which may be X (upper case, as Parse normalises it). Nothing
// else is a tail: not a lower-case x, not white space, not more digits.
func IsTail(s string) bool {
	if len(s) != TailLen || !allDigits(s[:TailLen-1]) {
		return false
	}
	c := s[TailLen-1]
	return isDigit(c) || c == 'X'
}
