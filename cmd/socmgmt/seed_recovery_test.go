package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// TestSeedDrivesCasesAndClaims: over the fakes, the seed leaves a
// recovery case in every state and a claim in every state, the reversed
// death's case and claim void, and a second run changes none of them.
func TestSeedDrivesCasesAndClaims(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	regAddr, _ := startFakeRegistry(t, reg, pub)
	deaths := newFakeDeaths(newFakeSeedPension(reg))
	cfg := seedConfig{registryAddr: regAddr, keyFile: keyFile, retirees: 600, seed: 5, concurrency: 4, pensionAddr: startFakeDeaths(t, deaths, pub)}

	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("seed: %v\n%s", err, progress.String())
	}
	cases, claims := deaths.byState()
	for _, target := range caseTargets {
		if cases[target.state] != 1 {
			t.Errorf("%d cases %s, want 1 (all: %v)", cases[target.state], target.state, cases)
		}
		if target.claim != pensionv1.DeathBenefitClaimState_DEATH_BENEFIT_CLAIM_STATE_UNSPECIFIED && claims[target.claim] != 1 {
			t.Errorf("%d claims %s, want 1 (all: %v)", claims[target.claim], target.claim, claims)
		}
	}
	for _, row := range []string{"benefit  rule  1  0  0", "case  RECOVERY_WRITTEN_OFF  1  0  0", "case  RECOVERY_VOID  1  0  0", "claim  PAID  1  0  0", "claim  VOID  1  0  0", "offset  against  a  claim  1  0  0"} {
		if !strings.Contains(collapseSpaces(out.String()), row) {
			t.Errorf("first summary lacks %q:\n%s", row, out.String())
		}
	}

	out.Reset()
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("second seed: %v\n%s", err, progress.String())
	}
	if c2, cl2 := deaths.byState(); fmt.Sprint(c2, cl2) != fmt.Sprint(cases, claims) {
		t.Errorf("second seed changed cases or claims: %v %v, was %v %v", c2, cl2, cases, claims)
	}
	for _, row := range []string{"benefit  rule  0  1  0", "case  RECOVERY_ENFORCEMENT  0  1  0", "case  RECOVERY_VOID  0  1  0", "claim  REJECTED  0  1  0", "offset  against  a  claim  0  1  0"} {
		if !strings.Contains(collapseSpaces(out.String()), row) {
			t.Errorf("second summary lacks %q:\n%s", row, out.String())
		}
	}
}
