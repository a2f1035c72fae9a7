package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devidentity"
)

// TestWriteDevIdentities: a start offers an admin and a bureau identity
// whose tokens the stack's key verifies, for 12 hours, in a file only the
// developer may read; a restart keeps the identities a seed added while
// their tokens are valid, and drops the rest.
func TestWriteDevIdentities(t *testing.T) {
	cfg := config{DataDir: filepath.Join(t.TempDir(), "var")}
	if err := prepareDataDir(cfg, []string{"cli"}, func(string, ...any) {}); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if kept, err := writeDevIdentities(cfg, now); err != nil || kept != 0 {
		t.Fatalf("kept %d, %v", kept, err)
	}
	f, err := devidentity.Read(filepath.Join(cfg.DataDir, "dev-identities.json"))
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(cfg.DataDir, signingKeyName)
	policy := authn.DefaultTokenPolicy()
	v, err := policy.NewVerifier(keyFile, "gateway", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		label string
		role  authn.Role
	}{"admin": {"系统管理员", authn.RoleAdmin}, "bureau": {"社保经办机构", authn.RoleBureau}}
	if len(f.Identities) != len(want) {
		t.Fatalf("identities %+v", f.Identities)
	}
	for _, id := range f.Identities {
		p, err := v.Verify(id.Token)
		if err != nil || want[id.Key].role != id.Role || p.Role != id.Role || want[id.Key].label != id.Label {
			t.Errorf("%+v: principal %+v, %v", id, p, err)
		}
	}
	if fi, err := os.Stat(cfg.devIdentitiesFile()); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}

	// A seed's clerk, one whose day is over, and one of another key.
	priv, err := authn.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	clerk := authn.Principal{Subject: "seed-clerk", Role: authn.RoleClerk, Communities: []string{"210102001001"}}
	valid, _ := authn.NewSigner(priv).Sign(clerk, time.Hour, now)
	expired, _ := authn.NewSigner(priv).Sign(clerk, time.Hour, now.Add(-2*time.Hour))
	other, _, _ := authn.LoadOrCreateKeyFile(filepath.Join(t.TempDir(), "other.key"))
	foreign, _ := authn.NewSigner(other).Sign(clerk, time.Hour, now)
	f.Identities = append(f.Identities,
		devidentity.Identity{Key: "clerk-a", Label: "社区专干", Role: authn.RoleClerk, Token: valid},
		devidentity.Identity{Key: "clerk-b", Label: "社区专干", Role: authn.RoleClerk, Token: expired},
		devidentity.Identity{Key: "clerk-c", Label: "社区专干", Role: authn.RoleClerk, Token: foreign},
	)
	if err := devidentity.Write(cfg.devIdentitiesFile(), f); err != nil {
		t.Fatal(err)
	}
	if kept, err := writeDevIdentities(cfg, now); err != nil || kept != 1 {
		t.Fatalf("restart kept %d, %v; want 1", kept, err)
	}
	again, err := devidentity.Read(cfg.devIdentitiesFile())
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, id := range again.Identities {
		keys = append(keys, id.Key)
	}
	if !slices.Equal(keys, []string{"admin", "bureau", "clerk-a"}) {
		t.Errorf("after a restart: %q", keys)
	}
}
