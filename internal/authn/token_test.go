package authn

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/testclock"
)

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

const (
	community1 = "110105001001"
	community2 = "110105001002"
	creditCode = "91350100M000100Y43"
)

var (
	adminP      = Principal{Subject: "alice", Role: RoleAdmin}
	bureauP     = Principal{Subject: "bureau-beijing", Role: RoleBureau}
	clerkP      = Principal{Subject: "clerk-wang", Role: RoleClerk, Communities: []string{community1, community2}}
	enterpriseP = Principal{Subject: "ent-1", Role: RoleEnterprise, Enterprise: creditCode}
	serviceP    = Principal{Subject: "handover", Role: RoleService}
	streetP     = Principal{Subject: "street-jiefang", Role: RoleStreet, Street: "110105001"}
	districtP   = Principal{Subject: "district-chaoyang", Role: RoleDistrict, District: "110105"}
)

func newKey(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// mustVerify is the principal v reads from tok, which must verify.
func mustVerify(t testing.TB, v *Verifier, tok string) *Principal {
	t.Helper()
	p, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return p
}

func mustSign(t testing.TB, priv ed25519.PrivateKey, p Principal, ttl time.Duration, now time.Time) string {
	t.Helper()
	tok, err := NewSigner(priv).Sign(p, ttl, now)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return tok
}

// craft builds a compact JWT by hand from a header and claims, signed by
// sign over the signing input (nil sign leaves the signature empty).
func craft(t testing.TB, header, claims any, sign func(input []byte) []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	input := enc(header) + "." + enc(claims)
	var sig []byte
	if sign != nil {
		sig = sign([]byte(input))
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func edSign(priv ed25519.PrivateKey) func([]byte) []byte {
	return func(in []byte) []byte { return ed25519.Sign(priv, in) }
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	v := NewVerifier(pub, WithClock(func() time.Time { return t0 }))
	for _, p := range []Principal{adminP, bureauP, clerkP, enterpriseP, serviceP, streetP, districtP} {
		t.Run(string(p.Role), func(t *testing.T) {
			tok := mustSign(t, priv, p, time.Hour, t0)
			got, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var c Claims
			parsed, _, err := jwt.NewParser().ParseUnverified(tok, &c)
			if err != nil {
				t.Fatal(err)
			}
			want := p
			want.TokenID = c.ID
			if diff := cmp.Diff(&want, got); diff != "" {
				t.Errorf("principal mismatch (-want +got):\n%s", diff)
			}
			if alg := parsed.Header["alg"]; alg != "EdDSA" {
				t.Errorf("alg = %v, want EdDSA", alg)
			}
			if kid := parsed.Header["kid"]; kid != KeyID(pub) {
				t.Errorf("kid = %v, want %s", kid, KeyID(pub))
			}
			if c.Issuer != Issuer || !slices.Equal(c.Audience, []string{Audience}) {
				t.Errorf("iss, aud = %q, %q; want %q, [%q]", c.Issuer, c.Audience, Issuer, Audience)
			}
			if c.ExpiresAt == nil || !c.ExpiresAt.Equal(t0.Add(time.Hour)) {
				t.Errorf("exp = %v, want %v", c.ExpiresAt, t0.Add(time.Hour))
			}
			if c.IssuedAt == nil || !c.IssuedAt.Equal(t0) || c.NotBefore == nil || !c.NotBefore.Equal(t0) {
				t.Errorf("iat, nbf = %v, %v, want both %v", c.IssuedAt, c.NotBefore, t0)
			}
			if c.ID == "" {
				t.Error("jti is empty")
			}
		})
	}
}

func TestSignUniqueTokens(t *testing.T) {
	_, priv := newKey(t)
	a := mustSign(t, priv, adminP, time.Hour, t0)
	b := mustSign(t, priv, adminP, time.Hour, t0)
	if a == b {
		t.Error("two tokens for the same principal and time are identical; want distinct jti")
	}
}

func TestSignRejects(t *testing.T) {
	_, priv := newKey(t)
	tests := []struct {
		name string
		p    Principal
		ttl  time.Duration
	}{
		{"empty subject", Principal{Role: RoleAdmin}, time.Hour},
		{"long subject", Principal{Subject: strings.Repeat("a", maxSubjectLen+1), Role: RoleAdmin}, time.Hour},
		{"unknown role", Principal{Subject: "x", Role: "root"}, time.Hour},
		{"empty role", Principal{Subject: "x"}, time.Hour},
		{"upper-case role", Principal{Subject: "x", Role: "Admin"}, time.Hour},
		{"clerk without communities", Principal{Subject: "x", Role: RoleClerk}, time.Hour},
		{"clerk with short community", Principal{Subject: "x", Role: RoleClerk, Communities: []string{"11010500100"}}, time.Hour},
		{"clerk with letter in community", Principal{Subject: "x", Role: RoleClerk, Communities: []string{community1, "11010500100A"}}, time.Hour},
		{"enterprise without code", Principal{Subject: "x", Role: RoleEnterprise}, time.Hour},
		{"enterprise with bad code", Principal{Subject: "x", Role: RoleEnterprise, Enterprise: "91350100I000100Y43"}, time.Hour},
		{"bureau with communities", Principal{Subject: "x", Role: RoleBureau, Communities: []string{community1}}, time.Hour},
		{"clerk with enterprise", Principal{Subject: "x", Role: RoleClerk, Communities: []string{community1}, Enterprise: creditCode}, time.Hour},
		{"street without code", Principal{Subject: "x", Role: RoleStreet}, time.Hour},
		{"street with a district's code", Principal{Subject: "x", Role: RoleStreet, Street: "110105"}, time.Hour},
		{"street with a community id", Principal{Subject: "x", Role: RoleStreet, Street: community1}, time.Hour},
		{"street of no province", Principal{Subject: "x", Role: RoleStreet, Street: "990105001"}, time.Hour},
		{"street with a letter", Principal{Subject: "x", Role: RoleStreet, Street: "11010500A"}, time.Hour},
		{"street with a district too", Principal{Subject: "x", Role: RoleStreet, Street: "110105001", District: "110105"}, time.Hour},
		{"street with communities", Principal{Subject: "x", Role: RoleStreet, Street: "110105001", Communities: []string{community1}}, time.Hour},
		{"district without code", Principal{Subject: "x", Role: RoleDistrict}, time.Hour},
		{"district with a street's code", Principal{Subject: "x", Role: RoleDistrict, District: "110105001"}, time.Hour},
		{"district of no province", Principal{Subject: "x", Role: RoleDistrict, District: "000105"}, time.Hour},
		{"district with a street too", Principal{Subject: "x", Role: RoleDistrict, District: "110105", Street: "110105001"}, time.Hour},
		{"district with enterprise", Principal{Subject: "x", Role: RoleDistrict, District: "110105", Enterprise: creditCode}, time.Hour},
		{"clerk with a street", Principal{Subject: "x", Role: RoleClerk, Communities: []string{community1}, Street: "110105001"}, time.Hour},
		{"bureau with a district", Principal{Subject: "x", Role: RoleBureau, District: "110105"}, time.Hour},
		{"zero ttl", adminP, 0},
		{"negative ttl", adminP, -time.Second},
		{"ttl over 366 days", adminP, MaxTTL + time.Second},
		{"too many communities", Principal{Subject: "x", Role: RoleClerk, Communities: manyCommunities(1000)}, time.Hour},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := NewSigner(priv).Sign(tc.p, tc.ttl, t0)
			if err == nil {
				t.Fatalf("Sign succeeded with %d-byte token, want error", len(tok))
			}
		})
	}

	t.Run("max ttl accepted", func(t *testing.T) {
		if _, err := NewSigner(priv).Sign(adminP, MaxTTL, t0); err != nil {
			t.Errorf("Sign(ttl=MaxTTL): %v", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		if _, err := NewSigner(nil).Sign(adminP, time.Hour, t0); err == nil {
			t.Error("Sign with nil key succeeded")
		}
	})
	t.Run("invalid principal is ErrInvalidPrincipal", func(t *testing.T) {
		_, err := NewSigner(priv).Sign(Principal{Role: RoleAdmin}, time.Hour, t0)
		if !errors.Is(err, ErrInvalidPrincipal) {
			t.Errorf("err = %v, want ErrInvalidPrincipal", err)
		}
	})
}

func manyCommunities(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("1101%08d", i)
	}
	return out
}

func TestVerifyRejects(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)

	kid := KeyID(pub)
	header := map[string]string{"alg": "EdDSA", "typ": "JWT", "kid": kid}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss":  Issuer,
			"aud":  []string{Audience},
			"jti":  "TOKEN1",
			"sub":  "alice",
			"role": "admin",
			"iat":  t0.Unix(),
			"exp":  t0.Add(time.Hour).Unix(),
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	good := mustSign(t, priv, clerkP, time.Hour, t0)

	tests := []struct {
		name  string
		token string
		want  error // nil: must verify
	}{
		// Control: the hand-crafting below produces tokens Verify accepts,
		// so each rejection is for the reason the case names.
		{"hand-crafted valid", craft(t, header, claims(nil), edSign(priv)), nil},
		{"signed by Signer", good, nil},

		{"empty", "", ErrMalformedToken},
		{"garbage", "not-a-token", ErrMalformedToken},
		{"two segments", "a.b", ErrMalformedToken},
		{"four segments", good + ".x", ErrMalformedToken},
		{"too long", strings.Repeat("a", maxTokenLen+1), ErrMalformedToken},
		{"leading space", " " + good, ErrMalformedToken},
		{"expired", mustSign(t, priv, adminP, time.Hour, t0.Add(-2*time.Hour)), ErrTokenExpired},
		{"not yet valid", mustSign(t, priv, adminP, time.Hour, t0.Add(time.Hour)), ErrTokenNotYetValid},
		{"other key", mustSign(t, otherPriv, adminP, time.Hour, t0), ErrBadSignature},
		{"tampered claims", tamperClaims(t, good, func(c map[string]any) { c["role"] = "admin"; delete(c, "communities") }), ErrBadSignature},
		{"alg none", craft(t, map[string]string{"alg": "none", "typ": "JWT", "kid": kid}, claims(nil), nil), ErrBadSignature},
		{"alg none with signature", craft(t, map[string]string{"alg": "none", "kid": kid}, claims(nil), edSign(priv)), ErrBadSignature},
		{"HS256 keyed with public key", craft(t, map[string]string{"alg": "HS256", "typ": "JWT", "kid": kid}, claims(nil), func(in []byte) []byte {
			m := hmac.New(sha256.New, pub)
			m.Write(in)
			return m.Sum(nil)
		}), ErrBadSignature},
		{"unknown alg", craft(t, map[string]string{"alg": "XX999", "kid": kid}, claims(nil), edSign(priv)), ErrBadSignature},
		{"no alg", craft(t, map[string]string{"typ": "JWT", "kid": kid}, claims(nil), edSign(priv)), ErrBadSignature},
		{"no kid", craft(t, map[string]string{"alg": "EdDSA", "typ": "JWT"}, claims(nil), edSign(priv)), ErrBadSignature},
		{"unknown kid", craft(t, map[string]string{"alg": "EdDSA", "kid": KeyID(otherPriv.Public().(ed25519.PublicKey))}, claims(nil), edSign(priv)), ErrBadSignature},
		{"kid of the key, signed by another", craft(t, header, claims(nil), edSign(otherPriv)), ErrBadSignature},
		{"kid not a string", craft(t, map[string]any{"alg": "EdDSA", "kid": 7}, claims(nil), edSign(priv)), ErrBadSignature},
		{"missing jti", craft(t, header, claims(func(c map[string]any) { delete(c, "jti") }), edSign(priv)), ErrBadClaims},
		{"empty jti", craft(t, header, claims(func(c map[string]any) { c["jti"] = "" }), edSign(priv)), ErrBadClaims},
		{"jti with a space", craft(t, header, claims(func(c map[string]any) { c["jti"] = "a b" }), edSign(priv)), ErrBadClaims},
		{"jti too long", craft(t, header, claims(func(c map[string]any) { c["jti"] = strings.Repeat("a", 65) }), edSign(priv)), ErrBadClaims},
		{"missing iss", craft(t, header, claims(func(c map[string]any) { delete(c, "iss") }), edSign(priv)), ErrBadClaims},
		{"other iss", craft(t, header, claims(func(c map[string]any) { c["iss"] = "other-system" }), edSign(priv)), ErrBadClaims},
		{"missing aud", craft(t, header, claims(func(c map[string]any) { delete(c, "aud") }), edSign(priv)), ErrBadClaims},
		{"other aud", craft(t, header, claims(func(c map[string]any) { c["aud"] = []string{"other-system"} }), edSign(priv)), ErrBadClaims},
		{"aud of another program", craft(t, header, claims(func(c map[string]any) { c["aud"] = ServiceAudience("pension") }), edSign(priv)), ErrBadClaims},
		{"aud as a string", craft(t, header, claims(func(c map[string]any) { c["aud"] = Audience }), edSign(priv)), nil},
		{"aud among others", craft(t, header, claims(func(c map[string]any) { c["aud"] = []string{"x", Audience} }), edSign(priv)), nil},
		{"missing iat", craft(t, header, claims(func(c map[string]any) { delete(c, "iat") }), edSign(priv)), ErrBadClaims},
		{"iat in the future", craft(t, header, claims(func(c map[string]any) { c["iat"] = t0.Add(time.Minute).Unix() }), edSign(priv)), ErrTokenNotYetValid},
		{"lifetime of a day", craft(t, header, claims(func(c map[string]any) { c["exp"] = t0.Add(DefaultMaxLifetime).Unix() }), edSign(priv)), nil},
		{"lifetime over a day", craft(t, header, claims(func(c map[string]any) { c["exp"] = t0.Add(DefaultMaxLifetime + time.Second).Unix() }), edSign(priv)), ErrBadClaims},
		{"146 billion years", craft(t, header, claims(func(c map[string]any) { c["exp"] = int64(1) << 62 }), edSign(priv)), ErrBadClaims},
		{"service lifetime of 30 days", craft(t, header, claims(func(c map[string]any) {
			c["role"] = "service"
			c["exp"] = t0.Add(DefaultMaxServiceLifetime).Unix()
		}), edSign(priv)), nil},
		{"service lifetime over 30 days", craft(t, header, claims(func(c map[string]any) {
			c["role"] = "service"
			c["exp"] = t0.Add(DefaultMaxServiceLifetime + time.Second).Unix()
		}), edSign(priv)), ErrBadClaims},
		{"non-canonical signature encoding", nonCanonicalSignature(t, good), ErrMalformedToken},
		{"missing exp", craft(t, header, claims(func(c map[string]any) { delete(c, "exp") }), edSign(priv)), ErrBadClaims},
		{"exp not a number", craft(t, header, claims(func(c map[string]any) { c["exp"] = "tomorrow" }), edSign(priv)), ErrMalformedToken},
		{"bad role", craft(t, header, claims(func(c map[string]any) { c["role"] = "root" }), edSign(priv)), ErrBadClaims},
		{"missing role", craft(t, header, claims(func(c map[string]any) { delete(c, "role") }), edSign(priv)), ErrBadClaims},
		{"missing sub", craft(t, header, claims(func(c map[string]any) { delete(c, "sub") }), edSign(priv)), ErrBadClaims},
		{"clerk without communities", craft(t, header, claims(func(c map[string]any) { c["role"] = "clerk" }), edSign(priv)), ErrBadClaims},
		{"clerk with empty communities", craft(t, header, claims(func(c map[string]any) { c["role"] = "clerk"; c["communities"] = []string{} }), edSign(priv)), ErrBadClaims},
		{"communities not a list", craft(t, header, claims(func(c map[string]any) { c["role"] = "clerk"; c["communities"] = community1 }), edSign(priv)), ErrMalformedToken},
		{"enterprise without code", craft(t, header, claims(func(c map[string]any) { c["role"] = "enterprise" }), edSign(priv)), ErrBadClaims},
		{"street", craft(t, header, claims(func(c map[string]any) { c["role"] = "street"; c["street"] = "110105001" }), edSign(priv)), nil},
		{"street without code", craft(t, header, claims(func(c map[string]any) { c["role"] = "street" }), edSign(priv)), ErrBadClaims},
		{"street with a district code", craft(t, header, claims(func(c map[string]any) { c["role"] = "street"; c["street"] = "110105" }), edSign(priv)), ErrBadClaims},
		{"street code not a string", craft(t, header, claims(func(c map[string]any) { c["role"] = "street"; c["street"] = 110105001 }), edSign(priv)), ErrMalformedToken},
		{"district", craft(t, header, claims(func(c map[string]any) { c["role"] = "district"; c["district"] = "110105" }), edSign(priv)), nil},
		{"district without code", craft(t, header, claims(func(c map[string]any) { c["role"] = "district" }), edSign(priv)), ErrBadClaims},
		{"district scoped to a street as well", craft(t, header, claims(func(c map[string]any) {
			c["role"] = "district"
			c["district"] = "110105"
			c["street"] = "110105001"
		}), edSign(priv)), ErrBadClaims},
		{"admin with a district", craft(t, header, claims(func(c map[string]any) { c["district"] = "110105" }), edSign(priv)), ErrBadClaims},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(pub, WithClock(func() time.Time { return t0 }))
			p, err := v.Verify(tc.token)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify succeeded with %+v, want %v", p, tc.want)
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, ErrUnauthenticated) {
				t.Errorf("err = %v, want %v wrapping ErrUnauthenticated", err, tc.want)
			}
			if len(tc.token) > 8 && strings.Contains(err.Error(), tc.token) {
				t.Error("error message contains the token")
			}
			if v.cache.Load().len() != 0 {
				t.Errorf("cache holds %d entries after a failure, want 0", v.cache.Load().len())
			}
		})
	}
}

// tamperClaims re-encodes the claims of tok after mod, keeping the header
// and signature.
func tamperClaims(t *testing.T, tok string, mod func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	mod(c)
	b, err = json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

// nonCanonicalSignature sets the unused low bits of the signature's last
// base64 character: lax decoders read the same bytes, strict ones refuse.
func nonCanonicalSignature(t *testing.T, tok string) string {
	t.Helper()
	i := strings.LastIndexByte(tok, '.')
	sig := tok[i+1:]
	// 64 bytes take 86 characters; the last carries 2 data bits and 4
	// padding bits.
	if len(sig) != 86 {
		t.Fatalf("signature is %d characters, want 86", len(sig))
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := strings.IndexByte(alphabet, sig[85])
	return tok[:i+1] + sig[:85] + string(alphabet[last|1])
}

func TestVerifyLeeway(t *testing.T) {
	pub, priv := newKey(t)
	tok := mustSign(t, priv, adminP, time.Hour, t0)
	exp := t0.Add(time.Hour)
	tests := []struct {
		name string
		now  time.Time
		want error
	}{
		{"just before nbf within leeway", t0.Add(-DefaultLeeway), nil},
		{"before nbf beyond leeway", t0.Add(-DefaultLeeway - time.Second), ErrTokenNotYetValid},
		{"after exp within leeway", exp.Add(DefaultLeeway - time.Second), nil},
		{"after exp at leeway", exp.Add(DefaultLeeway), ErrTokenExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := NewVerifier(pub, WithClock(func() time.Time { return tc.now }))
			_, err := v.Verify(tok)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("zero leeway", func(t *testing.T) {
		v := NewVerifier(pub, WithLeeway(0), WithClock(func() time.Time { return exp }))
		if _, err := v.Verify(tok); !errors.Is(err, ErrTokenExpired) {
			t.Errorf("err = %v, want ErrTokenExpired", err)
		}
	})
}

func TestVerifyCache(t *testing.T) {
	pub, priv := newKey(t)
	exp := t0.Add(time.Hour)

	t.Run("hit returns the same principal", func(t *testing.T) {
		v := NewVerifier(pub, WithClock(func() time.Time { return t0 }))
		tok := mustSign(t, priv, clerkP, time.Hour, t0)
		p1 := mustVerify(t, v, tok)
		p2 := mustVerify(t, v, tok)
		if p1 != p2 {
			t.Error("second Verify returned a new principal; want the cached one")
		}
		if v.cache.Load().len() != 1 {
			t.Errorf("cache len = %d, want 1", v.cache.Load().len())
		}
	})

	t.Run("hit rejected after expiry", func(t *testing.T) {
		clk := testclock.New(t0)
		v := NewVerifier(pub, WithClock(clk.Now))
		tok := mustSign(t, priv, adminP, time.Hour, t0)
		mustVerify(t, v, tok)
		clk.Set(exp.Add(DefaultLeeway - time.Nanosecond))
		mustVerify(t, v, tok) // within the leeway
		clk.Set(exp.Add(DefaultLeeway))
		if _, err := v.Verify(tok); !errors.Is(err, ErrTokenExpired) {
			t.Errorf("Verify after expiry: err = %v, want ErrTokenExpired", err)
		}
		if v.cache.Load().len() != 0 {
			t.Errorf("cache len = %d after expiry, want 0", v.cache.Load().len())
		}
	})

	t.Run("not cached before nbf", func(t *testing.T) {
		clk := testclock.New(t0)
		v := NewVerifier(pub, WithClock(clk.Now))
		tok := mustSign(t, priv, adminP, time.Hour, t0.Add(10*time.Minute))
		if _, err := v.Verify(tok); !errors.Is(err, ErrTokenNotYetValid) {
			t.Fatalf("err = %v, want ErrTokenNotYetValid", err)
		}
		clk.Set(t0.Add(10 * time.Minute))
		mustVerify(t, v, tok) // once valid
		// A clock stepped back before nbf must not be served from the cache.
		clk.Set(t0)
		if _, err := v.Verify(tok); !errors.Is(err, ErrTokenNotYetValid) {
			t.Errorf("err = %v after clock step back, want ErrTokenNotYetValid", err)
		}
	})

	t.Run("disabled", func(t *testing.T) {
		v := NewVerifier(pub, WithCacheSize(0), WithClock(func() time.Time { return t0 }))
		tok := mustSign(t, priv, adminP, time.Hour, t0)
		p1, err1 := v.Verify(tok)
		p2, err2 := v.Verify(tok)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if p1 == p2 {
			t.Error("cache disabled but Verify returned the same principal twice")
		}
	})

	t.Run("bounded", func(t *testing.T) {
		const size = 3
		v := NewVerifier(pub, WithCacheSize(size), WithClock(func() time.Time { return t0 }))
		for i := range 20 {
			p := Principal{Subject: fmt.Sprintf("user-%d", i), Role: RoleBureau}
			got := mustVerify(t, v, mustSign(t, priv, p, time.Hour, t0))
			if got.Subject != p.Subject {
				t.Fatalf("Subject = %q, want %q", got.Subject, p.Subject)
			}
			if n := v.cache.Load().len(); n > size {
				t.Fatalf("cache len = %d after %d tokens, want <= %d", n, i+1, size)
			}
		}
		if n := v.cache.Load().len(); n != size {
			t.Errorf("cache len = %d, want %d", n, size)
		}
	})

	t.Run("evicts the soonest to expire", func(t *testing.T) {
		clk := testclock.New(t0)
		v := NewVerifier(pub, WithCacheSize(2), WithClock(clk.Now))
		short := mustSign(t, priv, Principal{Subject: "short", Role: RoleAdmin}, time.Minute, t0)
		long := mustSign(t, priv, Principal{Subject: "long", Role: RoleAdmin}, time.Hour, t0)
		pLong := mustVerify(t, v, long)
		mustVerify(t, v, short)
		clk.Set(t0.Add(5 * time.Minute))
		mustVerify(t, v, mustSign(t, priv, bureauP, time.Hour, t0))
		if got := mustVerify(t, v, long); got != pLong {
			t.Error("long-lived token was evicted instead of the expired one")
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		v := NewVerifier(pub, WithCacheSize(4), WithClock(func() time.Time { return t0 }))
		toks := make([]string, 8)
		for i := range toks {
			toks[i] = mustSign(t, priv, Principal{Subject: fmt.Sprintf("u%d", i), Role: RoleService}, time.Hour, t0)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				for i := range 200 {
					k := (g + i) % len(toks)
					p, err := v.Verify(toks[k])
					if err != nil {
						errs <- err
						return
					}
					if want := fmt.Sprintf("u%d", k); p.Subject != want {
						errs <- fmt.Errorf("Subject = %q, want %q", p.Subject, want)
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := v.cache.Load().len(); n > 4 {
			t.Errorf("cache len = %d, want <= 4", n)
		}
	})
}

func FuzzVerify(f *testing.F) {
	pub, priv := newKey(f)
	valid := map[string]bool{}
	for _, p := range []Principal{adminP, clerkP, enterpriseP} {
		tok := mustSign(f, priv, p, time.Hour, t0)
		valid[tok] = true
		f.Add(tok)
	}
	f.Add("")
	f.Add("a.b.c")
	f.Add("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwicm9sZSI6ImFkbWluIiwiZXhwIjo5OTk5OTk5OTk5fQ.")
	f.Add(craft(f, map[string]string{"alg": "EdDSA"}, map[string]any{"sub": "x", "role": "admin"}, edSign(priv)))
	v := NewVerifier(pub, WithCacheSize(16), WithClock(func() time.Time { return t0 }))

	f.Fuzz(func(t *testing.T, tok string) {
		// Inspect reads a token an admin hands in for revocation: it
		// skips the checks of time and audience, never the signature.
		if rv, err := v.Inspect(tok); err == nil && (!valid[tok] || rv.TokenID == "") {
			t.Fatalf("Inspect accepted a token it was never given: %+v", rv)
		} else if err != nil && !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("Inspect err = %v, does not wrap ErrUnauthenticated", err)
		}
		p, err := v.Verify(tok)
		if err == nil {
			// Only the key's holder can make a token, and strict decoding
			// gives each token one spelling: nothing but a seed may pass.
			if !valid[tok] {
				t.Fatalf("Verify accepted a token it was never given: %+v", p)
			}
			if p == nil || p.validate() != nil {
				t.Fatalf("Verify returned an invalid principal %+v", p)
			}
			return
		}
		if !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("err = %v, does not wrap ErrUnauthenticated", err)
		}
		if p != nil {
			t.Fatalf("Verify returned a principal with error %v", err)
		}
	})
}

func BenchmarkVerify(b *testing.B) {
	pub, priv := newKey(b)
	tok := mustSign(b, priv, clerkP, time.Hour, time.Now())
	b.Logf("token length %d", len(tok))

	b.Run("hit", func(b *testing.B) {
		v := NewVerifier(pub)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("hit-parallel", func(b *testing.B) {
		v := NewVerifier(pub)
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := v.Verify(tok); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("miss", func(b *testing.B) {
		v := NewVerifier(pub, WithCacheSize(0))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
