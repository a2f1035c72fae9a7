package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// TestCORS: with --cors-origins set, a preflight from a listed origin is
// answered (and reaches no upstream), and the answers to its requests are
// marked readable by it; another origin gets no such marks. With none set,
// no origin does.
func TestCORS(t *testing.T) {
	t.Parallel()
	const console = "https://console.example.org"
	up, base := startFullGateway(t, func(c *Config) { c.CORSOrigins = []string{console, "http://127.0.0.1:5173"} })
	_, closed := startFullGateway(t, nil)
	preflight := func(origin, method, headers string) map[string]string {
		return map[string]string{"Origin": origin, "Access-Control-Request-Method": method, "Access-Control-Request-Headers": headers}
	}
	tests := []struct {
		name, base, method, path string
		header                   map[string]string
		want                     int
		allowOrigin              string
		check                    map[string]string // more headers and fragments they must hold
	}{
		{"preflight of an update", base, http.MethodOptions, "/v1/retirees/r-1", preflight(console, "PATCH", "authorization,content-type,if-match"), http.StatusNoContent, console,
			map[string]string{"Access-Control-Allow-Methods": "PATCH", "Access-Control-Allow-Headers": "authorization,content-type,if-match", "Access-Control-Max-Age": "600", "Vary": "Origin"}},
		{"preflight of a read with a request id", base, http.MethodOptions, "/v1/retirees", preflight("http://127.0.0.1:5173", "GET", "authorization,x-request-id"), http.StatusNoContent, "http://127.0.0.1:5173",
			map[string]string{"Access-Control-Allow-Methods": "GET"}},
		{"preflight from another origin", base, http.MethodOptions, "/v1/retirees/r-1", preflight("https://evil.example.com", "PATCH", "authorization"), http.StatusNoContent, "", nil},
		{"preflight of a method not offered", base, http.MethodOptions, "/v1/retirees/r-1", preflight(console, "PUT", "authorization"), http.StatusNoContent, "", nil},
		{"preflight of a header not offered", base, http.MethodOptions, "/v1/retirees/r-1", preflight(console, "GET", "x-forwarded-for"), http.StatusNoContent, "", nil},
		{"a read from the console", base, http.MethodGet, "/v1/retirees/r-1", map[string]string{"Origin": console}, http.StatusOK, console,
			map[string]string{"Access-Control-Expose-Headers": "Etag", "Vary": "Origin"}},
		{"a read from another origin", base, http.MethodGet, "/v1/retirees/r-1", map[string]string{"Origin": "https://evil.example.com"}, http.StatusOK, "", nil},
		{"an error to the console", base, http.MethodGet, "/v1/retirees/code-16", map[string]string{"Origin": console}, http.StatusUnauthorized, console,
			map[string]string{"Access-Control-Expose-Headers": "Www-Authenticate"}},
		{"no origins: preflight", closed, http.MethodOptions, "/v1/retirees/r-1", preflight(console, "PATCH", "authorization"), http.StatusMethodNotAllowed, "", nil},
		{"no origins: a read", closed, http.MethodGet, "/v1/retirees/r-1", map[string]string{"Origin": console}, http.StatusOK, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noCall := up.fake.noCallsFromNow()
			resp := sendWant(t, newRequest(t, tc.method, tc.base+tc.path, "", tc.header), tc.want)
			if got := resp.header.Get("Access-Control-Allow-Origin"); got != tc.allowOrigin {
				t.Errorf("Access-Control-Allow-Origin %q, want %q", got, tc.allowOrigin)
			}
			if resp.header.Get("Access-Control-Allow-Credentials") != "" {
				t.Error("credentials allowed")
			}
			for h, want := range tc.check {
				if got := strings.Join(resp.header.Values(h), ", "); !strings.Contains(got, want) {
					t.Errorf("%s %q lacks %q", h, got, want)
				}
			}
			if tc.method == http.MethodOptions && tc.base == base {
				noCall(t)
			}
		})
	}
}
