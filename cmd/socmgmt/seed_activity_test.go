package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// listingRegistry is the fake registry with ListRetirees, which the
// activity part of the seed reads its rosters with.
type listingRegistry struct {
	*fakeRegistry
}

func (f listingRegistry) ListRetirees(_ context.Context, req *registryv1.ListRetireesRequest) (*registryv1.ListRetireesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*registryv1.Retiree
	for _, r := range f.retirees {
		if r.GetCommunityId() == req.GetCommunityId() && r.GetStatus() == req.GetStatus() {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b *registryv1.Retiree) int { return strings.Compare(a.GetId(), b.GetId()) })
	return &registryv1.ListRetireesResponse{Retirees: out[:min(len(out), int(req.GetPageSize()))]}, nil
}

// fakeActivity keeps venues, activities and registrations in memory with
// the rules the seed relies on: request keys, clashes that name the
// booked activity, one registration per retiree, capacity, and a
// projection that lags: the first retirees asked about are unknown once.
type fakeActivity struct {
	activityv1.UnimplementedActivityServiceServer

	mu         sync.Mutex
	venueKeys  map[string]*activityv1.Venue
	activities map[string]*activityv1.Activity
	slots      map[string]string // venue and start -> activity id
	regs       map[string][]*activityv1.Registration
	known      map[string]bool // retirees the "projection" has seen
	lagging    int             // how many more retirees are unknown once
	attendance map[string][]string
	now        time.Time
}

func newFakeActivity(now time.Time) *fakeActivity {
	return &fakeActivity{
		venueKeys: map[string]*activityv1.Venue{}, activities: map[string]*activityv1.Activity{},
		slots: map[string]string{}, regs: map[string][]*activityv1.Registration{},
		known: map[string]bool{}, attendance: map[string][]string{}, now: now, lagging: 3,
	}
}

func (f *fakeActivity) CreateVenue(_ context.Context, req *activityv1.CreateVenueRequest) (*activityv1.CreateVenueResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.venueKeys[req.GetRequestKey()]; v != nil {
		return &activityv1.CreateVenueResponse{Venue: v}, nil
	}
	v := req.GetVenue()
	v.Id = fmt.Sprintf("v%03d", len(f.venueKeys))
	f.venueKeys[req.GetRequestKey()] = v
	return &activityv1.CreateVenueResponse{Venue: v}, nil
}

func (f *fakeActivity) CreateActivity(_ context.Context, req *activityv1.CreateActivityRequest) (*activityv1.CreateActivityResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := req.GetActivity()
	slot := a.GetVenueId() + "@" + a.GetStartTime()
	if id := f.slots[slot]; id != "" {
		st, err := status.New(codes.AlreadyExists, "booked").WithDetails(&errdetails.ErrorInfo{
			Reason: "SCHEDULE_CONFLICT", Domain: "socmgmt", Metadata: map[string]string{"conflicting_activity_id": id},
		})
		if err != nil {
			return nil, err
		}
		return nil, st.Err()
	}
	a.Id = fmt.Sprintf("a%03d", len(f.activities))
	f.activities[a.Id] = a
	f.slots[slot] = a.Id
	return &activityv1.CreateActivityResponse{Activity: a}, nil
}

func (f *fakeActivity) RegisterRetiree(_ context.Context, req *activityv1.RegisterRetireeRequest) (*activityv1.RegisterRetireeResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.known[req.GetRetireeId()] {
		f.known[req.GetRetireeId()] = true
		if f.lagging > 0 {
			f.lagging--
			return nil, status.Error(codes.InvalidArgument, "invalid argument: retireeId: unknown retiree")
		}
	}
	a := f.activities[req.GetActivityId()]
	if a == nil {
		return nil, status.Error(codes.NotFound, "activity not found")
	}
	confirmed := 0
	for _, r := range f.regs[a.Id] {
		if r.GetRetireeId() == req.GetRetireeId() {
			return nil, status.Error(codes.AlreadyExists, "already registered")
		}
		if r.GetState() == activityv1.Registration_CONFIRMED {
			confirmed++
		}
	}
	r := &activityv1.Registration{ActivityId: a.Id, RetireeId: req.GetRetireeId(), State: activityv1.Registration_CONFIRMED, Position: int64(len(f.regs[a.Id]) + 1)}
	if confirmed >= int(a.GetCapacity()) {
		r.State = activityv1.Registration_WAITLISTED
	}
	f.regs[a.Id] = append(f.regs[a.Id], r)
	return &activityv1.RegisterRetireeResponse{Registration: r}, nil
}

func (f *fakeActivity) ListRegistrations(_ context.Context, req *activityv1.ListRegistrationsRequest) (*activityv1.ListRegistrationsResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &activityv1.ListRegistrationsResponse{Registrations: slices.Clone(f.regs[req.GetActivityId()])}, nil
}

func (f *fakeActivity) RecordAttendance(_ context.Context, req *activityv1.RecordAttendanceRequest) (*activityv1.RecordAttendanceResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	start, err := time.Parse(time.RFC3339, req.GetOccurrenceStart())
	if err != nil || !start.Before(f.now) {
		return nil, status.Error(codes.FailedPrecondition, "session not started")
	}
	for _, id := range req.GetPresent() {
		i := slices.IndexFunc(f.regs[req.GetId()], func(r *activityv1.Registration) bool { return r.GetRetireeId() == id })
		if i < 0 || f.regs[req.GetId()][i].GetState() != activityv1.Registration_CONFIRMED {
			return nil, status.Error(codes.InvalidArgument, "not confirmed")
		}
	}
	f.attendance[req.GetId()+"@"+req.GetOccurrenceStart()] = req.GetPresent()
	return &activityv1.RecordAttendanceResponse{ActivityId: req.GetId(), Present: int32(len(req.GetPresent()))}, nil
}

// startFakeServer serves a registry or activity fake on a loopback port
// behind token verification.
func startFakeServer(t *testing.T, pub ed25519.PublicKey, register func(*grpc.Server)) string {
	t.Helper()
	return servicetest.Serve(t, servicetest.Options{
		Name: "fake", Keys: servicetest.Keys{Public: pub}, TCP: true,
		Register: func(srv *grpcserver.Server) { register(srv.GRPC()) },
	}).Addr()
}

func TestSeedActivities(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	regAddr := startFakeServer(t, pub, func(s *grpc.Server) { registryv1.RegisterRegistryServiceServer(s, listingRegistry{reg}) })
	act := newFakeActivity(time.Now())
	actAddr := startFakeServer(t, pub, func(s *grpc.Server) { activityv1.RegisterActivityServiceServer(s, act) })
	cfg := seedConfig{registryAddr: regAddr, activityAddr: actAddr, keyFile: keyFile, retirees: 1500, seed: 5, concurrency: 8}

	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("seed: %v\nprogress:\n%s", err, progress.String())
	}
	wantVenues := activityCommunities * len(venueTemplates)
	wantActivities := activityCommunities * len(activityTemplates)
	act.mu.Lock()
	if n := len(act.venueKeys); n != wantVenues {
		t.Errorf("%d venues, want %d", n, wantVenues)
	}
	if n := len(act.activities); n != wantActivities {
		t.Errorf("%d activities, want %d", n, wantActivities)
	}
	registrations, waitlisted := 0, 0
	for id, regs := range act.regs {
		a := act.activities[id]
		confirmed := 0
		for _, r := range regs {
			switch r.GetState() {
			case activityv1.Registration_CONFIRMED:
				confirmed++
			case activityv1.Registration_WAITLISTED:
				waitlisted++
			}
		}
		registrations += len(regs)
		if confirmed > int(a.GetCapacity()) {
			t.Errorf("activity %s: %d confirmed over capacity %d", id, confirmed, a.GetCapacity())
		}
	}
	if act.lagging != 0 {
		t.Errorf("the seed did not ask about enough retirees to meet the projection's lag")
	}
	if registrations == 0 || waitlisted == 0 {
		t.Errorf("%d registrations, %d waitlisted: want both, the season fills its activities", registrations, waitlisted)
	}
	now := time.Now()
	for key, present := range act.attendance {
		start, _ := time.Parse(time.RFC3339, key[strings.Index(key, "@")+1:])
		if !start.Before(now) {
			t.Errorf("attendance recorded for a future session %s", key)
		}
		if len(present) == 0 {
			t.Errorf("nobody at %s", key)
		}
	}
	if len(act.attendance) < wantActivities*(seasonPastWeeks-1)/2 {
		t.Errorf("attendance of %d sessions recorded, want the past sessions of %d activities", len(act.attendance), wantActivities)
	}
	act.mu.Unlock()
	sum := collapseSpaces(out.String())
	for _, want := range []string{
		fmt.Sprintf("venues  %d  0  0", wantVenues),
		fmt.Sprintf("activities  %d  0  0", wantActivities),
		fmt.Sprintf("registrations  %d  0  0", registrations),
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}

	// The second run finds the activities through their clashes and the
	// registrations already made, and changes nothing.
	out.Reset()
	progress.Reset()
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("second seed: %v\nprogress:\n%s", err, progress.String())
	}
	act.mu.Lock()
	if n, m := len(act.venueKeys), len(act.activities); n != wantVenues || m != wantActivities {
		t.Errorf("second seed: %d venues, %d activities; want %d, %d", n, m, wantVenues, wantActivities)
	}
	act.mu.Unlock()
	sum = collapseSpaces(out.String())
	for _, want := range []string{
		fmt.Sprintf("activities  0  %d  0", wantActivities),
		fmt.Sprintf("registrations  0  %d  0", registrations),
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("second summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSeedActivitiesUnreachable(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	regAddr := startFakeServer(t, pub, func(s *grpc.Server) { registryv1.RegisterRegistryServiceServer(s, listingRegistry{newFakeRegistry()}) })
	cfg := seedConfig{registryAddr: regAddr, activityAddr: "127.0.0.1:1", keyFile: keyFile, retirees: 10, seed: 1, concurrency: 2, reachTimeout: 300 * time.Millisecond}
	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Errorf("seed: %v; want the registry seeded and activities skipped", err)
	}
	if p := progress.String(); !strings.Contains(p, "activity service not reachable at 127.0.0.1:1 (") || !strings.Contains(p, "; skipping venues and activities") {
		t.Errorf("progress does not say activities were skipped:\n%s", progress.String())
	}
	if strings.Contains(out.String(), "activity service at") {
		t.Errorf("summary reports activities that were skipped:\n%s", out.String())
	}
}

func TestSeasonStart(t *testing.T) {
	for _, tc := range []struct{ now, want string }{
		{"2026-06-15T10:00:00+08:00", "2026-05-18T00:00:00+08:00"}, // a Monday
		{"2026-06-21T23:59:00+08:00", "2026-05-18T00:00:00+08:00"}, // the Sunday after
		{"2026-06-21T16:30:00Z", "2026-05-25T00:00:00+08:00"},      // already Monday in the city
	} {
		now, err := time.Parse(time.RFC3339, tc.now)
		if err != nil {
			t.Fatal(err)
		}
		if got := seasonStart(now).Format(time.RFC3339); got != tc.want {
			t.Errorf("seasonStart(%s) = %s, want %s", tc.now, got, tc.want)
		}
	}
}
