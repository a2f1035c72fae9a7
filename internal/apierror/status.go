package apierror

import (
	"context"
	"errors"
	"strconv"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
)

// ToStatus turns err into the status error a gRPC handler returns.
//
//   - nil stays nil.
//   - A status error (even wrapped) with a code other than Unknown passes
//     through with its own message and details, without the wrapping text.
//   - context.Canceled and context.DeadlineExceeded give Canceled and
//     DeadlineExceeded.
//   - *ValidationError gives InvalidArgument with a BadRequest listing every
//     field; boltstore's ErrBadPageToken and ErrBadPageSize do the same for
//     the pageToken and pageSize fields (field paths are the JSON names clients write).
//   - *RuleError gives its Code (FailedPrecondition when unset) and Message,
//     with an ErrorInfo of its Reason and Metadata.
//   - ErrNotFound gives NotFound, ErrAlreadyExists AlreadyExists, both with
//     err's full message; ErrConflict gives Aborted with an ErrorInfo
//     ETAG_MISMATCH; ErrPermissionDenied gives PermissionDenied with a fixed
//     message, so that nothing hints whether the object exists.
//   - bbolt's ErrTimeout and ErrDatabaseNotOpen give Unavailable.
//   - Anything else is a bug or an outage the client cannot act on: it gets
//     Internal "internal error", and err goes to log at Error level, the
//     only place its text goes.
//
// Downstream status errors pass through unchanged; a caller of another
// service whose errors would mislead its own client (a PermissionDenied
// about the service's own token, say) must translate them first.
func ToStatus(ctx context.Context, log *zap.Logger, err error) error {
	if err == nil {
		return nil
	}
	if log == nil {
		log = zap.NewNop()
	}
	var se interface{ GRPCStatus() *status.Status }
	if errors.As(err, &se) {
		if s := se.GRPCStatus(); s.Code() != codes.Unknown && s.Code() != codes.OK {
			return s.Err()
		}
	}

	var (
		ve *ValidationError
		re *RuleError
	)
	switch {
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, "request canceled")
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "deadline exceeded")
	case errors.As(err, &ve):
		return badRequest(log, ve.Fields, ve.Omitted)
	case errors.Is(err, boltstore.ErrBadPageToken):
		return badRequest(log, []FieldViolation{{Field: "pageToken", Description: "invalid page token; start again without one"}}, 0)
	case errors.Is(err, boltstore.ErrBadPageSize):
		return badRequest(log, []FieldViolation{{Field: "pageSize", Description: "must be between 0 and " + strconv.Itoa(boltstore.MaxPageSize)}}, 0)
	case errors.As(err, &re):
		code := re.Code
		if code == codes.OK || code == codes.Unknown {
			code = codes.FailedPrecondition
		}
		return withInfo(log, status.New(code, re.Message), re.Reason, re.Metadata)
	case errors.Is(err, ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrAlreadyExists):
		return status.Error(codes.AlreadyExists, err.Error())
	case errors.Is(err, ErrConflict):
		return withInfo(log, status.New(codes.Aborted, err.Error()), ReasonEtagMismatch, nil)
	case errors.Is(err, ErrPermissionDenied):
		return status.Error(codes.PermissionDenied, "permission denied")
	case errors.Is(err, berrors.ErrTimeout), errors.Is(err, berrors.ErrDatabaseNotOpen):
		log.Warn("storage unavailable", zap.String("method", method(ctx)), zap.Error(err))
		return status.Error(codes.Unavailable, "service unavailable")
	}
	log.Error("internal error", zap.String("method", method(ctx)), zap.Error(err))
	return status.Error(codes.Internal, "internal error")
}

func badRequest(log *zap.Logger, fields []FieldViolation, omitted int) error {
	// The message repeats the first few violations for clients that read
	// only the message; descriptions are written here and carry no input.
	const inMessage = 3
	shown := fields
	if len(shown) > inMessage {
		shown = shown[:inMessage]
	}
	msg := (&ValidationError{Fields: shown, Omitted: omitted + len(fields) - len(shown)}).Error()
	br := &errdetails.BadRequest{FieldViolations: make([]*errdetails.BadRequest_FieldViolation, len(fields))}
	for i, f := range fields {
		br.FieldViolations[i] = &errdetails.BadRequest_FieldViolation{Field: f.Field, Description: f.Description}
	}
	return withDetails(log, status.New(codes.InvalidArgument, msg), br)
}

func withInfo(log *zap.Logger, s *status.Status, reason string, md map[string]string) error {
	return withDetails(log, s, &errdetails.ErrorInfo{Reason: reason, Domain: Domain, Metadata: md})
}

// withDetails attaches d to s. It can only fail on a message that cannot be
// marshalled, which none of ours is; the status then goes without details
// rather than turning a client error into an Internal one.
func withDetails(log *zap.Logger, s *status.Status, d protoadapt.MessageV1) error {
	ds, err := s.WithDetails(d)
	if err != nil {
		log.Error("attaching error details", zap.Error(err))
		return s.Err()
	}
	return ds.Err()
}

// method names the gRPC method for the log, or "" outside a gRPC server.
func method(ctx context.Context) string {
	m, _ := grpc.Method(ctx)
	return m
}
