package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// caseTarget is what the seed makes of the recovery case and the
// death-benefit claim of one of the plan's first deaths.
type caseTarget struct {
	state pensionv1.RecoveryState
	// claim is the claim's state; UNSPECIFIED files none.
	claim   pensionv1.DeathBenefitClaimState
	consent bool
	// offset keeps half the case's balance from the approved claim.
	offset bool
}

// caseTargets are the targets of the plan's first deaths, in order; the
// first ones are filed as reports (seed_deaths.go). The VOID one is the
// death the bureau reverses, whose submitted claim the reversal voids.
var caseTargets = []caseTarget{
	{pensionv1.RecoveryState_RECOVERY_ORDERED, pensionv1.DeathBenefitClaimState_APPROVED, true, true},
	{pensionv1.RecoveryState_RECOVERY_INSTALMENTS, pensionv1.DeathBenefitClaimState_PAID, true, false},
	{pensionv1.RecoveryState_RECOVERY_REPAID, pensionv1.DeathBenefitClaimState_SUBMITTED, false, false},
	{pensionv1.RecoveryState_RECOVERY_WRITTEN_OFF, pensionv1.DeathBenefitClaimState_REJECTED, false, false},
	{pensionv1.RecoveryState_RECOVERY_ENFORCEMENT, pensionv1.DeathBenefitClaimState_DRAFT, false, false},
	{pensionv1.RecoveryState_RECOVERY_VOID, pensionv1.DeathBenefitClaimState_VOID, false, false},
	{pensionv1.RecoveryState_RECOVERY_OPEN, pensionv1.DeathBenefitClaimState_DEATH_BENEFIT_CLAIM_STATE_UNSPECIFIED, false, false},
}

// Texts of the seed's recovery steps and claims.
const (
	seedRegionPrefix  = "2101"
	seedRuleFrom      = "2015-01-01"
	writeOffReason    = "家属无力偿还，经核实无可供执行的财产"
	refusalReason     = "家属拒绝退还，称款项已用于丧葬"
	escalateReason    = "拒不退还，移交依法追缴"
	claimRejectReason = "申领人与逝者关系证明不符"
	reverseReason     = "经核实系同名误登，本人健在"
	// caseWait bounds how long the seed waits for a case to open or to
	// be voided by a reversal.
	caseWait = time.Minute
)

// seedRule is the seed city's benefit rule: a funeral grant of two
// months of the reference wage and six months of pension to the family,
// against a checklist of four documents.
func seedRule() *pensionv1.BenefitRule {
	return &pensionv1.BenefitRule{
		RegionPrefix: seedRegionPrefix, EffectiveOn: seedRuleFrom,
		FuneralGrantWageMonths: 2, ReferenceWageFen: 850_000, SurvivorMonths: 6,
		RequiredDocuments: []pensionv1.BenefitDocument_Kind{
			pensionv1.BenefitDocument_DEATH_CERTIFICATE, pensionv1.BenefitDocument_CLAIMANT_ID,
			pensionv1.BenefitDocument_RELATIONSHIP_PROOF, pensionv1.BenefitDocument_BANK_CARD,
		},
	}
}

// deathSeeder drives the recovery cases and claims of the first deaths:
// the bureau (admin for the rule, a second bureau subject for approving
// write-offs) and the communities' clerks each call with a token of
// their own over one connection.
type deathSeeder struct {
	*seeder
	pension  pensionv1.PensionServiceClient
	registry registryv1.RegistryServiceClient
	signer   *authn.Signer
	bureau   grpc.CallOption
	checker  grpc.CallOption
	admin    grpc.CallOption
	today    string

	cases   map[pensionv1.RecoveryState]*tally
	claims  map[pensionv1.DeathBenefitClaimState]*tally
	rule    tally
	offsets tally
}

// as is the call option of a token for p.
func (ds *deathSeeder) as(p authn.Principal) (grpc.CallOption, error) {
	tok, err := ds.signer.Sign(p, seedTokenTTL, time.Now())
	if err != nil {
		return nil, err
	}
	return grpc.PerRPCCredentials(authn.BearerCredentials(tok)), nil
}

// seedDeathCases creates the seed city's benefit rule and brings the
// recovery case and the claim of each of the plan's first deaths to its
// target, reversing the death of the VOID one last. registry carries
// the seed's admin credentials. A second run finds every case and claim
// in its state and changes nothing.
func seedDeathCases(ctx context.Context, cfg seedConfig, priv ed25519.PrivateKey, registry registryv1.RegistryServiceClient, plan *cityPlan, out, progress io.Writer) error {
	if cfg.pensionAddr == "" || len(plan.Deaths) == 0 {
		return nil
	}
	conn, err := dialOptional(ctx, cfg, "pension", cfg.pensionAddr, nil, progress, "recovery cases and claims")
	if conn == nil {
		return err
	}
	defer conn.Close()
	ds, err := newDeathSeeder(cfg, priv, registry, pensionv1.NewPensionServiceClient(conn), progress)
	if err != nil {
		return err
	}
	if err := ds.createRule(ctx); status.Code(err) == codes.Unimplemented {
		fmt.Fprintln(progress, "seed: the pension service keeps no death benefits; skipping recovery cases and claims")
		return nil
	} else if err != nil {
		return fmt.Errorf("create the benefit rule: %w", err)
	}
	for i, d := range plan.Deaths[:min(len(plan.Deaths), len(caseTargets))] {
		if err := ds.drive(ctx, plan.Retirees[d.Index], caseTargets[i]); err != nil {
			return fmt.Errorf("death of retiree #%d: %w", d.Index, err)
		}
	}
	ds.writeSummary(out)
	return nil
}

// newDeathSeeder signs the tokens of a deathSeeder.
func newDeathSeeder(cfg seedConfig, priv ed25519.PrivateKey, registry registryv1.RegistryServiceClient, pension pensionv1.PensionServiceClient, progress io.Writer) (*deathSeeder, error) {
	ds := &deathSeeder{
		seeder: newSeeder(registry, cfg.concurrency, progress), pension: pension, registry: registry,
		signer: authn.NewSigner(priv), today: time.Now().In(workdays.ChinaTime).Format(dateLayout),
		cases: map[pensionv1.RecoveryState]*tally{}, claims: map[pensionv1.DeathBenefitClaimState]*tally{},
	}
	for _, t := range caseTargets {
		ds.cases[t.state], ds.claims[t.claim] = &tally{}, &tally{}
	}
	var err error
	for _, p := range []struct {
		opt *grpc.CallOption
		p   authn.Principal
	}{
		{&ds.bureau, authn.Principal{Subject: "socmgmt-seed", Role: authn.RoleBureau}},
		{&ds.checker, authn.Principal{Subject: "socmgmt-seed-checker", Role: authn.RoleBureau}},
		{&ds.admin, authn.Principal{Subject: "socmgmt-seed", Role: authn.RoleAdmin}},
	} {
		if *p.opt, err = ds.as(p.p); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// createRule creates the seed city's benefit rule, counting an existing
// one as present.
func (ds *deathSeeder) createRule(ctx context.Context) error {
	err := ds.call(ctx, func(ctx context.Context) error {
		_, err := ds.pension.CreateBenefitRule(ctx, &pensionv1.CreateBenefitRuleRequest{Rule: seedRule()}, ds.admin)
		return err
	})
	switch status.Code(err) {
	case codes.OK:
		ds.rule.created.Add(1)
	case codes.AlreadyExists:
		ds.rule.present.Add(1)
	default:
		return err
	}
	return nil
}

// writeSummary prints the cases and claims by the state they were
// brought to.
func (ds *deathSeeder) writeSummary(out io.Writer) {
	fmt.Fprintln(out, "Recovery cases and death-benefit claims of the first deaths, by state:")
	rows := tallyRows{{"benefit rule", &ds.rule}}
	for _, t := range caseTargets {
		rows = append(rows, tallyRow{"case " + t.state.String(), ds.cases[t.state]})
	}
	for _, t := range caseTargets {
		if t.claim != pensionv1.DeathBenefitClaimState_DEATH_BENEFIT_CLAIM_STATE_UNSPECIFIED {
			rows = append(rows, tallyRow{"claim " + t.claim.String(), ds.claims[t.claim]})
		}
	}
	rows = append(rows, tallyRow{"offset against a claim", &ds.offsets})
	rows.write(out, 26)
}

// count counts a case or claim brought to its state (changed) or found
// there.
func count(t *tally, changed bool) {
	if changed {
		t.created.Add(1)
	} else {
		t.present.Add(1)
	}
}
