package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// defaultActivityAddr is where `make run` starts the activity service.
	defaultActivityAddr = "127.0.0.1:9104"
	// activityCommunities is how many of the city's communities get venues
	// and a season of activities.
	activityCommunities = 12
	// seasonWeeks is how long the season runs; it began seasonPastWeeks
	// before the week of the seed, so that some sessions have attendance.
	seasonWeeks     = 16
	seasonPastWeeks = 4
	// rosterSize is how many of a community's living retirees are asked to
	// take part.
	rosterSize = 300
	// projectionWait bounds the wait for the activity service to learn of
	// the retirees just created in registry.
	projectionWait = 2 * time.Minute
	// projectionPoll is the pause between registration attempts while the
	// activity service does not know a retiree yet.
	projectionPoll = 250 * time.Millisecond
)

// seasonZone is the demo city's time: China Standard Time has no DST.
var seasonZone = time.FixedZone("CST", 8*3600)

// venueTemplate is a venue every seeded community gets.
type venueTemplate struct {
	name     string
	capacity int32
	area     float64
}

var venueTemplates = []venueTemplate{
	{name: "社区活动室", capacity: 40, area: 85},
	{name: "社区多功能厅", capacity: 80, area: 160},
}

// activityTemplate is a weekly activity of the season.
type activityTemplate struct {
	title    string
	category activityv1.Category
	venue    int
	// day is the weekday as days after Monday.
	day          int
	hour, minute int
	duration     time.Duration
	interval     int32
	capacity     int32
}

var activityTemplates = []activityTemplate{
	{"太极拳晨练", activityv1.Category_SPORTS, 0, 0, 7, 30, time.Hour, 1, 30},
	{"书法班", activityv1.Category_EDUCATION, 0, 1, 9, 0, 2 * time.Hour, 1, 20},
	{"合唱团排练", activityv1.Category_CULTURE, 1, 2, 14, 30, 90 * time.Minute, 1, 40},
	{"健康知识讲座", activityv1.Category_HEALTH, 1, 3, 9, 30, 90 * time.Minute, 2, 60},
	{"志愿者结对巡访", activityv1.Category_VOLUNTEER, 0, 4, 9, 0, 3 * time.Hour, 1, 15},
	{"棋牌友谊赛", activityv1.Category_OTHER, 1, 5, 14, 0, 2 * time.Hour, 1, 24},
}

// activitySummary is what the activity part of a seed did, by kind.
type activitySummary struct {
	venues, activities, registrations, attendance tally
}

// rows lists the tallies of every kind, in the order they are printed.
func (s *activitySummary) rows() tallyRows {
	return tallyRows{
		{"venues", &s.venues},
		{"activities", &s.activities},
		{"registrations", &s.registrations},
		{"attendance", &s.attendance},
	}
}

func (s *activitySummary) write(w io.Writer, addr string, elapsed time.Duration) {
	fmt.Fprintf(w, "Seeded venues and a season of activities into the activity service at %s in %v:\n", addr, elapsed.Round(100*time.Millisecond))
	s.rows().write(w, 13)
}

// seededActivity is an activity of the season, as created or found.
type seededActivity struct {
	id        string
	community string
	tmpl      activityTemplate
	first     time.Time
	sessions  int
	// k is the activity's index within its community.
	k int
}

// seedActivities gives the first activityCommunities communities of plan
// venues and a season of weekly activities, registers their living
// retirees (waiting lists included) and records attendance of the
// sessions already held. It is idempotent: venues carry request keys, an
// activity that is already booked is found through the clash it causes,
// registrations already made and attendance recorded again change
// nothing. An activity service that does not answer is skipped.
func seedActivities(ctx context.Context, cfg seedConfig, token string, registry registryv1.RegistryServiceClient, plan *cityPlan, out, progress io.Writer) error {
	conn, err := dialOptional(ctx, cfg, "activity service", cfg.activityAddr, authn.BearerCredentials(token), progress, "venues and activities")
	if conn == nil {
		return err
	}
	defer conn.Close()
	start := time.Now()
	s := newSeeder(registry, cfg.concurrency, progress)
	s.aborted, s.target = errActivityAborted, "a service"
	as := &activitySeeder{
		seeder:   s,
		activity: activityv1.NewActivityServiceClient(conn),
		seed:     cfg.seed,
		now:      time.Now(),
	}
	communities := plan.Communities[:min(activityCommunities, len(plan.Communities))]
	sum, err := as.run(ctx, communities)
	sum.write(out, cfg.activityAddr, time.Since(start))
	return err
}

// activitySeeder loads venues, activities and registrations; the embedded
// seeder gives it workers, retries and progress lines.
type activitySeeder struct {
	*seeder
	activity activityv1.ActivityServiceClient
	seed     uint64
	now      time.Time
	// projectionDeadline ends the wait for the projection; set by run.
	projectionDeadline time.Time
}

func (s *activitySeeder) run(parent context.Context, communities []*registryv1.Community) (*activitySummary, error) {
	ctx, abort := context.WithCancelCause(parent)
	defer abort(nil)
	sum := &activitySummary{}
	first := seasonStart(s.now)

	s.logf("creating venues and activities in %d communities", len(communities))
	activities := make([][]*seededActivity, len(communities))
	s.forEach(ctx, len(communities), func(ctx context.Context, i int) {
		activities[i] = s.community(ctx, abort, sum, communities[i].GetId(), first)
	})

	s.projectionDeadline = time.Now().Add(projectionWait)
	var all []*seededActivity
	for _, list := range activities {
		all = append(all, list...)
	}
	s.logf("registering retirees for %d activities", len(all))
	rosters := make([][]string, len(communities))
	s.forEach(ctx, len(communities), func(ctx context.Context, i int) {
		rosters[i] = s.roster(ctx, abort, communities[i].GetId())
	})
	var done atomic.Int64
	s.forEach(ctx, len(all), func(ctx context.Context, i int) {
		a := all[i]
		for ci, c := range communities {
			if c.GetId() == a.community {
				s.register(ctx, abort, sum, a, rosters[ci])
			}
		}
		if n := done.Add(1); n%20 == 0 {
			s.logf("activities %d/%d: %d registrations made, %d already present", n, len(all),
				sum.registrations.created.Load(), sum.registrations.present.Load())
		}
	})
	s.logf("recording attendance of the sessions held")
	s.forEach(ctx, len(all), func(ctx context.Context, i int) {
		s.attend(ctx, abort, sum, all[i])
	})

	return sum, outcome(parent, ctx, sum.rows().failed(), "activity operations")
}

// seasonStart is the Monday seasonPastWeeks weeks before the current
// week's, at midnight in the city: the same for every seed in one week.
func seasonStart(now time.Time) time.Time {
	d := now.In(seasonZone)
	monday := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, seasonZone).AddDate(0, 0, -((int(d.Weekday()) + 6) % 7))
	return monday.AddDate(0, 0, -7*seasonPastWeeks)
}

// community creates a community's venues and activities.
func (s *activitySeeder) community(ctx context.Context, abort context.CancelCauseFunc, sum *activitySummary, community string, season time.Time) []*seededActivity {
	venues := make([]string, len(venueTemplates))
	for i, vt := range venueTemplates {
		req := &activityv1.CreateVenueRequest{
			Venue: &activityv1.Venue{
				CommunityId: community, Name: vt.name, Capacity: vt.capacity, AreaSqm: vt.area,
				Address: fmt.Sprintf("社区服务中心%d楼", i+1),
			},
			RequestKey: fmt.Sprintf("seed-%d/venue/%s/%d", s.seed, community, i),
		}
		var resp *activityv1.CreateVenueResponse
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = s.activity.CreateVenue(ctx, req)
			return err
		})
		// The request key makes a repeated seed get the same venue back,
		// which counts as created: the service does not say which it was.
		s.count(ctx, abort, &sum.venues, err, "create venue in community "+community)
		if err != nil {
			return nil
		}
		venues[i] = resp.GetVenue().GetId()
	}
	var out []*seededActivity
	for k, at := range activityTemplates {
		first := season.AddDate(0, 0, at.day).Add(time.Duration(at.hour)*time.Hour + time.Duration(at.minute)*time.Minute)
		sessions := seasonWeeks / at.interval
		a := &activityv1.Activity{
			CommunityId: community, VenueId: venues[at.venue], Title: at.title, Category: at.category,
			StartTime: first.Format(time.RFC3339), EndTime: first.Add(at.duration).Format(time.RFC3339),
			TimeZone: "Asia/Shanghai", Capacity: at.capacity,
			Recurrence: &activityv1.Recurrence{IntervalWeeks: at.interval, Count: sessions},
		}
		var resp *activityv1.CreateActivityResponse
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = s.activity.CreateActivity(ctx, &activityv1.CreateActivityRequest{Activity: a})
			return err
		})
		id := resp.GetActivity().GetId()
		if status.Code(err) == codes.AlreadyExists {
			// Seeded before: the clash names the activity that holds the slot.
			id = reasonMetadata(err, "SCHEDULE_CONFLICT")["conflicting_activity_id"]
		}
		s.count(ctx, abort, &sum.activities, err, "create activity "+at.title+" in community "+community)
		if id != "" {
			out = append(out, &seededActivity{id: id, community: community, tmpl: at, first: first, sessions: int(sessions), k: k})
		}
	}
	return out
}

// roster returns up to rosterSize living retirees of a community.
func (s *activitySeeder) roster(ctx context.Context, abort context.CancelCauseFunc, community string) []string {
	var resp *registryv1.ListRetireesResponse
	err := s.call(ctx, func(ctx context.Context) error {
		var err error
		resp, err = s.client.ListRetirees(ctx, &registryv1.ListRetireesRequest{
			CommunityId: community, Status: registryv1.RetireeStatus_LIVING, PageSize: rosterSize,
		})
		return err
	})
	if err != nil {
		var t tally
		s.count(ctx, abort, &t, err, "list the retirees of community "+community)
		return nil
	}
	ids := make([]string, len(resp.GetRetirees()))
	for i, r := range resp.GetRetirees() {
		ids[i] = r.GetId()
	}
	return ids
}

// register fills an activity from the roster: its capacity and a few
// more, who go on the waiting list. Each activity of a community starts
// at another place in the roster.
func (s *activitySeeder) register(ctx context.Context, abort context.CancelCauseFunc, sum *activitySummary, a *seededActivity, roster []string) {
	if len(roster) == 0 {
		return
	}
	n := min(int(a.tmpl.capacity)+3, len(roster))
	for j := range n {
		id := roster[(a.k*37+j)%len(roster)]
		err := s.call(ctx, func(ctx context.Context) error {
			for {
				_, err := s.activity.RegisterRetiree(ctx, &activityv1.RegisterRetireeRequest{ActivityId: a.id, RetireeId: id})
				if !isUnknownRetiree(err) || time.Now().After(s.projectionDeadline) {
					return err
				}
				// The projection has not caught up with registry yet.
				select {
				case <-time.After(projectionPoll):
				case <-ctx.Done():
					return err
				}
			}
		})
		s.count(ctx, abort, &sum.registrations, err, fmt.Sprintf("register retiree for activity %s", a.id))
	}
}

// isUnknownRetiree reports whether err says the activity service does not
// know the retiree (yet).
func isUnknownRetiree(err error) bool {
	return status.Code(err) == codes.InvalidArgument && strings.Contains(status.Convert(err).Message(), "unknown retiree")
}

// attend records who came to each session already held: about three in
// four of the confirmed, the same ones on every seed.
func (s *activitySeeder) attend(ctx context.Context, abort context.CancelCauseFunc, sum *activitySummary, a *seededActivity) {
	var confirmed []string
	err := eachPage(func(token string) (string, error) {
		var resp *activityv1.ListRegistrationsResponse
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = s.activity.ListRegistrations(ctx, &activityv1.ListRegistrationsRequest{ActivityId: a.id, PageSize: 1000, PageToken: token})
			return err
		})
		for _, r := range resp.GetRegistrations() {
			if r.GetState() == activityv1.Registration_CONFIRMED {
				confirmed = append(confirmed, r.GetRetireeId())
			}
		}
		return resp.GetNextPageToken(), err
	})
	if err != nil {
		s.count(ctx, abort, &sum.attendance, err, "list the registrations of activity "+a.id)
		return
	}
	for k := range a.sessions {
		start := a.first.AddDate(0, 0, 7*int(a.tmpl.interval)*k)
		if !start.Before(s.now) {
			return
		}
		var present []string
		for _, id := range confirmed {
			if keep(a.id, k, id) {
				present = append(present, id)
			}
		}
		err := s.call(ctx, func(ctx context.Context) error {
			_, err := s.activity.RecordAttendance(ctx, &activityv1.RecordAttendanceRequest{
				Id: a.id, OccurrenceStart: start.Format(time.RFC3339), Present: present,
			})
			return err
		})
		s.count(ctx, abort, &sum.attendance, err, "record attendance of activity "+a.id)
	}
}

// keep decides, the same way on every seed, whether a retiree came to a
// session.
func keep(activity string, session int, retiree string) bool {
	h := fnv.New32a()
	h.Write([]byte(activity + "/" + strconv.Itoa(session) + "/" + retiree))
	return h.Sum32()%4 != 0
}

// reasonMetadata returns the metadata of err's ErrorInfo with the given
// reason, or nil.
func reasonMetadata(err error, reason string) map[string]string {
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reason {
			return info.GetMetadata()
		}
	}
	return nil
}

// errActivityAborted is the cause given when a failure means carrying on
// would only fail again.
var errActivityAborted = errors.New("activity seed aborted")
