package activity

import (
	"context"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	// The tests' zones must load whether or not the machine has a zoneinfo
	// database, as they do in the program.
	_ "time/tzdata"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/socmgmt/socmgmt/internal/apierror"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture communities: a clerk of the tests works for communityA only.
const (
	communityA = "210102001001"
	communityB = "210102001002"
	// unknownID is shaped like an id and names nothing.
	unknownID = "aaaaaaaaaaaaaaaa"
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

// clock is a test clock that tests may move.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// env is a store on a fresh file whose projection follows a fake
// registry, and the clock it runs on.
type env struct {
	t        testing.TB
	store    *Store
	registry *fakeRegistry
	clock    *clock
}

// newEnv opens a store in t.TempDir() with its projection following a
// fake registry; everything stops at the end of the test.
func newEnv(t testing.TB) *env {
	t.Helper()
	reg := newFakeRegistry()
	lis := bufconn.Listen(1 << 20)
	gs := grpc.NewServer()
	registryv1.RegisterRegistryServiceServer(gs, reg)
	go gs.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///registry",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{now: testNow}
	store, err := OpenStore(filepath.Join(t.TempDir(), "activity.db"), registryv1.NewRegistryServiceClient(conn), StoreOptions{
		Logger: zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)),
		Now:    clk.Now,
		// The tests read the audit log right after the reads it records.
		DurableReads: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := store.Projection().Run(ctx); err != nil {
			t.Errorf("projection: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		store.Close()
		conn.Close()
		gs.Stop()
	})
	return &env{t: t, store: store, registry: reg, clock: clk}
}

// retirees publishes the states through the fake registry and waits until
// the projection has applied them.
func (e *env) retirees(states ...*registryv1.RetireeState) {
	e.t.Helper()
	rev := e.registry.put(states...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.store.Projection().WaitFor(ctx, rev); err != nil {
		e.t.Fatalf("projection did not catch up: %v", err)
	}
}

// livingIn returns n new living retirees of a community, born in 1950.
func livingIn(community string, n int) []*registryv1.RetireeState {
	out := make([]*registryv1.RetireeState, n)
	for i := range out {
		out[i] = &registryv1.RetireeState{
			Id: newID(), CommunityId: community, Status: registryv1.RetireeStatus_LIVING,
			BirthDate: "1950-03-01", ManagementMode: registryv1.ManagementMode_COMMUNITY,
		}
	}
	return out
}

// fakeRegistry serves WatchRetirees from an in-memory change log.
type fakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer

	mu      sync.Mutex
	changes []*registryv1.WatchRetireesResponse
	grew    chan struct{}
}

func newFakeRegistry() *fakeRegistry { return &fakeRegistry{grew: make(chan struct{})} }

// put appends a change for each state and returns the head revision.
func (f *fakeRegistry) put(states ...*registryv1.RetireeState) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, st := range states {
		f.changes = append(f.changes, &registryv1.WatchRetireesResponse{
			Revision: int64(len(f.changes) + 1), Kind: registryv1.ChangeKind_UPDATED, Retiree: st,
		})
	}
	close(f.grew)
	f.grew = make(chan struct{})
	return uint64(len(f.changes))
}

// WatchRetirees replays the changes after the requested revision, then
// follows new ones.
func (f *fakeRegistry) WatchRetirees(req *registryv1.WatchRetireesRequest, stream grpc.ServerStreamingServer[registryv1.WatchRetireesResponse]) error {
	next := int(req.SinceRevision)
	for {
		f.mu.Lock()
		pending := slices.Clone(f.changes[min(next, len(f.changes)):])
		grew := f.grew
		f.mu.Unlock()
		for _, m := range pending {
			if err := stream.Send(m); err != nil {
				return err
			}
			next = int(m.Revision)
		}
		select {
		case <-grew:
		case <-stream.Context().Done():
			return nil
		}
	}
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
	st := status.Convert(toStatus(err))
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

// toStatus turns a store error into what a client receives.
func toStatus(err error) error {
	return apierror.ToStatus(context.Background(), nil, err)
}

// errorInfo returns the ErrorInfo detail of st, or nil.
func errorInfo(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info
		}
	}
	return nil
}

// violations returns the field violations of st as field -> description.
func violations(st *status.Status) map[string]string {
	out := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out[v.Field] = v.Description
			}
		}
	}
	return out
}
