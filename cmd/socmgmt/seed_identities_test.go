package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devidentity"
)

// TestSeedWritesDevIdentities: the seed writes its city's identities,
// each signed with the stack's key, into make run's file beside --key
// when it exists or into --dev-identities, and nowhere otherwise.
func TestSeedWritesDevIdentities(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	priv, err := authn.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	plan := mustGenerate(t, 1, 10)
	now := time.Now()

	var out bytes.Buffer
	beside := filepath.Join(filepath.Dir(keyFile), devidentity.FileName)
	if err := writeSeedIdentities(&out, seedConfig{keyFile: keyFile}, priv, plan, now); err != nil || out.Len() != 0 {
		t.Fatalf("no file beside --key: wrote %q, %v", out.String(), err)
	}
	if _, err := os.Stat(beside); err == nil {
		t.Fatal("a file written where make run has none")
	}
	if err := devidentity.Write(beside, devidentity.File{}); err != nil { // as devrun does
		t.Fatal(err)
	}
	if err := writeSeedIdentities(&out, seedConfig{keyFile: keyFile}, priv, plan, now); err != nil {
		t.Fatal(err)
	}
	given := filepath.Join(t.TempDir(), "ids.json")
	if err := writeSeedIdentities(&out, seedConfig{keyFile: keyFile, devIdentities: given}, priv, plan, now); err != nil {
		t.Fatal(err)
	}

	a := plan.Communities[0]
	var b string
	for _, c := range plan.Communities[1:] {
		if c.Id[:9] == a.Id[:9] {
			b = c.Id
			break
		}
	}
	var ent string
	for _, e := range plan.Enterprises {
		if e.Status.String() == "OPERATING" {
			ent = e.CreditCode
			break
		}
	}
	want := map[string]authn.Principal{
		"clerk-a":    {Role: authn.RoleClerk, Communities: []string{a.Id}},
		"clerk-b":    {Role: authn.RoleClerk, Communities: []string{b}},
		"street":     {Role: authn.RoleStreet, Street: a.Id[:9]},
		"district":   {Role: authn.RoleDistrict, District: a.Id[:6]},
		"bureau":     {Role: authn.RoleBureau},
		"admin":      {Role: authn.RoleAdmin},
		"enterprise": {Role: authn.RoleEnterprise, Enterprise: ent},
	}
	for _, path := range []string{beside, given} {
		f, err := devidentity.Read(path)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]authn.Principal{}
		for _, id := range f.Identities {
			p, err := authn.NewVerifier(pub).Verify(id.Token)
			if err != nil {
				t.Fatalf("%s: %v", id.Key, err)
			}
			if p.Role != id.Role {
				t.Errorf("%s: role %s, token's %s", id.Key, id.Role, p.Role)
			}
			got[id.Key] = authn.Principal{Role: p.Role, Communities: p.Communities, Street: p.Street, District: p.District, Enterprise: p.Enterprise}
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", path, diff)
		}
		if f.Identities[0].Label != "社区专干（"+a.Name+"）" {
			t.Errorf("clerk-a's label %q", f.Identities[0].Label)
		}
	}
	if b == "" || ent == "" || b == a.Id {
		t.Fatalf("the plan lacks a second community of the street (%q) or an enterprise (%q)", b, ent)
	}
}
