package creditcode

import "errors"

// Reasons carried by *Error, stable for use in an ErrorInfo.
const (
	// ReasonFormat means the input is not 18 characters of the credit-code
	// alphabet, or the area code is not six digits.
	ReasonFormat = "CREDIT_CODE_FORMAT"
	// ReasonCheck means the check character does not match the first 17.
	ReasonCheck = "CREDIT_CODE_CHECK"
)

// ErrInvalid matches every *Error with errors.Is.
var ErrInvalid = errors.New("creditcode: invalid unified social credit code")

// Error is returned for every rejected credit code.
type Error struct {
	// Reason is one of the Reason constants.
	Reason string
	// Message explains the problem for people.
	Message string
}

// Error returns the message prefixed with the package name.
func (e *Error) Error() string { return "creditcode: " + e.Message }

// Is reports whether target is ErrInvalid.
func (e *Error) Is(target error) bool { return target == ErrInvalid }

func newError(reason, msg string) *Error { return &Error{Reason: reason, Message: msg} }
