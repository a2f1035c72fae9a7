package servicetest

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"

	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// errorDomain is the ErrorInfo domain DESIGN promises clients; written
// out here, not taken from the code under test, so that a change to it
// fails a test.
const errorDomain = "socmgmt"

// idLike matches anything shaped like an 18-character ID number.
var idLike = regexp.MustCompile(`(^|[^0-9])[0-9]{17}[0-9Xx]`)

// LooksLikeIDNumber reports whether s holds something shaped like an
// 18-character ID number, valid or not.
func LooksLikeIDNumber(s string) bool { return idLike.MatchString(s) }

// WantCode checks err's gRPC code and that its status, message and
// details, carries nothing shaped like an ID number and none of secrets
// (phone numbers, names); it returns the status.
func WantCode(t testing.TB, err error, want codes.Code, secrets ...string) *status.Status {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	text := prototext.Format(st.Proto())
	for _, d := range st.Details() {
		if m, ok := d.(interface{ String() string }); ok {
			text += "\n" + m.String()
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("status carries personal data %q: %s", idnumber.Mask(s), st.Message())
		}
	}
	if idLike.MatchString(text) {
		t.Errorf("status carries something shaped like an ID number: %s", st.Message())
	}
	return st
}

// WantFields checks that err is InvalidArgument whose BadRequest names
// exactly fields, in any order.
func WantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	st := WantCode(t, err, codes.InvalidArgument)
	want := slices.Sorted(slices.Values(fields))
	if got := Fields(st); !slices.Equal(got, want) {
		t.Errorf("violated fields = %q, want %q", got, want)
	}
}

// WantReason checks err's code and the reason of its ErrorInfo, in the
// socmgmt domain, and returns the ErrorInfo.
func WantReason(t testing.TB, err error, code codes.Code, reason string) *errdetails.ErrorInfo {
	t.Helper()
	st := WantCode(t, err, code)
	info := ErrorInfo(st)
	if info == nil {
		t.Fatalf("no ErrorInfo in %v", st.Details())
	}
	if info.Reason != reason || info.Domain != errorDomain {
		t.Errorf("ErrorInfo = %s/%s, want %s/%s", info.Domain, info.Reason, errorDomain, reason)
	}
	return info
}

// WantDenied checks that err is the PermissionDenied a caller gets for an
// object it may not see, which says nothing of whether the object exists.
func WantDenied(t testing.TB, err error) {
	t.Helper()
	if msg := WantCode(t, err, codes.PermissionDenied).Message(); msg != "permission denied" {
		t.Errorf("PermissionDenied says %q: it must not hint at existence", msg)
	}
}

// Fields returns the fields the BadRequest details of st name, sorted; a
// field violated twice is there twice.
func Fields(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out = append(out, v.Field)
			}
		}
	}
	slices.Sort(out)
	return out
}

// Violations returns the BadRequest field violations of st, field to
// description.
func Violations(st *status.Status) map[string]string {
	out := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out[v.Field] = v.Description
			}
		}
	}
	return out
}

// ErrorInfo returns the ErrorInfo detail of st, or nil.
func ErrorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// ErrOf returns the error of a call whose answer a test does not need,
// such as ErrOf(client.GetVenue(ctx, req)) in a table of refusals.
func ErrOf[T any](_ T, err error) error { return err }

// Call puts off a unary call to when a case of a table runs: the function
// it returns calls rpc, a client method such as client.GetVenue, with ctx
// and req and returns the call's error.
func Call[Req, Resp any](ctx context.Context, rpc func(context.Context, Req, ...grpc.CallOption) (Resp, error), req Req) func() error {
	return func() error {
		_, err := rpc(ctx, req)
		return err
	}
}
