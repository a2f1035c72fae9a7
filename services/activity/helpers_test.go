package activity

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	// The tests' zones must load whether or not the machine has a zoneinfo
	// database, as they do in the program.
	_ "time/tzdata"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture communities: a clerk of the tests works for communityA only.
const (
	communityA = servicetest.CommunityA
	communityB = servicetest.CommunityB
	// unknownID is shaped like an id and names nothing.
	unknownID = "aaaaaaaaaaaaaaaa"
	// unknownCommunity is shaped like a community id and names none that
	// the fake registry knows.
	unknownCommunity = "210102009999"
)

// testNow is the fixed clock of the tests: 18:00 in Shanghai.
var testNow = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

// shanghai is the default zone of activities.
var shanghai = mustZone("Asia/Shanghai")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// env is a store on a fresh file whose projection follows a fake
// registry, and the clock it runs on.
type env struct {
	t        testing.TB
	store    *Store
	registry *servicetest.FakeRegistry
	// registryClient calls the fake registry.
	registryClient registryv1.RegistryServiceClient
	clock          *testclock.Clock
}

// newEnv opens a store in t.TempDir() with its projection following a
// fake registry; everything stops at the end of the test.
func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, registry: servicetest.NewFakeRegistry(), clock: testclock.New(testNow)}
	registry := servicetest.Serve(t, servicetest.Options{Name: "registry", Register: e.registry.Register})
	e.registryClient = registryv1.NewRegistryServiceClient(registry.Conn())
	store, err := OpenStore(filepath.Join(t.TempDir(), "activity.db"), e.registryClient, StoreOptions{
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Now:    e.clock.Now,
		// The tests read the audit log right after the reads it records.
		DurableReads: true,
		Checkpoints:  audit.Checkpoints{Service: "activity", Key: servicetest.AuditKey},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.store = store
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = store.Projection().Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
	})
	return e
}

// retirees publishes the states through the fake registry and waits until
// the projection has applied them.
func (e *env) retirees(states ...*registryv1.RetireeState) {
	e.t.Helper()
	var rev int64
	for _, st := range states {
		rev = e.registry.Change(st, registryv1.ChangeKind_UPDATED)
	}
	ctx, cancel := waitfor.Context(e.t)
	defer cancel()
	if err := e.store.Projection().WaitFor(ctx, uint64(rev)); err != nil {
		e.t.Fatalf("projection did not catch up: %v", err)
	}
}

// livingIn returns n new living retirees of a community, born in 1950.
func livingIn(community string, n int) []*registryv1.RetireeState {
	out := make([]*registryv1.RetireeState, n)
	for i := range out {
		out[i] = &registryv1.RetireeState{
			Id: inputcheck.NewOpaqueID(), CommunityId: community, Status: registryv1.RetireeStatus_LIVING,
			BirthDate: "1950-03-01", ManagementMode: registryv1.ManagementMode_COMMUNITY,
		}
	}
	return out
}

// Fixtures of venues and activities.

func venueOf(community string, capacity int32) *pb.Venue {
	return &pb.Venue{CommunityId: community, Name: "活动室", Address: "和平区北市场街1号", Capacity: capacity, AreaSqm: 120.5}
}

// mustVenue stores a venue.
func (e *env) mustVenue(community string, capacity int32) *pb.Venue {
	e.t.Helper()
	v := venueOf(community, capacity)
	if err := checkVenue(v, "", false); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.store.CreateVenue(v, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// oneOff is an activity of a venue from start (Shanghai wall clock) for d.
func oneOff(venue *pb.Venue, start time.Time, d time.Duration) *pb.Activity {
	return &pb.Activity{
		CommunityId: venue.CommunityId, VenueId: venue.Id, Title: "太极拳", Category: pb.Category_SPORTS,
		StartTime: start.In(shanghai).Format(time.RFC3339), EndTime: start.Add(d).In(shanghai).Format(time.RFC3339),
		Capacity: min(venue.Capacity, 30),
	}
}

// weekly is oneOff repeated every interval weeks, count times.
func weekly(venue *pb.Venue, start time.Time, d time.Duration, interval, count int32) *pb.Activity {
	a := oneOff(venue, start, d)
	a.Recurrence = &pb.Recurrence{IntervalWeeks: interval, Count: count}
	return a
}

// allow is the scope of a caller who sees everything.
func allow(string) error { return nil }

// mustActivity validates and stores an activity.
func (e *env) mustActivity(a *pb.Activity) *pb.Activity {
	e.t.Helper()
	out, err := e.createActivity(a)
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func (e *env) createActivity(a *pb.Activity) (*pb.Activity, error) {
	p, err := checkActivity(a, e.store.zones)
	if err != nil {
		return nil, err
	}
	return e.store.createActivity(p, allow)
}

// sh is a wall-clock time in Shanghai.
func sh(y int, m time.Month, d, hh, mm int) time.Time {
	return time.Date(y, m, d, hh, mm, 0, 0, shanghai)
}

// wantCode checks err's gRPC code (after the edge translation) and returns
// its status.
func wantCode(t testing.TB, err error, want codes.Code) *status.Status {
	t.Helper()
	return servicetest.WantCode(t, toStatus(err), want)
}

// toStatus turns a store error into what a client receives.
func toStatus(err error) error {
	return apierror.ToStatus(context.Background(), nil, err)
}

// errorInfo returns the ErrorInfo detail of st, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo { return servicetest.ErrorInfo(st) }

// violations returns the field violations of st as field -> description.
func violations(st *status.Status) map[string]string { return servicetest.Violations(st) }

// mustSubscribe stores a subscription of o to community's calendar and
// returns it with its feed token.
func (e *env) mustSubscribe(community string, o subscriber) (*pb.CalendarSubscription, string) {
	e.t.Helper()
	sub, token, err := e.store.Subscribe(community, o, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return sub, token
}
