package casework

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

func TestCreateWorkItem(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(clerkP)
	r := livingIn(communityA, "李桂兰")
	h.retirees(r)
	item := func() *pb.WorkItem {
		return &pb.WorkItem{Kind: pb.WorkKind_HARDSHIP, CommunityId: communityA, RetireeId: r.Id, Summary: "冬季取暖困难",
			DueTime: timestamppb.New(testNow.Add(72 * hour)), Priority: pb.Priority_PRIORITY_HIGH}
	}
	first, err := h.client.CreateWorkItem(ctx, &pb.CreateWorkItemRequest{Item: item(), RequestKey: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	it := first.Item
	if it.State != pb.WorkState_OPEN || it.Clock != pb.Clock_ON_TRACK || it.RetireeName != "李桂兰" || it.History[0].Actor != clerkP.Subject {
		t.Errorf("created %v", it)
	}
	again, err := h.client.CreateWorkItem(ctx, &pb.CreateWorkItemRequest{Item: item(), RequestKey: "k1"})
	if err != nil || again.Item.Id != it.Id {
		t.Errorf("the same request key made %v, %v; want %s", again.GetItem().GetId(), err, it.Id)
	}
	other := item()
	other.Summary = "别的事"
	_, err = h.client.CreateWorkItem(ctx, &pb.CreateWorkItemRequest{Item: other, RequestKey: "k1"})
	if info := servicetest.ErrorInfo(servicetest.WantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonRequestKeyReused {
		t.Errorf("reused key: %v", info)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*pb.WorkItem)
		field string
	}{
		{"a kind the service makes", func(i *pb.WorkItem) { i.Kind = pb.WorkKind_CARE_VISIT }, "item.kind"},
		{"due in the past", func(i *pb.WorkItem) { i.DueTime = timestamppb.New(testNow.Add(-hour)) }, "item.dueTime"},
		{"no summary", func(i *pb.WorkItem) { i.Summary = "" }, "item.summary"},
		{"a mobile number in the summary", func(i *pb.WorkItem) { i.Summary = "回电 138 1234 5678" }, "item.summary"},
		{"bad community", func(i *pb.WorkItem) { i.CommunityId = "21" }, "item.communityId"},
		{"bad retiree", func(i *pb.WorkItem) { i.RetireeId = "x" }, "item.retireeId"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := item()
			tc.edit(in)
			_, err := h.client.CreateWorkItem(ctx, &pb.CreateWorkItemRequest{Item: in})
			if _, ok := servicetest.Violations(servicetest.WantCode(t, err, codes.InvalidArgument))[tc.field]; !ok {
				t.Errorf("violations do not name %s", tc.field)
			}
		})
	}
	elsewhere := item()
	elsewhere.RetireeId = livingIn(communityA, "").Id // unknown to the projection
	_, err = h.client.CreateWorkItem(ctx, &pb.CreateWorkItemRequest{Item: elsewhere})
	if info := servicetest.ErrorInfo(servicetest.WantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonRetireeNotInCommunity {
		t.Errorf("unknown retiree: %v", info)
	}
	// Reading the item is audited: it names a retiree.
	if _, err := h.client.GetWorkItem(h.as(bureauP), &pb.GetWorkItemRequest{Id: it.Id}); err != nil {
		t.Fatal(err)
	}
	entries, _, err := h.store.ListAudit(r.Id, 10, nil)
	if err != nil || len(entries) == 0 {
		t.Errorf("audit of the read: %v, %v", entries, err)
	}
}

func TestListWorkItemsAsCallers(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mine := h.open(h.spec(pb.WorkKind_OTHER, communityA, 50*hour))
	if _, err := h.store.Claim(mine.Id, "", clerkActor, anyone); err != nil {
		t.Fatal(err)
	}
	h.open(h.spec(pb.WorkKind_OTHER, communityA, 60*hour))
	h.open(h.spec(pb.WorkKind_OTHER, communityB, 60*hour))

	resp, err := h.client.ListWorkItems(h.as(clerkP), &pb.ListWorkItemsRequest{Assignee: "me"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 1 || resp.Items[0].Id != mine.Id || resp.Counts.GetOnTrack() != 1 {
		t.Errorf("a clerk's own: %d items, counts %v", len(resp.Items), resp.Counts)
	}
	street := servicetest.Street("street-beishichang", servicetest.StreetAB)
	resp, err = h.client.ListWorkItems(h.as(street), &pb.ListWorkItemsRequest{PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Items) != 2 || resp.NextPageToken == "" || resp.Counts.GetOnTrack() != 3 {
		t.Errorf("the street's first page: %d items, token %q, counts %v", len(resp.Items), resp.NextPageToken, resp.Counts)
	}
	next, err := h.client.ListWorkItems(h.as(street), &pb.ListWorkItemsRequest{PageSize: 2, PageToken: resp.NextPageToken})
	if err != nil {
		t.Fatal(err)
	}
	if len(next.Items) != 1 || next.Counts != nil {
		t.Errorf("the street's second page: %d items, counts %v (want none)", len(next.Items), next.Counts)
	}
	_, err = h.client.ListWorkItems(h.as(adminP), &pb.ListWorkItemsRequest{})
	if _, ok := servicetest.Violations(servicetest.WantCode(t, err, codes.InvalidArgument))["communityId"]; !ok {
		t.Error("admin without a community: communityId not named")
	}
	// A token is bound to its query.
	_, err = h.client.ListWorkItems(h.as(street), &pb.ListWorkItemsRequest{PageSize: 2, PageToken: resp.NextPageToken, Kind: pb.WorkKind_HARDSHIP})
	servicetest.WantCode(t, err, codes.InvalidArgument)
}

func TestWorkItemRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	clerk := h.as(clerkP)
	street := h.as(servicetest.Street("street-beishichang", servicetest.StreetAB))

	// Another clerk's item: the clerk sees it, but may not wait on it.
	theirs := h.open(h.spec(pb.WorkKind_OTHER, communityA, 50*hour))
	if _, err := h.store.Claim(theirs.Id, "", Actor{Subject: "clerk-z"}, anyone); err != nil {
		t.Fatal(err)
	}
	_, err := h.client.WaitWorkItem(clerk, &pb.WaitWorkItemRequest{Id: theirs.Id, WaitingOn: pb.WaitingOn_FAMILY, Reason: "等"})
	if info := servicetest.ErrorInfo(servicetest.WantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonNotAssignee {
		t.Errorf("waiting on another's item: %v", info)
	}
	// Claiming an item someone works.
	_, err = h.client.ClaimWorkItem(clerk, &pb.ClaimWorkItemRequest{Id: theirs.Id})
	if info := servicetest.ErrorInfo(servicetest.WantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonWrongState {
		t.Errorf("claiming a claimed item: %v", info)
	}
	// An item from a feed closes at its source.
	feed := h.spec(pb.WorkKind_DEATH_REPORT_VERIFICATION, communityA, 50*hour)
	feed.Source, feed.SourceKey = "registry", "dr-1"
	fromFeed := h.open(feed)
	_, err = h.client.CancelWorkItem(street, &pb.CancelWorkItemRequest{Id: fromFeed.Id, Reason: "重复"})
	if info := servicetest.ErrorInfo(servicetest.WantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonClosedAtSource {
		t.Errorf("cancelling a feed's item: %v", info)
	}
	// Reassigning is all or none: one closed item keeps every item as it was.
	var ids []string
	for range 3 {
		ids = append(ids, h.open(h.spec(pb.WorkKind_OTHER, communityB, 50*hour)).Id)
	}
	if _, err := h.store.Cancel(ids[2], "", "重复", Actor{Subject: "s"}, anyone); err != nil {
		t.Fatal(err)
	}
	_, err = h.client.ReassignWorkItems(street, &pb.ReassignWorkItemsRequest{Ids: ids, Assignee: "clerk-b"})
	servicetest.WantCode(t, err, codes.FailedPrecondition)
	if got := h.item(ids[0]); got.Assignee != "" {
		t.Errorf("a refused reassignment assigned %s to %q", ids[0], got.Assignee)
	}
	resp, err := h.client.ReassignWorkItems(street, &pb.ReassignWorkItemsRequest{Ids: ids[:2], Assignee: "clerk-b"})
	if err != nil || len(resp.Items) != 2 || resp.Items[1].Assignee != "clerk-b" || resp.Items[1].State != pb.WorkState_IN_PROGRESS {
		t.Errorf("reassigned %v, %v", resp, err)
	}
	many := make([]string, MaxReassign+1)
	for i := range many {
		many[i] = fmt.Sprintf("%016d", i)
	}
	_, err = h.client.ReassignWorkItems(street, &pb.ReassignWorkItemsRequest{Ids: many, Assignee: "clerk-b"})
	servicetest.WantCode(t, err, codes.InvalidArgument)
	_, err = h.client.ReassignWorkItems(street, &pb.ReassignWorkItemsRequest{Ids: []string{ids[0], ids[0]}, Assignee: "clerk-b"})
	servicetest.WantCode(t, err, codes.InvalidArgument)

	// A clerk completing an unassigned item claims it in the same step.
	open := h.open(h.spec(pb.WorkKind_OTHER, communityA, 50*hour))
	done, err := h.client.CompleteWorkItem(clerk, &pb.CompleteWorkItemRequest{Id: open.Id, Outcome: "已送达", Etag: open.Etag})
	if err != nil || done.Item.State != pb.WorkState_DONE || done.Item.Assignee != clerkP.Subject {
		t.Errorf("completed %v, %v", done, err)
	}
	// A stale etag is refused.
	other := h.open(h.spec(pb.WorkKind_OTHER, communityA, 50*hour))
	_, err = h.client.ClaimWorkItem(clerk, &pb.ClaimWorkItemRequest{Id: other.Id, Etag: "r99"})
	servicetest.WantCode(t, err, codes.Aborted)
}
