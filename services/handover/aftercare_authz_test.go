package handover

import (
	"context"
	"net/http"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// aftercareCalls are the calls of the aftercare RPCs on a target, made
// either through gRPC or through the REST gateway.
type aftercareCalls struct {
	list     func(ctx context.Context, community string) error
	complete func(ctx context.Context, id string) error
	batch    func(ctx context.Context, h *pb.Handover) error
}

// TestAftercareAuthorisationMatrix calls the aftercare RPCs as every role,
// through gRPC and through the REST gateway, on the tasks and packages of
// community A and enterprise X (own), of community B and enterprise Y
// (other) and on a task that does not exist (missing). A clerk lists and
// completes its community's tasks; the supervisors of the area and the
// bureau list them; only the enterprise creates its own packages; admin
// does everything; a refused call changes nothing.
func TestAftercareAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{now: testclock.New(completedAt).Now, tcp: true})
	h := w.splitCompleted(8, 4)

	community := [...]string{servicetest.Own: communityA, servicetest.Other: communityB}
	enterprise := [...]string{servicetest.Own: enterpriseX, servicetest.Other: enterpriseY}
	// picked is the task the last call of CompleteHandoverTask named: an
	// OPEN one of the target's community, each time another while any is
	// left, or one that does not exist.
	var picked string
	pick := func(tg servicetest.Target) string {
		picked = h.Id + "-C00009"
		if tg != servicetest.Missing {
			open := w.mustTasks(adminP, &pb.ListHandoverTasksRequest{CommunityId: community[tg], State: pb.HandoverTask_OPEN})
			picked = open[0].Id
		}
		return picked
	}
	matrix := func(c aftercareCalls) map[string]func(servicetest.Target) func(context.Context) error {
		return map[string]func(servicetest.Target) func(context.Context) error{
			"ListHandoverTasks": servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error {
				return c.list(ctx, community[tg])
			}),
			"CompleteHandoverTask": func(tg servicetest.Target) func(context.Context) error {
				id := pick(tg)
				return func(ctx context.Context) error { return c.complete(ctx, id) }
			},
			"BatchCreateHandovers": servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error {
				p := monthlyPackage(h.RetireeIds[0])
				p.EnterpriseCreditCode = enterprise[tg]
				return c.batch(ctx, p)
			}),
		}
	}
	grpcCalls := aftercareCalls{
		list: func(ctx context.Context, community string) error {
			return servicetest.ErrOf(w.client.ListHandoverTasks(ctx, &pb.ListHandoverTasksRequest{CommunityId: community}))
		},
		complete: func(ctx context.Context, id string) error {
			return servicetest.ErrOf(w.client.CompleteHandoverTask(ctx, &pb.CompleteHandoverTaskRequest{Id: id, DoneOn: assignedOn}))
		},
		batch: func(ctx context.Context, h *pb.Handover) error {
			return servicetest.ErrOf(w.client.BatchCreateHandovers(ctx, &pb.BatchCreateHandoversRequest{Handovers: []*pb.Handover{h}}))
		},
	}
	rest := restClient(t, w.addr)
	restCalls := aftercareCalls{
		list: func(ctx context.Context, community string) error {
			return rest(ctx, http.MethodGet, "/v1/handoverTasks?communityId="+community, "")
		},
		complete: func(ctx context.Context, id string) error {
			return rest(ctx, http.MethodPost, "/v1/handoverTasks/"+id+":complete", `{"doneOn":"`+assignedOn+`"}`)
		},
		batch: func(ctx context.Context, h *pb.Handover) error {
			body, err := protojson.Marshal(&pb.BatchCreateHandoversRequest{Handovers: []*pb.Handover{h}})
			if err != nil {
				return err
			}
			return rest(ctx, http.MethodPost, "/v1/handovers:batchCreate", string(body))
		},
	}

	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		na = servicetest.NA // the call names no object that can be missing
	)
	want := func() map[string]map[string]servicetest.Cells {
		rows := map[string]map[string]servicetest.Cells{
			"ListHandoverTasks": {"admin": {ok, ok, na}, "bureau": {ok, ok, na}, "clerk": {ok, pd, na},
				"enterprise": {pd, pd, na}, "service": {pd, pd, na}, "archivist": {pd, pd, na}, "no token": {ua, ua, na}},
			"CompleteHandoverTask": {"admin": {ok, ok, nf}, "bureau": {pd, pd, pd}, "clerk": {ok, pd, pd},
				"enterprise": {pd, pd, pd}, "service": {pd, pd, pd}, "archivist": {pd, pd, pd}, "no token": {ua, ua, ua}},
			"BatchCreateHandovers": {"admin": {ok, ok, na}, "bureau": {pd, pd, na}, "clerk": {pd, pd, na},
				"enterprise": {ok, pd, na}, "service": {pd, pd, na}, "archivist": {pd, pd, na}, "no token": {ua, ua, na}},
		}
		servicetest.WithSupervisors(t, rows, map[string]map[string]servicetest.Cells{
			"ListHandoverTasks": servicetest.SupervisorCells(servicetest.Cells{ok, ok, na}, servicetest.Cells{pd, pd, na}),
		})
		return rows
	}
	callers := append(append(w.keys.CallersOf(t, adminP, bureauP, clerkAP, enterpriseXP, serviceP, archivistAP),
		servicetest.Caller{Name: "no token", Ctx: context.Background()}), w.keys.Supervisors(t)...)
	// A refused call changes nothing: the task named stays OPEN, and no
	// handover is created.
	around := func(t *testing.T, rpc string, tg servicetest.Target) func(codes.Code) {
		handovers, _ := w.handoverCount()
		return func(got codes.Code) {
			if got == ok {
				return
			}
			if n, _ := w.handoverCount(); n != handovers {
				t.Errorf("a refused %s created %d handovers", rpc, n-handovers)
			}
			if rpc == "CompleteHandoverTask" && tg != servicetest.Missing {
				if task := w.task(picked); task.State != pb.HandoverTask_OPEN {
					t.Errorf("a refused %s left task %s %s", rpc, picked, task.State)
				}
			}
		}
	}
	for _, tr := range []struct {
		name  string
		calls aftercareCalls
	}{{"gRPC", grpcCalls}, {"REST", restCalls}} {
		t.Run(tr.name, func(t *testing.T) {
			servicetest.RunMatrix(t, servicetest.Matrix{Calls: matrix(tr.calls), Want: want(), Callers: callers, Around: around})
		})
	}
}

// task reads a task from the store.
func (w *world) task(id string) *pb.HandoverTask {
	w.t.Helper()
	t := new(pb.HandoverTask)
	err := w.store.DB().View(func(tx *bolt.Tx) error {
		return boltstore.GetProto(tx.Bucket(bucketTasks), []byte(id), t, errTaskNotFound)
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return t
}
