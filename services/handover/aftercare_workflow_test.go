package handover

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// splitCompleted is an agreement of n retirees with street office A-B,
// the first inA allocated to community A and the rest to B by the
// street's supervisor, every track settled by its own receiver, and
// completed by the supervisor at the clock's time.
func (w *world) splitCompleted(n, inA int) *pb.Handover {
	w.t.Helper()
	ids := w.retirees(n, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	h := w.handover(w.client.CreateHandover(w.as(enterpriseXP), &pb.CreateHandoverRequest{Handover: agreementFor(ids)}))
	h = w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
	for c, part := range map[string][]string{communityA: ids[:inA], communityB: ids[inA:]} {
		h = w.handover(w.client.AllocateRetirees(w.as(streetAP), &pb.AllocateRetireesRequest{Id: h.Id, CommunityId: c, RetireeIds: part}))
	}
	h = w.handover(w.client.ReceiveArchives(w.as(archivistAP), &pb.ReceiveArchivesRequest{Id: h.Id, Received: ids}))
	h = w.handover(w.client.InspectPremises(w.as(streetAP), &pb.InspectPremisesRequest{
		Id: h.Id, PremisesId: "P1", Accepted: true, GroupApprovalRef: "集团批复〔2026〕3号", CommunityId: communityA,
	}))
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, DocumentSha256: rosterSHA}))
	return w.handover(w.client.CompleteHandover(w.as(streetAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))
}

// tasks lists every task p may see with filter f (its page fields
// ignored), page by page.
func (w *world) tasks(p authn.Principal, f *pb.ListHandoverTasksRequest) ([]*pb.HandoverTask, error) {
	var out []*pb.HandoverTask
	req := &pb.ListHandoverTasksRequest{CommunityId: f.CommunityId, State: f.State, DueBefore: f.DueBefore, Overdue: f.Overdue, PageSize: 4}
	for {
		resp, err := w.client.ListHandoverTasks(w.as(p), req)
		if err != nil {
			return nil, err
		}
		out = append(out, resp.Tasks...)
		if resp.NextPageToken == "" {
			return out, nil
		}
		req.PageToken = resp.NextPageToken
	}
}

// mustTasks is tasks, failing the test on an error.
func (w *world) mustTasks(p authn.Principal, f *pb.ListHandoverTasksRequest) []*pb.HandoverTask {
	w.t.Helper()
	out, err := w.tasks(p, f)
	if err != nil {
		w.t.Fatalf("ListHandoverTasks as %s: %v", p.Subject, err)
	}
	return out
}

// TestCompletionLeavesTasks: one agreement allocated to two communities
// leaves each clerk the contact card, data check and first visit of its
// own retirees, due 10, 10 and 20 working days after the day it
// completed; the supervisors of the area and the bureau see them all,
// an enterprise none.
func TestCompletionLeavesTasks(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{now: testclock.New(completedAt).Now})
	h := w.splitCompleted(3, 2)
	if h.State != pb.Handover_COMPLETED {
		t.Fatalf("state %s", h.State)
	}
	type row struct{ Retiree, Community, Kind, Due string }
	rows := func(tasks []*pb.HandoverTask) []row {
		out := make([]row, len(tasks))
		for i, task := range tasks {
			out[i] = row{task.RetireeId, task.CommunityId, task.Kind.String(), task.DueOn}
			if task.HandoverId != h.Id || task.AssignedOn != assignedOn || task.State != pb.HandoverTask_OPEN || task.Overdue {
				t.Errorf("task %v", task)
			}
		}
		return out
	}
	r1, r2, r3 := h.RetireeIds[0], h.RetireeIds[1], h.RetireeIds[2]
	inA := []row{
		{r1, communityA, "CONTACT_CARD", due10}, {r2, communityA, "CONTACT_CARD", due10},
		{r1, communityA, "DATA_CHECK", due10}, {r2, communityA, "DATA_CHECK", due10},
		{r1, communityA, "FIRST_VISIT", due20}, {r2, communityA, "FIRST_VISIT", due20},
	}
	inB := []row{{r3, communityB, "CONTACT_CARD", due10}, {r3, communityB, "DATA_CHECK", due10}, {r3, communityB, "FIRST_VISIT", due20}}
	all := append(append([]row{}, inA...), inB...)
	for _, tc := range []struct {
		name string
		p    authn.Principal
		want []row
	}{
		{"clerk A", clerkAP, inA},
		{"clerk B", clerkBP, inB},
		{"clerk of both", authn.Principal{Subject: "clerk-ab", Role: authn.RoleClerk, Communities: []string{communityA, communityB}}, all},
		{"street", streetAP, all},
		{"district", districtAP, all},
		{"street elsewhere", streetCP, []row{}},
		{"bureau", bureauP, all},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, rows(w.mustTasks(tc.p, &pb.ListHandoverTasksRequest{}))); diff != "" {
				t.Errorf("tasks (-want +got):\n%s", diff)
			}
		})
	}
	_, err := w.tasks(clerkAP, &pb.ListHandoverTasksRequest{CommunityId: communityB})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.tasks(streetCP, &pb.ListHandoverTasksRequest{CommunityId: communityA})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.tasks(enterpriseXP, &pb.ListHandoverTasksRequest{})
	wantCode(t, err, codes.PermissionDenied)
	_, err = w.tasks(adminP, &pb.ListHandoverTasksRequest{CommunityId: "21", State: 7, DueBefore: "2026-13-01"})
	wantFields(t, err, "communityId", "dueBefore", "state")
}

// TestCompleteHandoverTask: the clerk of the task's community records it
// done once, on a day neither in the future nor before the completion;
// what is refused changes nothing.
func TestCompleteHandoverTask(t *testing.T) {
	t.Parallel()
	clock := testclock.New(completedAt)
	w := newWorld(t, worldOptions{now: clock.Now})
	h := w.splitCompleted(3, 2)
	clock.Set(completedAt.AddDate(0, 0, 3)) // 27 September in China
	card := h.Id + "-C00001"                // r1's contact card, in community A
	inB := h.Id + "-C00003"
	complete := func(p authn.Principal, id, etag, doneOn string) (*pb.HandoverTask, error) {
		resp, err := w.client.CompleteHandoverTask(w.as(p), &pb.CompleteHandoverTaskRequest{Id: id, Etag: etag, DoneOn: doneOn, Note: "联系卡已送达"})
		return resp.GetTask(), err
	}
	_, err := complete(clerkAP, card, "", "2026-09-28")
	wantFields(t, err, "doneOn")
	_, err = complete(clerkAP, card, "", "2026-09-23")
	wantFields(t, err, "doneOn")
	_, err = complete(clerkAP, card, "r7", "2026-09-25")
	wantCode(t, err, codes.Aborted)
	for _, p := range []authn.Principal{clerkBP, streetAP, bureauP, enterpriseXP} {
		_, err = complete(p, card, "", "2026-09-25")
		wantCode(t, err, codes.PermissionDenied)
	}
	_, err = complete(clerkAP, inB, "", "2026-09-25")
	wantCode(t, err, codes.PermissionDenied)
	for _, id := range []string{h.Id + "-C00004", "no-such-task"} {
		_, err = complete(clerkAP, id, "", "2026-09-25")
		wantCode(t, err, codes.PermissionDenied)
		_, err = complete(adminP, id, "", "2026-09-25")
		wantCode(t, err, codes.NotFound)
	}
	if done := w.mustTasks(adminP, &pb.ListHandoverTasksRequest{State: pb.HandoverTask_DONE}); len(done) != 0 {
		t.Fatalf("refused calls left done tasks: %v", done)
	}

	task, err := complete(clerkAP, card, "r1", "2026-09-25")
	if err != nil {
		t.Fatal(err)
	}
	if task.State != pb.HandoverTask_DONE || task.DoneOn != "2026-09-25" || task.DoneBy != clerkAP.Subject || task.Note != "联系卡已送达" || task.Etag != "r2" {
		t.Errorf("done task %v", task)
	}
	_, err = complete(clerkAP, card, "", "2026-09-26")
	wantReason(t, err, codes.FailedPrecondition, ReasonTaskDone)
	if _, err := complete(adminP, inB, "", "2026-09-24"); err != nil {
		t.Errorf("admin: %v", err)
	}
	done := w.mustTasks(bureauP, &pb.ListHandoverTasksRequest{State: pb.HandoverTask_DONE})
	if len(done) != 2 || done[0].Id != card || done[1].Id != inB {
		t.Errorf("done tasks %v", done)
	}
}

// TestOverdueTasks: as the clock passes the due dates, the OPEN tasks
// due before today are overdue; a done one is not.
func TestOverdueTasks(t *testing.T) {
	t.Parallel()
	clock := testclock.New(completedAt)
	w := newWorld(t, worldOptions{now: clock.Now})
	h := w.splitCompleted(3, 2)
	overdue := func(p authn.Principal) []string {
		t.Helper()
		var ids []string
		for _, task := range w.mustTasks(p, &pb.ListHandoverTasksRequest{Overdue: true}) {
			if !task.Overdue {
				t.Errorf("listed as overdue, not marked: %v", task)
			}
			ids = append(ids, task.Id[len(h.Id):])
		}
		return ids
	}
	if got := overdue(clerkAP); len(got) != 0 {
		t.Errorf("overdue at completion: %v", got)
	}
	// 15 October, the day the 10-day tasks are due: not overdue yet.
	clock.Set(time.Date(2026, 10, 15, 15, 0, 0, 0, time.UTC)) // 15 October, 23:00 in China
	if got := overdue(clerkAP); len(got) != 0 {
		t.Errorf("overdue on the day they are due: %v", got)
	}
	for _, task := range w.mustTasks(clerkAP, &pb.ListHandoverTasksRequest{}) {
		if task.Overdue {
			t.Errorf("marked overdue on the day it is due: %v", task)
		}
	}
	clock.Set(time.Date(2026, 10, 15, 23, 0, 0, 0, time.UTC)) // 16 October, 07:00 in China
	if diff := cmp.Diff([]string{"-C00001", "-C00002", "-D00001", "-D00002"}, overdue(clerkAP)); diff != "" {
		t.Errorf("overdue on 16 October (-want +got):\n%s", diff)
	}
	if _, err := w.client.CompleteHandoverTask(w.as(clerkAP), &pb.CompleteHandoverTaskRequest{Id: h.Id + "-D00002", DoneOn: "2026-10-16"}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"-C00001", "-C00002", "-D00001"}, overdue(clerkAP)); diff != "" {
		t.Errorf("after one is done (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"-C00001", "-C00002", "-D00001", "-C00003", "-D00003"}, overdue(streetAP)); diff != "" {
		t.Errorf("the street's (-want +got):\n%s", diff)
	}
	// An earlier dueBefore narrows the overdue; DONE and overdue
	// contradict each other.
	if got := w.mustTasks(clerkAP, &pb.ListHandoverTasksRequest{Overdue: true, DueBefore: "2026-10-15"}); len(got) != 0 {
		t.Errorf("overdue and due before 15 October: %v", got)
	}
	_, err := w.tasks(clerkAP, &pb.ListHandoverTasksRequest{Overdue: true, State: pb.HandoverTask_DONE})
	wantFields(t, err, "overdue")
	// dueBefore alone lists done tasks too, and none is overdue before
	// its day.
	if got := w.mustTasks(clerkAP, &pb.ListHandoverTasksRequest{DueBefore: "2026-10-16"}); len(got) != 4 {
		t.Errorf("due before 16 October: %d tasks, want 4", len(got))
	}
	clock.Set(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	if got := overdue(clerkBP); len(got) != 3 {
		t.Errorf("community B on 1 November: %v", got)
	}
}

// largeCommunities is how many communities a large handover's retirees
// are allocated to, as in issue 15's benchmark.
const largeCommunities = 20

// readyInStore stores a submitted agreement of n retirees with street
// office A-B, allocated evenly to largeCommunities communities of the
// street, its roster verified and every dossier received: what the
// receiving unit has before it completes a large agreement. The retirees are ids
// only; completion asks registry nothing.
func (w *world) readyInStore(n int) *pb.Handover {
	w.t.Helper()
	h := &pb.Handover{EnterpriseCreditCode: enterpriseX, ReceiverCode: servicetest.StreetAB, Kind: pb.Handover_AGREEMENT}
	parts := make([]*pb.Allocation, largeCommunities)
	for c := range parts {
		parts[c] = &pb.Allocation{CommunityId: fmt.Sprintf("%s%03d", servicetest.StreetAB, c+1)}
	}
	for i := range n {
		id := fmt.Sprintf("large-%06d", i)
		h.RetireeIds = append(h.RetireeIds, id)
		h.Dossiers = append(h.Dossiers, &pb.Dossier{RetireeId: id, DossierNo: fmt.Sprintf("L-%06d", i), Volumes: 1, Checklist: fullChecklist()})
		parts[i%largeCommunities].RetireeIds = append(parts[i%largeCommunities].RetireeIds, id)
	}
	created, err := w.store.CreateHandover(newDraft(h), Actor{Subject: "test", Role: "admin"}, "large package")
	if err != nil {
		w.t.Fatal(err)
	}
	allow := func(*pb.Handover) error { return nil }
	ready, err := w.store.mutate(created.Id, "", Actor{Subject: "test", Role: "admin"}, allow, func(_ *txn, cur *pb.Handover) (string, string, error) {
		cur.State, cur.SubmitTime, cur.Allocations = pb.Handover_SUBMITTED, timestamppb.New(w.store.now()), parts
		cur.RosterVerification = &pb.RosterVerification{VerifiedBy: bureauP.Subject, VerifyTime: cur.SubmitTime, DocumentSha256: rosterSHA}
		for _, d := range cur.Dossiers {
			d.State = pb.Dossier_RECEIVED
		}
		return actionSubmitted, "ready", nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return ready
}

// TestCompleteTenThousand: a handover of MaxRetirees retirees completes
// in one transaction that writes all 30,000 tasks, each community's
// clerk seeing its 1,500; the log says how long the completion took.
func TestCompleteTenThousand(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{now: testclock.New(completedAt).Now})
	h := w.readyInStore(MaxRetirees)
	start := time.Now()
	done := w.handover(w.client.CompleteHandover(w.as(adminP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))
	elapsed := time.Since(start)
	t.Logf("completing a handover of %d retirees in %d communities, with its %d tasks: %v", MaxRetirees, largeCommunities, MaxTasksPerHandover, elapsed)
	if done.State != pb.Handover_COMPLETED {
		t.Fatalf("state %s", done.State)
	}
	var tasks, indexed int
	err := w.store.DB().View(func(tx *bolt.Tx) error {
		tasks, indexed = tx.Bucket(bucketTasks).Stats().KeyN, tx.Bucket(bucketTasksByCommunity).Stats().KeyN
		return nil
	})
	if err != nil || tasks != MaxTasksPerHandover || indexed != MaxTasksPerHandover {
		t.Fatalf("%d tasks, %d indexed (%v), want %d", tasks, indexed, err, MaxTasksPerHandover)
	}
	last := fmt.Sprintf("%s%03d", servicetest.StreetAB, largeCommunities)
	clerk := authn.Principal{Subject: "clerk-last", Role: authn.RoleClerk, Communities: []string{last}}
	resp, err := w.client.ListHandoverTasks(w.as(clerk), &pb.ListHandoverTasksRequest{PageSize: 1000})
	if err != nil || len(resp.Tasks) != 1000 || resp.NextPageToken == "" || resp.Tasks[0].CommunityId != last {
		t.Fatalf("the last community's first page: %d tasks, next %q, %v", len(resp.GetTasks()), resp.GetNextPageToken(), err)
	}
	if n := len(w.mustTasks(clerk, &pb.ListHandoverTasksRequest{})); n != 3*MaxRetirees/largeCommunities {
		t.Errorf("the last community has %d tasks, want %d", n, 3*MaxRetirees/largeCommunities)
	}
}
