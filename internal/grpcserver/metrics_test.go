package grpcserver

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestStorageUnavailableIsCounted: a call refused because the disk is
// full is UNAVAILABLE with reason STORAGE_UNAVAILABLE, and counted in
// socmgmt_storage_unavailable_total; other failures are not.
func TestStorageUnavailableIsCounted(t *testing.T) {
	h := start(t, Options{Name: "test"})
	for range 2 {
		_, _, err := h.unary(t, diskFullValue)
		st := status.Convert(err)
		if st.Code() != codes.Unavailable {
			t.Fatalf("disk full: %v %q, want Unavailable", st.Code(), st.Message())
		}
		found := false
		for _, d := range st.Details() {
			if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == "STORAGE_UNAVAILABLE" {
				found = true
			}
		}
		if !found {
			t.Errorf("details %v, want ErrorInfo STORAGE_UNAVAILABLE", st.Details())
		}
	}
	if _, _, err := h.unary(t, codeValuePrefix+"14"); status.Code(err) != codes.Unavailable {
		t.Fatalf("code:14 = %v", err)
	}
	if got := testutil.ToFloat64(h.srv.metrics.storageUnavailable.WithLabelValues(echoService, "Unary")); got != 2 {
		t.Errorf("socmgmt_storage_unavailable_total = %v, want 2 (the plain UNAVAILABLE not counted)", got)
	}
}
