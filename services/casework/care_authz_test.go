package casework

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// TestCareAuthorizationMatrix calls the seven care RPCs with real tokens
// as every role, through gRPC and REST, about a retiree of the clerk's
// community (own), one of community B (other; both in the supervisors'
// area), and a missing one: admin everything; the bureau reads; a clerk
// reads, sets tiers, reports crises and records visits in its community;
// supervisors read and report crises in their area; only admin schedules;
// enterprises, archivists and the service role nothing.
func TestCareAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		na = servicetest.NA
	)
	h := newHarness(t)
	own, other := withFlags("甲"), livingIn(communityB, "乙")
	h.retirees(own, other)
	retiree := map[servicetest.Target]string{servicetest.Own: own.Id, servicetest.Other: other.Id, servicetest.Missing: unknownID}
	community := map[servicetest.Target]string{servicetest.Own: communityA, servicetest.Other: communityB}
	calls := map[string]func(servicetest.Target) call{
		"GetCareProfile": func(tg servicetest.Target) call {
			req := &pb.GetCareProfileRequest{RetireeId: retiree[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.GetCareProfile(ctx, req)) }, http.MethodGet, "/v1/retirees/" + req.RetireeId + "/careProfile", nil}
		},
		"SetCareTier": func(tg servicetest.Target) call {
			req := &pb.SetCareTierRequest{RetireeId: retiree[tg], Tier: pb.RiskTier_KEY, Reason: "子女在外地"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.SetCareTier(ctx, req)) }, http.MethodPost, "/v1/retirees/" + req.RetireeId + "/careProfile:setTier", req}
		},
		"ReportCrisis": func(tg servicetest.Target) call {
			req := &pb.ReportCrisisRequest{RetireeId: retiree[tg], Kind: pb.CrisisKind_HOSPITAL_STAY}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ReportCrisis(ctx, req)) }, http.MethodPost, "/v1/retirees/" + req.RetireeId + "/crises", req}
		},
		"RecordVisit": func(tg servicetest.Target) call {
			req := &pb.RecordVisitRequest{Visit: &pb.Visit{
				RetireeId: retiree[tg], Method: pb.VisitMethod_PHONE, Visitor: "王社工", Outcome: pb.VisitOutcome_WELL,
				VisitTime: timestamppb.New(testNow.Add(-time.Hour)),
			}}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.RecordVisit(ctx, req)) }, http.MethodPost, "/v1/visits", req}
		},
		"ListVisits": func(tg servicetest.Target) call {
			req := &pb.ListVisitsRequest{CommunityId: community[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ListVisits(ctx, req)) }, http.MethodGet, "/v1/visits?communityId=" + url.QueryEscape(req.CommunityId), nil}
		},
		"GetVisitReport": func(tg servicetest.Target) call {
			req := &pb.GetVisitReportRequest{Month: "2026-06", CommunityId: community[tg]}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.GetVisitReport(ctx, req)) }, http.MethodGet, "/v1/visitReport?month=2026-06&communityId=" + url.QueryEscape(req.CommunityId), nil}
		},
		"ScheduleVisits": func(servicetest.Target) call {
			req := &pb.ScheduleVisitsRequest{Month: "2026-06"}
			return call{func(ctx context.Context) error { return servicetest.ErrOf(h.client.ScheduleVisits(ctx, req)) }, http.MethodPost, "/v1/visits:schedule", req}
		},
	}
	type row = servicetest.Cells
	rows := func(admin, bureau, clerk, area row) map[string]row {
		none := row{pd, pd, pd}
		if admin[2] == na {
			none = row{pd, pd, na}
		}
		elsewhere := row{pd, pd, area[2]}
		return map[string]row{
			"admin": admin, "bureau": bureau, "clerk": clerk, "enterprise": none, "service": none, "archivist": none,
			"no token":               {codes.Unauthenticated, codes.Unauthenticated, none[2]},
			servicetest.StreetCaller: area, servicetest.DistrictCaller: area,
			servicetest.StreetElsewhereCaller: elsewhere, servicetest.DistrictElsewhereCaller: elsewhere,
		}
	}
	fix := func(r map[string]row) map[string]row {
		if r["no token"][2] == pd {
			r["no token"] = row{codes.Unauthenticated, codes.Unauthenticated, codes.Unauthenticated}
		}
		return r
	}
	read, none := row{ok, ok, nf}, row{pd, pd, pd}
	want := map[string]map[string]row{
		"GetCareProfile": fix(rows(read, read, row{ok, pd, pd}, row{ok, ok, pd})),
		"SetCareTier":    fix(rows(read, none, row{ok, pd, pd}, none)),
		"ReportCrisis":   fix(rows(read, none, row{ok, pd, pd}, row{ok, ok, pd})),
		"RecordVisit":    fix(rows(read, none, row{ok, pd, pd}, none)),
		"ListVisits":     rows(row{ok, ok, na}, row{ok, ok, na}, row{ok, pd, na}, row{ok, ok, na}),
		"GetVisitReport": rows(row{ok, ok, na}, row{ok, ok, na}, row{ok, pd, na}, row{ok, ok, na}),
		"ScheduleVisits": rows(row{ok, ok, na}, row{pd, pd, na}, row{pd, pd, na}, row{pd, pd, na}),
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
			servicetest.RunMatrix(t, servicetest.Matrix{Calls: m, Want: want, Callers: callers, Around: h.unchangedWhenRefused})
		})
	}
}
