// Package adminhttptest checks that an admin port's protected routes
// answer an admin and no one else, with real tokens: the one matrix the
// tests of adminhttp, of the services' bootstrap and of the gateway run.
//
// It is imported by _test.go files only.
package adminhttptest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// Keys returns a fresh signing key and its public half, which the
// handler under test verifies with.
func Keys(t testing.TB) (*authn.Signer, ed25519.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return authn.NewSigner(priv), pub
}

// Token signs a token for p, valid for an hour.
func Token(t testing.TB, s *authn.Signer, p authn.Principal) string {
	t.Helper()
	tok, err := s.Sign(p, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Case is one caller of an admin route and the status it must get.
type Case struct {
	Name string
	// Remote is the caller's address.
	Remote string
	// Authorization is the header sent, if any.
	Authorization []string
	// Want is the status code.
	Want int
}

// Cases are the callers every protected route is tried with: local
// callers without a token, with a broken one, with a token of another key
// and with a token of every role but admin are refused; an admin on this
// machine is served; an admin elsewhere is refused.
func Cases(t testing.TB, s *authn.Signer) []Case {
	t.Helper()
	foreign, _ := Keys(t)
	bearer := func(p authn.Principal) []string { return []string{"Bearer " + Token(t, s, p)} }
	admin := authn.Principal{Subject: "ops", Role: authn.RoleAdmin}
	const local, remote = "127.0.0.1:5000", "10.1.2.3:5000"
	return []Case{
		{"no token", local, nil, http.StatusUnauthorized},
		{"not a bearer token", local, []string{"Basic b3BzOnNlY3JldA=="}, http.StatusUnauthorized},
		{"broken token", local, []string{"Bearer not.a.token"}, http.StatusUnauthorized},
		{"admin token of another key", local, []string{"Bearer " + Token(t, foreign, admin)}, http.StatusUnauthorized},
		{"two tokens", local, append(bearer(admin), bearer(admin)...), http.StatusUnauthorized},
		{"clerk token", local, bearer(authn.Principal{Subject: "clerk-1", Role: authn.RoleClerk, Communities: []string{"210102001001"}}), http.StatusForbidden},
		{"bureau token", local, bearer(authn.Principal{Subject: "bureau-1", Role: authn.RoleBureau}), http.StatusForbidden},
		{"enterprise token", local, bearer(authn.Principal{Subject: "ent-1", Role: authn.RoleEnterprise, Enterprise: "91350100M000100Y43"}), http.StatusForbidden},
		{"service token", local, bearer(authn.Principal{Subject: "pension", Role: authn.RoleService}), http.StatusForbidden},
		{"street token", local, bearer(authn.Principal{Subject: "street-1", Role: authn.RoleStreet, Street: "210102001"}), http.StatusForbidden},
		{"district token", local, bearer(authn.Principal{Subject: "district-1", Role: authn.RoleDistrict, District: "210102"}), http.StatusForbidden},
		{"admin token from another machine", remote, bearer(admin), http.StatusForbidden},
		{"admin token", local, bearer(admin), http.StatusOK},
		{"admin token over IPv6 loopback", "[::1]:5000", bearer(admin), http.StatusOK},
	}
}

// Check sends GET path to h as each of Cases and fails t for every caller
// that does not get its status; a refusal without a token must carry a
// WWW-Authenticate challenge.
func Check(t *testing.T, h http.Handler, s *authn.Signer, path string) {
	t.Helper()
	for _, tc := range Cases(t, s) {
		t.Run(path+" "+tc.Name, func(t *testing.T) {
			rec := Get(h, path, tc.Remote, tc.Authorization...)
			if rec.Code != tc.Want {
				t.Fatalf("GET %s from %s (%s): %d %.80q, want %d", path, tc.Remote, tc.Name, rec.Code, rec.Body.String(), tc.Want)
			}
			if tc.Want == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("GET %s (%s): 401 without a WWW-Authenticate challenge", path, tc.Name)
			}
		})
	}
}

// Get sends GET path to h from remote with the Authorization headers
// given.
func Get(h http.Handler, path, remote string, authorization ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, path, nil)
	req.RemoteAddr = remote
	for _, a := range authorization {
		req.Header.Add("Authorization", a)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FromAnotherMachine serves h as if every request came from another
// machine (10.1.2.3), whatever the test's loopback connection: the TLS
// state of the request stays the real one, so that what is tested is
// the client certificate, not the address.
func FromAnotherMachine(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.RemoteAddr = "10.1.2.3:5000"
		h.ServeHTTP(w, r)
	})
}
