package pension

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// TestAuthorisationMatrix calls every RPC as every role on a retiree of the
// clerk's community (own), of another community (other) and on one that
// does not exist (unknown), with real tokens through the interceptors.
func TestAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	const unknown = 99
	target := map[string]int{"own": 0, "other": 6, "unknown": unknown}
	community := map[string]string{"own": communityA, "other": communityB, "unknown": "210199999999"}

	type rpc struct {
		name string
		// community says the call names a community, not a retiree.
		community bool
		call      func(ctx context.Context, n int, community string) error
	}
	// Each certification is on another day: a repeated one is not a change.
	day := 0
	rpcs := []rpc{
		{name: "ListPayments", call: func(ctx context.Context, n int, _ string) error {
			_, err := h.client.ListPayments(ctx, &pb.ListPaymentsRequest{RetireeId: retireeID(n)})
			return err
		}},
		{name: "QueryPayments", call: func(ctx context.Context, n int, _ string) error {
			_, err := h.client.QueryPayments(ctx, &pb.QueryPaymentsRequest{IdNumber: idNumber(t, n).Digits()})
			return err
		}},
		{name: "ListPaymentVersions", call: func(ctx context.Context, n int, _ string) error {
			_, err := h.client.ListPaymentVersions(ctx, &pb.ListPaymentVersionsRequest{RetireeId: retireeID(n), Month: "2026-01"})
			return err
		}},
		{name: "GetStatement", call: func(ctx context.Context, n int, _ string) error {
			_, err := h.client.GetStatement(ctx, &pb.GetStatementRequest{RetireeId: retireeID(n), Year: 2026})
			return err
		}},
		{name: "RecordCertification", call: func(ctx context.Context, n int, _ string) error {
			day++
			_, err := h.client.RecordCertification(ctx, &pb.RecordCertificationRequest{RetireeId: retireeID(n),
				Certification: &pb.Certification{Method: pb.CertificationMethod_IN_PERSON, CertifiedOn: fmt.Sprintf("2026-05-%02d", day%28+1)}})
			return err
		}},
		{name: "ListCertifications", call: func(ctx context.Context, n int, _ string) error {
			_, err := h.client.ListCertifications(ctx, &pb.ListCertificationsRequest{RetireeId: retireeID(n)})
			return err
		}},
		{name: "GetEntitlement", call: func(ctx context.Context, n int, _ string) error {
			_, err := h.client.GetEntitlement(ctx, &pb.GetEntitlementRequest{RetireeId: retireeID(n)})
			return err
		}},
		{name: "ListOverdueCertifications", community: true, call: func(ctx context.Context, _ int, c string) error {
			_, err := h.client.ListOverdueCertifications(ctx, &pb.ListOverdueCertificationsRequest{CommunityId: c})
			return err
		}},
		{name: "ListPaymentAnomalies", community: true, call: func(ctx context.Context, _ int, c string) error {
			_, err := h.client.ListPaymentAnomalies(ctx, &pb.ListPaymentAnomaliesRequest{CommunityId: c, Month: "2026-05"})
			return err
		}},
	}
	roles := []struct {
		name string
		p    *authn.Principal
	}{
		{"admin", &adminP}, {"bureau", &bureauP}, {"clerk", &clerkP},
		{"enterprise", &enterpriseP}, {"service", &serviceP}, {"no token", nil},
	}
	expect := func(role, which string, communityCall bool) codes.Code {
		switch role {
		case "no token":
			return codes.Unauthenticated
		case "enterprise", "service":
			return codes.PermissionDenied
		case "clerk":
			if which == "own" {
				return codes.OK
			}
			return codes.PermissionDenied
		}
		if which == "unknown" && !communityCall {
			return codes.NotFound
		}
		return codes.OK
	}
	for _, r := range roles {
		ctx := context.Background()
		if r.p != nil {
			ctx = h.as(*r.p)
		}
		for _, c := range rpcs {
			for _, which := range []string{"own", "other", "unknown"} {
				t.Run(fmt.Sprintf("%s/%s/%s", r.name, c.name, which), func(t *testing.T) {
					want := expect(r.name, which, c.community)
					before := auditCount(t, h, target[which])
					err := c.call(ctx, target[which], community[which])
					if got := status.Code(err); got != want {
						t.Fatalf("code = %v (%v), want %v", got, err, want)
					}
					if err != nil {
						wantStatus(t, err, want)
						if want == codes.PermissionDenied && status.Convert(err).Message() != "permission denied" {
							t.Errorf("message %q hints at more than a refusal", status.Convert(err).Message())
						}
					}
					after := auditCount(t, h, target[which])
					switch {
					case want == codes.OK && !c.community && after <= before:
						t.Errorf("a successful %s was not audited", c.name)
					case want != codes.OK && after != before:
						t.Errorf("a refused %s was audited", c.name)
					}
				})
			}
		}
	}

	t.Run("ImportPayments", func(t *testing.T) {
		for _, r := range roles {
			ctx := context.Background()
			if r.p != nil {
				ctx = h.as(*r.p)
			}
			want := codes.OK
			switch r.name {
			case "clerk", "enterprise", "service":
				want = codes.PermissionDenied
			case "no token":
				want = codes.Unauthenticated
			}
			res := importStream(ctx, h.client, header("authz-"+fmt.Sprint(len(r.name))), []*pb.PaymentRecord{payment(t, 1, 0, "2026-01", 300000)})
			if got := status.Code(res.err); got != want {
				t.Errorf("%s: code = %v (%v), want %v", r.name, got, res.err, want)
			}
		}
	})
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
