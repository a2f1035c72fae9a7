package fault

import (
	"fmt"
	"strings"
)

// MaxViolations bounds the field violations one error carries, so that a
// request with thousands of bad items gets a reply of sane size.
const MaxViolations = 100

// FieldViolation names one request field and what is wrong with it.
type FieldViolation struct {
	// Field names the field, e.g. "retiree.birth_date" or "retireeIds[3]":
	// the proto name or the JSON name (see the package doc).
	Field string
	// Description says what is wrong, for a human; it must not repeat the
	// value when that is personal data.
	Description string
}

// Violations collects the field violations of one request, so that a client
// learns about every bad field at once. The zero value is ready to use.
type Violations struct {
	fields  []FieldViolation
	omitted int
}

// Add records that field is invalid.
func (v *Violations) Add(field, description string) {
	if len(v.fields) >= MaxViolations {
		v.omitted++
		return
	}
	v.fields = append(v.fields, FieldViolation{Field: field, Description: description})
}

// Addf records that field is invalid, with a formatted description.
func (v *Violations) Addf(field, format string, args ...any) {
	if len(v.fields) >= MaxViolations {
		v.omitted++ // and skip formatting what nobody will see
		return
	}
	v.Add(field, fmt.Sprintf(format, args...))
}

// Err returns nil if nothing was added, else a *ValidationError holding the
// violations in the order they were added.
func (v *Violations) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: append([]FieldViolation(nil), v.fields...), Omitted: v.omitted}
}

// ValidationError reports invalid request fields; apierror turns it into
// InvalidArgument with a BadRequest detail.
type ValidationError struct {
	// Fields are the violations, at most MaxViolations of them.
	Fields []FieldViolation
	// Omitted counts further violations that were dropped.
	Omitted int
}

// Error lists the violations.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("invalid argument")
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Description)
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "; and %d more", e.Omitted)
	}
	return b.String()
}

// Invalid returns a *ValidationError for one field.
func Invalid(field, description string) error {
	return &ValidationError{Fields: []FieldViolation{{Field: field, Description: description}}}
}
