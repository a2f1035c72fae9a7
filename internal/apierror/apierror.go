// Package apierror is the one place where errors become gRPC statuses.
// Stores and domain code return the sentinels, a *ValidationError or a
// *RuleError, wrapped as they like; handlers pass whatever they get to
// ToStatus, which picks the code and details and keeps everything else out
// of the client's sight.
//
// The message of a wrapped ErrNotFound, ErrAlreadyExists or ErrConflict
// reaches the client, as do field violation descriptions and RuleError
// messages and metadata. None of them may carry personal data: no ID
// numbers, names, phone numbers, addresses or tokens. Name the kind of
// thing and its opaque id ("retiree r-7f3a: not found"), never a value the
// client sent to look it up.
package apierror

import "errors"

// Domain is the ErrorInfo domain of every error this system raises.
const Domain = "socmgmt"

// ReasonEtagMismatch is the ErrorInfo reason sent with ErrConflict.
const ReasonEtagMismatch = "ETAG_MISMATCH"

var (
	// ErrNotFound reports that the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists reports that an object with the same identity exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict reports that the object changed since the caller read it
	// (its etag no longer matches).
	ErrConflict = errors.New("concurrent modification")
	// ErrPermissionDenied reports that the caller may not do this, or may
	// not see the object; the client is never told which.
	ErrPermissionDenied = errors.New("permission denied")
)
