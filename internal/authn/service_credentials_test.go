package authn

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/testclock"
)

func TestServiceCredentialsRenew(t *testing.T) {
	pub, priv := newKey(t)
	clock := testclock.New(t0)
	v := NewVerifier(pub, WithClock(clock.Now), WithCacheSize(0))
	c := NewServiceCredentials(NewSigner(priv), "pension", time.Hour)
	c.now = clock.Now

	header := func() string {
		t.Helper()
		md, err := c.GetRequestMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		h := md[authorizationKey]
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			t.Fatalf("header %q", h)
		}
		p, err := v.Verify(tok)
		if err != nil {
			t.Fatalf("verify at %v: %v", clock.Now(), err)
		}
		if p.Role != RoleService || p.Subject != "pension" {
			t.Fatalf("principal %+v", p)
		}
		return h
	}
	first := header()
	clock.Set(t0.Add(20 * time.Minute))
	if header() != first {
		t.Error("token renewed before half its lifetime")
	}
	clock.Set(t0.Add(31 * time.Minute))
	if header() == first {
		t.Error("token not renewed after half its lifetime")
	}
	// Far past the first token's expiry the current token still verifies.
	clock.Set(t0.Add(10 * time.Hour))
	header()
	if c.RequireTransportSecurity() {
		t.Error("loopback credentials must not require TLS")
	}
}
