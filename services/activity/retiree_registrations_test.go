package activity

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/gatewaytest"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// fixture is the actor of the registrations the tests make in the store.
var fixture = Actor{Subject: "fixture", Role: "clerk"}

// TestRetireeRegistrationIndex follows one retiree's registrations
// through registration, the waiting list, a promotion, a cancellation, a
// new registration after it and a death, and checks after each step that
// the index by retiree holds exactly one entry per registration stored,
// under its time, and that the list reads the latest registered first.
func TestRetireeRegistrationIndex(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rs := livingIn(communityA, 2)
	r, first := rs[0].Id, rs[1].Id
	e.retirees(rs...)
	venue := e.mustVenue(communityA, 20)
	full := oneOff(venue, sh(2026, 7, 1, 9, 0), time.Hour)
	full.Capacity = 1
	a1 := e.mustActivity(full)
	a2 := e.mustActivity(oneOff(venue, sh(2026, 7, 2, 9, 0), time.Hour))
	a3 := e.mustActivity(oneOff(venue, sh(2026, 7, 3, 9, 0), time.Hour))

	minute := 0
	register := func(activityID, retireeID string) {
		t.Helper()
		minute++
		e.clock.Set(testNow.Add(time.Duration(minute) * time.Minute))
		if _, err := e.store.Register(activityID, retireeID, fixture, allow); err != nil {
			t.Fatal(err)
		}
	}
	cancel := func(activityID, retireeID string) {
		t.Helper()
		if _, _, err := e.store.CancelRegistration(activityID, retireeID, fixture, allow); err != nil {
			t.Fatal(err)
		}
	}
	step := func(name string, want ...string) {
		t.Helper()
		wantIndexInStep(t, e.store)
		if diff := cmp.Diff(want, e.listed(r, 50)); diff != "" {
			t.Errorf("%s: the retiree's registrations (-want +got):\n%s", name, diff)
		}
	}

	register(a1.Id, first)
	register(a1.Id, r)
	register(a2.Id, r)
	register(a3.Id, r)
	step("registered", a3.Id+" CONFIRMED", a2.Id+" CONFIRMED", a1.Id+" WAITLISTED")

	cancel(a1.Id, first)
	step("promoted", a3.Id+" CONFIRMED", a2.Id+" CONFIRMED", a1.Id+" CONFIRMED")

	cancel(a2.Id, r)
	step("cancelled", a3.Id+" CONFIRMED", a2.Id+" CANCELLED", a1.Id+" CONFIRMED")

	register(a2.Id, r)
	step("registered again", a2.Id+" CONFIRMED", a3.Id+" CONFIRMED", a1.Id+" CONFIRMED")

	t.Run("pages", func(t *testing.T) {
		got := servicetest.AllPages(t, 5, func(after []byte) ([]string, []byte, error) {
			list, next, err := e.store.ListRetireeRegistrations(r, allow, 2, after)
			if len(list) > 2 {
				t.Errorf("page of %d, asked for 2", len(list))
			}
			return registrationLines(list), next, err
		})
		if diff := cmp.Diff(e.listed(r, 50), got); diff != "" {
			t.Errorf("pages of 2 (-want +got):\n%s", diff)
		}
	})

	dead := proto.Clone(rs[0]).(*registryv1.RetireeState)
	dead.Status, dead.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-06-15"
	e.retirees(dead)
	step("died", a2.Id+" CANCELLED", a3.Id+" CANCELLED", a1.Id+" CANCELLED")
}

// listed returns a retiree's registrations as the first page of size
// lists them, each as "activity STATE".
func (e *env) listed(retireeID string, size int) []string {
	e.t.Helper()
	list, _, err := e.store.ListRetireeRegistrations(retireeID, allow, size, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return registrationLines(list)
}

func registrationLines(list []*pb.RetireeRegistration) []string {
	out := make([]string, len(list))
	for i, rr := range list {
		out[i] = rr.Registration.ActivityId + " " + rr.Registration.State.String()
	}
	return out
}

// wantIndexInStep fails t unless the index by retiree and time holds
// exactly the entries the stored registrations call for.
func wantIndexInStep(t *testing.T, s *Store) {
	t.Helper()
	want, got := map[string]uint64{}, map[string]uint64{}
	err := s.DB().View(func(tx *bolt.Tx) error {
		err := tx.Bucket(bucketRegistrations).ForEach(func(_, v []byte) error {
			r := new(pb.Registration)
			if err := proto.Unmarshal(v, r); err != nil {
				return err
			}
			want[string(retireeRegistrationKey(r))] = keyU64(r.Position)
			return nil
		})
		if err != nil {
			return err
		}
		return tx.Bucket(bucketRetireeRegistrations).ForEach(func(k, v []byte) error {
			pos, err := boltstore.ParseU64(v)
			got[string(k)] = pos
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("index by retiree (-want +got):\n%s", diff)
	}
}

// TestRetireeRegistrationParticulars checks what a retiree's list says of
// each activity: venue, sessions, the next one as time passes, the
// attendance recorded, and a cancelled activity.
func TestRetireeRegistrationParticulars(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rs := livingIn(communityA, 2)
	r, other := rs[0].Id, rs[1].Id
	e.retirees(rs...)
	venue := e.mustVenue(communityA, 20)
	series := weekly(venue, sh(2026, 7, 6, 9, 0), 2*time.Hour, 1, 3) // 6, 13, 20 July
	series.Title, series.Category = "合唱团", pb.Category_CULTURE
	x := e.mustActivity(series)
	y := e.mustActivity(oneOff(venue, sh(2026, 7, 8, 14, 0), time.Hour))
	for i, id := range []string{x.Id, y.Id} {
		e.clock.Set(testNow.Add(time.Duration(i) * time.Minute))
		if _, err := e.store.Register(id, r, fixture, allow); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.store.Register(x.Id, other, fixture, allow); err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.CancelActivity(y.Id, "场地维修", allow); err != nil {
		t.Fatal(err)
	}
	// 14 July: two sessions held, attendance recorded for both; the
	// retiree came to the first only.
	e.clock.Set(sh(2026, 7, 14, 9, 0))
	for _, present := range []struct {
		start time.Time
		ids   []string
	}{{sh(2026, 7, 6, 9, 0), []string{r, other}}, {sh(2026, 7, 13, 9, 0), []string{other}}} {
		if _, err := e.store.RecordAttendance(x.Id, present.start, present.ids, fixture, allow); err != nil {
			t.Fatal(err)
		}
	}

	list, _, err := e.store.ListRetireeRegistrations(r, allow, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 {
		t.Fatalf("%d registrations, want 2", len(list))
	}
	want := []*pb.RetireeRegistration{{
		ActivityTitle: "太极拳", Category: pb.Category_SPORTS, ActivityState: pb.Activity_CANCELLED,
		CommunityId: communityA, VenueId: venue.Id, VenueName: "活动室", SessionCount: 1,
		FirstSessionStart: "2026-07-08T14:00:00+08:00", LastSessionEnd: "2026-07-08T15:00:00+08:00",
	}, {
		ActivityTitle: "合唱团", Category: pb.Category_CULTURE, ActivityState: pb.Activity_SCHEDULED,
		CommunityId: communityA, VenueId: venue.Id, VenueName: "活动室", SessionCount: 3,
		FirstSessionStart: "2026-07-06T09:00:00+08:00", LastSessionEnd: "2026-07-20T11:00:00+08:00",
		NextSessionStart: "2026-07-20T09:00:00+08:00", NextSessionEnd: "2026-07-20T11:00:00+08:00",
		SessionsRecorded: 2, SessionsAttended: 1,
	}}
	if diff := cmp.Diff(want, list, protocmp.Transform(), protocmp.IgnoreFields(&pb.RetireeRegistration{}, "registration")); diff != "" {
		t.Errorf("particulars (-want +got):\n%s", diff)
	}
	if reg := list[0].Registration; reg.ActivityId != y.Id || !reg.ActivityCancelled || reg.RetireeId != r {
		t.Errorf("registration of the cancelled activity: %v", reg)
	}

	t.Run("a session under way is the next", func(t *testing.T) {
		e.clock.Set(sh(2026, 7, 20, 10, 0))
		defer e.clock.Set(sh(2026, 7, 14, 9, 0))
		list, _, err := e.store.ListRetireeRegistrations(r, allow, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := list[1].NextSessionStart; got != "2026-07-20T09:00:00+08:00" {
			t.Errorf("next session during the last one: %q", got)
		}
	})
	t.Run("none after the last", func(t *testing.T) {
		e.clock.Set(sh(2026, 7, 20, 11, 0))
		defer e.clock.Set(sh(2026, 7, 14, 9, 0))
		list, _, err := e.store.ListRetireeRegistrations(r, allow, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := list[1]; got.NextSessionStart != "" || got.NextSessionEnd != "" {
			t.Errorf("next session after the last: %q to %q", got.NextSessionStart, got.NextSessionEnd)
		}
	})
}

// TestListRetireeRegistrations calls the RPC as a clerk: the answer, its
// pages, its audit record and the checks of the request.
func TestListRetireeRegistrations(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rs := livingIn(communityA, 2)
	r, idle := rs[0].Id, rs[1].Id
	h.retirees(rs...)
	venue := h.mustVenue(communityA, 20)
	ctx := h.as(clerkP)
	var want []string
	for day := 1; day <= 5; day++ {
		a := h.mustActivity(oneOff(venue, sh(2026, 7, day, 9, 0), time.Hour))
		h.clock.Set(testNow.Add(time.Duration(day) * time.Minute))
		if _, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: a.Id, RetireeId: r}); err != nil {
			t.Fatal(err)
		}
		want = append([]string{a.Id + " CONFIRMED"}, want...)
	}
	h.clock.Set(testNow)

	t.Run("pages", func(t *testing.T) {
		got := servicetest.AllPages(t, 10, func(token string) ([]string, string, error) {
			resp, err := h.client.ListRetireeRegistrations(ctx, &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageSize: 2, PageToken: token})
			if len(resp.GetRegistrations()) > 2 {
				t.Errorf("page of %d, asked for 2", len(resp.Registrations))
			}
			return registrationLines(resp.GetRegistrations()), resp.GetNextPageToken(), err
		})
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("pages of 2 (-want +got):\n%s", diff)
		}
	})

	t.Run("none", func(t *testing.T) {
		resp, err := h.client.ListRetireeRegistrations(ctx, &pb.ListRetireeRegistrationsRequest{RetireeId: idle})
		if err != nil || len(resp.Registrations) != 0 || resp.NextPageToken != "" {
			t.Errorf("a retiree without registrations: %v, %v", resp, err)
		}
	})

	t.Run("reads are audited", func(t *testing.T) {
		for _, id := range []string{r, idle} {
			entries, _, err := audit.List(h.store.DB(), id, 100, nil)
			if err != nil {
				t.Fatal(err)
			}
			reads := 0
			for _, e := range entries {
				if e.Action == "ListRetireeRegistrations" && e.Subject == clerkP.Subject {
					reads++
				}
			}
			if reads == 0 {
				t.Errorf("no audited read of %s's registrations in %v", id, entries)
			}
		}
	})

	t.Run("checks", func(t *testing.T) {
		first, err := h.client.ListRetireeRegistrations(ctx, &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageSize: 1})
		if err != nil || first.NextPageToken == "" {
			t.Fatalf("first page: %v, %v", first, err)
		}
		for _, tc := range []struct {
			name  string
			req   *pb.ListRetireeRegistrationsRequest
			field string
		}{
			{"no retiree", &pb.ListRetireeRegistrationsRequest{}, "retireeId"},
			{"page too large for this list", &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageSize: maxRetireeRegistrationsPage + 1}, "pageSize"},
			{"page too large for any list", &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageSize: boltstore.MaxPageSize + 1}, "pageSize"},
			{"negative page", &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageSize: -1}, "pageSize"},
			{"another retiree's token", &pb.ListRetireeRegistrationsRequest{RetireeId: idle, PageToken: first.NextPageToken}, "pageToken"},
			{"garbled token", &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageToken: "x" + first.NextPageToken}, "pageToken"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := h.client.ListRetireeRegistrations(ctx, tc.req)
				if v := violations(wantCode(t, err, codes.InvalidArgument)); len(v) != 1 || v[tc.field] == "" {
					t.Errorf("violations %v, want one of %s", v, tc.field)
				}
			})
		}
		resp, err := h.client.ListRetireeRegistrations(ctx, &pb.ListRetireeRegistrationsRequest{RetireeId: r, PageSize: maxRetireeRegistrationsPage})
		if err != nil || len(resp.Registrations) != len(want) {
			t.Errorf("the largest page: %d registrations, %v", len(resp.GetRegistrations()), err)
		}
	})
}

// TestRetireeRegistrationsMatrix calls ListRetireeRegistrations as every
// role, over gRPC and through the gateway over REST, on a retiree of the
// clerk's community (own), of another (other) and on one that does not
// exist (missing). It reads a retiree's data: a clerk of the retiree's
// community, supervisors of its area, the bureau and admin may; a clerk
// of another community is refused as for a missing retiree, which only
// the bureau and admin learn is missing.
func TestRetireeRegistrationsMatrix(t *testing.T) {
	t.Parallel()
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
	)
	e := newEnv(t)
	keys := servicetest.NewKeys(t)
	srv := servicetest.Serve(t, servicetest.Options{
		Name: "activity", Keys: keys, TCP: true,
		Register: func(srv *grpcserver.Server) {
			pb.RegisterActivityServiceServer(srv.GRPC(), NewServer(e.store, ServerOptions{
				Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)), Registry: e.registryClient,
			}))
		},
	})
	client := pb.NewActivityServiceClient(srv.Conn())
	rest := gatewaytest.Client(t, func(c *gateway.Config) { c.ActivityAddr = srv.Addr() })

	inA, inB := livingIn(communityA, 1)[0], livingIn(communityB, 1)[0]
	e.retirees(inA, inB)
	retirees := map[target]string{own: inA.Id, other: inB.Id, missing: unknownID}
	for tg, community := range map[target]string{own: communityA, other: communityB} {
		a := e.mustActivity(oneOff(e.mustVenue(community, 20), sh(2026, 7, 1, 9, 0), time.Hour))
		if _, err := e.store.Register(a.Id, retirees[tg], fixture, allow); err != nil {
			t.Fatal(err)
		}
	}

	type row = servicetest.Cells
	want := map[string]map[string]row{"ListRetireeRegistrations": {
		"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
		"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
	}}
	servicetest.WithSupervisors(t, want, map[string]map[string]row{
		"ListRetireeRegistrations": servicetest.SupervisorCells(row{ok, ok, pd}, row{pd, pd, pd}),
	})
	callers := append(keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP), keys.Supervisors(t)...)
	for _, transport := range []string{"gRPC", "REST"} {
		t.Run(transport, func(t *testing.T) {
			call := func(ctx context.Context, tg target) error {
				if transport == "gRPC" {
					return servicetest.ErrOf(client.ListRetireeRegistrations(ctx, &pb.ListRetireeRegistrationsRequest{RetireeId: retirees[tg]}))
				}
				return rest(ctx, http.MethodGet, fmt.Sprintf("/v1/retirees/%s/registrations", retirees[tg]), "")
			}
			servicetest.RunMatrix(t, servicetest.Matrix{
				Calls:   map[string]func(target) func(context.Context) error{"ListRetireeRegistrations": servicetest.OnTarget(call)},
				Want:    want,
				Callers: callers,
			})
		})
	}
}
