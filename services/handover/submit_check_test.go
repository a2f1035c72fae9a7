package handover

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// callLog records the registry calls made through its interceptor: the
// method's short name, and how many ids each BatchGetRetireeFacts named.
type callLog struct {
	mu        sync.Mutex
	methods   []string
	factSizes []int
}

func (l *callLog) intercept(ctx context.Context, m string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	l.mu.Lock()
	l.methods = append(l.methods, m[strings.LastIndex(m, "/")+1:])
	if r, ok := req.(*registryv1.BatchGetRetireeFactsRequest); ok {
		l.factSizes = append(l.factSizes, len(r.Ids))
	}
	l.mu.Unlock()
	return invoker(ctx, m, req, reply, cc, opts...)
}

// take returns what was recorded and starts afresh.
func (l *callLog) take() (methods []string, factSizes []int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	methods, factSizes = l.methods, l.factSizes
	l.methods, l.factSizes = nil, nil
	return methods, factSizes
}

// TestSubmitAsksRegistryOnce: a submit checks its retirees with one
// BatchGetRetireeFacts call, not a GetRetiree per retiree, and registry
// audits each retiree once for it.
func TestSubmitAsksRegistryOnce(t *testing.T) {
	t.Parallel()
	calls := &callLog{}
	w := newWorld(t, worldOptions{submitInterceptors: []grpc.UnaryClientInterceptor{calls.intercept}})
	h := w.draft(40)
	calls.take()
	if _, err := w.client.SubmitHandover(w.as(enterpriseXP), &pb.SubmitHandoverRequest{Id: h.Id, Etag: h.Etag}); err != nil {
		t.Fatal(err)
	}
	methods, sizes := calls.take()
	if diff := cmp.Diff([]string{"GetCommunity", "BatchGetRetireeFacts"}, methods); diff != "" {
		t.Errorf("registry calls of one submit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{40}, sizes); diff != "" {
		t.Errorf("ids per BatchGetRetireeFacts (-want +got):\n%s", diff)
	}

	// Registry audits reads after answering them unless told otherwise:
	// wait for the entries, then check that there is one per retiree.
	for _, id := range h.RetireeIds {
		var actions []string
		waitfor.NoError(t, "the audit entry of the submit for retiree "+id, func(context.Context) error {
			resp, err := w.registry.ListRetireeAuditLog(w.as(adminP), &registryv1.ListRetireeAuditLogRequest{Id: id, PageSize: 100})
			if err != nil {
				return waitfor.Permanent(err)
			}
			actions = actions[:0]
			for _, e := range resp.Entries {
				if e.Role == "service" {
					actions = append(actions, e.Action)
				}
			}
			if len(actions) == 0 {
				return errors.New("none yet")
			}
			return nil
		})
		if diff := cmp.Diff([]string{"BatchGetRetireeFacts"}, actions); diff != "" {
			t.Errorf("retiree %s: the submit's audit entries (-want +got):\n%s", id, diff)
		}
	}
}

// retireesToCheck registers retirees of enterprise X of the kinds a
// submit's check tells apart: two fine, one deceased, one already handed
// over to the community.
func (w *world) retireesToCheck() (fine, dead, handed []string) {
	w.t.Helper()
	fine = w.retirees(2, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	dead = w.retirees(1, enterpriseX, registryv1.ManagementMode_ENTERPRISE)
	w.kill(dead[0])
	handed = w.retirees(1, enterpriseX, registryv1.ManagementMode_COMMUNITY)
	return fine, dead, handed
}

// TestRegistryCheckerBatches: a package larger than registry's bound is
// checked in batches, with the same findings as in one call.
func TestRegistryCheckerBatches(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	fine, dead, handed := w.retireesToCheck()
	h := packageFor([]string{fine[0], dead[0], "aaaaaaaaaaaaaaaa", handed[0], fine[1]})
	want := []fault.FieldViolation{
		{Field: "retireeIds[1]", Description: "not living"},
		{Field: "retireeIds[2]", Description: "not a retiree of this enterprise"},
		{Field: "retireeIds[3]", Description: "already handed over (no longer managed by the enterprise)"},
	}
	for _, tc := range []struct {
		batch int
		sizes []int
	}{
		{factsBatch, []int{5}},
		{2, []int{2, 2, 1}},
	} {
		t.Run(fmt.Sprintf("batch %d", tc.batch), func(t *testing.T) {
			calls := &callLog{}
			c := &registryChecker{
				client:  registryv1.NewRegistryServiceClient(w.reg.Dial(asHandover(w.keys, calls.intercept)...)),
				timeout: 5 * time.Second,
				batch:   tc.batch,
			}
			got, err := c.check(context.Background(), zap.NewNop(), h)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
			if _, sizes := calls.take(); !cmp.Equal(tc.sizes, sizes) {
				t.Errorf("ids per call = %v, want %v", sizes, tc.sizes)
			}
		})
	}
}
