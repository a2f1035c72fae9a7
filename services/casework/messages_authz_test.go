package casework

import (
	"context"
	"net/http"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// TestMessagesAuthorizationMatrix calls the four message RPCs with real
// tokens as every role, through gRPC and through the REST gateway, about
// a retiree of the clerk's community (own), of community B (other; both
// in the supervisors' area) and an unknown one (missing). Preferences and
// messages are read by the clerks of the retiree's community, the
// supervisors of its area, the bureau and admin; the preferences are
// changed by the clerk and admin; the templates are read by every reader
// role; a refused change changes nothing.
func TestMessagesAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
		na = servicetest.NA
	)
	h := newHarness(t)
	own, other := livingIn(communityA, "张三"), livingIn(communityB, "李四")
	h.retirees(own, other)
	retiree := map[servicetest.Target]string{servicetest.Own: own.Id, servicetest.Other: other.Id, servicetest.Missing: unknownID}
	calls := map[string]func(servicetest.Target) call{
		"GetMessagePreferences": func(tg servicetest.Target) call {
			req := &pb.GetMessagePreferencesRequest{RetireeId: retiree[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.GetMessagePreferences(ctx, req)) },
				http.MethodGet, "/v1/retirees/" + req.RetireeId + "/messagePreferences", nil}
		},
		"SetMessagePreferences": func(tg servicetest.Target) call {
			req := &pb.SetMessagePreferencesRequest{Preferences: &pb.MessagePreferences{RetireeId: retiree[tg], PreferredName: "老张", OptedOut: true}}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.SetMessagePreferences(ctx, req)) },
				http.MethodPut, "/v1/retirees/" + req.Preferences.RetireeId + "/messagePreferences", req.Preferences}
		},
		"ListMessages": func(tg servicetest.Target) call {
			req := &pb.ListMessagesRequest{RetireeId: retiree[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ListMessages(ctx, req)) },
				http.MethodGet, "/v1/messages?retireeId=" + req.RetireeId, nil}
		},
		"ListMessageTemplates": func(servicetest.Target) call {
			req := &pb.ListMessageTemplatesRequest{}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ListMessageTemplates(ctx, req)) },
				http.MethodGet, "/v1/messageTemplates", nil}
		},
	}
	type row = servicetest.Cells
	none := row{pd, pd, pd}
	read := map[string]row{
		"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
		"enterprise": none, "service": none, "archivist": none, "no token": {ua, ua, ua},
		servicetest.StreetCaller: {ok, ok, pd}, servicetest.DistrictCaller: {ok, ok, pd},
		servicetest.StreetElsewhereCaller: none, servicetest.DistrictElsewhereCaller: none,
	}
	set := map[string]row{
		"admin": {ok, ok, nf}, "bureau": none, "clerk": {ok, pd, pd},
		"enterprise": none, "service": none, "archivist": none, "no token": {ua, ua, ua},
		servicetest.StreetCaller: none, servicetest.DistrictCaller: none,
		servicetest.StreetElsewhereCaller: none, servicetest.DistrictElsewhereCaller: none,
	}
	yes, no := row{ok, na, na}, row{pd, na, na}
	templates := map[string]row{
		"admin": yes, "bureau": yes, "clerk": yes, "enterprise": no, "service": no, "archivist": yes, "no token": {ua, na, na},
		servicetest.StreetCaller: yes, servicetest.DistrictCaller: yes,
		servicetest.StreetElsewhereCaller: yes, servicetest.DistrictElsewhereCaller: yes,
	}
	want := map[string]map[string]row{
		"GetMessagePreferences": read, "SetMessagePreferences": set, "ListMessages": read, "ListMessageTemplates": templates,
	}
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
			servicetest.RunMatrix(t, servicetest.Matrix{Calls: m, Want: want, Callers: callers, Around: h.prefsUnchangedWhenRefused})
		})
	}
}

// prefsUnchangedWhenRefused checks that a refused call stored no
// preferences.
func (h *harness) prefsUnchangedWhenRefused(t *testing.T, rpc string, _ servicetest.Target) func(codes.Code) {
	count := func() int {
		n := 0
		_ = h.store.DB().View(func(tx *bolt.Tx) error {
			n = tx.Bucket(bucketMessagePrefs).Stats().KeyN
			return nil
		})
		return n
	}
	before := count()
	return func(got codes.Code) {
		if got != codes.OK && count() != before {
			t.Errorf("a refused %s stored preferences", rpc)
		}
	}
}
