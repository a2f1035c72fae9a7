package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// TestSeedPrintsSupervisorTokens: the seed's summary ends with a street
// and a district supervisor's token over the first community's area,
// each of which the programs accept.
func TestSeedPrintsSupervisorTokens(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	priv, err := authn.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	plan := mustGenerate(t, 1, 10)
	var out bytes.Buffer
	if err := writeSupervisorTokens(&out, priv, plan, time.Now()); err != nil {
		t.Fatal(err)
	}
	community := plan.Communities[0].Id
	var got []authn.Principal
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) != 3 {
			t.Fatalf("line %q is not role, code, token", line)
		}
		p, err := authn.NewVerifier(pub).Verify(fields[2])
		if err != nil {
			t.Fatalf("%s token: %v", fields[0], err)
		}
		if !p.InArea(community) {
			t.Errorf("the %s token's area does not hold %s", p.Role, community)
		}
		got = append(got, authn.Principal{Role: p.Role, Street: p.Street, District: p.District})
	}
	want := []authn.Principal{
		{Role: authn.RoleStreet, Street: community[:9]},
		{Role: authn.RoleDistrict, District: community[:6]},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("printed tokens (-want +got):\n%s\n%s", diff, out.String())
	}
}
