package gateway

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// TestWrongMethod: a path served with other methods answers 405 with an
// Allow header naming them (HEAD wherever GET is); a path served with none
// is 404.
func TestWrongMethod(t *testing.T) {
	t.Parallel()
	up, base := startFullGateway(t, nil)
	tests := []struct {
		name, method, path string
		want               int
		allow              string
	}{
		{"PUT on a retiree", http.MethodPut, "/v1/retirees/r-1", http.StatusMethodNotAllowed, "GET, HEAD, PATCH"},
		{"POST on a retiree", http.MethodPost, "/v1/retirees/r-1", http.StatusMethodNotAllowed, "GET, HEAD, PATCH"},
		{"DELETE on the retirees", http.MethodDelete, "/v1/retirees", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"OPTIONS without CORS", http.MethodOptions, "/v1/retirees", http.StatusMethodNotAllowed, "GET, HEAD, POST"},
		{"GET on a custom method", http.MethodGet, "/v1/retirees:lookup", http.StatusMethodNotAllowed, "POST"},
		{"HEAD on a custom method", http.MethodHead, "/v1/retirees:lookup", http.StatusMethodNotAllowed, "POST"},
		{"POST on health", http.MethodPost, "/healthz", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"PATCH on the document", http.MethodPatch, "/openapi.json", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"POST on the calendar", http.MethodPost, "/v1/communities/210102001001/calendar.ics", http.StatusMethodNotAllowed, "GET, HEAD"},
		{"GET on a registration", http.MethodGet, "/v1/activities/a-1/registrations/r-1", http.StatusMethodNotAllowed, "DELETE"},
		{"an unknown method", "BREW", "/v1/retirees/r-1", http.StatusMethodNotAllowed, "GET, HEAD, PATCH"},
		{"trailing slash", http.MethodPut, "/v1/retirees/r-1/", http.StatusMethodNotAllowed, "GET, HEAD, PATCH"},
		{"no such path", http.MethodGet, "/v1/nothing", http.StatusNotFound, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noCall := up.fake.noCallsFromNow()
			resp := sendWant(t, newRequest(t, tc.method, base+tc.path, "", nil), tc.want)
			if got := resp.header.Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			noCall(t)
			if tc.method == http.MethodHead {
				return
			}
			want := codes.Unimplemented
			if tc.want == http.StatusNotFound {
				want = codes.NotFound
			}
			if st := decodeStatus(t, resp.body); st.Code != want {
				t.Errorf("code %v, want %v", st.Code, want)
			}
		})
	}
}

// TestHead: HEAD answers wherever GET does, with GET's status and headers
// and no body.
func TestHead(t *testing.T) {
	t.Parallel()
	up, base := startFullGateway(t, nil)
	tests := []struct {
		name, path  string
		want        int
		contentType string
		upstream    bool
	}{
		{"health", "/healthz", http.StatusOK, "application/json", false},
		{"document", "/openapi.json", http.StatusOK, "application/json", false},
		{"a retiree", "/v1/retirees/r-1", http.StatusOK, "application/json", true},
		{"the retirees", "/v1/retirees?pageSize=3", http.StatusOK, "application/json", true},
		{"a refusal", "/v1/retirees/code-7", http.StatusForbidden, "application/json", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := up.fake.callCount()
			get := sendWant(t, newRequest(t, http.MethodGet, base+tc.path, "", nil), tc.want)
			head := sendWant(t, newRequest(t, http.MethodHead, base+tc.path, "", nil), tc.want)
			if len(head.body) != 0 {
				t.Errorf("HEAD answered a body of %d bytes", len(head.body))
			}
			for _, h := range []string{"Content-Type", "ETag", "Cache-Control"} {
				if head.header.Get(h) != get.header.Get(h) {
					t.Errorf("%s: HEAD %q, GET %q", h, head.header.Get(h), get.header.Get(h))
				}
			}
			if got := head.header.Get("Content-Type"); got != tc.contentType {
				t.Errorf("Content-Type %q, want %q", got, tc.contentType)
			}
			if calls := up.fake.callCount() - before; tc.upstream && calls != 2 || !tc.upstream && calls != 0 {
				t.Errorf("%d upstream calls for a GET and a HEAD", calls)
			}
		})
	}
}

// TestTrailingSlash: a path with a trailing slash is the same resource as
// without it, for every method.
func TestTrailingSlash(t *testing.T) {
	t.Parallel()
	up, base := startFullGateway(t, nil)
	tests := []struct {
		name, method, path, body string
		upstream                 string
	}{
		{"a retiree", http.MethodGet, "/v1/retirees/r-1", "", "GetRetiree"},
		{"the retirees", http.MethodGet, "/v1/retirees?pageSize=2", "", "ListRetirees"},
		{"create", http.MethodPost, "/v1/retirees", `{"name":"张三"}`, "CreateRetiree"},
		{"update", http.MethodPatch, "/v1/retirees/r-1", `{"name":"张三","etag":"r7"}`, "UpdateRetiree"},
		{"health", http.MethodGet, "/healthz", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plain := sendWant(t, newRequest(t, tc.method, base+tc.path, tc.body, nil), http.StatusOK)
			slashed := base + tc.path + "/"
			if i := strings.IndexByte(tc.path, '?'); i >= 0 {
				slashed = base + tc.path[:i] + "/" + tc.path[i:]
			}
			withSlash := sendWant(t, newRequest(t, tc.method, slashed, tc.body, nil), http.StatusOK)
			if string(plain.body) != string(withSlash.body) {
				t.Errorf("bodies differ:\n%s\n%s", plain.body, withSlash.body)
			}
			if tc.upstream != "" {
				if got := up.fake.lastCall(t).method; got != tc.upstream {
					t.Errorf("upstream got %s, want %s", got, tc.upstream)
				}
			}
		})
	}
	t.Run("many slashes", func(t *testing.T) {
		sendWant(t, newRequest(t, http.MethodGet, base+"/v1/retirees/r-1//", "", nil), http.StatusOK)
	})
	t.Run("root", func(t *testing.T) {
		// The API has nothing at /; with the console on, its page is
		// there (console_test.go).
		_, apiOnly := startFullGateway(t, func(c *Config) { c.Console = false })
		sendWant(t, newRequest(t, http.MethodGet, apiOnly+"/", "", nil), http.StatusNotFound)
	})
}
