// Package fault holds the errors that stores and domain rules return, in
// domain terms: sentinels for the common outcomes (not found, already
// exists, etag mismatch, permission denied), a *ValidationError naming the
// offending fields, and a *RuleError for a broken business rule with a
// reason code. Nothing here knows about gRPC or HTTP: internal/apierror is
// the one place that turns these errors into statuses.
//
// Field names are the names of the domain model's fields: the proto field
// name ("to_community_id", "retirees[3]") or, at the request edge, its JSON
// name ("toCommunityId"); apierror sends both as the JSON name.
//
// The message of a wrapped sentinel reaches the client, as do violation
// descriptions and rule messages and metadata. None of them may carry
// personal data: no ID numbers, names, phone numbers, addresses or tokens.
// Name the kind of thing and its opaque id ("retiree r-7f3a: not found"),
// never a value the client sent to look it up.
package fault

import "errors"

var (
	// ErrNotFound reports that the named object does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists reports that an object with the same identity exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrEtagMismatch reports that the object changed since the caller read
	// it: the etag the caller sent is not the object's current one.
	ErrEtagMismatch = errors.New("concurrent modification")
	// ErrPermissionDenied reports that the caller may not do this, or may
	// not see the object; the client is never told which.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrStorageUnavailable reports that the service's storage cannot
	// take a write now: the disk or the quota is full, or the database
	// file cannot grow. Nothing of the request was written; it may be
	// retried once an operator has made room. A store wraps the cause
	// with it (see boltstore.StorageFault).
	ErrStorageUnavailable = errors.New("storage unavailable")
)
