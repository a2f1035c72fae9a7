package casework

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// TestRecordVisitValidation: each bad field is refused by name and
// nothing is recorded; a good visit is, its profile read back, and the
// reads of the profile and the visits are audited.
func TestRecordVisitValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r := withFlags("郑")
	h.retirees(r)
	ctx := h.as(clerkP)
	good := func() *pb.Visit {
		return &pb.Visit{RetireeId: r.Id, Method: pb.VisitMethod_NEIGHBOUR, Visitor: "邻居刘阿姨", Outcome: pb.VisitOutcome_WELL,
			VisitTime: timestamppb.New(testNow.Add(-time.Hour)), Needs: []string{"MEALS"}}
	}
	tests := []struct {
		field string
		edit  func(v *pb.Visit)
	}{
		{"visit.method", func(v *pb.Visit) { v.Method = 0 }},
		{"visit.outcome", func(v *pb.Visit) { v.Outcome = 99 }},
		{"visit.visitTime", func(v *pb.Visit) { v.VisitTime = timestamppb.New(testNow.Add(time.Minute)) }},
		{"visit.visitTime", func(v *pb.Visit) { v.VisitTime = timestamppb.New(testNow.Add(-91 * 24 * time.Hour)) }},
		{"visit.visitor", func(v *pb.Visit) { v.Visitor = "" }},
		{"visit.needs", func(v *pb.Visit) { v.Needs = strings.Split(strings.Repeat("x,", 11), ",") }},
		{"visit.needs", func(v *pb.Visit) { v.Needs = []string{strings.Repeat("需", 101)} }},
		{"visit.note", func(v *pb.Visit) { v.Note = "电话13812345678" }},
		{"visit.retireeId", func(v *pb.Visit) { v.RetireeId = "x" }},
		{"visit", func(v *pb.Visit) { v.DeathReportId = "d" }},
	}
	for _, tc := range tests {
		v := good()
		tc.edit(v)
		_, err := h.client.RecordVisit(ctx, &pb.RecordVisitRequest{Visit: v})
		if _, ok := servicetest.Violations(servicetest.WantCode(t, err, codes.InvalidArgument))[tc.field]; !ok {
			t.Errorf("%s: %v", tc.field, err)
		}
	}
	list, err := h.client.ListVisits(ctx, &pb.ListVisitsRequest{RetireeId: r.Id})
	if err != nil || len(list.Visits) != 0 {
		t.Fatalf("refused visits recorded: %v, %v", list, err)
	}
	resp, err := h.client.RecordVisit(ctx, &pb.RecordVisitRequest{Visit: good(), RequestKey: "v-1"})
	if err != nil || resp.Visit.CommunityId != communityA || resp.Visit.RecordedBy != clerkP.Subject || resp.Profile.LastOutcome != pb.VisitOutcome_WELL {
		t.Fatalf("RecordVisit: %v, %v", resp, err)
	}
	if _, err := h.client.GetCareProfile(h.as(bureauP), &pb.GetCareProfileRequest{RetireeId: r.Id}); err != nil {
		t.Fatal(err)
	}
	entries, _, err := h.store.ListAudit(r.Id, 10, nil)
	if err != nil || len(entries) < 2 {
		t.Errorf("audit of the reads: %d entries, %v", len(entries), err)
	}
	_, err = h.client.ListVisits(ctx, &pb.ListVisitsRequest{})
	servicetest.WantCode(t, err, codes.InvalidArgument)
	_, err = h.client.GetVisitReport(ctx, &pb.GetVisitReportRequest{Month: "2026-13"})
	servicetest.WantCode(t, err, codes.InvalidArgument)
	_, err = h.client.SetCareTier(ctx, &pb.SetCareTierRequest{RetireeId: r.Id, Tier: pb.RiskTier_HIGH})
	servicetest.WantCode(t, err, codes.InvalidArgument)
}
