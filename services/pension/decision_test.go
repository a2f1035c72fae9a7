package pension

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

func TestRecordDecisionValidation(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(bureauP)
	valid := func() *pb.EntitlementDecision {
		return &pb.EntitlementDecision{Action: pb.DecisionAction_SUSPEND, EffectiveMonth: "2026-03", Reason: pb.DecisionReason_NOT_CERTIFIED}
	}
	with := func(f func(d *pb.EntitlementDecision)) *pb.EntitlementDecision {
		d := valid()
		f(d)
		return d
	}
	for _, tc := range []struct {
		name     string
		retiree  string
		decision *pb.EntitlementDecision
		fields   []string
	}{
		{name: "no retiree", decision: valid(), fields: []string{"retireeId"}},
		{name: "no decision", retiree: retireeID(0), fields: []string{"decision"}},
		{name: "no action", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Action = 0 }), fields: []string{"action"}},
		{name: "unknown action", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Action = 7 }), fields: []string{"action"}},
		{name: "no month", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.EffectiveMonth = "" }), fields: []string{"effectiveMonth"}},
		{name: "bad month", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.EffectiveMonth = "2026-3" }), fields: []string{"effectiveMonth"}},
		{name: "after the next month", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.EffectiveMonth = "2026-08" }), fields: []string{"effectiveMonth"}},
		{name: "suspension without a reason", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Reason = 0 }), fields: []string{"reason"}},
		{name: "stop without a reason", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Action, d.Reason = pb.DecisionAction_STOP, 0 }), fields: []string{"reason"}},
		{name: "restoration with a reason", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Action = pb.DecisionAction_RESTORE }), fields: []string{"reason"}},
		{name: "note too long", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Note = strings.Repeat("注", 501) }), fields: []string{"note"}},
		{name: "note with a control character", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Note = "a\tb" }), fields: []string{"note"}},
		{name: "bad reference", retiree: retireeID(0), decision: with(func(d *pb.EntitlementDecision) { d.Reference = "ref#1" }), fields: []string{"reference"}},
		{name: "everything wrong", retiree: retireeID(0), decision: &pb.EntitlementDecision{Reason: 9, Reference: strings.Repeat("r", 65)}, fields: []string{"action", "effectiveMonth", "reason", "reference"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.RecordDecision(ctx, &pb.RecordDecisionRequest{RetireeId: tc.retiree, Decision: tc.decision})
			wantFields(t, err, tc.fields...)
		})
	}
	list, err := h.client.ListDecisions(ctx, &pb.ListDecisionsRequest{RetireeId: retireeID(0)})
	if err != nil || len(list.Decisions) != 0 {
		t.Errorf("refused decisions left %v (%v)", list.GetDecisions(), err)
	}

	t.Run("unknown retiree", func(t *testing.T) {
		_, err := h.client.RecordDecision(ctx, &pb.RecordDecisionRequest{RetireeId: retireeID(99), Decision: valid()})
		wantStatus(t, err, codes.NotFound)
	})
}

func TestRecordAndListDecisions(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	ctx := h.as(bureauP)
	record := func(d *pb.EntitlementDecision) *pb.EntitlementDecision {
		t.Helper()
		resp, err := h.client.RecordDecision(ctx, &pb.RecordDecisionRequest{RetireeId: retireeID(1), Decision: d})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Decision
	}
	suspend := record(&pb.EntitlementDecision{Action: pb.DecisionAction_SUSPEND, EffectiveMonth: "2026-03", Reason: pb.DecisionReason_LOST_CONTACT, Note: "不在家", Reference: "SZ/2026/17"})
	want := &pb.EntitlementDecision{
		RetireeId: retireeID(1), Action: pb.DecisionAction_SUSPEND, EffectiveMonth: "2026-03", Reason: pb.DecisionReason_LOST_CONTACT,
		Note: "不在家", Reference: "SZ/2026/17", RecordedBy: bureauP.Subject, Version: 1, RecordSequence: suspend.RecordSequence,
	}
	if diff := cmp.Diff(want, suspend, protocmp.Transform(), protocmp.IgnoreFields(&pb.EntitlementDecision{}, "record_time")); diff != "" || suspend.RecordTime == nil || suspend.RecordSequence <= 0 {
		t.Errorf("recorded decision (-want +got):\n%s", diff)
	}
	audits := auditCount(t, h, 1)
	if again := record(&pb.EntitlementDecision{Action: pb.DecisionAction_SUSPEND, EffectiveMonth: "2026-03", Reason: pb.DecisionReason_LOST_CONTACT, Note: "不在家", Reference: "SZ/2026/17"}); !cmp.Equal(again, suspend, protocmp.Transform()) {
		t.Errorf("the same decision again = %v, want the stored %v", again, suspend)
	}
	if got := auditCount(t, h, 1); got != audits {
		t.Errorf("a repeated decision was audited: %d entries, want %d", got, audits)
	}
	// A caller's batch id, recorder and version are not taken.
	restore := record(&pb.EntitlementDecision{Action: pb.DecisionAction_RESTORE, EffectiveMonth: "2026-06", BatchId: "mine", RecordedBy: "me", Version: 9})
	if restore.BatchId != "" || restore.RecordedBy != bureauP.Subject || restore.Version != 1 || restore.RecordSequence <= suspend.RecordSequence {
		t.Errorf("restoration recorded as %v", restore)
	}
	corrected := record(&pb.EntitlementDecision{Action: pb.DecisionAction_SUSPEND, EffectiveMonth: "2026-03", Reason: pb.DecisionReason_LOST_CONTACT, Note: "搬走了"})
	if corrected.Version != 2 || corrected.RecordSequence <= restore.RecordSequence || corrected.Reference != "" {
		t.Errorf("correction recorded as %v", corrected)
	}
	record(&pb.EntitlementDecision{Action: pb.DecisionAction_STOP, EffectiveMonth: "2026-07", Reason: pb.DecisionReason_DECEASED})

	pages := servicetest.AllPages(t, 10, func(token string) ([]string, string, error) {
		resp, err := h.client.ListDecisions(h.as(clerkP), &pb.ListDecisionsRequest{RetireeId: retireeID(1), PageSize: 1, PageToken: token})
		var out []string
		for _, d := range resp.GetDecisions() {
			out = append(out, fmt.Sprintf("%s %v v%d", d.EffectiveMonth, d.Action, d.Version))
		}
		return out, resp.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{"2026-07 STOP v1", "2026-06 RESTORE v1", "2026-03 SUSPEND v2"}, pages); diff != "" {
		t.Errorf("ListDecisions, newest month first (-want +got):\n%s", diff)
	}
	if got, want := decisionsInForce(t, h.store, 1), []string{"2026-03 SUSPEND v2", "2026-06 RESTORE v1", "2026-07 STOP v1"}; !cmp.Equal(got, want) {
		t.Errorf("decisionsOf = %v, want %v", got, want)
	}

	t.Run("a page token of another retiree is refused", func(t *testing.T) {
		first, err := h.client.ListDecisions(ctx, &pb.ListDecisionsRequest{RetireeId: retireeID(1), PageSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.client.ListDecisions(ctx, &pb.ListDecisionsRequest{RetireeId: retireeID(2), PageSize: 1, PageToken: first.NextPageToken})
		wantFields(t, err, "pageToken")
	})
}
