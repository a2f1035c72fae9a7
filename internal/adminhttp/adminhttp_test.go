package adminhttp

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func text(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, s) })
}

// TestLocalRoutesAnswerLoopbackOnly: the profiles and the local routes
// answer callers on this machine only; the open routes answer anyone.
func TestLocalRoutesAnswerLoopbackOnly(t *testing.T) {
	h := NewHandler(Options{
		Open:  map[string]http.Handler{"/metrics": text("metrics")},
		Local: map[string]http.Handler{"/debug/backup": text("db")},
	})
	tests := []struct {
		path, remote string
		want         int
	}{
		{"/debug/backup", "127.0.0.1:5000", http.StatusOK},
		{"/debug/backup", "127.8.9.10:5000", http.StatusOK},
		{"/debug/backup", "[::1]:5000", http.StatusOK},
		{"/debug/backup", "10.1.2.3:5000", http.StatusForbidden},
		{"/debug/backup", "[2001:db8::1]:5000", http.StatusForbidden},
		{"/debug/backup", "not an address", http.StatusForbidden},
		{"/debug/pprof/", "192.168.0.9:5000", http.StatusForbidden},
		{"/debug/pprof/", "127.0.0.1:5000", http.StatusOK},
		{"/debug/pprof/cmdline", "192.168.0.9:5000", http.StatusForbidden},
		{"/debug/pprof/symbol", "192.168.0.9:5000", http.StatusForbidden},
		{"/debug/pprof/symbol", "127.0.0.1:5000", http.StatusOK},
		{"/debug/pprof/heap", "192.168.0.9:5000", http.StatusForbidden},
		{"/debug/pprof/heap", "127.0.0.1:5000", http.StatusOK},
		{"/metrics", "10.1.2.3:5000", http.StatusOK},
		{"/elsewhere", "127.0.0.1:5000", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.path+" from "+tc.remote, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			req.RemoteAddr = tc.remote
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Errorf("GET %s from %s: %d, want %d", tc.path, tc.remote, rec.Code, tc.want)
			}
		})
	}
}

func TestCollidingPatternPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHandler accepted a second /debug/pprof/ route")
		}
	}()
	NewHandler(Options{Local: map[string]http.Handler{"/debug/pprof/": text("x")}})
}
