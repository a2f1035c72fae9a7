package gateway

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestConditionalReads: a read carries the resource's etag as ETag;
// If-None-Match naming it is 304 without a body, If-Match not naming it
// 412.
func TestConditionalReads(t *testing.T) {
	t.Parallel()
	_, base := startBehindGateway(t)
	tests := []struct {
		name   string
		header map[string]string
		want   int
	}{
		{"no condition", nil, http.StatusOK},
		{"If-None-Match, current", map[string]string{"If-None-Match": `"r7"`}, http.StatusNotModified},
		{"If-None-Match, weak", map[string]string{"If-None-Match": `W/"r7"`}, http.StatusNotModified},
		{"If-None-Match, in a list", map[string]string{"If-None-Match": `"r5", "r7"`}, http.StatusNotModified},
		{"If-None-Match, any", map[string]string{"If-None-Match": `*`}, http.StatusNotModified},
		{"If-None-Match, old", map[string]string{"If-None-Match": `"r6"`}, http.StatusOK},
		{"If-None-Match, unquoted", map[string]string{"If-None-Match": `r7`}, http.StatusOK},
		{"If-Match, current", map[string]string{"If-Match": `"r7"`}, http.StatusOK},
		{"If-Match, old", map[string]string{"If-Match": `"r6"`}, http.StatusPreconditionFailed},
		{"If-Match, weak", map[string]string{"If-Match": `W/"r7"`}, http.StatusPreconditionFailed},
		{"If-Match, any", map[string]string{"If-Match": `*`}, http.StatusOK},
	}
	for _, tc := range tests {
		for _, method := range []string{http.MethodGet, http.MethodHead} {
			t.Run(method+" "+tc.name, func(t *testing.T) {
				resp := sendWant(t, newRequest(t, method, base+"/v1/retirees/r-1", "", tc.header), tc.want)
				if got := resp.header.Get("ETag"); got != `"r7"` {
					t.Errorf("ETag %q, want \"r7\"", got)
				}
				switch {
				case method == http.MethodHead:
				case tc.want == http.StatusNotModified && len(resp.body) != 0:
					t.Errorf("304 with a body: %s", resp.body)
				case tc.want == http.StatusPreconditionFailed:
					if st := decodeStatus(t, resp.body); st.Code != codes.FailedPrecondition {
						t.Errorf("code %v, want FailedPrecondition", st.Code)
					}
				case tc.want == http.StatusOK && len(resp.body) == 0:
					t.Error("200 without a body")
				}
			})
		}
	}
	t.Run("a list has no etag", func(t *testing.T) {
		resp := sendWant(t, newRequest(t, http.MethodGet, base+"/v1/retirees?pageSize=1", "", map[string]string{"If-None-Match": `"r7"`}), http.StatusOK)
		if got := resp.header.Get("ETag"); got != "" {
			t.Errorf("ETag %q on a list", got)
		}
	})
	t.Run("an error has no etag", func(t *testing.T) {
		resp := sendWant(t, newRequest(t, http.MethodGet, base+"/v1/retirees/code-7", "", map[string]string{"If-None-Match": `*`}), http.StatusForbidden)
		if got := resp.header.Get("ETag"); got != "" {
			t.Errorf("ETag %q on an error", got)
		}
	})
}

// TestIfMatchOnWrites: If-Match stands in for the body's etag, on an
// update (where the etag is the resource's) and on a custom method (where
// it is the request's); a stale one is 412, as HTTP says, while a stale
// etag in the body stays 409.
func TestIfMatchOnWrites(t *testing.T) {
	t.Parallel()
	up, base := startBehindGateway(t)
	tests := []struct {
		name, method, path, body, ifMatch string
		want                              int
		wantReq                           proto.Message // what reaches the upstream, nil: nothing
		field                             string        // the BadRequest's field of a 400
	}{
		{"update, header alone", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四"}`, `"r7"`, http.StatusOK,
			&registryv1.Retiree{Id: "r-1", Name: "李四", Etag: "r7"}, ""},
		{"update, header and the same etag", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四","etag":"r7"}`, `"r7"`, http.StatusOK,
			&registryv1.Retiree{Id: "r-1", Name: "李四", Etag: "r7"}, ""},
		{"update, body alone", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四","etag":"r7"}`, "", http.StatusOK,
			&registryv1.Retiree{Id: "r-1", Name: "李四", Etag: "r7"}, ""},
		{"update, any", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四","etag":"r7"}`, "*", http.StatusOK,
			&registryv1.Retiree{Id: "r-1", Name: "李四", Etag: "r7"}, ""},
		{"update, stale header", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四"}`, `"r6"`, http.StatusPreconditionFailed,
			&registryv1.Retiree{Id: "r-1", Name: "李四", Etag: "r6"}, ""},
		{"update, stale body", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四","etag":"r6"}`, "", http.StatusConflict,
			&registryv1.Retiree{Id: "r-1", Name: "李四", Etag: "r6"}, ""},
		{"update, header and body disagree", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四","etag":"r6"}`, `"r7"`, http.StatusBadRequest, nil, "etag"},
		{"custom method, header", http.MethodPost, "/v1/retirees/r-1:transfer", `{"toCommunityId":"210102001002"}`, `"r7"`, http.StatusOK,
			&registryv1.TransferRetireeRequest{Id: "r-1", ToCommunityId: "210102001002", Etag: "r7"}, ""},
		{"custom method, stale header", http.MethodPost, "/v1/retirees/r-1:transfer", `{"toCommunityId":"210102001002"}`, `"r6"`, http.StatusPreconditionFailed,
			&registryv1.TransferRetireeRequest{Id: "r-1", ToCommunityId: "210102001002", Etag: "r6"}, ""},
		{"route without an etag", http.MethodPost, "/v1/retirees:lookup", `{"idNumber":"11010519491231002X"}`, `"r7"`, http.StatusBadRequest, nil, "If-Match"},
		{"unquoted", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四"}`, `r7`, http.StatusBadRequest, nil, "If-Match"},
		{"weak", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四"}`, `W/"r7"`, http.StatusBadRequest, nil, "If-Match"},
		{"a list", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四"}`, `"r6", "r7"`, http.StatusBadRequest, nil, "If-Match"},
		{"empty tag", http.MethodPatch, "/v1/retirees/r-1", `{"name":"李四"}`, `""`, http.StatusBadRequest, nil, "If-Match"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noCall := up.fake.noCallsFromNow()
			header := map[string]string{}
			if tc.ifMatch != "" {
				header["If-Match"] = tc.ifMatch
			}
			resp := sendWant(t, newRequest(t, tc.method, base+tc.path, tc.body, header), tc.want)
			if tc.wantReq == nil {
				noCall(t)
				wantViolation(t, resp.body, tc.field)
				return
			}
			got := up.fake.lastCall(t).req
			if u, ok := got.(*registryv1.UpdateRetireeRequest); ok {
				got = u.GetRetiree()
			}
			if diff := cmp.Diff(tc.wantReq, got, protocmp.Transform()); diff != "" {
				t.Errorf("upstream request (-want +got):\n%s", diff)
			}
			if tc.want == http.StatusOK && resp.header.Get("ETag") == "" {
				t.Error("the answer has no ETag")
			}
			if tc.want == http.StatusPreconditionFailed || tc.want == http.StatusConflict {
				if st := decodeStatus(t, resp.body); st.Code != codes.Aborted {
					t.Errorf("code %v, want Aborted", st.Code)
				}
			}
		})
	}
}
