// Package servicetest is what the tests of every service share to set
// themselves up as a client meets the service: keys and real tokens per
// role, the service served by the programs' own bootstrap over an
// in-memory or loopback listener, the fixtures every service knows
// (communities, enterprises, ID numbers), the checks of an error's status
// and details, and child processes of the built programs. A newcomer who
// has read one service's harness can read them all.
//
// It is imported by _test.go files only.
package servicetest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// tokenTTL is the lifetime of the tokens the tests mint: longer than any
// test, short enough to be harmless.
const tokenTTL = time.Hour

// Keys is an Ed25519 key pair: the tests sign tokens with its private
// half, and every server of a test verifies them with its public half.
type Keys struct {
	Public  ed25519.PublicKey
	Private ed25519.PrivateKey
	Signer  *authn.Signer
}

// NewKeys returns a fresh key pair.
func NewKeys(t testing.TB) Keys {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return KeysOf(priv)
}

// KeysOf returns the key pair of priv, such as a key file a child process
// is given.
func KeysOf(priv ed25519.PrivateKey) Keys {
	return Keys{Public: priv.Public().(ed25519.PublicKey), Private: priv, Signer: authn.NewSigner(priv)}
}

// Token signs a token for p, valid for an hour from now.
func (k Keys) Token(t testing.TB, p authn.Principal) string {
	t.Helper()
	tok, err := k.Signer.Sign(p, tokenTTL, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// As returns a context whose calls carry a token for p.
func (k Keys) As(t testing.TB, p authn.Principal) context.Context {
	t.Helper()
	return WithToken(context.Background(), k.Token(t, p))
}

// ServiceCredentials are the credentials a service named subject presents
// to the others, as its program's do.
func (k Keys) ServiceCredentials(subject string) *authn.ServiceCredentials {
	return authn.NewServiceCredentials(k.Signer, subject, tokenTTL)
}

// WithToken returns ctx with tok as its calls' bearer token.
func WithToken(ctx context.Context, tok string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// Callers returns the principals a service's tests act as, one per role:
// the administrator, the bureau, a clerk of community, the enterprise
// with the given credit code, and the service named service.
func Callers(community, enterprise, service string) (admin, bureau, clerk, ent, svc authn.Principal) {
	return Admin(), Bureau(), Clerk("clerk-a", community), Enterprise("enterprise-x", enterprise), Service(service)
}

// Admin is the administrator the tests act as.
func Admin() authn.Principal {
	return authn.Principal{Subject: "admin-1", Role: authn.RoleAdmin}
}

// Bureau is the city bureau's caller the tests act as.
func Bureau() authn.Principal {
	return authn.Principal{Subject: "bureau-shenyang", Role: authn.RoleBureau}
}

// Clerk is a community clerk named subject who works for communities.
func Clerk(subject string, communities ...string) authn.Principal {
	return authn.Principal{Subject: subject, Role: authn.RoleClerk, Communities: communities}
}

// Enterprise is the caller of the enterprise with the given credit code.
func Enterprise(subject, creditCode string) authn.Principal {
	return authn.Principal{Subject: subject, Role: authn.RoleEnterprise, Enterprise: creditCode}
}

// Street is a supervisor of the street office with the 9-digit code.
func Street(subject, code string) authn.Principal {
	return authn.Principal{Subject: subject, Role: authn.RoleStreet, Street: code}
}

// District is a supervisor of the district with the 6-digit code.
func District(subject, code string) authn.Principal {
	return authn.Principal{Subject: subject, Role: authn.RoleDistrict, District: code}
}

// Archivist is the custodian of the archives of the district with the
// 6-digit code.
func Archivist(subject, code string) authn.Principal {
	return authn.Principal{Subject: subject, Role: authn.RoleArchivist, District: code}
}

// Service is the service named subject calling another.
func Service(subject string) authn.Principal {
	return authn.Principal{Subject: subject, Role: authn.RoleService}
}
