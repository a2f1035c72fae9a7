package boltstore

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// DefaultPageSize is the page size of a list request that names none.
const DefaultPageSize = 50

// MaxPageSize is the largest page size a list request may ask for.
const MaxPageSize = 1000

// ErrBadPageSize reports a requested page size below 0 or above MaxPageSize.
var ErrBadPageSize = errors.New("page size out of range")

// ErrBadPageToken reports a page token that this server did not issue for
// this query: garbled, altered, too long, or issued for another list.
var ErrBadPageToken = errors.New("invalid page token")

// PageSize turns a request's page_size into the number of items to return.
func PageSize(requested int32) (int, error) {
	switch {
	case requested == 0:
		return DefaultPageSize, nil
	case requested < 0 || requested > MaxPageSize:
		return 0, fmt.Errorf("%w: %d, want 0 to %d", ErrBadPageSize, requested, MaxPageSize)
	}
	return int(requested), nil
}

const (
	// MinSecretSize is the shortest secret NewPageTokens accepts.
	MinSecretSize = 32

	// MaxPageTokenLen bounds what Decode reads, so that a client cannot make
	// the server decode and hash a large input.
	MaxPageTokenLen = 1024

	tokenVersion = 1
	tokenMACLen  = 16 // half of SHA-256: forging still takes 2^128 tries.

	// maxLastKeyLen is the longest key whose token fits MaxPageTokenLen.
	maxLastKeyLen = MaxPageTokenLen/4*3 - 1 - tokenMACLen

	tokenDomain = "socmgmt page token v1\x00" //nolint:gosec // G101: a domain-separation label for the HMAC, not a secret
)

// PageTokens issues and checks page tokens: base64url strings carrying the
// last key of a page and an HMAC-SHA256 over it and the query's scope. The
// HMAC makes a token tamper-proof and useless for any other query; it does
// not hide the key, which anyone holding the token can read, so list keys
// must not contain personal data. A PageTokens is safe for concurrent use.
type PageTokens struct {
	secret []byte
}

// NewPageTokens returns a PageTokens keyed with a copy of secret, which
// must be at least MinSecretSize bytes (see LoadOrCreateSecret and
// OpenVersioned).
func NewPageTokens(secret []byte) (*PageTokens, error) {
	if len(secret) < MinSecretSize {
		return nil, fmt.Errorf("page token secret is %d bytes, want at least %d", len(secret), MinSecretSize)
	}
	return &PageTokens{secret: append([]byte(nil), secret...)}, nil
}

// Encode returns the token for the page that ends at lastKey, for the list
// identified by scope (see PageScope). lastKey must be a non-empty key of at
// most 751 bytes; Encode panics otherwise, as bbolt keys are never empty and
// list keys in this system are far shorter.
func (p *PageTokens) Encode(scope string, lastKey []byte) string {
	if len(lastKey) == 0 || len(lastKey) > maxLastKeyLen {
		panic(fmt.Sprintf("boltstore: page token key of %d bytes, want 1 to %d", len(lastKey), maxLastKeyLen))
	}
	raw := make([]byte, 0, 1+len(lastKey)+sha256.Size)
	raw = append(raw, tokenVersion)
	raw = append(raw, lastKey...)
	raw = p.mac(scope, raw).Sum(raw)[:len(raw)+tokenMACLen]
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Decode returns the last key carried by token if p issued it for scope.
// An empty token means the first page and decodes to nil, nil; any other
// token that does not check out gives ErrBadPageToken.
func (p *PageTokens) Decode(scope, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	if len(token) > MaxPageTokenLen {
		return nil, ErrBadPageToken
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) < 1+1+tokenMACLen || raw[0] != tokenVersion {
		return nil, ErrBadPageToken
	}
	n := len(raw) - tokenMACLen
	payload, sum := raw[:n], raw[n:]
	if !hmac.Equal(sum, p.mac(scope, payload).Sum(nil)[:tokenMACLen]) {
		return nil, ErrBadPageToken
	}
	return payload[1:n:n], nil
}

// mac returns the HMAC state after the scope and payload; the scope's
// length goes first so that no scope/payload pair can pass for another.
func (p *PageTokens) mac(scope string, payload []byte) hash.Hash {
	h := hmac.New(sha256.New, p.secret)
	h.Write([]byte(tokenDomain))
	h.Write(binary.AppendUvarint(nil, uint64(len(scope))))
	h.Write([]byte(scope))
	h.Write(payload)
	return h
}

// PageRequest is the paging half of a list request; every generated
// List…Request implements it.
type PageRequest interface {
	GetPageSize() int32
	GetPageToken() string
}

// Page is a list request's page arguments, checked and bound to the scope
// of its query. Every list handler makes the same round trip with it:
// Page (or ParsePage) before the store's list, Size and After to the
// list, and Next on the last key the list read.
type Page struct {
	// Size is the number of items to return.
	Size int
	// After is the key to resume after; nil on the first page.
	After []byte

	tokens *PageTokens
	scope  string
}

// Page validates req's page size and token for the list bound to scope
// (see PageScope), adding what is wrong to v under the request's field
// names (pageSize, pageToken), so that they are reported together with
// the list's own filter violations.
func (p *PageTokens) Page(v *fault.Violations, req PageRequest, scope string) Page {
	n, err := PageSize(req.GetPageSize())
	if err != nil {
		v.Addf("pageSize", "must be between 0 and %d", MaxPageSize)
	}
	after, err := p.Decode(scope, req.GetPageToken())
	if err != nil {
		v.Add("pageToken", "invalid page token; start again without one")
	}
	return Page{Size: n, After: after, tokens: p, scope: scope}
}

// ParsePage is Page for a list whose filters were checked already: it
// returns the violations as a *fault.ValidationError.
func (p *PageTokens) ParsePage(req PageRequest, scope string) (Page, error) {
	var v fault.Violations
	page := p.Page(&v, req, scope)
	return page, v.Err()
}

// Next returns the token of the page after the one that ended at last,
// or "" when last is nil (the list is complete).
func (pg Page) Next(last []byte) string {
	if last == nil {
		return ""
	}
	return pg.tokens.Encode(pg.scope, last)
}

// PageScope builds the scope of a list query from its method name and its
// filters in a fixed order, so that a token from one query cannot be used
// with another. Each part is length-prefixed, so no two different lists of
// parts give the same scope. The page size is not part of the scope: a
// client may change it between pages.
func PageScope(method string, filters ...string) string {
	var b strings.Builder
	for _, s := range append([]string{method}, filters...) {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}
