package pension

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Deceased retirees of the matrix: each call that changes a claim gets a
// retiree of its own, from the first of its community on.
const (
	matrixFirstA = 1000
	matrixFirstB = 2000
	matrixEach   = 150
)

// TestDeathBenefitAuthorisationMatrix calls every death-benefit RPC as
// every role on a claim (or retiree) of the clerk's community (own), of
// another community (other) and on one that does not exist (missing).
func TestDeathBenefitAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	var states []*registryv1.RetireeState
	for _, first := range []int{matrixFirstA, matrixFirstB} {
		community := communityA
		if first == matrixFirstB {
			community = communityB
		}
		for n := first; n < first+matrixEach; n++ {
			st := retiree(t, keyer, n, community)
			st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-03-15"
			states = append(states, st)
		}
	}
	h := newHarness(t, newEnv(t, states...), harnessOptions{})
	first := map[servicetest.Target]int{servicetest.Own: matrixFirstA, servicetest.Other: matrixFirstB}
	next := map[servicetest.Target]int{servicetest.Own: matrixFirstA, servicetest.Other: matrixFirstB}
	// fresh returns a retiree of target's community that no call has used.
	fresh := func(tg servicetest.Target) string {
		if tg == servicetest.Missing {
			return retireeID(99999)
		}
		n := next[tg]
		if next[tg]++; n >= first[tg]+matrixEach {
			t.Fatal("the matrix ran out of retirees")
		}
		return retireeID(n)
	}
	// claimIn returns a new claim of target in state (a missing id for
	// Missing), made through the store.
	claimIn := func(tg servicetest.Target, state ClaimState) string {
		if tg == servicetest.Missing {
			return "aaaaaaaaaaaaaaaa"
		}
		admin := func(*registryv1.RetireeState) error { return nil }
		c, err := h.store.CreateClaim(fresh(tg), claimDraft(), Actor{Subject: "test"}, admin)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range []claimAction{actSubmit, actApprove} {
			if c.State == state {
				break
			}
			if c, err = h.store.ChangeClaim(c.Id, claimChange{action: a, rpc: "test"}, Actor{Subject: "test"}, admin); err != nil {
				t.Fatal(err)
			}
		}
		return c.Id
	}
	onClaim := func(state ClaimState, call func(ctx context.Context, id string) error) func(servicetest.Target) func(context.Context) error {
		return func(tg servicetest.Target) func(context.Context) error {
			id := claimIn(tg, state)
			return func(ctx context.Context) error { return call(ctx, id) }
		}
	}
	// A read needs no fresh claim.
	readIDs := map[servicetest.Target]string{
		servicetest.Own: claimIn(servicetest.Own, pb.DeathBenefitClaimState_DRAFT), servicetest.Other: claimIn(servicetest.Other, pb.DeathBenefitClaimState_DRAFT),
		servicetest.Missing: "aaaaaaaaaaaaaaaa",
	}
	community := [...]string{servicetest.Own: communityA, servicetest.Other: communityB, servicetest.Missing: "210199999999"}
	day := 0
	calls := map[string]func(servicetest.Target) func(context.Context) error{
		"CreateBenefitRule": servicetest.OnTarget(func(ctx context.Context, _ servicetest.Target) error {
			day++
			return servicetest.ErrOf(h.client.CreateBenefitRule(ctx, &pb.CreateBenefitRuleRequest{
				Rule: benefitRule("2102", testNow.AddDate(0, 0, day).Format(time.DateOnly)),
			}))
		}),
		"ListBenefitRules": servicetest.OnTarget(func(ctx context.Context, _ servicetest.Target) error {
			return servicetest.ErrOf(h.client.ListBenefitRules(ctx, &pb.ListBenefitRulesRequest{}))
		}),
		"CreateDeathBenefitClaim": func(tg servicetest.Target) func(context.Context) error {
			id := fresh(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(h.client.CreateDeathBenefitClaim(ctx, &pb.CreateDeathBenefitClaimRequest{RetireeId: id, Claim: claimDraft()}))
			}
		},
		"UpdateDeathBenefitClaim": onClaim(pb.DeathBenefitClaimState_DRAFT, func(ctx context.Context, id string) error {
			return servicetest.ErrOf(h.client.UpdateDeathBenefitClaim(ctx, &pb.UpdateDeathBenefitClaimRequest{Id: id, Claim: claimDraft()}))
		}),
		// No rule governs the communities: a submission the caller may
		// make fails on it, after the object check.
		"SubmitDeathBenefitClaim": onClaim(pb.DeathBenefitClaimState_DRAFT, func(ctx context.Context, id string) error {
			return servicetest.ErrOf(h.client.SubmitDeathBenefitClaim(ctx, &pb.SubmitDeathBenefitClaimRequest{Id: id}))
		}),
		"ApproveDeathBenefitClaim": onClaim(pb.DeathBenefitClaimState_SUBMITTED, func(ctx context.Context, id string) error {
			return servicetest.ErrOf(h.client.ApproveDeathBenefitClaim(ctx, &pb.ApproveDeathBenefitClaimRequest{Id: id}))
		}),
		"RejectDeathBenefitClaim": onClaim(pb.DeathBenefitClaimState_SUBMITTED, func(ctx context.Context, id string) error {
			return servicetest.ErrOf(h.client.RejectDeathBenefitClaim(ctx, &pb.RejectDeathBenefitClaimRequest{Id: id, Reason: "incomplete"}))
		}),
		"MarkDeathBenefitClaimPaid": onClaim(pb.DeathBenefitClaimState_APPROVED, func(ctx context.Context, id string) error {
			return servicetest.ErrOf(h.client.MarkDeathBenefitClaimPaid(ctx, &pb.MarkDeathBenefitClaimPaidRequest{Id: id, PaidOn: "2026-06-01", BankReference: "R-1"}))
		}),
		"GetDeathBenefitClaim": servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.GetDeathBenefitClaim(ctx, &pb.GetDeathBenefitClaimRequest{Id: readIDs[tg]}))
		}),
		"ListDeathBenefitClaims": servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.ListDeathBenefitClaims(ctx, &pb.ListDeathBenefitClaimsRequest{CommunityId: community[tg]}))
		}),
	}
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		fp = codes.FailedPrecondition
	)
	row := func(admin, bureau, clerk servicetest.Cells) map[string]servicetest.Cells {
		return map[string]servicetest.Cells{
			"admin": admin, "bureau": bureau, "clerk": clerk,
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd}, "no token": {ua, ua, ua},
		}
	}
	filed := servicetest.Cells{ok, ok, nf}
	decided := servicetest.Cells{pd, pd, pd}
	submitted := servicetest.Cells{fp, fp, nf}
	want := map[string]map[string]servicetest.Cells{
		"CreateBenefitRule":         row(servicetest.Cells{ok, ok, ok}, decided, decided),
		"ListBenefitRules":          row(servicetest.Cells{ok, ok, ok}, servicetest.Cells{ok, ok, ok}, decided),
		"CreateDeathBenefitClaim":   row(filed, filed, servicetest.Cells{ok, pd, pd}),
		"UpdateDeathBenefitClaim":   row(filed, filed, servicetest.Cells{ok, pd, pd}),
		"SubmitDeathBenefitClaim":   row(submitted, submitted, servicetest.Cells{fp, pd, pd}),
		"ApproveDeathBenefitClaim":  row(filed, filed, decided),
		"RejectDeathBenefitClaim":   row(filed, filed, decided),
		"MarkDeathBenefitClaimPaid": row(filed, filed, decided),
		"GetDeathBenefitClaim":      row(filed, filed, servicetest.Cells{ok, pd, pd}),
		"ListDeathBenefitClaims":    row(servicetest.Cells{ok, ok, ok}, servicetest.Cells{ok, ok, ok}, servicetest.Cells{ok, pd, pd}),
	}
	// Supervisors read the claims of their area and write nothing.
	servicetest.WithSupervisors(t, want, map[string]map[string]servicetest.Cells{
		"GetDeathBenefitClaim":   servicetest.SupervisorCells(servicetest.Cells{ok, ok, pd}, servicetest.Cells{pd, pd, pd}),
		"ListDeathBenefitClaims": servicetest.SupervisorCells(servicetest.Cells{ok, ok, pd}, servicetest.Cells{pd, pd, pd}),
	})
	servicetest.RunMatrix(t, servicetest.Matrix{
		Calls: calls, Want: want, Secrets: []string{claimantPhone, bankAccount},
		Callers: append(append(h.keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP),
			servicetest.Caller{Name: "no token", Ctx: context.Background()}), h.keys.Supervisors(t)...),
	})
}
