// Package creditcode validates unified social credit codes of
// organisations (GB 32100-2015).
//
// A code is 18 characters of the alphabet 0-9 A-H J-N P Q R T U W X Y:
// registration department, organisation type, a 6-digit area code, the
// 9-character organisation code (GB 11714) and a mod-31 check character.
//
// Parse checks the alphabet, the area digits and the final check
// character. It does not enforce the organisation code's own GB 11714 check
// character: DESIGN's valid example 91420100177683101W fails it (its
// organisation code 17768310-1 would need check character X), and codes
// like it are issued and in use. Build still computes that check so that
// generated codes are well formed in every respect.
//
// Credit codes identify organisations, not people, so they may appear in
// messages, logs and URLs.
package creditcode

import (
	"fmt"
	"strings"
)

// Code is a validated, upper-case unified social credit code.
type Code string

// String returns the code.
func (c Code) String() string { return string(c) }

const (
	length = 18
	// charset maps each character to its value, its index.
	charset = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	modulus = len(charset)
)

// weights are 3^i mod 31 for the first 17 positions.
var weights = [length - 1]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// orgWeights are the GB 11714 weights of the organisation code body.
var orgWeights = [8]int{3, 7, 9, 10, 5, 8, 4, 2}

// Parse validates s and returns it in canonical form. Surrounding white
// space is ignored and lower-case letters are accepted. Every error is an
// *Error.
func Parse(s string) (Code, error) {
	s = strings.TrimSpace(s)
	if len(s) != length {
		return "", newError(ReasonFormat, "must be eighteen characters")
	}
	var buf [length]byte
	changed := false
	for i := 0; i < length; i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
			changed = true
		}
		if value(c) < 0 {
			return "", newError(ReasonFormat, fmt.Sprintf("character %d is not allowed in a credit code", i+1))
		}
		if 2 <= i && i < 8 && !isDigit(c) {
			return "", newError(ReasonFormat, "characters three to eight (the area code) must be digits")
		}
		buf[i] = c
	}
	if checkChar(buf[:length-1]) != buf[length-1] {
		return "", newError(ReasonCheck, "check character does not match")
	}
	if !changed {
		return Code(s), nil
	}
	return Code(buf[:]), nil
}

// Build makes a code from its parts, computing the organisation code's
// check character and the final check character. prefix2 is the
// registration department and organisation type (two characters of the
// alphabet), area the 6-digit area code and orgBody the first eight
// characters of the organisation code (digits and upper-case letters of the
// alphabet). It is meant for seeding and tests; the result passes Parse.
func Build(prefix2, area, orgBody string) (Code, error) {
	if len(prefix2) != 2 || value(prefix2[0]) < 0 || value(prefix2[1]) < 0 {
		return "", newError(ReasonFormat, "prefix must be two characters of the credit-code alphabet")
	}
	if len(area) != 6 || !allDigits(area) {
		return "", newError(ReasonFormat, "area code must be six digits")
	}
	if len(orgBody) != len(orgWeights) {
		return "", newError(ReasonFormat, "organisation code body must be eight characters")
	}
	for i := 0; i < len(orgBody); i++ {
		if value(orgBody[i]) < 0 {
			return "", newError(ReasonFormat, "organisation code body must use digits and upper-case letters of the credit-code alphabet")
		}
	}
	var buf [length]byte
	copy(buf[:2], prefix2)
	copy(buf[2:8], area)
	copy(buf[8:16], orgBody)
	buf[16] = orgCheckChar(orgBody)
	buf[17] = checkChar(buf[:length-1])
	return Code(buf[:]), nil
}

// checkChar computes the GB 32100 check character of the 17 characters in
// b, which must all be in charset.
func checkChar(b []byte) byte {
	sum := 0
	for i, w := range weights {
		sum += value(b[i]) * w
	}
	return charset[(modulus-sum%modulus)%modulus]
}

// orgCheckChar computes the GB 11714 check character of an organisation
// code body. Letters count A=10 to Z=35 here, unlike in charset.
func orgCheckChar(body string) byte {
	sum := 0
	for i, w := range orgWeights {
		c := body[i]
		v := int(c - '0')
		if !isDigit(c) {
			v = int(c-'A') + 10
		}
		sum += v * w
	}
	switch r := 11 - sum%11; r {
	case 10:
		return 'X'
	case 11:
		return '0'
	default:
		return byte('0' + r)
	}
}

// value returns the value of c in charset, or -1 if c is not in it.
func value(c byte) int { return strings.IndexByte(charset, c) }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}
