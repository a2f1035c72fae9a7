package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated is wrapped by every error Verify returns.
var ErrUnauthenticated = errors.New("authn: unauthenticated")

// The reasons Verify gives; each wraps ErrUnauthenticated.
var (
	// ErrMalformedToken: not a compact JWT this package could have issued.
	ErrMalformedToken = fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	// ErrBadSignature: the algorithm is not EdDSA or the signature does
	// not match the verifier's key.
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthenticated)
	// ErrTokenExpired: the exp claim has passed.
	ErrTokenExpired = fmt.Errorf("%w: token expired", ErrUnauthenticated)
	// ErrTokenNotYetValid: the nbf claim has not been reached.
	ErrTokenNotYetValid = fmt.Errorf("%w: token not yet valid", ErrUnauthenticated)
	// ErrBadClaims: a claim is missing (exp) or breaks the role rules.
	ErrBadClaims = fmt.Errorf("%w: bad claims", ErrUnauthenticated)
)

const (
	// MaxTTL is the longest lifetime Signer.Sign grants a token.
	MaxTTL = 366 * 24 * time.Hour
	// DefaultLeeway is the clock skew Verify tolerates on exp and nbf.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize is how many verified tokens a Verifier remembers.
	DefaultCacheSize = 10_000
	// maxTokenLen bounds the work an unauthenticated caller can cause; a
	// clerk of several hundred communities still fits.
	maxTokenLen = 8 << 10
)

// algEdDSA is the only "alg" accepted. Naming it explicitly is what stops
// "none", HS256 with the public key as secret, and the like.
var algEdDSA = jwt.SigningMethodEdDSA.Alg()

// Claims are the JWT claims of a socmgmt bearer token: sub and exp (plus
// iat, nbf and jti) from the registered set, and the role and its scope.
type Claims struct {
	jwt.RegisteredClaims
	// Role is the principal's role.
	Role Role `json:"role"`
	// Communities is a clerk's scope.
	Communities []string `json:"communities,omitempty"`
	// Enterprise is an enterprise principal's credit code.
	Enterprise string `json:"enterprise,omitempty"`
}

// Signer issues bearer tokens. It is safe for concurrent use.
type Signer struct {
	key ed25519.PrivateKey
}

// NewSigner returns a Signer that signs with key.
func NewSigner(key ed25519.PrivateKey) *Signer {
	return &Signer{key: key}
}

// Sign returns a token for p, valid from now for ttl. It refuses principals
// and lifetimes that a Verifier would reject, so a token it returns is
// usable.
func (s *Signer) Sign(p Principal, ttl time.Duration, now time.Time) (string, error) {
	if len(s.key) != ed25519.PrivateKeySize {
		return "", errors.New("authn: signer has no valid Ed25519 key")
	}
	if err := p.validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidPrincipal, err)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return "", fmt.Errorf("authn: ttl must be positive and at most %v", MaxTTL)
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   p.Subject,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			// A random id makes every token distinct, so the audit log can
			// tell two tokens of one subject apart.
			ID: rand.Text(),
		},
		Role:        p.Role,
		Communities: slices.Clone(p.Communities),
		Enterprise:  p.Enterprise,
	}
	tok, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims).SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("authn: sign token: %w", err)
	}
	if len(tok) > maxTokenLen {
		return "", fmt.Errorf("%w: token would exceed %d bytes", ErrInvalidPrincipal, maxTokenLen)
	}
	return tok, nil
}

// Verifier checks bearer tokens against one Ed25519 public key. It is safe
// for concurrent use. It remembers tokens that verified (see
// WithCacheSize), so a token presented again costs one SHA-256 and a map
// look-up instead of an Ed25519 verification.
type Verifier struct {
	pub    ed25519.PublicKey
	now    func() time.Time
	leeway time.Duration
	parser *jwt.Parser
	cache  *verifiedCache // nil when caching is off
}

// VerifierOption configures a Verifier.
type VerifierOption func(*verifierConfig)

type verifierConfig struct {
	now       func() time.Time
	leeway    time.Duration
	cacheSize int
}

// WithClock makes the Verifier read the time from now instead of
// time.Now; tests use it to move past a token's expiry.
func WithClock(now func() time.Time) VerifierOption {
	return func(c *verifierConfig) {
		if now != nil {
			c.now = now
		}
	}
}

// WithCacheSize bounds how many verified tokens the Verifier remembers
// (DefaultCacheSize unless set). Zero or less turns the cache off.
func WithCacheSize(n int) VerifierOption {
	return func(c *verifierConfig) { c.cacheSize = max(n, 0) }
}

// WithLeeway sets the clock skew tolerated on exp and nbf (DefaultLeeway
// unless set; negative values count as zero).
func WithLeeway(d time.Duration) VerifierOption {
	return func(c *verifierConfig) { c.leeway = max(d, 0) }
}

// NewVerifier returns a Verifier that accepts tokens signed by the private
// half of pub.
func NewVerifier(pub ed25519.PublicKey, opts ...VerifierOption) *Verifier {
	cfg := verifierConfig{now: time.Now, leeway: DefaultLeeway, cacheSize: DefaultCacheSize}
	for _, o := range opts {
		o(&cfg)
	}
	v := &Verifier{
		pub:    slices.Clone(pub),
		now:    cfg.now,
		leeway: cfg.leeway,
	}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{algEdDSA}),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.leeway),
		jwt.WithTimeFunc(cfg.now),
		// Strict base64 leaves each token exactly one spelling, so a
		// token cannot be re-encoded into a second valid one.
		jwt.WithStrictDecoding(),
	)
	if cfg.cacheSize > 0 {
		v.cache = newVerifiedCache(cfg.cacheSize)
	}
	return v
}

// Verify checks token and returns the principal it names. Every error
// wraps ErrUnauthenticated and one of the reasons above; none repeats the
// token.
func (v *Verifier) Verify(token string) (*Principal, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, ErrMalformedToken
	}
	var key [sha256.Size]byte
	if v.cache != nil {
		key = sha256.Sum256([]byte(token))
		if p, ok := v.cache.get(key, v.now()); ok {
			return p, nil
		}
	}

	var claims Claims
	if _, err := v.parser.ParseWithClaims(token, &claims, v.key); err != nil {
		return nil, classify(err)
	}
	p := &Principal{
		Subject:     claims.Subject,
		Role:        claims.Role,
		Communities: claims.Communities,
		Enterprise:  claims.Enterprise,
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadClaims, err)
	}
	if v.cache != nil {
		// Entries carry the same window the parser just applied, so a
		// cache hit accepts exactly what a fresh verification would.
		from, until := int64(math.MinInt64), claims.ExpiresAt.Add(v.leeway).UnixNano()
		if claims.NotBefore != nil {
			from = claims.NotBefore.Add(-v.leeway).UnixNano()
		}
		v.cache.put(key, cacheEntry{p: p, from: from, until: until})
	}
	return p, nil
}

// key is the jwt.Keyfunc. The parser has already refused every alg but
// EdDSA; checking the method type again costs nothing and keeps this
// function safe should the parser options ever change.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
		return nil, errors.New("unexpected signing method")
	}
	return v.pub, nil
}

// classify maps the jwt library's errors onto this package's reasons. The
// library's messages are dropped: some quote the token's header.
func classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return ErrTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: exp is missing", ErrBadClaims)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return ErrBadClaims
	default:
		return ErrMalformedToken
	}
}
