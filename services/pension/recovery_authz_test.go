package pension

import (
	"context"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestRecoveryAuthorisationMatrix calls every recovery RPC as every role
// on a case of the clerk's community (own), of another community of the
// supervisors' area (other) and on one that does not exist (missing).
// Where a role may act, the answer is anything but PermissionDenied (a
// step the case's state refuses is FAILED_PRECONDITION); a role that may
// not gets 403 whether or not the case exists.
func TestRecoveryAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-05", "2026-05-10", 10000000)
	h.payOn(t, 6, "2026-05", "2026-05-10", 10000000)
	h.die(t, 0, "2026-04-15")
	h.die(t, 6, "2026-04-15")
	ids := [...]string{servicetest.Own: h.oneCase(t, 0).Id, servicetest.Missing: inputcheck.NewOpaqueID()}
	others, err := h.client.ListRecoveryCases(h.as(bureauP), &pb.ListRecoveryCasesRequest{CommunityId: communityB})
	if err != nil || len(others.Cases) != 1 {
		t.Fatalf("community B's cases: %v, %v", others, err)
	}
	ids[servicetest.Other] = others.Cases[0].Id
	// A DRAFT claim of retiree 0: an offset the role may make is refused
	// by the claim's state (or, on the other case, its retiree).
	claim, err := h.store.CreateClaim(retireeID(0), claimDraft(), Actor{Subject: "test"}, func(*registryv1.RetireeState) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	community := [...]string{servicetest.Own: communityA, servicetest.Other: communityB, servicetest.Missing: "210199999999"}
	readers := []string{"admin", "bureau", "clerk", "street", "district"}
	actors := []string{"admin", "bureau", "clerk"}
	deciders := []string{"admin", "bureau"}
	calls := []struct {
		rpc   string
		roles []string
		// byCommunity: the target is a community; a missing one is no 404.
		byCommunity bool
		call        func(ctx context.Context, target servicetest.Target) error
	}{
		{"GetRecoveryCase", readers, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.GetRecoveryCase(ctx, &pb.GetRecoveryCaseRequest{Id: ids[tg]}))
		}},
		{"ListRecoveryCases", readers, true, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.ListRecoveryCases(ctx, &pb.ListRecoveryCasesRequest{CommunityId: community[tg]}))
		}},
		{"IssueRecoveryOrder", actors, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.IssueRecoveryOrder(ctx, &pb.IssueRecoveryOrderRequest{Id: ids[tg], DebtorName: "王芳", DebtorRelation: "daughter"}))
		}},
		{"SetRecoveryInstalmentPlan", actors, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.SetRecoveryInstalmentPlan(ctx, &pb.SetRecoveryInstalmentPlanRequest{Id: ids[tg], Instalments: []*pb.RecoveryInstalment{{DueOn: "2026-07-01", AmountFen: 1}}}))
		}},
		{"RecordRecoveryRepayment", actors, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.RecordRecoveryRepayment(ctx, &pb.RecordRecoveryRepaymentRequest{Id: ids[tg], AmountFen: 1, PaidOn: "2026-06-01"}))
		}},
		{"RecordRecoveryRefusal", actors, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.RecordRecoveryRefusal(ctx, &pb.RecordRecoveryRefusalRequest{Id: ids[tg]}))
		}},
		{"EscalateRecoveryCase", actors, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.EscalateRecoveryCase(ctx, &pb.EscalateRecoveryCaseRequest{Id: ids[tg], Reason: "refused"}))
		}},
		{"ProposeRecoveryWriteOff", deciders, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.ProposeRecoveryWriteOff(ctx, &pb.ProposeRecoveryWriteOffRequest{Id: ids[tg], AmountFen: 1, Reason: "hardship"}))
		}},
		{"ApproveRecoveryWriteOff", deciders, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.ApproveRecoveryWriteOff(ctx, &pb.ApproveRecoveryWriteOffRequest{Id: ids[tg]}))
		}},
		{"RejectRecoveryWriteOff", deciders, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.RejectRecoveryWriteOff(ctx, &pb.RejectRecoveryWriteOffRequest{Id: ids[tg]}))
		}},
		{"OffsetRecoveryCase", deciders, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.OffsetRecoveryCase(ctx, &pb.OffsetRecoveryCaseRequest{Id: ids[tg], ClaimId: claim.Id}))
		}},
		{"ImportRecoveryRepayments", deciders, false, func(ctx context.Context, tg servicetest.Target) error {
			return servicetest.ErrOf(h.client.ImportRecoveryRepayments(ctx, &pb.ImportRecoveryRepaymentsRequest{Repayments: []*pb.RecoveryRepayment{{CaseId: ids[tg], AmountFen: 1, PaidOn: "2026-06-01", BankReference: "M-" + ids[tg]}}}))
		}},
		{"GetRecoveryReport", readers, false, func(ctx context.Context, _ servicetest.Target) error {
			return servicetest.ErrOf(h.client.GetRecoveryReport(ctx, &pb.GetRecoveryReportRequest{GroupBy: "district"}))
		}},
	}
	callers := map[string]*authn.Principal{
		"admin": &adminP, "bureau": &bureauP, "clerk": &clerkP, "enterprise": &enterpriseP,
		"service": &serviceP, "street": &streetP, "district": &districtP, "no token": nil,
	}
	for _, c := range calls {
		for name, p := range callers {
			for _, tg := range []servicetest.Target{servicetest.Own, servicetest.Other, servicetest.Missing} {
				ctx := context.Background()
				if p != nil {
					ctx = h.as(*p)
				}
				got := status.Code(c.call(ctx, tg))
				want := recoveryWant(name, c.roles, c.byCommunity, c.rpc == "ImportRecoveryRepayments" || c.rpc == "GetRecoveryReport", tg)
				if got != want && !(want == codes.OK && got == codes.FailedPrecondition) {
					t.Errorf("%s as %s on %v: %v, want %v", c.rpc, name, tg, got, want)
				}
			}
		}
	}
}

// recoveryWant is the code a role gets from a recovery RPC that roles
// may call, on target tg.
func recoveryWant(role string, roles []string, byCommunity, perItem bool, tg servicetest.Target) codes.Code {
	allowed := false
	for _, r := range roles {
		allowed = allowed || r == role
	}
	switch {
	case role == "no token":
		return codes.Unauthenticated
	case !allowed:
		return codes.PermissionDenied
	case byCommunity || perItem:
		// A community list or report names no case; an import answers
		// per item.
		if role == "clerk" && tg == servicetest.Other && byCommunity {
			return codes.PermissionDenied
		}
		if (role == "clerk" || role == "street" || role == "district") && tg == servicetest.Missing && byCommunity {
			return codes.PermissionDenied
		}
		return codes.OK
	case role == "admin" || role == "bureau":
		if tg == servicetest.Missing {
			return codes.NotFound
		}
		return codes.OK
	case role == "clerk" && tg != servicetest.Own:
		return codes.PermissionDenied
	case tg == servicetest.Missing:
		return codes.PermissionDenied
	}
	return codes.OK
}
