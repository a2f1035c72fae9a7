package registry

import (
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestServiceStatusChangesNarrow: of the services, casework alone (its
// care outbox) may set a LIVING retiree LOST_CONTACT and a LOST_CONTACT
// one LIVING again, nothing else; and may file a death report only of
// source CLERK_VISIT. A refused call changes nothing.
func TestServiceStatusChangesNarrow(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	h := newHarness(t, s, harnessOptions{})
	c, service := h.client, h.as(authn.Principal{Subject: caseworkSubject, Role: authn.RoleService})
	other := h.as(serviceP) // handover
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	change := func(st pb.RetireeStatus) error {
		_, err := c.ChangeRetireeStatus(service, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: st, EffectiveOn: "2026-01-02", Reason: "两次走访未能联系"})
		return err
	}
	wantStatus(t, change(pb.RetireeStatus_ABROAD), codes.PermissionDenied)
	_, err := c.ChangeRetireeStatus(other, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_LOST_CONTACT, EffectiveOn: "2026-01-02", Reason: "两次走访未能联系"})
	wantStatus(t, err, codes.PermissionDenied)
	// Already LIVING: registry's own answer, as to anyone.
	wantStatus(t, change(pb.RetireeStatus_LIVING), codes.FailedPrecondition)
	if err := change(pb.RetireeStatus_LOST_CONTACT); err != nil {
		t.Fatalf("LIVING -> LOST_CONTACT as service: %v", err)
	}
	// A repeated call is answered STATUS_UNCHANGED, not refused.
	err = change(pb.RetireeStatus_LOST_CONTACT)
	if info := servicetest.ErrorInfo(servicetest.WantCode(t, err, codes.FailedPrecondition)); info.GetReason() != "STATUS_UNCHANGED" {
		t.Errorf("repeated change: %v, want reason STATUS_UNCHANGED (the care outbox takes it as delivered)", info)
	}
	wantStatus(t, change(pb.RetireeStatus_IMPRISONED), codes.PermissionDenied)
	if got, err := s.GetRetiree(r.Id); err != nil || got.Status != pb.RetireeStatus_LOST_CONTACT {
		t.Fatalf("after refused calls: %v, %v; want LOST_CONTACT unchanged", got.GetStatus(), err)
	}
	if err := change(pb.RetireeStatus_LIVING); err != nil {
		t.Fatalf("LOST_CONTACT -> LIVING as service: %v", err)
	}
	family := familyReport(r.Id)
	wantStatus(t, errOnly(c.CreateDeathReport(service, family)), codes.PermissionDenied)
	visit := &pb.CreateDeathReportRequest{Id: r.Id, DateOfDeath: "2026-01-03", Source: pb.DeathReportSource_CLERK_VISIT, Reporter: &pb.DeathReporter{Name: "王社工"}}
	wantStatus(t, errOnly(c.CreateDeathReport(other, visit)), codes.PermissionDenied)
	resp, err := c.CreateDeathReport(service, visit)
	if err != nil {
		t.Fatalf("a CLERK_VISIT report as service: %v", err)
	}
	if resp.DeathReport.Source != pb.DeathReportSource_CLERK_VISIT || resp.DeathReport.RetireeId != r.Id {
		t.Errorf("report %v", resp.DeathReport)
	}
}

func errOnly[T any](_ T, err error) error { return err }
