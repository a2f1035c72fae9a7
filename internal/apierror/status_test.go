package apierror

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
)

func badRequestOf(kv ...string) *errdetails.BadRequest {
	br := &errdetails.BadRequest{}
	for i := 0; i+1 < len(kv); i += 2 {
		br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: kv[i], Description: kv[i+1]})
	}
	return br
}

// storageMsg is what a client is told of a full disk.
const storageMsg = "storage unavailable: the service cannot write now; retry later"

func TestToStatus(t *testing.T) {
	downstream, err := status.New(codes.NotFound, "community 210102001001 not found").
		WithDetails(info("COMMUNITY_MISSING", nil))
	if err != nil {
		t.Fatal(err)
	}
	var many fault.Violations
	for i := range fault.MaxViolations + 3 {
		many.Addf(fmt.Sprintf("retiree_ids[%d]", i), "not a retiree id")
	}
	manyWant := badRequestOf()
	for i := range fault.MaxViolations {
		manyWant.FieldViolations = append(manyWant.FieldViolations,
			&errdetails.BadRequest_FieldViolation{Field: fmt.Sprintf("retireeIds[%d]", i), Description: "not a retiree id"})
	}

	for _, tc := range []struct {
		name        string
		err         error
		wantCode    codes.Code
		wantMsg     string
		wantDetails []protoadapt.MessageV1
		wantLog     zapcore.Level // 0 (Info) means: nothing logged
	}{
		{
			name:        "status passes through",
			err:         downstream.Err(),
			wantCode:    codes.NotFound,
			wantMsg:     "community 210102001001 not found",
			wantDetails: []protoadapt.MessageV1{info("COMMUNITY_MISSING", nil)},
		},
		{
			name:        "wrapped status passes through without the wrapping",
			err:         fmt.Errorf("dial registry 10.0.0.7: %w", downstream.Err()),
			wantCode:    codes.NotFound,
			wantMsg:     "community 210102001001 not found",
			wantDetails: []protoadapt.MessageV1{info("COMMUNITY_MISSING", nil)},
		},
		{
			name:     "unknown status is internal",
			err:      status.Error(codes.Unknown, "secret stack trace"),
			wantCode: codes.Internal,
			wantMsg:  "internal error",
			wantLog:  zapcore.ErrorLevel,
		},
		{
			name:     "canceled",
			err:      fmt.Errorf("scan: %w", context.Canceled),
			wantCode: codes.Canceled,
			wantMsg:  "request canceled",
		},
		{
			name:     "deadline",
			err:      fmt.Errorf("scan: %w", context.DeadlineExceeded),
			wantCode: codes.DeadlineExceeded,
			wantMsg:  "deadline exceeded",
		},
		{
			name:        "one invalid field",
			err:         fault.Invalid("retiree.birth_date", "not a date"),
			wantCode:    codes.InvalidArgument,
			wantMsg:     "invalid argument: retiree.birthDate: not a date",
			wantDetails: []protoadapt.MessageV1{badRequestOf("retiree.birthDate", "not a date")},
		},
		{
			name: "violations, wrapped",
			err: fmt.Errorf("create retiree: %w", func() error {
				var v fault.Violations
				v.Add("retiree.id_number", "check character does not match")
				v.Addf("retiree.phone", "must have %d digits", 11)
				return v.Err()
			}()),
			wantCode: codes.InvalidArgument,
			wantMsg:  "invalid argument: retiree.idNumber: check character does not match; retiree.phone: must have 11 digits",
			wantDetails: []protoadapt.MessageV1{badRequestOf(
				"retiree.idNumber", "check character does not match",
				"retiree.phone", "must have 11 digits")},
		},
		{
			name:        "too many violations",
			err:         many.Err(),
			wantCode:    codes.InvalidArgument,
			wantMsg:     "invalid argument: retireeIds[0]: not a retiree id; retireeIds[1]: not a retiree id; retireeIds[2]: not a retiree id; and 100 more",
			wantDetails: []protoadapt.MessageV1{manyWant},
		},
		{
			name:        "store field in proto names is sent in JSON names",
			err:         fmt.Errorf("transfer: %w", fault.Invalid("to_community_id", "no community with this id")),
			wantCode:    codes.InvalidArgument,
			wantMsg:     "invalid argument: toCommunityId: no community with this id",
			wantDetails: []protoadapt.MessageV1{badRequestOf("toCommunityId", "no community with this id")},
		},
		{
			name: "rule naming items of the request",
			err: &fault.RuleError{Reason: "CHECKS_FAILED", Message: "the handover cannot be submitted: 1 problem",
				Fields: []fault.FieldViolation{{Field: "retirees[2].enterprise_code", Description: "another enterprise"}}},
			wantCode: codes.FailedPrecondition,
			wantMsg:  "the handover cannot be submitted: 1 problem",
			wantDetails: []protoadapt.MessageV1{info("CHECKS_FAILED", nil),
				badRequestOf("retirees[2].enterpriseCode", "another enterprise")},
		},
		{
			name:        "rule with default code",
			err:         fault.Rule("RETIREE_IN_OPEN_HANDOVER", "a retiree is in another open handover", "retiree_id", "r-1", "handover_id"),
			wantCode:    codes.FailedPrecondition,
			wantMsg:     "a retiree is in another open handover",
			wantDetails: []protoadapt.MessageV1{info("RETIREE_IN_OPEN_HANDOVER", map[string]string{"retiree_id": "r-1", "handover_id": ""})},
		},
		{
			name:        "rule with own code, wrapped",
			err:         fmt.Errorf("book: %w", fault.Conflict("VENUE_BOOKED", "the venue is booked then", "activity_id", "a-9")),
			wantCode:    codes.AlreadyExists,
			wantMsg:     "the venue is booked then",
			wantDetails: []protoadapt.MessageV1{info("VENUE_BOOKED", map[string]string{"activity_id": "a-9"})},
		},
		{
			name:        "rule struct literal",
			err:         &fault.RuleError{Kind: fault.Exhausted, Reason: "QUOTA", Message: "too many"},
			wantCode:    codes.ResourceExhausted,
			wantMsg:     "too many",
			wantDetails: []protoadapt.MessageV1{info("QUOTA", nil)},
		},
		{
			name:     "rule to retry later",
			err:      fault.LimitRetry("RATE_LIMITED", "too many reads", 1500*time.Millisecond, "budget", "read"),
			wantCode: codes.ResourceExhausted,
			wantMsg:  "too many reads",
			wantDetails: []protoadapt.MessageV1{info("RATE_LIMITED", map[string]string{"budget": "read"}),
				&errdetails.RetryInfo{RetryDelay: durationpb.New(1500 * time.Millisecond)}},
		},
		{
			name:     "not found",
			err:      fault.ErrNotFound,
			wantCode: codes.NotFound,
			wantMsg:  "not found",
		},
		{
			name:     "not found, wrapped message kept",
			err:      fmt.Errorf("retiree %s: %w", "r-7f3a", fault.ErrNotFound),
			wantCode: codes.NotFound,
			wantMsg:  "retiree r-7f3a: not found",
		},
		{
			name:     "already exists, wrapped",
			err:      fmt.Errorf("enterprise: %w", fault.ErrAlreadyExists),
			wantCode: codes.AlreadyExists,
			wantMsg:  "enterprise: already exists",
		},
		{
			name:        "conflict",
			err:         fmt.Errorf("update retiree: %w", fault.ErrEtagMismatch),
			wantCode:    codes.Aborted,
			wantMsg:     "update retiree: concurrent modification",
			wantDetails: []protoadapt.MessageV1{info("ETAG_MISMATCH", nil)},
		},
		{
			name:     "permission denied hides the wrapping",
			err:      fmt.Errorf("retiree r-1 exists in community 210102001001: %w", fault.ErrPermissionDenied),
			wantCode: codes.PermissionDenied,
			wantMsg:  "permission denied",
		},
		{
			name:        "storage unavailable from a store",
			err:         fmt.Errorf("create retiree: %w", boltstore.StorageFault(&fs.PathError{Op: "write", Path: "/srv/registry.db", Err: syscall.ENOSPC})),
			wantCode:    codes.Unavailable,
			wantMsg:     storageMsg,
			wantDetails: []protoadapt.MessageV1{info(ReasonStorageUnavailable, nil)},
			wantLog:     zapcore.WarnLevel,
		},
		{
			name:        "a full disk that no store wrapped",
			err:         fmt.Errorf("audit commit: %w", &fs.PathError{Op: "write", Path: "/srv/registry.db", Err: syscall.ENOSPC}),
			wantCode:    codes.Unavailable,
			wantMsg:     storageMsg,
			wantDetails: []protoadapt.MessageV1{info(ReasonStorageUnavailable, nil)},
			wantLog:     zapcore.WarnLevel,
		},
		{
			name:        "quota exceeded",
			err:         &fs.PathError{Op: "write", Path: "/srv/registry.db", Err: syscall.EDQUOT},
			wantCode:    codes.Unavailable,
			wantMsg:     storageMsg,
			wantDetails: []protoadapt.MessageV1{info(ReasonStorageUnavailable, nil)},
			wantLog:     zapcore.WarnLevel,
		},
		{
			name:        "the file cannot grow",
			err:         errors.New("file resize error: no space left on device"),
			wantCode:    codes.Unavailable,
			wantMsg:     storageMsg,
			wantDetails: []protoadapt.MessageV1{info(ReasonStorageUnavailable, nil)},
			wantLog:     zapcore.WarnLevel,
		},
		{
			name:     "another I/O error stays internal",
			err:      &fs.PathError{Op: "write", Path: "/srv/registry.db", Err: syscall.EIO},
			wantCode: codes.Internal,
			wantMsg:  "internal error",
			wantLog:  zapcore.ErrorLevel,
		},
		{
			name:     "bbolt timeout",
			err:      fmt.Errorf("open: %w", berrors.ErrTimeout),
			wantCode: codes.Unavailable,
			wantMsg:  "service unavailable",
			wantLog:  zapcore.WarnLevel,
		},
		{
			name:     "bbolt closed",
			err:      fmt.Errorf("get: %w", berrors.ErrDatabaseNotOpen),
			wantCode: codes.Unavailable,
			wantMsg:  "service unavailable",
			wantLog:  zapcore.WarnLevel,
		},
		{
			name:     "anything else",
			err:      fmt.Errorf("decode retiree r-1: %w", errors.New("proto: cannot parse invalid wire-format data")),
			wantCode: codes.Internal,
			wantMsg:  "internal error",
			wantLog:  zapcore.ErrorLevel,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			core, logs := observer.New(zapcore.DebugLevel)
			got := ToStatus(context.Background(), zap.New(core), tc.err)
			s, ok := status.FromError(got)
			if !ok {
				t.Fatalf("ToStatus returned a non-status error %v", got)
			}
			if s.Code() != tc.wantCode || s.Message() != tc.wantMsg {
				t.Errorf("status = %v %q, want %v %q", s.Code(), s.Message(), tc.wantCode, tc.wantMsg)
			}
			var gotDetails []protoadapt.MessageV1
			for _, d := range s.Details() {
				m, ok := d.(protoadapt.MessageV1)
				if !ok {
					t.Fatalf("detail %v did not decode: %v", d, d)
				}
				gotDetails = append(gotDetails, m)
			}
			if diff := cmp.Diff(tc.wantDetails, gotDetails, protocmp.Transform()); diff != "" {
				t.Errorf("details (-want +got):\n%s", diff)
			}

			entries := logs.AllUntimed()
			if tc.wantLog == zapcore.InfoLevel {
				if len(entries) != 0 {
					t.Errorf("logged %d entries, want none: %v", len(entries), entries)
				}
				return
			}
			if len(entries) != 1 || entries[0].Level != tc.wantLog {
				t.Fatalf("log = %v, want one %v entry", entries, tc.wantLog)
			}
			if got := entries[0].ContextMap()["error"]; got != tc.err.Error() {
				t.Errorf("logged error = %q, want %q", got, tc.err.Error())
			}
		})
	}
}

func TestToStatusInternalHidesDetail(t *testing.T) {
	const secret = "bucket retirees page 4711 corrupt"
	core, logs := observer.New(zapcore.InfoLevel)
	got := ToStatus(context.Background(), zap.New(core), fmt.Errorf("list: %w", errors.New(secret)))
	if strings.Contains(got.Error(), "4711") || strings.Contains(got.Error(), "corrupt") {
		t.Errorf("client sees %q", got)
	}
	if status.Code(got) != codes.Internal {
		t.Errorf("code = %v", status.Code(got))
	}
	entries := logs.FilterMessage("internal error").AllUntimed()
	if len(entries) != 1 || entries[0].ContextMap()["error"] != "list: "+secret {
		t.Errorf("detail not logged under key error: %v", logs.AllUntimed())
	}
}

func TestToStatusNil(t *testing.T) {
	if err := ToStatus(context.Background(), nil, nil); err != nil {
		t.Errorf("ToStatus(nil) = %v", err)
	}
	// A nil logger must not panic on the logging branches.
	if code := status.Code(ToStatus(context.Background(), nil, errors.New("x"))); code != codes.Internal {
		t.Errorf("code = %v", code)
	}
}

func TestJSONPath(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"pageToken":              "pageToken",
		"to_community_id":        "toCommunityId",
		"retiree.birth_date":     "retiree.birthDate",
		"retiree_ids[12]":        "retireeIds[12]",
		"funds.received_fen":     "funds.receivedFen",
		"dossiers[0].archive_no": "dossiers[0].archiveNo",
	} {
		if got := JSONPath(in); got != want {
			t.Errorf("JSONPath(%q) = %q, want %q", in, got, want)
		}
	}
}
