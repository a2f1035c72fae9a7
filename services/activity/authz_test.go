package activity

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The matrix's targets: own is in the clerk's community, communityA;
// other in communityB, outside the clerk's scope; missing does not exist,
// an unknown venue or activity id.
const (
	own     = servicetest.Own
	other   = servicetest.Other
	missing = servicetest.Missing
)

// target is the object a matrix call names.
type target = servicetest.Target

// TestAuthorizationMatrix calls every RPC with real tokens as every role
// on an object in the clerk's community, in another, and missing. Admin
// does everything; bureau reads everything and changes nothing; a clerk
// reads and manages its own community and gets PermissionDenied for
// others' objects and for missing ones alike; the service role only
// creates venues; enterprises get nothing. ListRetireeRegistrations,
// whose object is a retiree, has its own matrix, over gRPC and REST
// (retiree_registrations_test.go).
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ia = codes.InvalidArgument
		na = servicetest.NA // the RPC names no object that can be missing
	)
	h := newHarness(t)
	c := h.client
	pool := map[target][]*registryv1.RetireeState{own: livingIn(communityA, 40), other: livingIn(communityB, 40)}
	h.retirees(append(slices.Clone(pool[own]), pool[other]...)...)
	communities := map[target]string{own: communityA, other: communityB, missing: communityA}
	// calendars names a community registry does not know as missing.
	calendars := map[target]string{own: communityA, other: communityB, missing: unknownCommunity}
	venues := map[target]*pb.Venue{
		own:     h.mustVenue(communityA, 100),
		other:   h.mustVenue(communityB, 100),
		missing: {Id: unknownID, CommunityId: communityA, Capacity: 100},
	}

	// Every new weekly activity gets its own hour of the week, so that
	// none clash.
	slot := 0
	activityAt := func(tg target, start time.Time) *pb.Activity {
		if tg == missing {
			return &pb.Activity{Id: unknownID}
		}
		a := weekly(venues[tg], start, time.Hour, 1, 4)
		return h.mustActivity(a)
	}
	freshActivity := func(tg target) *pb.Activity {
		slot++
		return activityAt(tg, sh(2026, 7, 1, 0, 0).Add(time.Duration(slot)*time.Hour))
	}
	// Retirees of the pool are handed out one per registration.
	next := map[target]int{}
	retiree := func(tg target) string {
		if tg == missing {
			return pool[own][0].Id
		}
		next[tg]++
		return pool[tg][next[tg]-1].Id
	}
	register := func(a *pb.Activity, tg target) string {
		id := retiree(tg)
		if tg != missing {
			if _, err := h.store.Register(a.Id, id, Actor{Subject: "fixture"}, allow); err != nil {
				t.Fatal(err)
			}
		}
		return id
	}
	shared := map[target]*pb.Activity{own: freshActivity(own), other: freshActivity(other), missing: freshActivity(missing)}
	for _, tg := range []target{own, other} {
		register(shared[tg], tg)
	}
	// started has a session that began a week before the tests' now.
	started := map[target]*pb.Activity{missing: {Id: unknownID, StartTime: "2026-06-08T18:00:00+08:00"}}
	startedAt := testNow.Add(-7 * 24 * time.Hour).Truncate(time.Hour)
	for _, tg := range []target{own, other} {
		started[tg] = activityAt(tg, startedAt.Add(time.Duration(tg)*2*time.Hour))
	}
	keys := 0

	calls := map[string]func(tg target) func(ctx context.Context) error{
		"CreateVenue": func(tg target) func(context.Context) error {
			keys++
			key := fmt.Sprintf("premises-%d", keys)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CreateVenue(ctx, &pb.CreateVenueRequest{Venue: venueOf(communities[tg], 40), RequestKey: key}))
			}
		},
		"GetVenue": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetVenue(ctx, &pb.GetVenueRequest{Id: venues[tg].Id}))
		}),
		"ListVenues": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListVenues(ctx, &pb.ListVenuesRequest{CommunityId: communities[tg]}))
		}),
		"CreateActivity": func(tg target) func(context.Context) error {
			slot++
			a := weekly(venues[tg], sh(2026, 7, 1, 0, 0).Add(time.Duration(slot)*time.Hour), time.Hour, 1, 2)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CreateActivity(ctx, &pb.CreateActivityRequest{Activity: a}))
			}
		},
		"GetActivity": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetActivity(ctx, &pb.GetActivityRequest{Id: shared[tg].Id}))
		}),
		"ListActivities by venue": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListActivities(ctx, &pb.ListActivitiesRequest{VenueId: venues[tg].Id}))
		}),
		"ListActivities by community": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListActivities(ctx, &pb.ListActivitiesRequest{CommunityId: communities[tg]}))
		}),
		"CancelActivity": func(tg target) func(context.Context) error {
			a := freshActivity(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CancelActivity(ctx, &pb.CancelActivityRequest{Id: a.Id, Reason: "场地维修"}))
			}
		},
		"RegisterRetiree": func(tg target) func(context.Context) error {
			id := retiree(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: shared[tg].Id, RetireeId: id}))
			}
		},
		"CancelRegistration": func(tg target) func(context.Context) error {
			id := register(shared[tg], tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CancelRegistration(ctx, &pb.CancelRegistrationRequest{ActivityId: shared[tg].Id, RetireeId: id}))
			}
		},
		"ListRegistrations": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListRegistrations(ctx, &pb.ListRegistrationsRequest{ActivityId: shared[tg].Id}))
		}),
		"RecordAttendance": func(tg target) func(context.Context) error {
			id := register(started[tg], tg)
			return func(ctx context.Context) error {
				_, err := c.RecordAttendance(ctx, &pb.RecordAttendanceRequest{
					Id: started[tg].Id, OccurrenceStart: started[tg].GetStartTime(), Present: []string{id},
				})
				return err
			}
		},
		"GetParticipationReport": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetParticipationReport(ctx, &pb.GetParticipationReportRequest{CommunityId: communities[tg]}))
		}),
		"GetCommunityCalendar": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetCommunityCalendar(ctx, &pb.GetCommunityCalendarRequest{CommunityId: calendars[tg]}))
		}),
		"SubscribeCalendar": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.SubscribeCalendar(ctx, &pb.SubscribeCalendarRequest{CommunityId: calendars[tg]}))
		}),
		"ListCalendarSubscriptions": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListCalendarSubscriptions(ctx, &pb.ListCalendarSubscriptionsRequest{CommunityId: communities[tg]}))
		}),
		// own is a subscription of the clerk's to its community's calendar,
		// other one of the bureau's to communityB's: only its owner and
		// admin may revoke one.
		"RevokeCalendarSubscription": func(tg target) func(context.Context) error {
			community, id := communityA, unknownID
			if tg != missing {
				owner := map[target]*subscriber{own: {clerkP.Subject, string(clerkP.Role)}, other: {bureauP.Subject, string(bureauP.Role)}}[tg]
				community = communities[tg]
				sub, _ := h.mustSubscribe(community, *owner)
				id = sub.Id
			}
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.RevokeCalendarSubscription(ctx, &pb.RevokeCalendarSubscriptionRequest{CommunityId: community, Id: id}))
			}
		},
		// The feed token is the credential, whoever calls with it.
		"GetCalendarFeed": func(tg target) func(context.Context) error {
			token := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
			if tg != missing {
				keys++
				_, token = h.mustSubscribe(communities[tg], subscriber{fmt.Sprintf("app-%d", keys), "clerk"})
			}
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.GetCalendarFeed(ctx, &pb.GetCalendarFeedRequest{FeedToken: token}))
			}
		},
	}
	calls["WatchWorkSignals"] = func(target) func(context.Context) error {
		return func(ctx context.Context) error { return watchSignalsOnce(ctx, c) }
	}
	// want[rpc][role] = codes for own, other, missing.
	type row = servicetest.Cells
	read := map[string]row{
		"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
		"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
	}
	readCommunity := map[string]row{
		"admin": {ok, ok, na}, "bureau": {ok, ok, na}, "clerk": {ok, pd, na},
		"enterprise": {pd, pd, na}, "service": {pd, pd, na},
	}
	manage := map[string]row{
		"admin": {ok, ok, nf}, "bureau": {pd, pd, pd}, "clerk": {ok, pd, pd},
		"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
	}
	want := map[string]map[string]row{
		"CreateVenue": {
			"admin": {ok, ok, na}, "bureau": {pd, pd, na}, "clerk": {ok, pd, na},
			"enterprise": {pd, pd, na}, "service": {ok, ok, na},
		},
		"GetVenue":   read,
		"ListVenues": readCommunity,
		"CreateActivity": {
			// A missing venue is a bad reference for those who may know.
			"admin": {ok, ok, ia}, "bureau": {pd, pd, pd}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"GetActivity":                 read,
		"ListActivities by venue":     read,
		"ListActivities by community": readCommunity,
		"CancelActivity":              manage,
		"RegisterRetiree":             manage,
		"CancelRegistration":          manage,
		"ListRegistrations":           read,
		"RecordAttendance":            manage,
		"GetParticipationReport":      readCommunity,
		"GetCommunityCalendar":        read,
		"SubscribeCalendar":           read,
		"ListCalendarSubscriptions":   readCommunity,
		"RevokeCalendarSubscription": {
			"admin": {ok, ok, nf}, "bureau": {pd, ok, pd}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"GetCalendarFeed": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, ok, nf},
			"enterprise": {ok, ok, nf}, "service": {ok, ok, nf},
		},
		// The work-signal feed is casework's, as a service: gRPC only.
		"WatchWorkSignals": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {ok, na, na},
		},
	}
	// Supervisors read in their area (own and other are both in it) as
	// the bureau does, get 403 for a missing object as for one elsewhere,
	// and manage nothing; like every reader they may subscribe to a
	// calendar of their area.
	area, elsewhere := row{ok, ok, pd}, row{pd, pd, pd}
	supervised := map[string]map[string]row{"GetCalendarFeed": servicetest.SupervisorCells(row{ok, ok, nf}, row{ok, ok, nf})}
	for _, rpc := range []string{"GetVenue", "GetActivity", "ListActivities by venue", "ListRegistrations", "GetCommunityCalendar", "SubscribeCalendar"} {
		supervised[rpc] = servicetest.SupervisorCells(area, elsewhere)
	}
	for _, rpc := range []string{"ListVenues", "ListActivities by community", "GetParticipationReport", "ListCalendarSubscriptions"} {
		supervised[rpc] = servicetest.SupervisorCells(row{ok, ok, na}, row{pd, pd, na})
	}
	// The calendars' missing community is in the district, not in the
	// street office: whether a community exists is no secret (every role
	// lists them), so a district supervisor learns it as the bureau does.
	for _, rpc := range []string{"GetCommunityCalendar", "SubscribeCalendar"} {
		supervised[rpc][servicetest.DistrictCaller] = row{ok, ok, nf}
	}
	servicetest.WithSupervisors(t, want, supervised)
	servicetest.RunMatrix(t, servicetest.Matrix{
		Calls: calls, Want: want,
		Callers: append(h.keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP), h.keys.Supervisors(t)...),
	})

	t.Run("no token", func(t *testing.T) {
		_, err := c.GetVenue(context.Background(), &pb.GetVenueRequest{Id: venues[own].Id})
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("code = %v, want Unauthenticated", status.Code(err))
		}
	})
	t.Run("service without request key", func(t *testing.T) {
		_, err := c.CreateVenue(h.as(serviceP), &pb.CreateVenueRequest{Venue: venueOf(communityA, 10)})
		st := wantCode(t, err, codes.InvalidArgument)
		if _, ok := violations(st)["requestKey"]; !ok {
			t.Errorf("violations %v do not name requestKey", violations(st))
		}
	})
}
