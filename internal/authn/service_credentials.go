package authn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/credentials"
)

// ServiceTokenTTL is the lifetime of the tokens a service mints for its
// own calls; each is replaced once half of it has passed.
const ServiceTokenTTL = time.Hour

// tokenFileCheck is how often TokenFileCredentials looks whether the
// token file was replaced.
const tokenFileCheck = 10 * time.Second

// ServiceCredentials are per-RPC credentials for calls between services:
// a token of role service, minted by the caller itself and renewed before
// it expires, so long-lived streams and dispatchers never present an
// expired token. Like BearerCredentials they do not require transport
// security (loopback only).
type ServiceCredentials struct {
	signer   *Signer
	subject  string
	audience []string
	ttl      time.Duration
	now      func() time.Time

	mu      sync.Mutex
	header  string
	renewAt time.Time
}

var _ credentials.PerRPCCredentials = (*ServiceCredentials)(nil)

// NewServiceCredentials mints tokens for subject (e.g. "pension") with the
// given lifetime for the given audiences (none: Audience); each is
// replaced once half its lifetime has passed.
func NewServiceCredentials(signer *Signer, subject string, ttl time.Duration, audience ...string) *ServiceCredentials {
	if len(audience) == 0 {
		audience = nil
	}
	return &ServiceCredentials{signer: signer, subject: subject, audience: audience, ttl: ttl, now: time.Now}
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c *ServiceCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.header == "" || !now.Before(c.renewAt) {
		is, err := c.signer.Issue(Principal{Subject: c.subject, Role: RoleService}, c.audience, c.ttl, now)
		if err != nil {
			return nil, err
		}
		c.header = "Bearer " + is.Token
		c.renewAt = now.Add(c.ttl / 2)
	}
	return map[string]string{authorizationKey: c.header}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (*ServiceCredentials) RequireTransportSecurity() bool { return false }

// LoadTokenFile reads a bearer token from a file (surrounding white space
// ignored), for services given a pre-issued service token instead of a
// signing key.
func LoadTokenFile(path string) (string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the token file the operator configured
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" || len(tok) > maxTokenLen {
		return "", errors.New("token file is empty or too long")
	}
	return tok, nil
}

// TokenFileCredentials present the token in a file, and take up a new
// one when the file is replaced (looked at every few seconds), so that an
// operator renews a pre-issued service token without restarting the
// service. A file that cannot be read keeps the last token in use.
type TokenFileCredentials struct {
	path string
	now  func() time.Time

	mu      sync.Mutex
	header  string
	mod     time.Time
	size    int64
	checkAt time.Time
}

var _ credentials.PerRPCCredentials = (*TokenFileCredentials)(nil)

// NewTokenFileCredentials reads the token at path; it fails when the file
// holds none.
func NewTokenFileCredentials(path string) (*TokenFileCredentials, error) {
	c := &TokenFileCredentials{path: path, now: time.Now}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the file when it differs from the one last read.
func (c *TokenFileCredentials) reload() error {
	info, err := os.Stat(c.path)
	if err != nil {
		return fmt.Errorf("read token file: %w", err)
	}
	if c.header != "" && info.ModTime().Equal(c.mod) && info.Size() == c.size {
		return nil
	}
	tok, err := LoadTokenFile(c.path)
	if err != nil {
		return err
	}
	c.header, c.mod, c.size = "Bearer "+tok, info.ModTime(), info.Size()
	return nil
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c *TokenFileCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); !now.Before(c.checkAt) {
		c.checkAt = now.Add(tokenFileCheck)
		// A failed reload keeps the token in use: the file may be half
		// way through being replaced.
		_ = c.reload()
	}
	return map[string]string{authorizationKey: c.header}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (*TokenFileCredentials) RequireTransportSecurity() bool { return false }

// CallCredentials returns the credentials a program presents to another,
// named audience ("registry"): when tokenFile is set, the pre-issued
// service token in it (re-read when replaced); otherwise tokens for
// subject minted and renewed with the Ed25519 private key in keyFile (as
// in development), each for that program alone (Audience when audience
// is empty).
func CallCredentials(keyFile, tokenFile, subject, audience string) (credentials.PerRPCCredentials, error) {
	if tokenFile != "" {
		return NewTokenFileCredentials(tokenFile)
	}
	priv, err := LoadPrivateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("no service token file, and the token key is not a private key to mint one: %w", err)
	}
	aud := Audience
	if audience != "" {
		aud = ServiceAudience(audience)
	}
	return NewServiceCredentials(NewSigner(priv), subject, ServiceTokenTTL, aud), nil
}
