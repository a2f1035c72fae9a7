package casework

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// call is one RPC of the matrix, made through gRPC or through REST.
type call struct {
	grpc func(ctx context.Context) error
	// method and path are its REST route, body its JSON body (nil: none).
	method, path string
	body         proto.Message
}

// TestAuthorizationMatrix calls every work-item RPC with real tokens as
// every role, through gRPC and through the REST gateway, on an item of
// the clerk's community (own), of community B (other; both in the area of
// the street and district supervisors), and a missing one. Admin does
// everything; the bureau reads; a clerk works its community's items;
// supervisors read their area's and reassign, release, escalate, complete
// and cancel them; enterprises, archivists and the service role get
// nothing; a refused call changes nothing.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		na = servicetest.NA
	)
	h := newHarness(t)
	calls := itemCalls(t, h)
	type row = servicetest.Cells
	rows := matrixRows
	change, clerkOnly := row{ok, ok, nf}, row{pd, pd, pd}
	want := map[string]map[string]row{
		"CreateWorkItem":    rows(row{ok, ok, na}, row{pd, pd, na}, row{ok, pd, na}, row{ok, ok, na}),
		"GetWorkItem":       rows(change, change, row{ok, pd, pd}, row{ok, ok, pd}),
		"ListWorkItems":     rows(row{ok, ok, na}, row{ok, ok, na}, row{ok, pd, na}, row{ok, ok, na}),
		"ClaimWorkItem":     rows(change, clerkOnly, row{ok, pd, pd}, clerkOnly),
		"ReleaseWorkItem":   rows(change, clerkOnly, row{ok, pd, pd}, row{ok, ok, pd}),
		"ReassignWorkItems": rows(change, clerkOnly, clerkOnly, row{ok, ok, pd}),
		"EscalateWorkItem":  rows(change, clerkOnly, row{ok, pd, pd}, row{ok, ok, pd}),
		"WaitWorkItem":      rows(change, clerkOnly, row{ok, pd, pd}, clerkOnly),
		"ResumeWorkItem":    rows(change, clerkOnly, row{ok, pd, pd}, clerkOnly),
		"CompleteWorkItem":  rows(change, clerkOnly, row{ok, pd, pd}, row{ok, ok, pd}),
		"CancelWorkItem":    rows(change, clerkOnly, clerkOnly, row{ok, ok, pd}),
	}
	h.runMatrix(t, calls, want)
}

// itemFixture returns what makes a fresh item of a target's community
// in a state (assigned to the community's clerk when not OPEN), or
// names a missing one.
func itemFixture(t *testing.T, h *harness) func(servicetest.Target, pb.WorkState) *pb.WorkItem {
	community := map[servicetest.Target]string{servicetest.Own: communityA, servicetest.Other: communityB}
	assignee := map[servicetest.Target]string{servicetest.Own: clerkP.Subject, servicetest.Other: "clerk-b"}
	return func(tg servicetest.Target, state pb.WorkState) *pb.WorkItem {
		if tg == servicetest.Missing {
			return &pb.WorkItem{Id: unknownID}
		}
		it := h.open(h.spec(pb.WorkKind_OTHER, community[tg], 100*hour))
		var err error
		actor := Actor{Subject: assignee[tg]}
		switch state {
		case pb.WorkState_IN_PROGRESS:
			it, err = h.store.Claim(it.Id, "", actor, anyone)
		case pb.WorkState_WAITING:
			if it, err = h.store.Claim(it.Id, "", actor, anyone); err == nil {
				it, err = h.store.Wait(it.Id, "", pb.WaitingOn_FAMILY, "等家属", actor, anyone)
			}
		}
		if err != nil {
			t.Fatal(err)
		}
		return it
	}
}

// itemCalls are the calls of the work-item matrix: each RPC on a fresh
// item of the target's community in the state it needs, or a missing
// one.
func itemCalls(t *testing.T, h *harness) map[string]func(servicetest.Target) call {
	community := map[servicetest.Target]string{servicetest.Own: communityA, servicetest.Other: communityB}
	fixture := itemFixture(t, h)
	onItem := func(state pb.WorkState, mk func(it *pb.WorkItem) call) func(servicetest.Target) call {
		return func(tg servicetest.Target) call { return mk(fixture(tg, state)) }
	}
	due := timestamppb.New(testNow.Add(48 * hour))
	return map[string]func(servicetest.Target) call{
		"CreateWorkItem": func(tg servicetest.Target) call {
			req := &pb.CreateWorkItemRequest{Item: &pb.WorkItem{Kind: pb.WorkKind_OTHER, CommunityId: community[tg], Summary: "送春联", DueTime: due}}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.CreateWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems", req}
		},
		"GetWorkItem": onItem(pb.WorkState_OPEN, func(it *pb.WorkItem) call {
			req := &pb.GetWorkItemRequest{Id: it.Id}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.GetWorkItem(ctx, req)) }, http.MethodGet, "/v1/workItems/" + it.Id, nil}
		}),
		"ListWorkItems": func(tg servicetest.Target) call {
			req := &pb.ListWorkItemsRequest{CommunityId: community[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ListWorkItems(ctx, req)) }, http.MethodGet, "/v1/workItems?communityId=" + url.QueryEscape(req.CommunityId), nil}
		},
		"ClaimWorkItem": onItem(pb.WorkState_OPEN, func(it *pb.WorkItem) call {
			req := &pb.ClaimWorkItemRequest{Id: it.Id}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ClaimWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":claim", req}
		}),
		"ReleaseWorkItem": onItem(pb.WorkState_IN_PROGRESS, func(it *pb.WorkItem) call {
			req := &pb.ReleaseWorkItemRequest{Id: it.Id, Reason: "调岗"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ReleaseWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":release", req}
		}),
		"ReassignWorkItems": onItem(pb.WorkState_OPEN, func(it *pb.WorkItem) call {
			req := &pb.ReassignWorkItemsRequest{Ids: []string{it.Id}, Assignee: "clerk-c", Reason: "均衡工作量"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ReassignWorkItems(ctx, req)) }, http.MethodPost, "/v1/workItems:reassign", req}
		}),
		"EscalateWorkItem": onItem(pb.WorkState_OPEN, func(it *pb.WorkItem) call {
			req := &pb.EscalateWorkItemRequest{Id: it.Id, Reason: "家属投诉"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.EscalateWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":escalate", req}
		}),
		"WaitWorkItem": onItem(pb.WorkState_IN_PROGRESS, func(it *pb.WorkItem) call {
			req := &pb.WaitWorkItemRequest{Id: it.Id, WaitingOn: pb.WaitingOn_OTHER_AGENCY, Reason: "等社保中心回复"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.WaitWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":wait", req}
		}),
		"ResumeWorkItem": onItem(pb.WorkState_WAITING, func(it *pb.WorkItem) call {
			req := &pb.ResumeWorkItemRequest{Id: it.Id}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ResumeWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":resume", req}
		}),
		"CompleteWorkItem": onItem(pb.WorkState_OPEN, func(it *pb.WorkItem) call {
			req := &pb.CompleteWorkItemRequest{Id: it.Id, Outcome: "已办结"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.CompleteWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":complete", req}
		}),
		"CancelWorkItem": onItem(pb.WorkState_OPEN, func(it *pb.WorkItem) call {
			req := &pb.CancelWorkItemRequest{Id: it.Id, Reason: "重复登记"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.CancelWorkItem(ctx, req)) }, http.MethodPost, "/v1/workItems/" + it.Id + ":cancel", req}
		}),
	}
}

// runMatrix runs a matrix of calls over gRPC and over REST as every
// caller, checking that a refused call changes nothing.
func (h *harness) runMatrix(t *testing.T, calls map[string]func(servicetest.Target) call, want map[string]map[string]servicetest.Cells) {
	callers := append(append(h.keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP, archivistP),
		servicetest.Caller{Name: "no token", Ctx: context.Background()}), h.keys.Supervisors(t)...)
	for _, transport := range []string{"gRPC", "REST"} {
		t.Run(transport, func(t *testing.T) {
			m := map[string]func(servicetest.Target) func(context.Context) error{}
			for rpc, mk := range calls {
				m[rpc] = func(tg servicetest.Target) func(context.Context) error {
					c := mk(tg)
					if transport == "gRPC" {
						return c.grpc
					}
					return func(ctx context.Context) error { return h.restCall(ctx, c) }
				}
			}
			servicetest.RunMatrix(t, servicetest.Matrix{Calls: m, Want: want, Callers: callers, Around: h.unchangedWhenRefused})
		})
	}
}

// matrixRows are the expected codes of every caller of a matrix from
// those of admin, the bureau, the clerk and the supervisors of the area
// (the supervisors elsewhere get PermissionDenied where the area's
// supervisors may act, and what they get for a missing object);
// enterprises, archivists and the service role are refused, and callers
// without a token unauthenticated. A missing cell of NA makes every
// caller's NA.
func matrixRows(admin, bureau, clerk, area servicetest.Cells) map[string]servicetest.Cells {
	const (
		pd = codes.PermissionDenied
		ua = codes.Unauthenticated
		na = servicetest.NA
	)
	type row = servicetest.Cells
	r := map[string]row{}
	for _, name := range []string{"enterprise", "service", "archivist"} {
		r[name] = row{pd, pd, pd}
	}
	r["no token"] = row{ua, ua, ua}
	if admin[2] == na {
		for _, name := range []string{"enterprise", "service", "archivist"} {
			r[name] = row{pd, pd, na}
		}
		r["no token"] = row{ua, ua, na}
	}
	r["admin"], r["bureau"], r["clerk"] = admin, bureau, clerk
	elsewhere := row{pd, pd, area[2]}
	if area[2] == na {
		elsewhere = row{pd, pd, na}
	}
	r[servicetest.StreetCaller], r[servicetest.DistrictCaller] = area, area
	r[servicetest.StreetElsewhereCaller], r[servicetest.DistrictElsewhereCaller] = elsewhere, elsewhere
	return r
}

// restCall makes c through the gateway.
func (h *harness) restCall(ctx context.Context, c call) error {
	body := ""
	if c.body != nil {
		raw, err := protojson.Marshal(c.body)
		if err != nil {
			return err
		}
		body = string(raw)
	}
	return h.rest(ctx, c.method, c.path, body)
}

// unchangedWhenRefused checks that a refused call changed nothing: the
// counts of both communities stay as they were, and so do the number of
// items, tickets and ticket categories and every ticket's revision.
func (h *harness) unchangedWhenRefused(t *testing.T, rpc string, _ servicetest.Target) func(codes.Code) {
	before := [2]*pb.ClockCounts{h.counts(Query{Community: communityA}), h.counts(Query{Community: communityB})}
	items, tickets := h.itemCount(), h.snapshot(bucketTickets, bucketTicketCategories)
	return func(got codes.Code) {
		if got == codes.OK {
			return
		}
		after := [2]*pb.ClockCounts{h.counts(Query{Community: communityA}), h.counts(Query{Community: communityB})}
		if !proto.Equal(before[0], after[0]) || !proto.Equal(before[1], after[1]) || h.itemCount() != items {
			t.Errorf("a refused %s changed the queues: %v -> %v", rpc, before, after)
		}
		if h.snapshot(bucketTickets, bucketTicketCategories) != tickets {
			t.Errorf("a refused %s changed tickets or categories", rpc)
		}
	}
}

// snapshot is the content of buckets as one string.
func (e *env) snapshot(buckets ...[]byte) string {
	var b strings.Builder
	_ = e.store.DB().View(func(tx *bolt.Tx) error {
		for _, name := range buckets {
			_ = tx.Bucket(name).ForEach(func(k, v []byte) error {
				b.Write(k)
				b.Write(v)
				return nil
			})
		}
		return nil
	})
	return b.String()
}

// itemCount is how many items the store holds.
func (e *env) itemCount() int {
	n := 0
	_ = e.store.DB().View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketItems).Stats().KeyN
		return nil
	})
	return n
}
