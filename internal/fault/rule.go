package fault

import "time"

// Kind says what sort of rule a RuleError breaks, which decides how a
// client is told (apierror maps each kind to one status code).
type Kind int

const (
	// Precondition: the object's state does not allow the request now
	// (a deceased retiree, a handover in the wrong state). The zero Kind.
	Precondition Kind = iota
	// Exists: the request would create something that exists already
	// (a second community with the same id, a voucher recorded twice).
	Exists
	// Exhausted: a limit of the object is reached (a full waiting list),
	// or of the caller (a rate limit; see LimitRetry).
	Exhausted
)

// RuleError reports a broken business rule: a machine-readable Reason
// (an UPPER_SNAKE code a client may switch on), a message for people, and
// optional metadata and field violations naming what broke it.
type RuleError struct {
	// Kind classifies the rule; see the constants.
	Kind Kind
	// Reason is the stable code of the rule, such as "RETIREE_NOT_LIVING".
	Reason string
	// Message says what is wrong, for a human.
	Message string
	// Metadata carries opaque ids that help the client act on the error.
	Metadata map[string]string
	// Fields lists the items of the request that break the rule, when
	// there are several (a handover package with three incomplete items).
	Fields []FieldViolation
	// RetryAfter, when positive, is how long the client should wait
	// before it tries again: the request may succeed then as it is.
	RetryAfter time.Duration
}

// Error returns the reason and the message.
func (e *RuleError) Error() string {
	return e.Reason + ": " + e.Message
}

// Rule returns a *RuleError of kind Precondition. kv are metadata key/value
// pairs; a missing last value is empty.
func Rule(reason, message string, kv ...string) error {
	return newRule(Precondition, reason, message, kv)
}

// Conflict returns a *RuleError of kind Exists: the request repeats
// something that is already there.
func Conflict(reason, message string, kv ...string) error {
	return newRule(Exists, reason, message, kv)
}

// Limit returns a *RuleError of kind Exhausted.
func Limit(reason, message string, kv ...string) error {
	return newRule(Exhausted, reason, message, kv)
}

// LimitRetry returns a *RuleError of kind Exhausted that the client may
// retry unchanged after the given wait: a rate limit.
func LimitRetry(reason, message string, after time.Duration, kv ...string) error {
	e := newRule(Exhausted, reason, message, kv)
	e.RetryAfter = after
	return e
}

func newRule(kind Kind, reason, message string, kv []string) *RuleError {
	e := &RuleError{Kind: kind, Reason: reason, Message: message}
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
