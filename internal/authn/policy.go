package authn

import (
	"flag"
	"fmt"
	"time"
)

// TokenPolicy is how a program checks bearer tokens beyond their
// signature: the longest lifetimes it accepts, and how often it reads
// registry's revocation list and its own key file again. The services
// and the gateway share it, flags and all.
type TokenPolicy struct {
	// MaxLifetime is the longest lifetime (exp - iat) accepted in a token
	// of a person (admin, bureau, clerk, enterprise).
	MaxLifetime time.Duration
	// MaxServiceLifetime is the longest lifetime accepted in a service
	// token.
	MaxServiceLifetime time.Duration
	// RevocationPoll is the time between two reads of registry's
	// revocation list: a revoked token is refused within about as long.
	// Zero means DefaultRevocationPoll.
	RevocationPoll time.Duration
	// KeyReload is the time between two reads of the token key file, so
	// that a key added or taken out takes effect without a restart. Zero
	// means DefaultKeyReload.
	KeyReload time.Duration
}

// DefaultTokenPolicy is the policy of the flags' defaults.
func DefaultTokenPolicy() TokenPolicy {
	return TokenPolicy{
		MaxLifetime: DefaultMaxLifetime, MaxServiceLifetime: DefaultMaxServiceLifetime,
		RevocationPoll: DefaultRevocationPoll, KeyReload: DefaultKeyReload,
	}
}

// Register defines --max-token-lifetime, --max-service-token-lifetime
// and --token-key-reload on fs, storing into p.
func (p *TokenPolicy) Register(fs *flag.FlagSet) {
	fs.DurationVar(&p.MaxLifetime, "max-token-lifetime", DefaultMaxLifetime,
		"longest lifetime (exp - iat) accepted in a token of a person's role; longer ones are refused")
	fs.DurationVar(&p.MaxServiceLifetime, "max-service-token-lifetime", DefaultMaxServiceLifetime,
		"longest lifetime accepted in a service token")
	fs.DurationVar(&p.KeyReload, "token-key-reload", DefaultKeyReload,
		"how often the --token-key file (or directory) is read again, so that a key rotation needs no restart")
}

// RegisterPoll defines --revocation-poll on fs, for a program that
// follows registry's revocation list, storing into p.
func (p *TokenPolicy) RegisterPoll(fs *flag.FlagSet) {
	fs.DurationVar(&p.RevocationPoll, "revocation-poll", DefaultRevocationPoll,
		"how often registry's list of revoked tokens is read: a revoked token is refused within about as long")
}

// Problems lists what is unusable in p, each naming its flag.
func (p *TokenPolicy) Problems() []string {
	var out []string
	if p.MaxLifetime <= 0 || p.MaxLifetime > MaxTTL {
		out = append(out, fmt.Sprintf("--max-token-lifetime must be positive and at most %v", MaxTTL))
	}
	if p.MaxServiceLifetime <= 0 || p.MaxServiceLifetime > MaxTTL {
		out = append(out, fmt.Sprintf("--max-service-token-lifetime must be positive and at most %v", MaxTTL))
	}
	if p.KeyReload < 0 || p.KeyReload > time.Hour {
		out = append(out, "--token-key-reload must be at most 1h (0: the default)")
	}
	if p.RevocationPoll < 0 || p.RevocationPoll > time.Minute {
		out = append(out, "--revocation-poll must be at most 1m (0: the default)")
	}
	return out
}

// NewVerifier loads the keys at keyFile (a PEM file of one or more keys,
// or a directory of them) and returns the verifier of the bearer tokens
// the program name accepts under p: tokens for every program or for name
// alone, within p's lifetimes, and not on revoked (nil: a list of the
// verifier's own).
func (p *TokenPolicy) NewVerifier(keyFile, name string, revoked *Revocations) (*Verifier, error) {
	ks, err := LoadKeySet(keyFile)
	if err != nil {
		return nil, err
	}
	return NewKeySetVerifier(ks,
		WithAudience(Audience, ServiceAudience(name)),
		WithMaxLifetime(p.MaxLifetime, p.MaxServiceLifetime),
		WithRevocations(revoked),
	), nil
}
