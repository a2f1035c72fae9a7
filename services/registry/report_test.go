package registry

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/authn"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// row builds an expected report row, with the rate computed as the
// service does.
func row(key, name string, community, bureau, enterprise int64) *pb.SocialisationRow {
	r := &pb.SocialisationRow{
		Key: key, Name: name,
		Living:            community + bureau + enterprise,
		CommunityManaged:  community,
		BureauManaged:     bureau,
		EnterpriseManaged: enterprise,
	}
	if r.Living > 0 {
		r.Rate = float64(community+bureau) / float64(r.Living)
		r.CommunityRate = float64(community) / float64(r.Living)
	}
	return r
}

// checkAddsUp checks that every row's figures are consistent and that the
// rows add up to the total.
func checkAddsUp(t *testing.T, resp *pb.GetSocialisationReportResponse) {
	t.Helper()
	sum := row("total", "", 0, 0, 0)
	for _, r := range append(slices.Clone(resp.Rows), resp.Total) {
		if r.Living < 0 || r.CommunityManaged < 0 || r.BureauManaged < 0 || r.EnterpriseManaged < 0 {
			t.Errorf("row %s has negative counts: %v", r.Key, r)
		}
		if r.Living != r.CommunityManaged+r.BureauManaged+r.EnterpriseManaged {
			t.Errorf("row %s: living %d is not the sum of its modes", r.Key, r.Living)
		}
		if r.Living > 0 && r.Rate != float64(r.CommunityManaged+r.BureauManaged)/float64(r.Living) || r.Rate < 0 || r.Rate > 1 {
			t.Errorf("row %s: rate %v", r.Key, r.Rate)
		}
	}
	for _, r := range resp.Rows {
		sum.Living += r.Living
		sum.CommunityManaged += r.CommunityManaged
		sum.BureauManaged += r.BureauManaged
		sum.EnterpriseManaged += r.EnterpriseManaged
	}
	sum.Rate, sum.CommunityRate = resp.Total.Rate, resp.Total.CommunityRate
	if diff := cmp.Diff(sum, resp.Total, protocmp.Transform()); diff != "" {
		t.Errorf("rows do not add up to the total (-sum +total):\n%s", diff)
	}
}

func TestSocialisationReport(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	n := 0
	add := func(community string, mode pb.ManagementMode, count int) []*pb.Retiree {
		var in []*pb.Retiree
		for range count {
			n++
			in = append(in, newRetiree(t, n, community, mode))
		}
		return createMany(t, s, in)
	}
	add(communityA, pb.ManagementMode_COMMUNITY, 2)
	add(communityA, pb.ManagementMode_BUREAU, 1)
	add(communityA, pb.ManagementMode_ENTERPRISE, 1)
	dead := add(communityA, pb.ManagementMode_COMMUNITY, 1)[0]
	add(communityB, pb.ManagementMode_COMMUNITY, 1)
	add(communityB, pb.ManagementMode_ENTERPRISE, 1)
	add(communityC, pb.ManagementMode_ENTERPRISE, 2)
	add(communityC, pb.ManagementMode_BUREAU, 1)
	if _, err := h.client.RecordDeath(h.as(adminP), &pb.RecordDeathRequest{Id: dead.Id, DateOfDeath: "2026-05-01"}); err != nil {
		t.Fatal(err)
	}

	rowA := row(communityA, "北市场社区", 2, 1, 1)
	rowB := row(communityB, "太原街社区", 1, 0, 1)
	rowC := row(communityC, "五里河社区", 0, 1, 2)
	tests := []struct {
		name      string
		p         authn.Principal
		groupBy   string
		wantGroup string
		rows      []*pb.SocialisationRow
		total     *pb.SocialisationRow
	}{
		{"by community", bureauP, "community", "community", []*pb.SocialisationRow{rowA, rowB, rowC}, row("total", "", 3, 2, 4)},
		{"community by default", adminP, "", "community", []*pb.SocialisationRow{rowA, rowB, rowC}, row("total", "", 3, 2, 4)},
		{"by district", adminP, "district", "district", []*pb.SocialisationRow{
			row("和平区", "和平区", 3, 1, 2),
			row("沈河区", "沈河区", 0, 1, 2),
		}, row("total", "", 3, 2, 4)},
		{"by street", bureauP, "street", "street", []*pb.SocialisationRow{
			row("和平区/北市场街道", "北市场街道", 3, 1, 2),
			row("沈河区/五里河街道", "五里河街道", 0, 1, 2),
		}, row("total", "", 3, 2, 4)},
		{"clerk sees its community", clerkP, "community", "community", []*pb.SocialisationRow{rowA}, row("total", "", 2, 1, 1)},
		{"clerk by district", clerkP, "district", "district", []*pb.SocialisationRow{row("和平区", "和平区", 2, 1, 1)}, row("total", "", 2, 1, 1)},
		{"clerk of two communities", authn.Principal{Subject: "clerk-bc", Role: authn.RoleClerk, Communities: []string{communityB, communityC}}, "street", "street", []*pb.SocialisationRow{
			row("和平区/北市场街道", "北市场街道", 1, 0, 1),
			row("沈河区/五里河街道", "五里河街道", 0, 1, 2),
		}, row("total", "", 1, 1, 3)},
		{"street supervisor sees its street office's communities", streetP, "community", "community", []*pb.SocialisationRow{rowA, rowB}, row("total", "", 3, 1, 2)},
		{"district supervisor by district", districtP, "district", "district", []*pb.SocialisationRow{row("和平区", "和平区", 3, 1, 2)}, row("total", "", 3, 1, 2)},
		{"street supervisor elsewhere", streetCP, "street", "street", []*pb.SocialisationRow{row("沈河区/五里河街道", "五里河街道", 0, 1, 2)}, row("total", "", 0, 1, 2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.client.GetSocialisationReport(h.as(tc.p), &pb.GetSocialisationReportRequest{GroupBy: tc.groupBy})
			if err != nil {
				t.Fatal(err)
			}
			want := &pb.GetSocialisationReportResponse{GroupBy: tc.wantGroup, Rows: tc.rows, Total: tc.total}
			if diff := cmp.Diff(want, resp, protocmp.Transform(), protocmp.IgnoreFields(&pb.GetSocialisationReportResponse{}, "as_of", "history_start")); diff != "" {
				t.Errorf("report (-want +got):\n%s", diff)
			}
			if !resp.AsOf.AsTime().Equal(testNow) {
				t.Errorf("as of %v, want %v", resp.AsOf.AsTime(), testNow)
			}
			checkAddsUp(t, resp)
		})
	}
	for _, groupBy := range []string{"city", "District", " community", "community,street"} {
		_, err := h.client.GetSocialisationReport(h.as(adminP), &pb.GetSocialisationReportRequest{GroupBy: groupBy})
		wantFields(t, err, "groupBy")
	}
}

func TestAssignRetirees(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	svc := h.as(serviceP)
	ids := retireeIDs(createMany(t, s, retirees(t, 1, 6, communityA, pb.ManagementMode_ENTERPRISE)))
	report := func() map[string]*pb.SocialisationRow {
		resp, err := c.GetSocialisationReport(h.as(adminP), &pb.GetSocialisationReportRequest{})
		if err != nil {
			t.Fatal(err)
		}
		checkAddsUp(t, resp)
		rows := map[string]*pb.SocialisationRow{}
		for _, r := range resp.Rows {
			rows[r.Key] = r
		}
		return rows
	}
	before := report()
	if a := before[communityA]; a.Living != 5 || a.EnterpriseManaged != 5 || a.Rate != 0 {
		t.Fatalf("row A before = %v", a)
	}
	head0, _, _ := s.Head()

	req := &pb.AssignRetireesRequest{RequestKey: "handover-7/complete", RetireeIds: ids, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY, Reason: "移交完成"}
	first, err := c.AssignRetirees(svc, req)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&pb.AssignRetireesResponse{Assigned: 5, Revision: int64(head0) + 5}, first, protocmp.Transform()); diff != "" {
		t.Errorf("first answer (-want +got):\n%s", diff)
	}
	head1, _, _ := s.Head()

	// The outbox retries, with the ids in another order.
	reversed := slices.Clone(ids)
	slices.Reverse(reversed)
	retry := &pb.AssignRetireesRequest{RequestKey: req.RequestKey, RetireeIds: reversed, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY, Reason: "重试"}
	again, err := c.AssignRetirees(h.as(adminP), retry)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&pb.AssignRetireesResponse{Assigned: 5, Revision: first.Revision, Replayed: true}, again, protocmp.Transform()); diff != "" {
		t.Errorf("replayed answer (-want +got):\n%s", diff)
	}
	if head2, _, _ := s.Head(); head2 != head1 {
		t.Errorf("replay moved the head from %d to %d", head1, head2)
	}

	for _, reuse := range []*pb.AssignRetireesRequest{
		{RequestKey: req.RequestKey, RetireeIds: ids[:2], CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY},
		{RequestKey: req.RequestKey, RetireeIds: ids, CommunityId: communityC, ManagementMode: pb.ManagementMode_COMMUNITY},
		{RequestKey: req.RequestKey, RetireeIds: ids, CommunityId: communityB, ManagementMode: pb.ManagementMode_BUREAU},
	} {
		_, err := c.AssignRetirees(svc, reuse)
		wantReason(t, err, codes.FailedPrecondition, reasonKeyReused)
	}
	_, err = c.AssignRetirees(svc, &pb.AssignRetireesRequest{RequestKey: "handover-8", RetireeIds: []string{ids[0], ids[1], unknownRetiree, ids[2]}, CommunityId: communityC, ManagementMode: pb.ManagementMode_COMMUNITY})
	wantFields(t, err, "retireeIds[2]")
	if head3, _, _ := s.Head(); head3 != head1 {
		t.Errorf("refused assignments moved the head from %d to %d", head1, head3)
	}

	after := report()
	if a := after[communityA]; a.Living != 0 {
		t.Errorf("row A after = %v", a)
	}
	if diff := cmp.Diff(row(communityB, "太原街社区", 5, 0, 0), after[communityB], protocmp.Transform()); diff != "" {
		t.Errorf("row B after (-want +got):\n%s", diff)
	}
	for _, id := range ids {
		got, err := c.GetRetiree(h.as(clerkP), &pb.GetRetireeRequest{Id: id})
		wantStatus(t, err, codes.PermissionDenied) // no longer in the clerk's community
		if got != nil {
			t.Errorf("clerk of A reads %s", id)
		}
		hist, err := c.ListRetireeHistory(h.as(bureauP), &pb.ListRetireeHistoryRequest{Id: id})
		if err != nil {
			t.Fatal(err)
		}
		last := hist.Entries[len(hist.Entries)-1]
		if len(hist.Entries) != 2 || last.Kind != pb.ChangeKind_ASSIGNED || last.Reason != "移交完成" || last.Actor != "handover" {
			t.Errorf("history of %s: %v", id, hist.Entries)
		}
	}

	// Assigning retirees where they already are changes nothing.
	same, err := c.AssignRetirees(svc, &pb.AssignRetireesRequest{RequestKey: "handover-9", RetireeIds: ids, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY})
	if err != nil || same.Assigned != 0 || same.Replayed {
		t.Errorf("no-op assignment = %v, %v", same, err)
	}
	if head4, _, _ := s.Head(); head4 != head1 {
		t.Errorf("no-op assignment moved the head from %d to %d", head1, head4)
	}
}

// TestAssignRetireesRepeatedID: a retiree listed twice in one assignment is
// moved once. Counting it twice would take it out of its old community's
// figures twice and into the new one's twice.
func TestAssignRetireesRepeatedID(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	rs := createMany(t, s, retirees(t, 1, 3, communityA, pb.ManagementMode_ENTERPRISE))
	head0, _, _ := s.Head()

	resp, err := h.client.AssignRetirees(h.as(serviceP), &pb.AssignRetireesRequest{
		RequestKey: "dup", RetireeIds: []string{rs[0].Id, rs[1].Id, rs[0].Id},
		CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY,
	})
	if err != nil {
		// Refusing the request as invalid is as good as moving each once.
		wantFields(t, err, "retireeIds[2]")
		return
	}
	if resp.Assigned != 2 {
		t.Errorf("assigned = %d, want 2", resp.Assigned)
	}
	if head, _, _ := s.Head(); head != head0+2 {
		t.Errorf("head moved by %d, want 2", head-head0)
	}
	report, err := h.client.GetSocialisationReport(h.as(adminP), &pb.GetSocialisationReportRequest{})
	if err != nil {
		t.Fatal(err)
	}
	want := []*pb.SocialisationRow{row(communityA, "北市场社区", 0, 0, 0), row(communityB, "太原街社区", 2, 0, 0)}
	if diff := cmp.Diff(want, report.Rows, protocmp.Transform()); diff != "" {
		t.Errorf("report rows (-want +got):\n%s", diff)
	}
}
