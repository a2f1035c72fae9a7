package pension

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// TestAuthorisationMatrix calls every RPC as every role on a retiree of the
// clerk's community (own), of another community (other) and on one that
// does not exist (unknown), with real tokens through the interceptors.
func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	const unknown = 99
	retiree := [...]int{servicetest.Own: 0, servicetest.Other: 6, servicetest.Missing: unknown}
	community := [...]string{servicetest.Own: communityA, servicetest.Other: communityB, servicetest.Missing: "210199999999"}

	// byRetiree and byCommunity make the calls of a matrix of calls that
	// name a retiree and of calls that name a community.
	byRetiree := func(call func(ctx context.Context, n int) error) func(servicetest.Target) func(context.Context) error {
		return servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error { return call(ctx, retiree[tg]) })
	}
	byCommunity := func(call func(ctx context.Context, c string) error) func(servicetest.Target) func(context.Context) error {
		return servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error { return call(ctx, community[tg]) })
	}
	// Each certification is on another day and each decision says
	// something else: a repeated one is not a change.
	day, decision := 0, 0
	calls := map[string]func(servicetest.Target) func(context.Context) error{
		"ListPayments": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.ListPayments(ctx, &pb.ListPaymentsRequest{RetireeId: retireeID(n)}))
		}),
		"QueryPayments": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.QueryPayments(ctx, &pb.QueryPaymentsRequest{IdNumber: idNumber(t, n).Digits()}))
		}),
		"ListPaymentVersions": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.ListPaymentVersions(ctx, &pb.ListPaymentVersionsRequest{RetireeId: retireeID(n), Month: "2026-01"}))
		}),
		"GetStatement": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.GetStatement(ctx, &pb.GetStatementRequest{RetireeId: retireeID(n), Year: 2026}))
		}),
		"RecordCertification": byRetiree(func(ctx context.Context, n int) error {
			day++
			_, err := h.client.RecordCertification(ctx, &pb.RecordCertificationRequest{RetireeId: retireeID(n),
				Certification: &pb.Certification{Method: pb.CertificationMethod_IN_PERSON, CertifiedOn: fmt.Sprintf("2026-05-%02d", day%28+1)}})
			return err
		}),
		"RecordDecision": byRetiree(func(ctx context.Context, n int) error {
			decision++
			_, err := h.client.RecordDecision(ctx, &pb.RecordDecisionRequest{RetireeId: retireeID(n), Decision: &pb.EntitlementDecision{
				Action: pb.DecisionAction_SUSPEND, EffectiveMonth: "2026-04", Reason: pb.DecisionReason_OTHER, Note: fmt.Sprintf("call %d", decision),
			}})
			return err
		}),
		"ListDecisions": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.ListDecisions(ctx, &pb.ListDecisionsRequest{RetireeId: retireeID(n)}))
		}),
		"ListCertifications": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(n)}))
		}),
		"GetEntitlement": byRetiree(func(ctx context.Context, n int) error {
			return servicetest.ErrOf(h.client.GetEntitlement(ctx, &pb.GetEntitlementRequest{RetireeId: retireeID(n)}))
		}),
		"ListOverdueCertifications": byCommunity(func(ctx context.Context, c string) error {
			return servicetest.ErrOf(h.client.ListOverdueCertifications(ctx, &pb.ListOverdueCertificationsRequest{CommunityId: c}))
		}),
		"ListPaymentAnomalies": byCommunity(func(ctx context.Context, c string) error {
			return servicetest.ErrOf(h.client.ListPaymentAnomalies(ctx, &pb.ListPaymentAnomaliesRequest{CommunityId: c, Month: "2026-05"}))
		}),
		"ListDueSoonCertifications": byCommunity(func(ctx context.Context, c string) error {
			return servicetest.ErrOf(h.client.ListDueSoonCertifications(ctx, &pb.ListDueSoonCertificationsRequest{CommunityId: c}))
		}),
		// The rules are the region's, no retiree's or community's: every
		// target is the same call. Each rule starts on another day: a
		// second rule of a region from the same day is a conflict.
		"CreateCertificationRule": servicetest.OnTarget(func(ctx context.Context, _ servicetest.Target) error {
			day++
			return servicetest.ErrOf(h.client.CreateCertificationRule(ctx, &pb.CreateCertificationRuleRequest{Rule: &pb.CertificationRule{
				RegionPrefix: "2101", EffectiveOn: testNow.AddDate(0, 0, day).Format(time.DateOnly), Kind: pb.CertificationRuleKind_ROLLING,
			}}))
		}),
		"ListCertificationRules": servicetest.OnTarget(func(ctx context.Context, _ servicetest.Target) error {
			return servicetest.ErrOf(h.client.ListCertificationRules(ctx, &pb.ListCertificationRulesRequest{}))
		}),
		"PreviewCertificationRule": servicetest.OnTarget(func(ctx context.Context, _ servicetest.Target) error {
			return servicetest.ErrOf(h.client.PreviewCertificationRule(ctx, &pb.PreviewCertificationRuleRequest{Rule: &pb.CertificationRule{
				RegionPrefix: "21", EffectiveOn: "2026-01-01", Kind: pb.CertificationRuleKind_WINDOW, WindowOpens: "01-01", WindowDeadline: "06-30",
			}}))
		}),
	}
	// communityCalls name a community, not a retiree: an unknown one is
	// no NotFound, and a read of one is not audited.
	communityCalls := map[string]bool{"ListOverdueCertifications": true, "ListPaymentAnomalies": true, "ListDueSoonCertifications": true}
	// ruleCalls name no retiree and no community; who may call them is all
	// there is to check.
	ruleCalls := map[string]bool{"CreateCertificationRule": true, "ListCertificationRules": true, "PreviewCertificationRule": true}
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
	)
	want := map[string]map[string]servicetest.Cells{}
	for rpc := range calls {
		if ruleCalls[rpc] {
			bureau := servicetest.Cells{pd, pd, pd}
			if rpc == "ListCertificationRules" {
				bureau = servicetest.Cells{ok, ok, ok}
			}
			want[rpc] = map[string]servicetest.Cells{
				"admin": {ok, ok, ok}, "bureau": bureau, "clerk": {pd, pd, pd},
				"enterprise": {pd, pd, pd}, "service": {pd, pd, pd}, "no token": {ua, ua, ua},
			}
			continue
		}
		missing := nf
		if communityCalls[rpc] {
			missing = ok
		}
		want[rpc] = map[string]servicetest.Cells{
			"admin": {ok, ok, missing}, "bureau": {ok, ok, missing}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd}, "no token": {ua, ua, ua},
		}
	}
	// Only the bureau (and admin) records the bureau's decisions: a clerk
	// gets 403 whether or not the retiree exists.
	want["RecordDecision"]["clerk"] = servicetest.Cells{pd, pd, pd}
	// The work-signal feed is casework's, as a service: gRPC only.
	const na = servicetest.NA
	calls["WatchWorkSignals"] = func(servicetest.Target) func(context.Context) error {
		return func(ctx context.Context) error { return watchSignalsOnce(ctx, h.client) }
	}
	want["WatchWorkSignals"] = map[string]servicetest.Cells{
		"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
		"enterprise": {pd, na, na}, "service": {ok, na, na}, "no token": {ua, na, na},
	}
	// Like the rules, it names no retiree: supervisors get 403, and
	// nothing is audited.
	ruleCalls["WatchWorkSignals"] = true
	// Supervisors read in their area (own and other are both in it), get
	// 403 for a missing retiree or community as for one elsewhere, and
	// record nothing.
	supervised := map[string]map[string]servicetest.Cells{}
	for rpc := range calls {
		if !ruleCalls[rpc] && rpc != "RecordCertification" && rpc != "RecordDecision" {
			supervised[rpc] = servicetest.SupervisorCells(servicetest.Cells{ok, ok, pd}, servicetest.Cells{pd, pd, pd})
		}
	}
	servicetest.WithSupervisors(t, want, supervised)
	servicetest.RunMatrix(t, servicetest.Matrix{
		Calls: calls, Want: want,
		Callers: append(append(h.keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP),
			servicetest.Caller{Name: "no token", Ctx: context.Background()}), h.keys.Supervisors(t)...),
		// A successful call on a retiree is audited; a refused one is not.
		Around: func(t *testing.T, rpc string, tg servicetest.Target) func(codes.Code) {
			before := auditCount(t, h, retiree[tg])
			return func(got codes.Code) {
				after := auditCount(t, h, retiree[tg])
				switch {
				case got == ok && !communityCalls[rpc] && !ruleCalls[rpc] && after <= before:
					t.Errorf("a successful %s was not audited", rpc)
				case got != ok && after != before:
					t.Errorf("a refused %s was audited", rpc)
				}
			}
		},
	})

	roles := []struct {
		name string
		p    *authn.Principal
	}{
		{"admin", &adminP}, {"bureau", &bureauP}, {"clerk", &clerkP},
		{"enterprise", &enterpriseP}, {"service", &serviceP}, {"no token", nil},
		{"street", &streetP}, {"district", &districtP},
	}
	// The imports: bureau and admin only; a refused stream changes nothing.
	for _, stream := range []struct {
		rpc string
		run func(ctx context.Context, batch string) importResult
	}{
		{rpcImportPayments, func(ctx context.Context, batch string) importResult {
			return importStream(ctx, h.client, header(batch), []*pb.PaymentRecord{payment(t, 1, 0, "2026-01", 300000)})
		}},
		{rpcImportCertifications, func(ctx context.Context, batch string) importResult {
			return certificationFraming.run(ctx, h.client, header(batch), []*pb.CertificationRecord{certRecord(t, 1, 0, "2026-01-05", pb.CertificationMethod_DATA_MATCH, "")})
		}},
		{rpcImportDecisions, func(ctx context.Context, batch string) importResult {
			return decisionFraming.run(ctx, h.client, header(batch), []*pb.DecisionRecord{decisionRec(t, 1, 0, pb.DecisionAction_SUSPEND, "2026-01", pb.DecisionReason_OTHER, "")})
		}},
	} {
		t.Run(stream.rpc, func(t *testing.T) {
			for _, r := range roles {
				ctx := context.Background()
				if r.p != nil {
					ctx = h.as(*r.p)
				}
				want := codes.OK
				switch r.name {
				case "clerk", "enterprise", "service", "street", "district":
					want = codes.PermissionDenied
				case "no token":
					want = codes.Unauthenticated
				}
				batch := "authz-" + strings.ReplaceAll(r.name, " ", "-")
				res := stream.run(ctx, batch)
				if got := status.Code(res.err); got != want {
					t.Errorf("%s: code = %v (%v), want %v", r.name, got, res.err, want)
				}
				if _, err := h.store.BatchProgress(stream.rpc, batch); (err == nil) != (want == codes.OK) {
					t.Errorf("%s: batch progress after the stream: %v", r.name, err)
				}
			}
		})
	}
}

// auditCount returns how many audit entries a retiree has.
func auditCount(t *testing.T, h *harness, n int) int {
	t.Helper()
	entries, _, err := h.store.ListAudit(retireeID(n), 1000, nil)
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}
