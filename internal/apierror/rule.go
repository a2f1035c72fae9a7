package apierror

import "google.golang.org/grpc/codes"

// RuleError reports a request that is well-formed but breaks a rule of the
// domain, such as submitting a handover whose retiree is already in another
// one. ToStatus sends its Code and Message with an ErrorInfo carrying
// Reason and Metadata, so that clients can act on Reason without parsing
// Message.
type RuleError struct {
	// Code is the gRPC code: FailedPrecondition when unset, or AlreadyExists,
	// Aborted, ResourceExhausted and the like when they say it better.
	Code codes.Code
	// Reason is a stable UPPER_SNAKE_CASE identifier of the rule, part of
	// the API: clients match on it.
	Reason string
	// Message explains the failure to a human.
	Message string
	// Metadata gives the particulars, e.g. the id of a conflicting activity.
	Metadata map[string]string
}

// Error returns the reason and message.
func (e *RuleError) Error() string {
	return e.Reason + ": " + e.Message
}

// Rule returns a *RuleError; kv lists metadata as key, value pairs, and a
// trailing key without a value gets "".
func Rule(code codes.Code, reason, message string, kv ...string) error {
	e := &RuleError{Code: code, Reason: reason, Message: message}
	if len(kv) > 0 {
		e.Metadata = make(map[string]string, (len(kv)+1)/2)
		for i := 0; i < len(kv); i += 2 {
			v := ""
			if i+1 < len(kv) {
				v = kv[i+1]
			}
			e.Metadata[kv[i]] = v
		}
	}
	return e
}
