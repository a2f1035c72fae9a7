package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// ErrUnauthenticated is wrapped by every error Verify returns.
var ErrUnauthenticated = errors.New("authn: unauthenticated")

// The reasons Verify gives; each wraps ErrUnauthenticated.
var (
	// ErrMalformedToken: not a compact JWT this package could have issued.
	ErrMalformedToken = fmt.Errorf("%w: malformed token", ErrUnauthenticated)
	// ErrBadSignature: the algorithm is not EdDSA, the header names no key
	// the verifier has (kid), or the signature does not match that key.
	ErrBadSignature = fmt.Errorf("%w: bad signature", ErrUnauthenticated)
	// ErrTokenExpired: the exp claim has passed.
	ErrTokenExpired = fmt.Errorf("%w: token expired", ErrUnauthenticated)
	// ErrTokenNotYetValid: the nbf claim has not been reached, or iat is
	// in the future.
	ErrTokenNotYetValid = fmt.Errorf("%w: token not yet valid", ErrUnauthenticated)
	// ErrBadClaims: a claim is missing (exp, iat, jti, iss, aud), names
	// another issuer or audience, grants a longer lifetime than the
	// verifier allows the role, or breaks the role rules.
	ErrBadClaims = fmt.Errorf("%w: bad claims", ErrUnauthenticated)
	// ErrTokenRevoked: the token's id is on the revocation list.
	ErrTokenRevoked = fmt.Errorf("%w: token revoked", ErrUnauthenticated)
)

const (
	// Issuer is the iss claim of every socmgmt token; a token of another
	// issuer is refused even when signed by a trusted key.
	Issuer = "socmgmt"
	// Audience is the aud claim of a token for every socmgmt program. A
	// token may instead name one program (ServiceAudience), and then only
	// that program accepts it.
	Audience = "socmgmt"
	// MaxTTL is the longest lifetime Signer.Sign grants a token at all;
	// verifiers allow much less (DefaultMaxLifetime and
	// DefaultMaxServiceLifetime unless configured).
	MaxTTL = 366 * 24 * time.Hour
	// DefaultMaxLifetime is the longest lifetime (exp - iat) a Verifier
	// accepts in a token of a person's role (admin, bureau, clerk,
	// enterprise, street, district): a working day with room to spare, so that a stolen
	// token is worth at most a day.
	DefaultMaxLifetime = 24 * time.Hour
	// DefaultMaxServiceLifetime is the longest lifetime a Verifier accepts
	// in a service token. Services that hold the signing key mint their
	// own for an hour and renew them; a pre-issued one
	// (--service-token-file) is replaced by the operator, re-read without
	// a restart, at least this often.
	DefaultMaxServiceLifetime = 30 * 24 * time.Hour
	// DefaultLeeway is the clock skew Verify tolerates on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
	// DefaultCacheSize is how many verified tokens a Verifier remembers.
	DefaultCacheSize = 10_000
	// maxTokenLen bounds the work an unauthenticated caller can cause; a
	// clerk of several hundred communities still fits.
	maxTokenLen = 8 << 10
	// maxTokenIDLen bounds a jti, which revocation lists and logs carry.
	maxTokenIDLen = 64
	// maxAudiences bounds the aud claim of a token Sign issues.
	maxAudiences = 8
	// maxAudienceLen bounds one audience.
	maxAudienceLen = 64
)

// ServiceAudience is the audience of a token only the program name
// ("registry", "gateway") accepts.
func ServiceAudience(name string) string { return Audience + ":" + name }

// algEdDSA is the only "alg" accepted. Naming it explicitly is what stops
// "none", HS256 with the public key as secret, and the like.
var algEdDSA = jwt.SigningMethodEdDSA.Alg()

// Claims are the JWT claims of a socmgmt bearer token: iss, sub, aud, exp,
// iat, nbf and jti from the registered set, and the role and its scope.
type Claims struct {
	jwt.RegisteredClaims
	// Role is the principal's role.
	Role Role `json:"role"`
	// Communities is a clerk's scope.
	Communities []string `json:"communities,omitempty"`
	// Enterprise is an enterprise principal's credit code.
	Enterprise string `json:"enterprise,omitempty"`
	// Street is a street supervisor's street office code.
	Street string `json:"street,omitempty"`
	// District is a district supervisor's district code.
	District string `json:"district,omitempty"`
}

// Issued is a token Signer.Issue made, with the claims an operator needs
// to revoke it later.
type Issued struct {
	// Token is the compact JWT.
	Token string
	// ID is its jti, the id a revocation names.
	ID string
	// Expires is its exp.
	Expires time.Time
}

// Signer issues bearer tokens. It is safe for concurrent use.
type Signer struct {
	key ed25519.PrivateKey
	kid string
}

// NewSigner returns a Signer that signs with key and names it in each
// token's "kid" header by KeyID of its public half.
func NewSigner(key ed25519.PrivateKey) *Signer {
	s := &Signer{key: key}
	if len(key) == ed25519.PrivateKeySize {
		s.kid = KeyID(key.Public().(ed25519.PublicKey))
	}
	return s
}

// KeyID is the id of the signer's key, the kid of its tokens.
func (s *Signer) KeyID() string { return s.kid }

// Sign returns a token for p for every socmgmt program (aud Audience),
// valid from now for ttl. It refuses principals and lifetimes that no
// Verifier could accept, so a token it returns is usable where the
// verifiers allow its lifetime.
func (s *Signer) Sign(p Principal, ttl time.Duration, now time.Time) (string, error) {
	is, err := s.Issue(p, nil, ttl, now)
	return is.Token, err
}

// Issue is Sign for the given audiences (nil: Audience), returning the
// token's id and expiry beside it.
func (s *Signer) Issue(p Principal, audience []string, ttl time.Duration, now time.Time) (Issued, error) {
	if len(s.key) != ed25519.PrivateKeySize {
		return Issued{}, errors.New("authn: signer has no valid Ed25519 key")
	}
	if err := p.validate(); err != nil {
		return Issued{}, fmt.Errorf("%w: %w", ErrInvalidPrincipal, err)
	}
	if ttl <= 0 || ttl > MaxTTL {
		return Issued{}, fmt.Errorf("authn: ttl must be positive and at most %v", MaxTTL)
	}
	if audience == nil {
		audience = []string{Audience}
	}
	if err := checkAudiences(audience); err != nil {
		return Issued{}, err
	}
	claims := Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    Issuer,
			Subject:   p.Subject,
			Audience:  slices.Clone(audience),
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			// A random id makes every token distinct, so the audit log can
			// tell two tokens of one subject apart, and names the token a
			// revocation refers to.
			ID: rand.Text(),
		},
		Role:        p.Role,
		Communities: slices.Clone(p.Communities),
		Enterprise:  p.Enterprise,
		Street:      p.Street,
		District:    p.District,
	}
	t := jwt.NewWithClaims(jwt.SigningMethodEdDSA, claims)
	t.Header["kid"] = s.kid
	tok, err := t.SignedString(s.key)
	if err != nil {
		return Issued{}, fmt.Errorf("authn: sign token: %w", err)
	}
	if len(tok) > maxTokenLen {
		return Issued{}, fmt.Errorf("%w: token would exceed %d bytes", ErrInvalidPrincipal, maxTokenLen)
	}
	return Issued{Token: tok, ID: claims.ID, Expires: claims.ExpiresAt.Time}, nil
}

// checkAudiences checks the aud values a signer is asked for.
func checkAudiences(aud []string) error {
	if len(aud) == 0 || len(aud) > maxAudiences {
		return fmt.Errorf("authn: a token needs 1 to %d audiences", maxAudiences)
	}
	for _, a := range aud {
		if a == "" || len(a) > maxAudienceLen || strings.ContainsFunc(a, func(r rune) bool { return r <= ' ' || r > '~' }) {
			return fmt.Errorf("authn: an audience is 1 to %d printable ASCII characters without spaces", maxAudienceLen)
		}
	}
	return nil
}

// Verifier checks bearer tokens against a set of Ed25519 public keys,
// picked by each token's kid. It is safe for concurrent use. It remembers
// tokens that verified (see WithCacheSize), so a token presented again
// costs one SHA-256 and a map look-up instead of an Ed25519 verification;
// the revocation list is consulted on every call, cached or not.
type Verifier struct {
	keys      atomic.Pointer[KeySet]
	now       func() time.Time
	leeway    time.Duration
	parser    *jwt.Parser
	inspector *jwt.Parser
	// maxLifetime and maxServiceLifetime bound exp - iat by role.
	maxLifetime, maxServiceLifetime time.Duration
	revoked                         *Revocations
	cacheSize                       int
	// cache is replaced whenever the keys change, so that no token of a
	// key taken out is still served from it; nil when caching is off.
	cache atomic.Pointer[verifiedCache]
}

// VerifierOption configures a Verifier.
type VerifierOption func(*verifierConfig)

type verifierConfig struct {
	now                             func() time.Time
	leeway                          time.Duration
	cacheSize                       int
	audiences                       []string
	maxLifetime, maxServiceLifetime time.Duration
	revoked                         *Revocations
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

// WithLeeway sets the clock skew tolerated on exp, nbf and iat
// (DefaultLeeway unless set; negative values count as zero).
func WithLeeway(d time.Duration) VerifierOption {
	return func(c *verifierConfig) { c.leeway = max(d, 0) }
}

// WithAudience sets the audiences the Verifier accepts: a token must name
// at least one of them in its aud claim. Unless set, only Audience is
// accepted; a program passes Audience and its own ServiceAudience.
func WithAudience(aud ...string) VerifierOption {
	return func(c *verifierConfig) {
		if len(aud) > 0 {
			c.audiences = slices.Clone(aud)
		}
	}
}

// WithMaxLifetime sets the longest lifetime (exp - iat) accepted in a
// token of a person's role and in a service token (DefaultMaxLifetime and
// DefaultMaxServiceLifetime unless set; zero keeps the default).
func WithMaxLifetime(person, service time.Duration) VerifierOption {
	return func(c *verifierConfig) {
		if person > 0 {
			c.maxLifetime = person
		}
		if service > 0 {
			c.maxServiceLifetime = service
		}
	}
}

// WithRevocations makes the Verifier refuse the tokens on r, a list the
// caller keeps current (FollowRevocations, or registry itself). Unless
// set, the Verifier has a list of its own, empty until added to.
func WithRevocations(r *Revocations) VerifierOption {
	return func(c *verifierConfig) {
		if r != nil {
			c.revoked = r
		}
	}
}

// NewVerifier returns a Verifier that accepts tokens signed by the private
// half of pub.
func NewVerifier(pub ed25519.PublicKey, opts ...VerifierOption) *Verifier {
	ks := &KeySet{keys: map[string]ed25519.PublicKey{KeyID(pub): slices.Clone(pub)}}
	return NewKeySetVerifier(ks, opts...)
}

// NewKeySetVerifier returns a Verifier that accepts tokens signed by the
// private half of any key of ks.
func NewKeySetVerifier(ks *KeySet, opts ...VerifierOption) *Verifier {
	cfg := verifierConfig{
		now: time.Now, leeway: DefaultLeeway, cacheSize: DefaultCacheSize, audiences: []string{Audience},
		maxLifetime: DefaultMaxLifetime, maxServiceLifetime: DefaultMaxServiceLifetime,
	}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.revoked == nil {
		cfg.revoked = NewRevocations()
	}
	v := &Verifier{
		now:                cfg.now,
		leeway:             cfg.leeway,
		maxLifetime:        cfg.maxLifetime,
		maxServiceLifetime: cfg.maxServiceLifetime,
		revoked:            cfg.revoked,
		cacheSize:          cfg.cacheSize,
	}
	v.keys.Store(ks)
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{algEdDSA}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithAudience(cfg.audiences...),
		jwt.WithLeeway(cfg.leeway),
		jwt.WithTimeFunc(cfg.now),
		// Strict base64 leaves each token exactly one spelling, so a
		// token cannot be re-encoded into a second valid one.
		jwt.WithStrictDecoding(),
	)
	// Inspect checks the signature and the issuer only: a token to revoke
	// may be for another audience, or not valid yet.
	v.inspector = jwt.NewParser(
		jwt.WithValidMethods([]string{algEdDSA}),
		jwt.WithoutClaimsValidation(),
		jwt.WithStrictDecoding(),
	)
	if cfg.cacheSize > 0 {
		v.cache.Store(newVerifiedCache(cfg.cacheSize))
	}
	return v
}

// SetKeys replaces the keys v accepts, at once for every call that starts
// after it, and forgets every token it had cached, so that tokens of a key
// taken out are refused from then on.
func (v *Verifier) SetKeys(ks *KeySet) {
	v.keys.Store(ks)
	if v.cacheSize > 0 {
		v.cache.Store(newVerifiedCache(v.cacheSize))
	}
}

// Keys returns the keys v accepts.
func (v *Verifier) Keys() *KeySet { return v.keys.Load() }

// Revocations returns the revocation list v honours.
func (v *Verifier) Revocations() *Revocations { return v.revoked }

// Verify checks token and returns the principal it names. Every error
// wraps ErrUnauthenticated and one of the reasons above; none repeats the
// token.
func (v *Verifier) Verify(token string) (*Principal, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, ErrMalformedToken
	}
	// One cache for the whole call: an entry verified with keys that
	// SetKeys has meanwhile replaced lands in the cache it replaced.
	cache := v.cache.Load()
	var key [sha256.Size]byte
	if cache != nil {
		key = tokenKey(token)
		if p, ok := cache.get(key, v.now()); ok {
			if v.revoked.Revoked(p.TokenID) {
				return nil, ErrTokenRevoked
			}
			return p, nil
		}
	}

	keys := v.keys.Load()
	var claims Claims
	if _, err := v.parser.ParseWithClaims(token, &claims, keyFunc(keys)); err != nil {
		return nil, classify(err)
	}
	p, err := v.principal(&claims)
	if err != nil {
		return nil, err
	}
	if v.revoked.Revoked(p.TokenID) {
		return nil, ErrTokenRevoked
	}
	if cache != nil {
		// Entries carry the same window the parser just applied, so a
		// cache hit accepts exactly what a fresh verification would.
		from, until := int64(math.MinInt64), claims.ExpiresAt.Add(v.leeway).UnixNano()
		if claims.NotBefore != nil {
			from = claims.NotBefore.Add(-v.leeway).UnixNano()
		}
		cache.put(key, cacheEntry{p: p, from: from, until: until})
	}
	return p, nil
}

// tokenKey is the cache key of token, its SHA-256. A token of the usual
// size (a few hundred bytes) is copied into a buffer on the stack rather
// than converted, which would allocate on every call; a larger one, a
// clerk's of many communities, pays the allocation.
func tokenKey(token string) [sha256.Size]byte {
	var buf [1 << 10]byte
	if len(token) > len(buf) {
		return sha256.Sum256([]byte(token))
	}
	n := copy(buf[:], token)
	return sha256.Sum256(buf[:n])
}

// principal checks the claims the parser leaves to the application (jti,
// the lifetime, the role rules) and returns the principal they name.
func (v *Verifier) principal(c *Claims) (*Principal, error) {
	if !validTokenID(c.ID) {
		return nil, fmt.Errorf("%w: jti is missing or malformed", ErrBadClaims)
	}
	if c.IssuedAt == nil {
		return nil, fmt.Errorf("%w: iat is missing", ErrBadClaims)
	}
	limit := v.maxLifetime
	if c.Role == RoleService {
		limit = v.maxServiceLifetime
	}
	if c.ExpiresAt.Sub(c.IssuedAt.Time) > limit {
		return nil, fmt.Errorf("%w: lifetime longer than %v", ErrBadClaims, limit)
	}
	p := &Principal{
		Subject:     c.Subject,
		Role:        c.Role,
		Communities: c.Communities,
		Enterprise:  c.Enterprise,
		Street:      c.Street,
		District:    c.District,
		TokenID:     c.ID,
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadClaims, err)
	}
	return p, nil
}

// Inspect returns the id and expiry of token after checking that one of
// v's keys signed it and that it is a socmgmt token, but not its times or
// audience: what a revocation of the token needs. Errors are Verify's.
func (v *Verifier) Inspect(token string) (Revocation, error) {
	if token == "" || len(token) > maxTokenLen {
		return Revocation{}, ErrMalformedToken
	}
	var c Claims
	if _, err := v.inspector.ParseWithClaims(token, &c, keyFunc(v.keys.Load())); err != nil {
		return Revocation{}, classify(err)
	}
	if c.Issuer != Issuer || !validTokenID(c.ID) || c.ExpiresAt == nil {
		return Revocation{}, fmt.Errorf("%w: not a socmgmt token with jti and exp", ErrBadClaims)
	}
	return Revocation{TokenID: c.ID, Expires: c.ExpiresAt.Time}, nil
}

// keyFunc is the jwt.Keyfunc that picks the key of ks named by the
// token's kid. The parser has already refused every alg but EdDSA;
// checking the method type again costs nothing and keeps this function
// safe should the parser options ever change.
func keyFunc(ks *KeySet) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
			return nil, errors.New("unexpected signing method")
		}
		kid, _ := t.Header["kid"].(string)
		pub, ok := ks.key(kid)
		if !ok {
			return nil, errors.New("unknown key id")
		}
		return pub, nil
	}
}

// ValidTokenID reports whether id has the shape of a token id (jti) this
// package accepts: 1 to 64 letters, digits, '-' or '_'. Revocation
// requests are checked by it, so that nothing else reaches a log.
func ValidTokenID(id string) bool { return validTokenID(id) }

func validTokenID(id string) bool {
	if id == "" || len(id) > maxTokenIDLen {
		return false
	}
	for i := range len(id) {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// classify maps the jwt library's errors onto this package's reasons. The
// library's messages are dropped: some quote the token's header.
func classify(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return ErrBadSignature
	case errors.Is(err, jwt.ErrTokenExpired):
		return ErrTokenExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return ErrTokenNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return fmt.Errorf("%w: a required claim is missing", ErrBadClaims)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: not for this audience", ErrBadClaims)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: another issuer", ErrBadClaims)
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return ErrBadClaims
	default:
		return ErrMalformedToken
	}
}
