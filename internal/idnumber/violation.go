package idnumber

import (
	"errors"
	"time"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// CheckAt parses s with ParseAt and, when it is rejected, adds a violation
// of field to v in words that never repeat the number. It reports whether
// s is a valid ID number. Every service that takes an ID number as input
// answers a bad one the same way through it.
func CheckAt(v *fault.Violations, field, s string, today time.Time) (ID, bool) {
	id, err := ParseAt(s, today)
	if err == nil {
		return id, true
	}
	var e *Error
	if errors.As(err, &e) {
		v.Add(field, e.Message)
	} else {
		v.Add(field, "invalid ID number")
	}
	return ID{}, false
}
