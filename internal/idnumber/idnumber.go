// Package idnumber validates, masks and keys PRC resident ID numbers
// (GB 11643-1999).
//
// An ID is held in its normalised 18-character form. Because the number is
// personal data, ID prints itself masked with every fmt verb; only Digits
// returns the full number, so each place that needs it is easy to find.
//
// Parse does not read the clock: it checks that the birth date is a real
// calendar date in or after 1800. ParseAt also rejects birth dates after a
// given day; services call it with their own clock so tests stay
// deterministic.
package idnumber

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Sex is the sex encoded in the parity of the sequence number.
type Sex int

// The values of Sex. SexUnknown is the zero value so that an unset field
// means "not stated" rather than a guess.
const (
	SexUnknown Sex = iota
	SexMale
	SexFemale
)

// String returns "male", "female" or "unknown".
func (s Sex) String() string {
	switch s {
	case SexMale:
		return "male"
	case SexFemale:
		return "female"
	default:
		return "unknown"
	}
}

const (
	length       = 18
	legacyLength = 15
	minYear      = 1800
)

// weights are the ISO 7064 MOD 11-2 weights, 2^(17-i) mod 11.
var weights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// checkChars maps the weighted sum mod 11 to the check character.
const checkChars = "10X98765432"

// ID is a validated resident ID number. The zero value is "no number".
// IDs are comparable with ==. An array rather than a string keeps Parse
// free of allocations even when it has to rewrite the input.
type ID struct {
	b [length]byte
}

// Parse validates s and returns its normalised form. Surrounding white
// space is ignored, a lowercase x check character is accepted, and 15-digit
// legacy numbers are converted to 18 digits. Parse checks the format, the
// area code's first digit, the check character and that the birth date is a
// real date in or after 1800; it does not compare the date with today (see
// ParseAt). Every error is an *Error.
func Parse(s string) (ID, error) {
	var id ID
	if err := id.parse(s); err != nil {
		return ID{}, err
	}
	return id, nil
}

// ParseAt is Parse that also rejects birth dates after today's calendar
// date, taken in today's location.
func ParseAt(s string, today time.Time) (ID, error) {
	var id ID
	if err := id.parse(s); err != nil {
		return ID{}, err
	}
	if id.bornAfter(today) {
		return ID{}, newError(ReasonBirthDate, "birth date is in the future")
	}
	return id, nil
}

func (id *ID) parse(s string) error {
	s = strings.TrimSpace(s)
	switch len(s) {
	case length:
		for i := 0; i < length-1; i++ {
			if !isDigit(s[i]) {
				return newError(ReasonFormat, "must contain only digits, with X allowed as the last character")
			}
			id.b[i] = s[i]
		}
		switch c := s[length-1]; {
		case isDigit(c), c == 'X':
			id.b[length-1] = c
		case c == 'x':
			id.b[length-1] = 'X'
		default:
			return newError(ReasonFormat, "must contain only digits, with X allowed as the last character")
		}
	case legacyLength:
		for i := 0; i < legacyLength; i++ {
			if !isDigit(s[i]) {
				return newError(ReasonFormat, "a fifteen-character number must contain only digits")
			}
		}
		copy(id.b[:6], s[:6])
		id.b[6], id.b[7] = '1', '9'
		copy(id.b[8:17], s[6:])
		id.b[length-1] = check(&id.b)
	default:
		return newError(ReasonFormat, "must be eighteen characters, or fifteen digits in the old format")
	}
	if id.b[0] == '0' {
		return newError(ReasonFormat, "area code must not start with zero")
	}
	if check(&id.b) != id.b[length-1] {
		return newError(ReasonCheck, "check character does not match")
	}
	return id.validateDate()
}

func (id *ID) validateDate() error {
	y, m, d := id.date()
	if y < minYear {
		return newError(ReasonBirthDate, "birth year is too early")
	}
	if m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return newError(ReasonBirthDate, "birth date is not a real calendar date")
	}
	return nil
}

// Build makes the ID with the given area code, birth date and sequence
// number (0..999; odd for men, even for women), computing the check
// character. The date is taken in birth's own location. It is meant for
// seeding and tests; the result passes Parse.
func Build(area string, birth time.Time, seq int) (ID, error) {
	if len(area) != 6 || area[0] == '0' {
		return ID{}, newError(ReasonFormat, "area code must be six digits not starting with zero")
	}
	for i := 0; i < len(area); i++ {
		if !isDigit(area[i]) {
			return ID{}, newError(ReasonFormat, "area code must be six digits not starting with zero")
		}
	}
	if seq < 0 || seq > 999 {
		return ID{}, newError(ReasonFormat, "sequence number must be between zero and nine hundred ninety-nine")
	}
	y, m, d := birth.Date()
	if y < minYear || y > 9999 {
		return ID{}, newError(ReasonBirthDate, "birth year is out of range")
	}
	var id ID
	copy(id.b[:6], area)
	putDigits(id.b[6:10], y)
	putDigits(id.b[10:12], int(m))
	putDigits(id.b[12:14], d)
	putDigits(id.b[14:17], seq)
	id.b[length-1] = check(&id.b)
	return id, nil
}

// Digits returns the full 18-character number. It is personal data: do not
// log it or put it into URLs or error messages. It is "" for the zero ID.
func (id ID) Digits() string {
	if id.IsZero() {
		return ""
	}
	return string(id.b[:])
}

// String returns the masked number, as Masked does, so that printing an ID
// by accident does not leak it.
func (id ID) String() string { return id.Masked() }

// Format writes the masked number for every verb, including %#v and %d,
// which would otherwise print the digits held in the struct.
func (id ID) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, id.Masked())
}

// Masked returns the number with the birth date hidden, such as
// "110105********002X". It is "" for the zero ID.
func (id ID) Masked() string {
	if id.IsZero() {
		return ""
	}
	var out [length]byte
	maskInto(out[:], id.b[:])
	return string(out[:])
}

// IsZero reports whether id is the zero value.
func (id ID) IsZero() bool { return id == ID{} }

// BirthDate returns midnight UTC of the birth date, or the zero time for
// the zero ID.
func (id ID) BirthDate() time.Time {
	if id.IsZero() {
		return time.Time{}
	}
	y, m, d := id.date()
	return time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
}

// Sex returns the sex encoded in the sequence number, or SexUnknown for the
// zero ID.
func (id ID) Sex() Sex {
	if id.IsZero() {
		return SexUnknown
	}
	if (id.b[16]-'0')%2 == 1 {
		return SexMale
	}
	return SexFemale
}

// CheckSex returns an *Error with ReasonSexMismatch when s is stated and
// differs from the sex in the number. SexUnknown always passes.
func (id ID) CheckSex(s Sex) error {
	if s == SexUnknown || s == id.Sex() {
		return nil
	}
	return newError(ReasonSexMismatch, "sex does not match the ID number")
}

func (id *ID) date() (y, m, d int) {
	return atoi(id.b[6:10]), atoi(id.b[10:12]), atoi(id.b[12:14])
}

// bornAfter compares calendar dates rather than instants so that a person
// born today is accepted in every time zone.
func (id *ID) bornAfter(today time.Time) bool {
	ty, tm, td := today.Date()
	y, m, d := id.date()
	if y != ty {
		return y > ty
	}
	if m != int(tm) {
		return m > int(tm)
	}
	return d > td
}

// check computes the check character of the first 17 digits of b.
func check(b *[length]byte) byte {
	sum := 0
	for i, w := range weights {
		sum += int(b[i]-'0') * w
	}
	return checkChars[sum%11]
}

func daysIn(y, m int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	default:
		return 31
	}
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func atoi(b []byte) int {
	n := 0
	for _, c := range b {
		n = n*10 + int(c-'0')
	}
	return n
}

// putDigits writes n zero-padded into b; n must fit.
func putDigits(b []byte, n int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}
