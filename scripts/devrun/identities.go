package main

import (
	"fmt"
	"path/filepath"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devidentity"
)

// devIdentitiesTTL is how long the development identities' tokens live:
// a working day, as `socmgmt token`'s.
const devIdentitiesTTL = 12 * time.Hour

// baseIdentities are the identities every start offers the console's
// sign-in; `socmgmt seed` adds the clerks and supervisors of its city.
var baseIdentities = []devidentity.Spec{
	{Key: "admin", Label: "系统管理员", Principal: authn.Principal{Subject: "dev-admin", Role: authn.RoleAdmin}},
	{Key: "bureau", Label: "社保经办机构", Principal: authn.Principal{Subject: "dev-bureau", Role: authn.RoleBureau}},
}

// devIdentitiesFile is the development identities file of cfg, which the
// gateway serves to the console (--dev-identities).
func (c config) devIdentitiesFile() string { return filepath.Join(c.DataDir, devidentity.FileName) }

// writeDevIdentities writes the development identities file with an
// admin and a bureau identity minted now with the development signing
// key, keeping those of an earlier seed whose tokens are still valid, so
// that a restart within their day does not lose the city's clerks. It
// returns how many it kept.
func writeDevIdentities(cfg config, now time.Time) (kept int, err error) {
	keyFile := filepath.Join(cfg.DataDir, signingKeyName)
	priv, err := authn.LoadPrivateKey(keyFile)
	if err != nil {
		return 0, fmt.Errorf("development identities: %w", err)
	}
	f, err := devidentity.Sign(authn.NewSigner(priv), baseIdentities, devIdentitiesTTL, now)
	if err != nil {
		return 0, fmt.Errorf("development identities: %w", err)
	}
	base := map[string]bool{}
	for _, b := range baseIdentities {
		base[b.Key] = true
	}
	// An earlier file that cannot be read or verified is simply replaced.
	if old, err := devidentity.Read(cfg.devIdentitiesFile()); err == nil {
		policy := authn.DefaultTokenPolicy()
		if v, err := policy.NewVerifier(keyFile, "devrun", nil); err == nil {
			for _, id := range old.Identities {
				if p, err := v.Verify(id.Token); err == nil && !base[id.Key] && p.Role == id.Role {
					f.Identities = append(f.Identities, id)
					kept++
				}
			}
		}
	}
	if err := devidentity.Write(cfg.devIdentitiesFile(), f); err != nil {
		return 0, fmt.Errorf("development identities: %w", err)
	}
	return kept, nil
}
