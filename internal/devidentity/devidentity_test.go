package devidentity

import (
	"crypto/ed25519"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// TestWriteRead: what Write writes, Read reads back, from a file only its
// owner may read; Write refuses what Read would.
func TestWriteRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if _, err := Read(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	want := File{Identities: []Identity{{Key: "admin", Label: "系统管理员", Role: "admin", Token: "a.b.c"}}}
	if err := Write(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := Read(path)
	if err != nil || len(got.Identities) != 1 || got.Identities[0] != want.Identities[0] {
		t.Fatalf("read %+v, %v", got, err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, %v", fi.Mode(), err)
	}
	if err := Write(path, File{Identities: []Identity{{Key: "Admin", Label: "x", Role: "admin", Token: "a.b.c"}}}); err == nil {
		t.Error("a bad key written")
	}
	if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 1 {
		t.Errorf("%d files left in the directory, want 1", len(entries))
	}
}

// TestValidate: each kind of bad identity is refused.
func TestValidate(t *testing.T) {
	good := Identity{Key: "clerk-a", Label: "社区专干（泰山街社区）", Role: "clerk", Token: "a.b.c"}
	many := make([]Identity, MaxIdentities+1)
	for i := range many {
		many[i] = good
		many[i].Key = "k" + strings.Repeat("x", i%20) + string(rune('a'+i%26))
	}
	tests := map[string][]Identity{
		"bad key":      {func() Identity { i := good; i.Key = "clerk a"; return i }()},
		"repeated key": {good, good},
		"empty label":  {func() Identity { i := good; i.Label = ""; return i }()},
		"long label":   {func() Identity { i := good; i.Label = strings.Repeat("社", 65); return i }()},
		"unknown role": {func() Identity { i := good; i.Role = "mayor"; return i }()},
		"not a JWT":    {func() Identity { i := good; i.Token = "Bearer a.b.c"; return i }()},
		"too many":     many,
	}
	for name, ids := range tests {
		if err := (File{Identities: ids}).Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := (File{Identities: []Identity{good}}).Validate(); err != nil {
		t.Errorf("good: %v", err)
	}
}

// TestSign: each spec gets a token naming its principal, in order, which
// a file then holds as valid.
func TestSign(t *testing.T) {
	priv, err := authn.GenerateKeyFile(filepath.Join(t.TempDir(), "signing.key"))
	if err != nil {
		t.Fatal(err)
	}
	specs := []Spec{
		{Key: "clerk-a", Label: "社区专干（泰山街社区）", Principal: authn.Principal{Subject: "c", Role: authn.RoleClerk, Communities: []string{"210102001001"}}},
		{Key: "bureau", Label: "社保经办机构", Principal: authn.Principal{Subject: "b", Role: authn.RoleBureau}},
	}
	now := time.Now()
	f, err := Sign(authn.NewSigner(priv), specs, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	v := authn.NewVerifier(priv.Public().(ed25519.PublicKey))
	for i, id := range f.Identities {
		p, err := v.Verify(id.Token)
		if err != nil || id.Key != specs[i].Key || id.Role != specs[i].Principal.Role || p.Subject != specs[i].Principal.Subject || p.Role != id.Role {
			t.Errorf("identity %d: %+v, principal %+v, %v", i, id, p, err)
		}
	}
}
