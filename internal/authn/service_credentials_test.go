package authn

import (
	"context"
	"errors"
	"os"
	"path/filepath"
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

// TestTokenFileCredentialsTakeUpANewToken: an operator replaces the
// pre-issued token in its file and the credentials present the new one,
// without a restart; a file that cannot be read keeps the last token.
func TestTokenFileCredentialsTakeUpANewToken(t *testing.T) {
	_, priv := newKey(t)
	path := filepath.Join(t.TempDir(), "service.token")
	first := mustSign(t, priv, serviceP, time.Hour, t0)
	if err := os.WriteFile(path, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := NewTokenFileCredentials(path)
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(t0)
	c.now = clock.Now
	header := func() string {
		t.Helper()
		md, err := c.GetRequestMetadata(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return md[authorizationKey]
	}
	if got := header(); got != "Bearer "+first {
		t.Fatalf("header = %q, want the file's token", got)
	}
	second := mustSign(t, priv, serviceP, 2*time.Hour, t0)
	if err := os.WriteFile(path, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(tokenFileCheck))
	if got := header(); got != "Bearer "+second {
		t.Errorf("header after the file was replaced = %q, want the new token", got)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	clock.Set(t0.Add(2 * tokenFileCheck))
	if got := header(); got != "Bearer "+second {
		t.Errorf("header after the file went = %q, want the last token kept", got)
	}
	if _, err := NewTokenFileCredentials(path); err == nil {
		t.Error("NewTokenFileCredentials of a missing file succeeded")
	}
}

// TestCallCredentialsNameTheCallee: tokens a service mints for its calls
// are for the callee alone.
func TestCallCredentialsNameTheCallee(t *testing.T) {
	pub, priv := newKey(t)
	_, privPEM := keyPEMs(t, pub, priv)
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	if err := os.WriteFile(keyFile, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	creds, err := CallCredentials(keyFile, "", "pension", "registry")
	if err != nil {
		t.Fatal(err)
	}
	md, err := creds.GetRequestMetadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimPrefix(md[authorizationKey], "Bearer ")
	registry := NewVerifier(pub, WithAudience(Audience, ServiceAudience("registry")))
	activity := NewVerifier(pub, WithAudience(Audience, ServiceAudience("activity")))
	if p, err := registry.Verify(tok); err != nil || p.Subject != "pension" || p.Role != RoleService {
		t.Errorf("registry: %+v, %v; want pension's service principal", p, err)
	}
	if _, err := activity.Verify(tok); !errors.Is(err, ErrBadClaims) {
		t.Errorf("activity: err = %v, want ErrBadClaims (another program's token)", err)
	}
}
