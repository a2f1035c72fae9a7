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
	forms   []Form
	omitted int
}

// Form is how a description was made: the format and arguments given to
// Addf, so that apierror can render the same words in another language
// with the same numbers. A zero Form means the description is the text
// itself.
type Form struct {
	// Format is Addf's format, e.g. "must be at most %d".
	Format string
	// Args are Addf's arguments.
	Args []any
}

// Add records that field is invalid.
func (v *Violations) Add(field, description string) {
	if len(v.fields) >= MaxViolations {
		v.omitted++
		return
	}
	v.fields = append(v.fields, FieldViolation{Field: field, Description: description})
	v.forms = append(v.forms, Form{})
}

// Addf records that field is invalid, with a formatted description.
func (v *Violations) Addf(field, format string, args ...any) {
	if len(v.fields) >= MaxViolations {
		v.omitted++ // and skip formatting what nobody will see
		return
	}
	v.Add(field, fmt.Sprintf(format, args...))
	v.forms[len(v.forms)-1] = Form{Format: format, Args: args}
}

// Err returns nil if nothing was added, else a *ValidationError holding the
// violations in the order they were added.
func (v *Violations) Err() error {
	if len(v.fields) == 0 {
		return nil
	}
	return &ValidationError{Fields: append([]FieldViolation(nil), v.fields...), Omitted: v.omitted, forms: append([]Form(nil), v.forms...)}
}

// ValidationError reports invalid request fields; apierror turns it into
// InvalidArgument with a BadRequest detail.
type ValidationError struct {
	// Fields are the violations, at most MaxViolations of them.
	Fields []FieldViolation
	// Omitted counts further violations that were dropped.
	Omitted int
	// forms[i], when there is one, is how Fields[i] was formatted.
	forms []Form
}

// FormOf returns how the description of Fields[i] was made: Addf's format
// and arguments, or a zero Form when it was given as text.
func (e *ValidationError) FormOf(i int) Form {
	if i < 0 || i >= len(e.forms) {
		return Form{}
	}
	return e.forms[i]
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
