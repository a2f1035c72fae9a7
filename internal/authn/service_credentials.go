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

// ServiceCredentials are per-RPC credentials for calls between services:
// a token of role service, minted by the caller itself and renewed before
// it expires, so long-lived streams and dispatchers never present an
// expired token. Like BearerCredentials they do not require transport
// security (loopback only).
type ServiceCredentials struct {
	signer  *Signer
	subject string
	ttl     time.Duration
	now     func() time.Time

	mu      sync.Mutex
	header  string
	renewAt time.Time
}

var _ credentials.PerRPCCredentials = (*ServiceCredentials)(nil)

// NewServiceCredentials mints tokens for subject (e.g. "pension") with the
// given lifetime; each is replaced once half its lifetime has passed.
func NewServiceCredentials(signer *Signer, subject string, ttl time.Duration) *ServiceCredentials {
	return &ServiceCredentials{signer: signer, subject: subject, ttl: ttl, now: time.Now}
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (c *ServiceCredentials) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.header == "" || !now.Before(c.renewAt) {
		tok, err := c.signer.Sign(Principal{Subject: c.subject, Role: RoleService}, c.ttl, now)
		if err != nil {
			return nil, err
		}
		c.header = "Bearer " + tok
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

// CallCredentials returns the credentials a service presents to other
// services: when keyFile holds the Ed25519 private signing key (as in
// development), tokens minted and renewed for subject; otherwise the
// pre-issued service token in tokenFile.
func CallCredentials(keyFile, tokenFile, subject string) (credentials.PerRPCCredentials, error) {
	if tokenFile != "" {
		tok, err := LoadTokenFile(tokenFile)
		if err != nil {
			return nil, err
		}
		return BearerCredentials(tok), nil
	}
	priv, err := LoadPrivateKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("no service token file, and the token key is not a private key to mint one: %w", err)
	}
	return NewServiceCredentials(NewSigner(priv), subject, time.Hour), nil
}
