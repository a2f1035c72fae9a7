package adminhttp_test

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/adminhttp/adminhttptest"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// TestAdminRoutesOverTLS: on an admin port served with AdminConfig, a
// caller from another machine reaches an admin route only with both a
// client certificate of the client CA and an admin token; the open
// routes need neither, so a scraper or a probe without a certificate
// still gets /metrics and /healthz.
func TestAdminRoutesOverTLS(t *testing.T) {
	t.Parallel()
	d, _, err := devca.Ensure(filepath.Join(t.TempDir(), "stack"), "registry", "backup")
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := devca.Ensure(filepath.Join(t.TempDir(), "other"), "intruder")
	if err != nil {
		t.Fatal(err)
	}
	signer, pub := adminhttptest.Keys(t)
	h := adminhttp.NewHandler(adminhttp.Options{
		Open:     map[string]http.Handler{"/metrics": text("metrics")},
		Admin:    map[string]http.Handler{"/debug/backup": text("db")},
		Verifier: authn.NewVerifier(pub),
	})
	srv := httptest.NewUnstartedServer(adminhttptest.FromAnotherMachine(h))
	if srv.TLS, err = (tlsfiles.Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.CA()}).AdminConfig([]string{"backup"}); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	admin := "Bearer " + adminhttptest.Token(t, signer, authn.Principal{Subject: "ops", Role: authn.RoleAdmin})
	clerk := "Bearer " + adminhttptest.Token(t, signer, authn.Principal{Subject: "clerk-1", Role: authn.RoleClerk, Communities: []string{"210102001001"}})
	withCert := tlsfiles.Client{CAFile: d.CA(), CertFile: d.Cert("backup"), KeyFile: d.Key("backup")}
	noCert := tlsfiles.Client{CAFile: d.CA()}
	tests := []struct {
		name   string
		client tlsfiles.Client
		path   string
		auth   string
		want   int
	}{
		{"certificate and admin token", withCert, "/debug/backup", admin, http.StatusOK},
		{"admin token without a certificate", noCert, "/debug/backup", admin, http.StatusForbidden},
		{"certificate without a token", withCert, "/debug/backup", "", http.StatusUnauthorized},
		{"certificate and a clerk's token", withCert, "/debug/backup", clerk, http.StatusForbidden},
		{"profiles: admin token without a certificate", noCert, "/debug/pprof/heap", admin, http.StatusForbidden},
		{"metrics without a certificate", noCert, "/metrics", "", http.StatusOK},
		{"metrics with a certificate", withCert, "/metrics", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, err := tlsGet(t, tc.client, srv.URL+tc.path, tc.auth)
			if err != nil {
				t.Fatal(err)
			}
			if code != tc.want {
				t.Errorf("GET %s (%s): %d, want %d", tc.path, tc.name, code, tc.want)
			}
		})
	}

	// A certificate of the stack's CA with another name (a program's own)
	// is refused in the handshake, as is one of another CA: neither
	// reaches a route, not even /metrics.
	program := tlsfiles.Client{CAFile: d.CA(), CertFile: d.Cert("registry"), KeyFile: d.Key("registry")}
	if code, err := tlsGet(t, program, srv.URL+"/debug/backup", admin); err == nil {
		t.Errorf("a program's certificate (not named in the admin client names) got HTTP %d, want a failed handshake", code)
	}
	intruder := tlsfiles.Client{CAFile: d.CA(), CertFile: other.Cert("intruder"), KeyFile: other.Key("intruder")}
	if code, err := tlsGet(t, intruder, srv.URL+"/metrics", ""); err == nil {
		t.Errorf("a certificate of another CA got HTTP %d, want a failed handshake", code)
	}
}

// tlsGet sends GET url over the TLS of c with the Authorization header
// auth, if any, and returns the status.
func tlsGet(t *testing.T, c tlsfiles.Client, url, auth string) (int, error) {
	t.Helper()
	cfg, err := c.Config()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}
