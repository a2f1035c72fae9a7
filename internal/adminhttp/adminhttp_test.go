package adminhttp_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/adminhttp/adminhttptest"
	"github.com/socmgmt/socmgmt/internal/authn"
)

func text(s string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, s) })
}

// TestAdminRoutesNeedAnAdminToken: the profiles and the admin routes
// answer an admin on this machine and refuse everyone else, local
// callers without a token or with another role's included; the open
// routes answer anyone.
func TestAdminRoutesNeedAnAdminToken(t *testing.T) {
	signer, pub := adminhttptest.Keys(t)
	h := adminhttp.NewHandler(adminhttp.Options{
		Open:     map[string]http.Handler{"/metrics": text("metrics")},
		Admin:    map[string]http.Handler{"/debug/backup": text("db")},
		Verifier: authn.NewVerifier(pub),
	})
	for _, path := range []string{"/debug/backup", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/symbol"} {
		adminhttptest.Check(t, h, signer, path)
	}
	// Profiles that run for seconds when served: only their refusals.
	for _, path := range []string{"/debug/pprof/profile", "/debug/pprof/trace"} {
		if rec := adminhttptest.Get(h, path, "127.0.0.1:5000"); rec.Code != http.StatusUnauthorized {
			t.Errorf("GET %s without a token: %d, want 401", path, rec.Code)
		}
	}
	for _, tc := range []struct {
		path, remote string
		want         int
	}{
		{"/metrics", "10.1.2.3:5000", http.StatusOK},
		{"/metrics", "not an address", http.StatusOK},
		{"/debug/backup", "not an address", http.StatusForbidden},
		{"/elsewhere", "127.0.0.1:5000", http.StatusNotFound},
	} {
		if rec := adminhttptest.Get(h, tc.path, tc.remote); rec.Code != tc.want {
			t.Errorf("GET %s from %s: %d, want %d", tc.path, tc.remote, rec.Code, tc.want)
		}
	}
}

// TestNoVerifierRefusesEveryone: a program without a token key serves no
// profiles and no backups, not even to a valid admin token.
func TestNoVerifierRefusesEveryone(t *testing.T) {
	signer, _ := adminhttptest.Keys(t)
	h := adminhttp.NewHandler(adminhttp.Options{Admin: map[string]http.Handler{"/debug/backup": text("db")}})
	admin := "Bearer " + adminhttptest.Token(t, signer, authn.Principal{Subject: "ops", Role: authn.RoleAdmin})
	for _, path := range []string{"/debug/backup", "/debug/pprof/heap"} {
		if rec := adminhttptest.Get(h, path, "127.0.0.1:5000", admin); rec.Code != http.StatusForbidden {
			t.Errorf("GET %s with an admin token, no verifier: %d, want 403", path, rec.Code)
		}
	}
}

// TestAdminRoutesAreLogged: who was given or refused an admin route is
// logged, by subject, and the token never is.
func TestAdminRoutesAreLogged(t *testing.T) {
	signer, pub := adminhttptest.Keys(t)
	core, logs := observer.New(zap.InfoLevel)
	h := adminhttp.NewHandler(adminhttp.Options{
		Admin:    map[string]http.Handler{"/debug/backup": text("db")},
		Verifier: authn.NewVerifier(pub),
		Logger:   zap.New(core),
	})
	admin := adminhttptest.Token(t, signer, authn.Principal{Subject: "ops-wang", Role: authn.RoleAdmin})
	clerk := adminhttptest.Token(t, signer, authn.Principal{Subject: "clerk-li", Role: authn.RoleClerk, Communities: []string{"210102001001"}})
	adminhttptest.Get(h, "/debug/backup", "127.0.0.1:5000", "Bearer "+admin)
	adminhttptest.Get(h, "/debug/backup", "127.0.0.1:5000", "Bearer "+clerk)

	given := logs.FilterMessage("admin route").FilterField(zap.String("subject", "ops-wang")).Len()
	refused := logs.FilterMessage("admin route refused").FilterField(zap.String("subject", "clerk-li")).Len()
	if given != 1 || refused != 1 {
		t.Errorf("log has %d grants to ops-wang and %d refusals of clerk-li, want 1 each: %v", given, refused, logs.All())
	}
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			if s, ok := v.(string); ok && (strings.Contains(s, admin) || strings.Contains(s, clerk)) {
				t.Errorf("log line %q field %s holds a token", e.Message, k)
			}
		}
	}
}

func TestCollidingPatternPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewHandler accepted a second /debug/pprof/ route")
		}
	}()
	adminhttp.NewHandler(adminhttp.Options{Admin: map[string]http.Handler{"/debug/pprof/": text("x")}})
}
