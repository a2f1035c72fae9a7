package pension

import (
	"testing"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestDeathReversedInRegistry: a death that registry reverses (DECEASED,
// then LIVING again with the date of death cleared) is taken up by the
// projection like any change, and the entitlement is ACTIVE again. What
// was paid meanwhile is the recovery side's (issue 14, part R).
func TestDeathReversedInRegistry(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	st := h.registry.State(retireeID(2))
	st.Status, st.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-05-31"
	h.change(st, registryv1.ChangeKind_DIED)
	if ent := h.entitlement(t, 2, "2026-06-01"); ent.State != pb.EntitlementState_STOPPED {
		t.Fatalf("after the death: %v", ent)
	}
	st = h.registry.State(retireeID(2))
	st.Status, st.DateOfDeath, st.StatusEffectiveOn = registryv1.RetireeStatus_LIVING, "", "2026-06-15"
	h.change(st, registryv1.ChangeKind_DEATH_REVERSED)
	if ent := h.entitlement(t, 2, "2026-06-01"); ent.State != pb.EntitlementState_ACTIVE || ent.DateOfDeath != "" {
		t.Errorf("after the reversal: %v", ent)
	}
}
