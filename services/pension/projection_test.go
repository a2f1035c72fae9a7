package pension

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// waitDisconnected waits until the projection notices registry is gone.
func waitDisconnected(t *testing.T, e *env) {
	t.Helper()
	waitfor.True(t, "the projection to notice that registry stopped", func() bool { return !e.store.Projection().Connected() })
}

// TestServesWhileRegistryIsDown stops registry and checks that every query,
// certification and import still works from the projection.
func TestServesWhileRegistryIsDown(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.certify(t, 0, "2025-09-01")
	h.pay(t, "before", payItem{0, "2026-04", 300000})

	h.server.Stop()
	waitDisconnected(t, h.env)

	ctx, cancel := context.WithTimeout(h.as(clerkP), 5*time.Second)
	defer cancel()
	if _, err := h.client.ListPayments(ctx, &pb.ListPaymentsRequest{RetireeId: retireeID(0)}); err != nil {
		t.Errorf("ListPayments while registry is down: %v", err)
	}
	if _, err := h.client.QueryPayments(ctx, &pb.QueryPaymentsRequest{IdNumber: idNumber(t, 0).Digits()}); err != nil {
		t.Errorf("QueryPayments while registry is down: %v", err)
	}
	if _, err := h.client.GetStatement(ctx, &pb.GetStatementRequest{RetireeId: retireeID(0), Year: 2026}); err != nil {
		t.Errorf("GetStatement while registry is down: %v", err)
	}
	if _, err := h.client.ListPaymentAnomalies(ctx, &pb.ListPaymentAnomaliesRequest{CommunityId: communityA, Month: "2026-04"}); err != nil {
		t.Errorf("ListPaymentAnomalies while registry is down: %v", err)
	}
	if _, err := h.client.GetStatement(ctx, &pb.GetStatementRequest{RetireeId: retireeID(6), Year: 2026}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("another community's retiree while registry is down: %v, want PermissionDenied", err)
	}
	h.certify(t, 1, "2026-06-01")
	h.pay(t, "during", payItem{1, "2026-05", 300000})

	// Registry comes back with a change made meanwhile; the projection
	// resumes from its cursor and applies it.
	st := h.registry.State(retireeID(1))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-05-20"
	h.registry.Change(st, registryv1.ChangeKind_DIED)
	h.server.Start()
	h.sync()
	ent, err := h.client.GetEntitlement(h.as(bureauP), &pb.GetEntitlementRequest{RetireeId: retireeID(1)})
	if err != nil {
		t.Fatal(err)
	}
	if ent.State != pb.EntitlementState_STOPPED {
		t.Errorf("after registry came back, entitlement = %v, want STOPPED", ent.State)
	}
	calls := h.registry.Sinces()
	if last := calls[len(calls)-1]; last != 1 {
		t.Errorf("the projection resumed from revision %d, want its cursor 1 (calls %v)", last, calls)
	}
}

// TestProjectionResumesAfterRestart closes the store, changes registry and
// opens the store again: the projection resumes from its stored cursor and
// the index built from it follows.
func TestProjectionResumesAfterRestart(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	e := newEnv(t, retiree(t, keyer, 0, communityA), retiree(t, keyer, 1, communityA))
	e.change(retiree(t, keyer, 2, communityA), registryv1.ChangeKind_CREATED)
	e.close()
	e.server.Stop()

	st := e.registry.State(retireeID(0))
	st.CommunityId = communityB
	e.registry.Change(st, registryv1.ChangeKind_TRANSFERRED)
	e.open()
	e.sync()

	calls := e.registry.Sinces()
	if calls[0] != 0 || calls[len(calls)-1] != 2 {
		t.Errorf("since revisions %v: want a first snapshot and, after the restart, a resume from 2", calls)
	}
	got, err := e.store.Retiree(retireeID(0))
	if err != nil || got.CommunityId != communityB {
		t.Fatalf("retiree 0 after restart: %v, %v; want in %s", got, err, communityB)
	}
	list, _, err := e.store.ListDue(OverdueOn(communityA, testNow), 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Errorf("overdue in A after the transfer: %d retirees, want 1 and 2", len(list))
	}
}
