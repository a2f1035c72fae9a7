package gateway

import (
	"crypto/ed25519"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/adminhttp/adminhttptest"
	"github.com/socmgmt/socmgmt/internal/authn"
)

// TestAdminPortProfilesNeedAdminToken: the gateway's admin port is the
// services' (internal/adminhttp): the profiles answer an admin token,
// verified with --token-key, from this machine only, even when the port
// is opened to a metrics scraper elsewhere; metrics answer anyone, to GET
// only as before.
func TestAdminPortProfilesNeedAdminToken(t *testing.T) {
	signer, pub := adminhttptest.Keys(t)
	cfg := testConfig("127.0.0.1:1") // dialled lazily, never reached
	cfg.AdminAddr = "127.0.0.1:9200"
	cfg.TokenKey = writePublicKey(t, pub)
	g, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	admin := g.AdminHandler()
	adminhttptest.Check(t, admin, signer, "/debug/pprof/")
	adminhttptest.Check(t, admin, signer, "/debug/pprof/heap")

	tests := []struct {
		method, path, remote string
		want                 int
		wantBody             string // a substring, when the status is 200
	}{
		{http.MethodGet, "/debug/pprof/profile", "127.0.0.1:5000", http.StatusUnauthorized, ""},
		{http.MethodGet, "/debug/pprof/trace", "127.0.0.1:5000", http.StatusUnauthorized, ""},
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

// TestAdminPortWithoutTokenKey: a gateway started without --token-key
// serves no profiles, to an admin token neither.
func TestAdminPortWithoutTokenKey(t *testing.T) {
	signer, _ := adminhttptest.Keys(t)
	g, err := New(testConfig("127.0.0.1:1"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	tok := adminhttptest.Token(t, signer, authn.Principal{Subject: "ops", Role: authn.RoleAdmin})
	if rec := adminhttptest.Get(g.AdminHandler(), "/debug/pprof/heap", "127.0.0.1:5000", "Bearer "+tok); rec.Code != http.StatusForbidden {
		t.Errorf("GET /debug/pprof/heap without --token-key: %d, want 403", rec.Code)
	}
}

// TestBadTokenKey: a --token-key that holds no key stops New, naming
// the flag.
func TestBadTokenKey(t *testing.T) {
	cfg := testConfig("127.0.0.1:1")
	cfg.TokenKey = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "--token-key") {
		t.Errorf("New with a missing key file = %v, want an error naming --token-key", err)
	}
}

func writePublicKey(t *testing.T, pub ed25519.PublicKey) string {
	t.Helper()
	data, err := authn.EncodePublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing.pub")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
