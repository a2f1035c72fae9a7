package gateway

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/requestid"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// exportFile is the file the fake registry exports: over 64 KiB, so it
// comes in several chunks, with Chinese text.
var exportFile = append([]byte("\ufeff姓名,公民身份号码\r\n"), bytes.Repeat([]byte("王秀英,110105********002X\r\n"), 4000)...)

// ExportRegister answers as registry does: a first message naming the
// file, then its bytes in chunks of 64 KiB; a community outside the
// caller's scope is refused before anything is sent.
func (f *fakeRegistry) ExportRegister(req *registryv1.ExportRegisterRequest, stream registryv1.RegistryService_ExportRegisterServer) error {
	f.record(stream.Context(), "ExportRegister", req)
	if req.CommunityId == "210102001002" {
		return status.Error(codes.PermissionDenied, "permission denied")
	}
	err := stream.Send(&registryv1.ExportRegisterResponse{
		ContentType: "text/csv; charset=utf-8", FileName: req.Register + "-" + req.CommunityId + "-2026-06-15.csv",
		Rows: 4000, Size: int64(len(exportFile)),
	})
	for rest := exportFile; err == nil && len(rest) > 0; {
		n := min(len(rest), 64<<10)
		err = stream.Send(&registryv1.ExportRegisterResponse{Data: rest[:n]})
		rest = rest[n:]
	}
	return err
}

// TestExport downloads a register through the gateway: the file as the
// upstream streamed it, its name as an attachment, no caching, the
// query's fields and the bearer token passed on.
func TestExport(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)
	bearer := map[string]string{"Authorization": "Bearer clerk.token.value", "Accept-Encoding": "identity"}
	resp := sendWant(t, newRequest(t, http.MethodGet, url+"/v1/exports/roster?communityId=210102001001&asOf=2026-06-15&format=csv&masked=true", "", bearer), http.StatusOK)
	if !bytes.Equal(resp.body, exportFile) {
		t.Errorf("the file differs: %d bytes, want %d", len(resp.body), len(exportFile))
	}
	for header, want := range map[string]string{
		"Content-Type":           "text/csv; charset=utf-8",
		"Content-Disposition":    `attachment; filename=roster-210102001001-2026-06-15.csv`,
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := resp.header.Get(header); got != want {
			t.Errorf("%s: %q, want %q", header, got, want)
		}
	}
	calls := up.fake.callsOf("ExportRegister")
	if len(calls) != 1 {
		t.Fatalf("%d ExportRegister calls", len(calls))
	}
	want := &registryv1.ExportRegisterRequest{Register: "roster", CommunityId: "210102001001", AsOf: "2026-06-15", Format: "csv", Masked: true}
	if diff := cmp.Diff(want, calls[0].req, protocmp.Transform()); diff != "" {
		t.Errorf("request (-want +got):\n%s", diff)
	}
	if got := calls[0].md.Get("authorization"); len(got) != 1 || got[0] != bearer["Authorization"] {
		t.Errorf("authorization passed on: %v", got)
	}
	if got := calls[0].md.Get(requestid.Key); len(got) != 1 || resp.header.Get(requestid.Header) != got[0] {
		t.Errorf("request id %v upstream, %q answered", got, resp.header.Get(requestid.Header))
	}
}

// TestExportRefusals checks that a bad query is refused before the
// upstream is called, naming the parameter, and that an upstream refusal
// is answered as JSON.
func TestExportRefusals(t *testing.T) {
	t.Parallel()
	up, url := startBehindGateway(t)
	tests := []struct {
		name, query string
		code        int
		field       string
	}{
		{"unknown parameter", "?communityId=210102001001&idNumber=11010519491231002X", http.StatusBadRequest, "idNumber"},
		{"the path's field in the query", "?communityId=210102001001&register=roster", http.StatusBadRequest, "register"},
		{"a parameter twice", "?communityId=210102001001&communityId=210102001003", http.StatusBadRequest, "communityId"},
		{"not a boolean", "?communityId=210102001001&masked=perhaps", http.StatusBadRequest, "masked"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(up.fake.callsOf("ExportRegister"))
			resp := sendWant(t, newRequest(t, http.MethodGet, url+"/v1/exports/roster"+tc.query, "", nil), tc.code)
			if got := badRequestFields(t, resp.body); !cmp.Equal(got, []string{tc.field}) {
				t.Errorf("fields %v, want [%s]", got, tc.field)
			}
			if strings.Contains(string(resp.body), "11010519491231002X") {
				t.Error("the refusal repeats the ID number")
			}
			if after := len(up.fake.callsOf("ExportRegister")); after != before {
				t.Error("the upstream was called")
			}
		})
	}
	resp := sendWant(t, newRequest(t, http.MethodGet, url+"/v1/exports/roster?communityId=210102001002", "", nil), http.StatusForbidden)
	if ct := resp.header.Get("Content-Type"); ct != "application/json" || resp.header.Get("Content-Disposition") != "" {
		t.Errorf("a refusal answered as %q, %q", ct, resp.header.Get("Content-Disposition"))
	}
	sendWant(t, newRequest(t, http.MethodPost, url+"/v1/exports/roster?communityId=210102001001", "", nil), http.StatusMethodNotAllowed)
}

// badRequestFields reads the fields of the BadRequest detail of a
// google.rpc.Status body.
func badRequestFields(t *testing.T, body []byte) []string {
	t.Helper()
	var st struct {
		Details []struct {
			Type            string `json:"@type"`
			FieldViolations []struct {
				Field string `json:"field"`
			} `json:"fieldViolations"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("not a status: %v: %s", err, body)
	}
	var out []string
	for _, d := range st.Details {
		for _, v := range d.FieldViolations {
			out = append(out, v.Field)
		}
	}
	return out
}

// callsOf returns the calls of method the fake has had.
func (f *fakeRegistry) callsOf(method string) []upstreamCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []upstreamCall
	for _, c := range f.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}
