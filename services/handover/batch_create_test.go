package handover

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// monthlyPackage is a month's new retirees of an enterprise for
// community A: a dossier each, no funds, no premises.
func monthlyPackage(ids ...string) *pb.Handover {
	h := &pb.Handover{CommunityId: communityA, RetireeIds: ids}
	for i, id := range ids {
		h.Dossiers = append(h.Dossiers, &pb.Dossier{RetireeId: id, DossierNo: fmt.Sprintf("M-%05d", i+1), Volumes: 1, Checklist: fullChecklist()})
	}
	return h
}

// handoverCount is how many handovers the store holds, and events their
// timelines.
func (w *world) handoverCount() (handovers, events int) {
	w.t.Helper()
	err := w.store.DB().View(func(tx *bolt.Tx) error {
		handovers, events = tx.Bucket(bucketHandovers).Stats().KeyN, tx.Bucket(bucketEvents).Stats().KeyN
		return nil
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return handovers, events
}

// TestBatchCreateHandovers: an enterprise creates its month's packages in
// one call, each checked as CreateHandover checks one and of kind
// MONTHLY_NEW_RETIREES; a bad item names itself and leaves nothing
// created.
func TestBatchCreateHandovers(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	ids := w.retirees(3, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	batch := func(hs ...*pb.Handover) *pb.BatchCreateHandoversRequest {
		return &pb.BatchCreateHandoversRequest{Handovers: hs}
	}
	ctx := w.as(enterpriseXP)

	resp, err := w.client.BatchCreateHandovers(ctx, batch(monthlyPackage(ids[0], ids[1]), monthlyPackage(ids[2])))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Handovers) != 2 {
		t.Fatalf("%d handovers", len(resp.Handovers))
	}
	for i, h := range resp.Handovers {
		if h.Kind != pb.Handover_MONTHLY_NEW_RETIREES || h.State != pb.Handover_DRAFT || h.EnterpriseCreditCode != enterpriseX || h.Id == "" || h.Etag != "r1" {
			t.Errorf("handovers[%d]: %v", i, h)
		}
		if got := w.get(h.Id); len(got.RetireeIds) != 2-i || got.Kind != pb.Handover_MONTHLY_NEW_RETIREES {
			t.Errorf("stored handovers[%d]: %v", i, got)
		}
		if ev := w.events(h.Id); len(ev) != 1 || ev[0].Action != actionCreated || ev[0].Actor != enterpriseXP.Subject {
			t.Errorf("events of handovers[%d]: %v", i, ev)
		}
	}
	if resp.Handovers[0].Id == resp.Handovers[1].Id {
		t.Error("two packages, one id")
	}
	if _, err := w.client.BatchCreateHandovers(w.as(adminP), batch(&pb.Handover{EnterpriseCreditCode: enterpriseY, CommunityId: communityB})); err != nil {
		t.Errorf("admin for enterprise Y: %v", err)
	}

	agreement := monthlyPackage(ids[0])
	agreement.Kind = pb.Handover_AGREEMENT
	notAnID := monthlyPackage("", ids[1])
	notAnID.Dossiers = notAnID.Dossiers[1:]
	other := monthlyPackage(ids[2])
	other.EnterpriseCreditCode = enterpriseY
	many := make([]*pb.Handover, MaxBatchHandovers+1)
	for i := range many {
		many[i] = monthlyPackage(ids[0])
	}
	crowd := make([]string, MaxRetirees+1)
	for i := range crowd {
		crowd[i] = fmt.Sprintf("r%d", i)
	}
	withPremisesAndFunds := packageFor(ids[1:2])
	withPremisesAndFunds.Obligations = nil
	handovers, events := w.handoverCount()
	for _, tc := range []struct {
		name   string
		req    *pb.BatchCreateHandoversRequest
		code   codes.Code
		fields []string
	}{
		{"a bad retiree id in the second", batch(monthlyPackage(ids[0]), notAnID), codes.InvalidArgument, []string{"handovers[1].retireeIds[0]"}},
		{"an agreement", batch(agreement, monthlyPackage(ids[1])), codes.InvalidArgument, []string{"handovers[0].kind"}},
		{"bad items together", batch(agreement, notAnID, &pb.Handover{CommunityId: "21"}), codes.InvalidArgument,
			[]string{"handovers[0].kind", "handovers[1].retireeIds[0]", "handovers[2].communityId"}},
		{"premises and funds with new retirees", batch(monthlyPackage(ids[0]), withPremisesAndFunds), codes.InvalidArgument,
			[]string{"handovers[1].funds", "handovers[1].premises"}},
		{"none", batch(), codes.InvalidArgument, []string{"handovers"}},
		{"too many", batch(many...), codes.InvalidArgument, []string{"handovers"}},
		{"too many retirees in all", batch(monthlyPackage(crowd[:MaxRetirees/2]...), monthlyPackage(crowd[MaxRetirees/2:]...)), codes.InvalidArgument, []string{"handovers"}},
		{"another enterprise's package", batch(monthlyPackage(ids[0]), other), codes.PermissionDenied, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.client.BatchCreateHandovers(ctx, tc.req)
			if tc.code == codes.InvalidArgument {
				wantFields(t, err, tc.fields...)
			} else {
				wantCode(t, err, tc.code)
			}
			if h, e := w.handoverCount(); h != handovers || e != events {
				t.Errorf("a refused batch stored %d handovers and %d events", h-handovers, e-events)
			}
		})
	}
	_, err = w.client.BatchCreateHandovers(w.as(clerkAP), batch(monthlyPackage(ids[0])))
	servicetest.WantDenied(t, err)
}

// TestMonthlyHandoverCompletes: a package of the batch goes through
// submit, the roster's verification, the archives and completion like any
// other, and leaves its retirees' tasks to the community.
func TestMonthlyHandoverCompletes(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{now: testclock.New(completedAt).Now})
	ids := w.retirees(2, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	resp, err := w.client.BatchCreateHandovers(w.as(enterpriseXP), &pb.BatchCreateHandoversRequest{Handovers: []*pb.Handover{monthlyPackage(ids...)}})
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Handovers[0]
	h = w.handover(w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}))
	h = w.handover(w.client.VerifyRoster(w.as(bureauP), &pb.VerifyRosterRequest{Id: h.Id, Etag: h.Etag, DocumentSha256: rosterSHA}))
	h = w.handover(w.client.ReceiveArchives(w.as(clerkAP), &pb.ReceiveArchivesRequest{Id: h.Id, Etag: h.Etag, Received: ids}))
	h = w.handover(w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag}))
	if h.State != pb.Handover_COMPLETED || h.Kind != pb.Handover_MONTHLY_NEW_RETIREES {
		t.Fatalf("%s %s", h.Kind, h.State)
	}
	tasks := w.mustTasks(clerkAP, &pb.ListHandoverTasksRequest{})
	if len(tasks) != 6 || tasks[0].HandoverId != h.Id || tasks[0].CommunityId != communityA || tasks[0].DueOn != due10 {
		t.Errorf("tasks %v", tasks)
	}
}
