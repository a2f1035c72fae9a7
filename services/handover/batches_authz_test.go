package handover

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// archivistP keeps the archives of the receiving community's district.
var archivistP = authn.Principal{Subject: "archivist-heping", Role: authn.RoleArchivist, District: servicetest.DistrictAB}

// batchesAPI makes the calls of the batches' RPCs, through gRPC or
// through a gateway's REST routes.
type batchesAPI interface {
	add(ctx context.Context, id, etag string, rs []*pb.BatchRetiree) error
	remove(ctx context.Context, id, etag string, ids []string) error
	progress(ctx context.Context, q *pb.GetHandoverProgressRequest) error
}

type grpcBatches struct{ c pb.HandoverServiceClient }

func (g grpcBatches) add(ctx context.Context, id, etag string, rs []*pb.BatchRetiree) error {
	return servicetest.ErrOf(g.c.BatchAddRetirees(ctx, &pb.BatchAddRetireesRequest{Id: id, Etag: etag, Retirees: rs}))
}

func (g grpcBatches) remove(ctx context.Context, id, etag string, ids []string) error {
	return servicetest.ErrOf(g.c.BatchRemoveRetirees(ctx, &pb.BatchRemoveRetireesRequest{Id: id, Etag: etag, RetireeIds: ids}))
}

func (g grpcBatches) progress(ctx context.Context, q *pb.GetHandoverProgressRequest) error {
	return servicetest.ErrOf(g.c.GetHandoverProgress(ctx, q))
}

// restBatches calls the routes of a gateway at base with the token of
// the call's context, and turns the answer back into the gRPC status the
// gateway rendered, checking that the HTTP status is the code's.
type restBatches struct {
	t    *testing.T
	call func(ctx context.Context, method, path, body string) error
}

func (r restBatches) add(ctx context.Context, id, etag string, rs []*pb.BatchRetiree) error {
	body, err := protojson.Marshal(&pb.BatchAddRetireesRequest{Etag: etag, Retirees: rs})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.do(ctx, http.MethodPost, "/v1/handovers/"+url.PathEscape(id)+"/retirees:batchAdd", body)
}

func (r restBatches) remove(ctx context.Context, id, etag string, ids []string) error {
	body, err := json.Marshal(map[string]any{"etag": etag, "retireeIds": ids})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.do(ctx, http.MethodPost, "/v1/handovers/"+url.PathEscape(id)+"/retirees:batchRemove", body)
}

func (r restBatches) progress(ctx context.Context, q *pb.GetHandoverProgressRequest) error {
	v := url.Values{"groupBy": {q.GroupBy.String()}}
	if q.EnterpriseCreditCode != "" {
		v.Set("enterpriseCreditCode", q.EnterpriseCreditCode)
	}
	if q.AreaCode != "" {
		v.Set("areaCode", q.AreaCode)
	}
	return r.do(ctx, http.MethodGet, "/v1/handoverProgress?"+v.Encode(), nil)
}

func (r restBatches) do(ctx context.Context, method, path string, body []byte) error {
	return r.call(ctx, method, path, string(body))
}

// TestBatchesAuthorisationMatrix calls the batches' RPCs as every role
// on a package of the enterprise's own, another's and none, through gRPC
// and through the gateway's REST routes: only the owning enterprise and
// admin change a package, and a refused change changes nothing; the
// progress report is read by admin and bureau, by supervisors in their
// area and by an enterprise for itself.
func TestBatchesAuthorisationMatrix(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{tcp: true})
	rest := restClient(t, w.addr)
	for name, api := range map[string]batchesAPI{"gRPC": grpcBatches{w.client}, "REST": restBatches{t: t, call: rest}} {
		t.Run(name, func(t *testing.T) { batchesMatrix(t, w, api) })
	}
}

func batchesMatrix(t *testing.T, w *world, api batchesAPI) {
	// fixture is the package the last call was prepared on; nil for the
	// missing one.
	var fixture *pb.Handover
	draftOf := func(tg servicetest.Target) (id, etag string, retirees []string) {
		fixture = nil
		if tg == servicetest.Missing {
			return newHandoverID(time.Now()), "r1", []string{inputcheck.NewOpaqueID()}
		}
		owner, p := enterpriseX, enterpriseXP
		if tg == servicetest.Other {
			owner, p = enterpriseY, enterpriseYP
		}
		pkg := packageFor([]string{inputcheck.NewOpaqueID()})
		pkg.EnterpriseCreditCode = owner
		fixture = w.handover(w.client.CreateHandover(w.as(p), &pb.CreateHandoverRequest{Handover: pkg}))
		return fixture.Id, fixture.Etag, fixture.RetireeIds
	}
	calls := map[string]func(servicetest.Target) func(context.Context) error{
		"BatchAddRetirees": func(tg servicetest.Target) func(context.Context) error {
			id, etag, _ := draftOf(tg)
			return func(ctx context.Context) error {
				return api.add(ctx, id, etag, batchOf([]string{inputcheck.NewOpaqueID()}, 1, true))
			}
		},
		"BatchRemoveRetirees": func(tg servicetest.Target) func(context.Context) error {
			id, etag, ids := draftOf(tg)
			return func(ctx context.Context) error { return api.remove(ctx, id, etag, ids) }
		},
		// The report names no package: own asks for enterprise X's and
		// street AB's part, other for enterprise Y's and street C's.
		"GetHandoverProgress": servicetest.OnTarget(func(ctx context.Context, tg servicetest.Target) error {
			q := &pb.GetHandoverProgressRequest{GroupBy: pb.GetHandoverProgressRequest_ENTERPRISE, EnterpriseCreditCode: enterpriseX, AreaCode: servicetest.StreetAB}
			if tg == servicetest.Other {
				q.EnterpriseCreditCode, q.AreaCode = enterpriseY, servicetest.StreetC
			}
			return api.progress(ctx, q)
		}),
		// The work-signal feed is casework's, as a service: gRPC only.
		"WatchWorkSignals": func(servicetest.Target) func(context.Context) error {
			return func(ctx context.Context) error { return watchSignalsOnce(ctx, w.client) }
		},
	}
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		na = servicetest.NA
	)
	denied := servicetest.Cells{pd, pd, pd}
	change := map[string]servicetest.Cells{
		"admin": {ok, ok, nf}, "enterprise": {ok, pd, pd}, "bureau": denied, "clerk": denied,
		"service": denied, "archivist": denied, "no token": {ua, ua, ua},
	}
	progress := map[string]servicetest.Cells{
		"admin": {ok, ok, na}, "bureau": {ok, ok, na}, "enterprise": {ok, pd, na}, "clerk": {pd, pd, na},
		"service": {pd, pd, na}, "archivist": {pd, pd, na}, "no token": {ua, ua, na},
	}
	want := map[string]map[string]servicetest.Cells{
		"BatchAddRetirees": change, "BatchRemoveRetirees": change, "GetHandoverProgress": progress,
		"WatchWorkSignals": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "enterprise": {pd, na, na}, "clerk": {pd, na, na},
			"service": {ok, na, na}, "archivist": {pd, na, na}, "no token": {ua, na, na},
		},
	}
	servicetest.WithSupervisors(t, want, map[string]map[string]servicetest.Cells{
		"GetHandoverProgress": servicetest.SupervisorCells(servicetest.Cells{ok, pd, na}, servicetest.Cells{pd, ok, na}),
	})
	servicetest.RunMatrix(t, servicetest.Matrix{
		Calls: calls, Want: want,
		Callers: append(append(w.keys.CallersOf(t, adminP, bureauP, clerkAP, enterpriseXP, serviceP, archivistP),
			servicetest.Caller{Name: "no token", Ctx: context.Background()}), w.keys.Supervisors(t)...),
		Around: func(t *testing.T, rpc string, tg servicetest.Target) func(codes.Code) {
			before := fixture
			return func(got codes.Code) {
				if before == nil || rpc == "GetHandoverProgress" {
					return
				}
				after := w.get(before.Id)
				if changed := after.Etag != before.Etag; changed != (got == ok) {
					t.Errorf("%s answered %v and changed the package: %v", rpc, got, changed)
				}
			}
		},
	})
}
