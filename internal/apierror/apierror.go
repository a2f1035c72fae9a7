// Package apierror is the one place where errors become gRPC statuses.
// Stores and domain code return the errors of package fault (sentinels, a
// *fault.ValidationError or a *fault.RuleError), wrapped as they like;
// handlers pass whatever they get to ToStatus, which picks the code and
// details from one table and keeps everything else out of the client's
// sight.
package apierror

// Domain is the ErrorInfo domain of every error this system raises.
const Domain = "socmgmt"

// ReasonEtagMismatch is the ErrorInfo reason sent with
// fault.ErrEtagMismatch.
const ReasonEtagMismatch = "ETAG_MISMATCH"

// ReasonStorageUnavailable is the ErrorInfo reason sent with
// fault.ErrStorageUnavailable: the service could not write for want of
// room, wrote nothing, and the request may be retried later.
const ReasonStorageUnavailable = "STORAGE_UNAVAILABLE"
