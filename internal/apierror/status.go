package apierror

import (
	"context"
	"errors"
	"strings"

	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
)

// sentinels maps each sentinel error to the status a client gets. The
// message of a wrapped sentinel reaches the client unless hide is set.
var sentinels = []struct {
	err    error
	code   codes.Code
	reason string // ErrorInfo reason, if any
	msg    string // fixed message that replaces the error's own, if any
	warn   bool   // log the error: it says the service, not the request, is unwell
}{
	{err: context.Canceled, code: codes.Canceled, msg: "request canceled"},
	{err: context.DeadlineExceeded, code: codes.DeadlineExceeded, msg: "deadline exceeded"},
	{err: fault.ErrNotFound, code: codes.NotFound},
	{err: fault.ErrAlreadyExists, code: codes.AlreadyExists},
	{err: fault.ErrEtagMismatch, code: codes.Aborted, reason: ReasonEtagMismatch},
	{err: fault.ErrPermissionDenied, code: codes.PermissionDenied, msg: "permission denied"},
	{err: fault.ErrStorageUnavailable, code: codes.Unavailable, reason: ReasonStorageUnavailable, msg: "storage unavailable: the service cannot write now; retry later", warn: true},
	{err: berrors.ErrTimeout, code: codes.Unavailable, msg: "service unavailable", warn: true},
	{err: berrors.ErrDatabaseNotOpen, code: codes.Unavailable, msg: "service unavailable", warn: true},
}

// ruleCodes maps the kind of a broken rule to its status code.
var ruleCodes = map[fault.Kind]codes.Code{
	fault.Precondition: codes.FailedPrecondition,
	fault.Exists:       codes.AlreadyExists,
	fault.Exhausted:    codes.ResourceExhausted,
}

// ToStatus returns the gRPC status error for err. A status error (from a
// downstream call, or authn) passes through unless its code is Unknown;
// the errors of package fault and context cancellation map as the tables
// above say, a full disk (see boltstore.StorageFault) as
// fault.ErrStorageUnavailable, UNAVAILABLE; anything else is logged with the method and answered with
// Internal "internal error", so that no detail reaches the client.
// When the call asks for Chinese (see ChineseAsked), the status carries
// its Chinese rendering too (see Localize).
func ToStatus(ctx context.Context, log *zap.Logger, err error) error {
	if err == nil {
		return nil
	}
	out := toStatus(ctx, log, err)
	if !ChineseAsked(ctx) {
		return out
	}
	st, _ := status.FromError(out)
	return Localize(st, formsOf(err)).Err()
}

// formsOf returns how the descriptions of a validation error were made,
// in the order of its fields; nil for any other error.
func formsOf(err error) []fault.Form {
	var ve *fault.ValidationError
	if !errors.As(err, &ve) {
		return nil
	}
	forms := make([]fault.Form, len(ve.Fields))
	for i := range forms {
		forms[i] = ve.FormOf(i)
	}
	return forms
}

func toStatus(ctx context.Context, log *zap.Logger, err error) error {
	if log == nil {
		log = zap.NewNop()
	}
	// Stores wrap a full disk as fault.ErrStorageUnavailable; a write
	// that does not go through them (an audit record, a projection) is
	// recognised here, so that no full disk becomes INTERNAL. The log
	// shows the error as it came.
	cause := err
	err = boltstore.StorageFault(err)
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if s := se.GRPCStatus(); s.Code() != codes.Unknown && s.Code() != codes.OK {
			return s.Err()
		}
	}
	var (
		ve *fault.ValidationError
		re *fault.RuleError
	)
	switch {
	case errors.As(err, &ve):
		return badRequest(log, ve.Fields, ve.Omitted)
	case errors.As(err, &re):
		return ruleStatus(log, re)
	}
	for _, s := range sentinels {
		if !errors.Is(err, s.err) {
			continue
		}
		if s.warn {
			log.Warn("storage unavailable", zap.String("method", method(ctx)), zap.Error(cause))
		}
		msg := s.msg
		if msg == "" {
			msg = err.Error()
		}
		if s.reason != "" {
			return withDetails(log, status.New(s.code, msg), info(s.reason, nil))
		}
		return status.Error(s.code, msg)
	}
	log.Error("internal error", zap.String("method", method(ctx)), zap.Error(err))
	return status.Error(codes.Internal, "internal error")
}

// ruleStatus answers a broken rule with its kind's code, an ErrorInfo,
// when the rule names items of the request a BadRequest, and when it says
// when to try again a RetryInfo (which the gateway sends as Retry-After).
func ruleStatus(log *zap.Logger, re *fault.RuleError) error {
	code, ok := ruleCodes[re.Kind]
	if !ok {
		code = codes.FailedPrecondition
	}
	details := []protoadapt.MessageV1{info(re.Reason, re.Metadata)}
	if len(re.Fields) > 0 {
		details = append(details, fieldViolations(re.Fields))
	}
	if re.RetryAfter > 0 {
		details = append(details, &errdetails.RetryInfo{RetryDelay: durationpb.New(re.RetryAfter)})
	}
	return withDetails(log, status.New(code, re.Message), details...)
}

func badRequest(log *zap.Logger, fields []fault.FieldViolation, omitted int) error {
	const inMessage = 3
	shown := fields
	if len(shown) > inMessage {
		shown = shown[:inMessage]
	}
	shown = jsonFields(shown)
	msg := (&fault.ValidationError{Fields: shown, Omitted: omitted + len(fields) - len(shown)}).Error()
	return withDetails(log, status.New(codes.InvalidArgument, msg), fieldViolations(fields))
}

func fieldViolations(fields []fault.FieldViolation) *errdetails.BadRequest {
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, len(fields))}
	for i, f := range fields {
		br.FieldViolations[i] = &errdetails.BadRequest_FieldViolation{Field: JSONPath(f.Field), Description: f.Description}
	}
	return br
}

func jsonFields(fields []fault.FieldViolation) []fault.FieldViolation {
	out := make([]fault.FieldViolation, len(fields))
	for i, f := range fields {
		out[i] = fault.FieldViolation{Field: JSONPath(f.Field), Description: f.Description}
	}
	return out
}

// JSONPath renders a field path in JSON names, as protojson names fields:
// each snake_case segment becomes lowerCamelCase ("to_community_id" →
// "toCommunityId"); a path already in JSON names is unchanged.
func JSONPath(path string) string {
	if !strings.Contains(path, "_") {
		return path
	}
	var b strings.Builder
	b.Grow(len(path))
	upper := false
	for i := 0; i < len(path); i++ {
		c := path[i]
		switch {
		case c == '_':
			upper = true
			continue
		case upper && 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		upper = false
		b.WriteByte(c)
	}
	return b.String()
}

func info(reason string, md map[string]string) *errdetails.ErrorInfo {
	return &errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md}
}

func withDetails(log *zap.Logger, s *status.Status, ds ...protoadapt.MessageV1) error {
	st, err := s.WithDetails(ds...)
	if err != nil {
		log.Error("attaching error details", zap.Error(err))
		return s.Err()
	}
	return st.Err()
}

func method(ctx context.Context) string {
	m, _ := grpc.Method(ctx)
	return m
}
