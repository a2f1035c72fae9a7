package idnumber

import "errors"

// Reasons carried by *Error. They are stable strings so that the gRPC edge
// can put them into an ErrorInfo without a translation table.
const (
	// ReasonFormat means the input is not shaped like an ID number: wrong
	// length, a character that is not allowed, or an area code starting with 0.
	ReasonFormat = "ID_NUMBER_FORMAT"
	// ReasonCheck means the check character does not match the first 17.
	ReasonCheck = "ID_NUMBER_CHECK"
	// ReasonBirthDate means the birth date is not a real calendar date, is
	// before 1800, or (with ParseAt) lies after the given day.
	ReasonBirthDate = "ID_NUMBER_BIRTH_DATE"
	// ReasonSexMismatch means a stated sex contradicts the sequence number.
	ReasonSexMismatch = "ID_NUMBER_SEX_MISMATCH"
)

// ErrInvalid matches every *Error with errors.Is, so callers that only need
// "bad ID number" do not have to list the reasons.
var ErrInvalid = errors.New("idnumber: invalid resident ID number")

// Error is returned for every rejected ID number. Message is written for
// people and never contains the number or any of its digits, so the error
// may be logged and sent to clients as it is.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// Message explains the problem without quoting the input.
	Message string
}

// Error returns the message prefixed with the package name.
func (e *Error) Error() string { return "idnumber: " + e.Message }

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func newError(reason, msg string) *Error { return &Error{Reason: reason, Message: msg} }
