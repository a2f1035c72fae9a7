package gateway

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestAdminPortDebugIsLoopbackOnly: the gateway's admin port is the
// services' (internal/adminhttp): profiles answer callers on this machine
// only, even when the port is opened to a metrics scraper elsewhere;
// metrics answer anyone, to GET only as before.
func TestAdminPortDebugIsLoopbackOnly(t *testing.T) {
	cfg := testConfig("127.0.0.1:1") // dialled lazily, never reached
	cfg.AdminAddr = "127.0.0.1:9200"
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	admin := g.AdminHandler()
	tests := []struct {
		method, path, remote string
		want                 int
		wantBody             string // a substring, when the status is 200
	}{
		{http.MethodGet, "/debug/pprof/", "192.168.0.9:5000", http.StatusForbidden, ""},
		{http.MethodGet, "/debug/pprof/", "10.1.2.3:5000", http.StatusForbidden, ""},
		{http.MethodGet, "/debug/pprof/profile", "10.1.2.3:5000", http.StatusForbidden, ""},
		{http.MethodGet, "/debug/pprof/trace", "10.1.2.3:5000", http.StatusForbidden, ""},
		{http.MethodGet, "/debug/pprof/heap", "10.1.2.3:5000", http.StatusForbidden, ""},
		{http.MethodGet, "/debug/pprof/", "127.0.0.1:5000", http.StatusOK, "goroutine"},
		{http.MethodGet, "/debug/pprof/", "[::1]:5000", http.StatusOK, "goroutine"},
		{http.MethodGet, "/metrics", "10.1.2.3:5000", http.StatusOK, "socmgmt_http_requests_total"},
		{http.MethodPost, "/metrics", "127.0.0.1:5000", http.StatusMethodNotAllowed, ""},
		{http.MethodGet, "/healthz", "127.0.0.1:5000", http.StatusNotFound, ""},
	}
	// Something for /metrics to list.
	g.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/nowhere", nil))
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path+" from "+tc.remote, func(t *testing.T) {
			req := httptest.NewRequest(tc.method, tc.path, nil)
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			admin.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("%s %s from %s: %d, want %d", tc.method, tc.path, tc.remote, rec.Code, tc.want)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("%s %s from %s: body %.80q, want it to contain %q", tc.method, tc.path, tc.remote, rec.Body.String(), tc.wantBody)
			}
		})
	}
}
