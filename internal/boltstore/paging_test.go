package boltstore

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/fault"
)

func newTokens(t testing.TB, seed byte) *PageTokens {
	t.Helper()
	p, err := NewPageTokens(bytes.Repeat([]byte{seed}, MinSecretSize))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct {
		in      int32
		want    int
		wantErr bool
	}{
		{0, DefaultPageSize, false},
		{1, 1, false},
		{50, 50, false},
		{MaxPageSize, MaxPageSize, false},
		{MaxPageSize + 1, 0, true},
		{-1, 0, true},
		{-2147483648, 0, true},
		{2147483647, 0, true},
	} {
		got, err := PageSize(tc.in)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("PageSize(%d) = %d, %v; want %d, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
		if err != nil && !errors.Is(err, ErrBadPageSize) {
			t.Errorf("PageSize(%d) err = %v, want ErrBadPageSize", tc.in, err)
		}
	}
}

func TestNewPageTokensShortSecret(t *testing.T) {
	if _, err := NewPageTokens(make([]byte, MinSecretSize-1)); err == nil {
		t.Error("NewPageTokens accepted a 31-byte secret")
	}
}

func TestPageTokenRoundTrip(t *testing.T) {
	p := newTokens(t, 1)
	for _, key := range [][]byte{
		{0},
		[]byte("ab\x00cd"),
		AppendU64(Prefix("retiree", "210102001001"), 42),
		bytes.Repeat([]byte{0xff}, maxLastKeyLen),
	} {
		scope := PageScope("ListRetirees", "210102001001", "", "LIVING")
		tok := p.Encode(scope, key)
		if len(tok) > MaxPageTokenLen {
			t.Errorf("token for %d-byte key is %d chars, over MaxPageTokenLen", len(key), len(tok))
		}
		got, err := p.Decode(scope, tok)
		if err != nil || !bytes.Equal(got, key) {
			t.Errorf("Decode(Encode(%x)) = %x, %v", key, got, err)
		}
	}
	if got, err := p.Decode("any", ""); got != nil || err != nil {
		t.Errorf(`Decode("") = %x, %v; want nil, nil`, got, err)
	}
}

func TestPageTokenEncodePanics(t *testing.T) {
	p := newTokens(t, 1)
	for _, key := range [][]byte{nil, {}, make([]byte, maxLastKeyLen+1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode of %d-byte key did not panic", len(key))
				}
			}()
			p.Encode("s", key)
		}()
	}
}

func TestPageTokenRejects(t *testing.T) {
	p := newTokens(t, 1)
	scope := PageScope("ListRetirees", "210102001001")
	tok := p.Encode(scope, []byte("retiree\x00r-0001"))
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	flip := func(i int) string {
		b := bytes.Clone(raw)
		b[i] ^= 1
		return enc(b)
	}
	// A token with a valid MAC but an empty key, which Encode never issues.
	emptyKey := enc(p.mac(scope, []byte{tokenVersion}).Sum([]byte{tokenVersion})[:1+tokenMACLen])

	for _, tc := range []struct {
		name, scope, token string
		p                  *PageTokens
	}{
		{"other scope", PageScope("ListRetirees", "210102001002"), tok, p},
		{"scope parts shifted", PageScope("ListRetirees", "21010200100", "1"), tok, p},
		{"other secret", scope, tok, newTokens(t, 2)},
		{"flipped version", scope, flip(0), p},
		{"flipped key byte", scope, flip(3), p},
		{"flipped mac byte", scope, flip(len(raw) - 1), p},
		{"truncated", scope, tok[:len(tok)-2], p},
		{"mac only", scope, enc(raw[len(raw)-tokenMACLen:]), p},
		{"extended", scope, enc(append(bytes.Clone(raw), 0)), p},
		{"padded base64", scope, base64.URLEncoding.EncodeToString(raw[:len(raw)-1]), p},
		{"std base64 alphabet", scope, "++//" + tok[4:], p},
		{"not base64", scope, "not a token!", p},
		{"empty key", scope, emptyKey, p},
		{"huge", scope, strings.Repeat("A", 1<<20), p},
		{"just over limit", scope, strings.Repeat("A", MaxPageTokenLen+1), p},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.p.Decode(tc.scope, tc.token)
			if !errors.Is(err, ErrBadPageToken) || got != nil {
				t.Errorf("Decode = %x, %v; want ErrBadPageToken", got, err)
			}
		})
	}
	// The sanity check for the table: the untouched token decodes.
	if _, err := p.Decode(scope, tok); err != nil {
		t.Fatalf("original token: %v", err)
	}
}

func TestPageScopeUnambiguous(t *testing.T) {
	seen := map[string][]string{}
	for _, parts := range [][]string{
		{"m"}, {"m", ""}, {"m", "", ""}, {"m", "a", "b"}, {"m", "ab"}, {"m", "a:b"},
		{"m", "1:a"}, {"m1:a"}, {"ma"}, {"m", "a", ""},
	} {
		s := PageScope(parts[0], parts[1:]...)
		if prev, ok := seen[s]; ok {
			t.Errorf("PageScope%q and PageScope%q both give %q", prev, parts, s)
		}
		seen[s] = parts
	}
}

func FuzzDecode(f *testing.F) {
	p := newTokens(f, 7)
	valid := p.Encode("scope", []byte("key\x00001"))
	f.Add("scope", valid)
	f.Add("other", valid)
	f.Add("scope", "")
	f.Add("scope", "AQ")
	f.Add("scope", "====")
	f.Add("scope", strings.Repeat("_", MaxPageTokenLen))
	f.Fuzz(func(t *testing.T, scope, token string) {
		got, err := p.Decode(scope, token)
		switch {
		case token == "":
			if got != nil || err != nil {
				t.Fatalf("Decode(%q, \"\") = %x, %v", scope, got, err)
			}
		case scope == "scope" && token == valid:
			if err != nil {
				t.Fatalf("valid token rejected: %v", err)
			}
		case err == nil:
			// Forging a 128-bit MAC by chance does not happen; a token that
			// decodes must be exactly what Encode would have issued.
			if len(got) == 0 || p.Encode(scope, got) != token {
				t.Fatalf("Decode(%q, %q) accepted a token Encode would not issue", scope, token)
			}
		case !errors.Is(err, ErrBadPageToken) || got != nil:
			t.Fatalf("Decode(%q, %q) = %x, %v", scope, token, got, err)
		}
	})
}

type pageReq struct {
	size  int32
	token string
}

func (r pageReq) GetPageSize() int32   { return r.size }
func (r pageReq) GetPageToken() string { return r.token }

// TestPageRoundTrip: a list handler's page arguments, checked and bound to
// the query's scope; the next token resumes that query and no other.
func TestPageRoundTrip(t *testing.T) {
	t.Parallel()
	p := newTokens(t, 1)
	scope := PageScope("ListVenues", "210102001001")

	first, err := p.ParsePage(pageReq{}, scope)
	if err != nil || first.Size != DefaultPageSize || first.After != nil {
		t.Fatalf("first page = %+v, %v; want the default size from the start", first, err)
	}
	if got := first.Next(nil); got != "" {
		t.Errorf("Next(nil) = %q, want no token at the end of the list", got)
	}
	token := first.Next([]byte("k7"))
	second, err := p.ParsePage(pageReq{size: 5, token: token}, scope)
	if err != nil || second.Size != 5 || string(second.After) != "k7" {
		t.Errorf("second page = %+v, %v; want size 5 after k7", second, err)
	}
	if _, err := p.ParsePage(pageReq{token: token}, PageScope("ListVenues", "210102001002")); err == nil {
		t.Error("a token was accepted for another community's list")
	}

	var v fault.Violations
	p.Page(&v, pageReq{size: MaxPageSize + 1, token: "garbage"}, scope)
	var ve *fault.ValidationError
	if !errors.As(v.Err(), &ve) || len(ve.Fields) != 2 || ve.Fields[0].Field != "pageSize" || ve.Fields[1].Field != "pageToken" {
		t.Errorf("violations = %v, want pageSize and pageToken", v.Err())
	}
}
