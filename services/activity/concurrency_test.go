package activity

import (
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// TestConcurrentRegistrations registers 50 retirees for a 10-place
// activity from 50 goroutines at once, through the gRPC server: exactly
// the first 10 positions are confirmed and 40 wait in order. Cancelling
// confirmed places then promotes the waiting list in position order, also
// when the cancellations themselves race.
func TestConcurrentRegistrations(t *testing.T) {
	t.Parallel()
	const places, people = 10, 50
	h := newHarness(t)
	retirees := livingIn(communityA, people)
	h.retirees(retirees...)
	venue := h.mustVenue(communityA, 40)
	a := oneOff(venue, sh(2026, 7, 1, 9, 0), 2*time.Hour)
	a.Capacity = places
	a = h.mustActivity(a)
	ctx := h.as(clerkP)

	results := make([]*pb.Registration, people)
	errs := make([]error, people)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, r := range retirees {
		wg.Go(func() {
			<-start
			resp, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: a.Id, RetireeId: r.Id})
			results[i], errs[i] = resp.GetRegistration(), err
		})
	}
	close(start)
	wg.Wait()

	byPosition := map[int64]*pb.Registration{}
	confirmed, waitlisted := 0, 0
	for i, r := range results {
		if errs[i] != nil {
			t.Fatalf("registration %d: %v", i, errs[i])
		}
		if byPosition[r.Position] != nil {
			t.Fatalf("position %d given twice", r.Position)
		}
		byPosition[r.Position] = r
		switch r.State {
		case pb.Registration_CONFIRMED:
			confirmed++
			if r.Position > places {
				t.Errorf("position %d confirmed, beyond the %d places", r.Position, places)
			}
		case pb.Registration_WAITLISTED:
			waitlisted++
		default:
			t.Errorf("registration in state %v", r.State)
		}
	}
	if confirmed != places || waitlisted != people-places {
		t.Fatalf("%d confirmed, %d waitlisted; want %d and %d", confirmed, waitlisted, places, people-places)
	}
	for pos := int64(1); pos <= people; pos++ {
		if byPosition[pos] == nil {
			t.Fatalf("no registration at position %d: positions must be 1 to %d", pos, people)
		}
	}

	cancel := func(pos int64) *pb.CancelRegistrationResponse {
		t.Helper()
		resp, err := h.client.CancelRegistration(ctx, &pb.CancelRegistrationRequest{ActivityId: a.Id, RetireeId: byPosition[pos].RetireeId})
		if err != nil {
			t.Fatalf("cancel position %d: %v", pos, err)
		}
		return resp
	}
	// One after another: each cancelled confirmed place goes to the first
	// waiting; a cancelled waiting one is skipped.
	var promoted []int64
	for _, pos := range []int64{3, 7} {
		promoted = append(promoted, cancel(pos).GetPromoted().GetPosition())
	}
	if resp := cancel(13); resp.Promoted != nil || resp.Registration.State != pb.Registration_CANCELLED {
		t.Errorf("cancelling a waiting registration: %v", resp)
	}
	promoted = append(promoted, cancel(1).GetPromoted().GetPosition())
	if diff := cmp.Diff([]int64{11, 12, 14}, promoted); diff != "" {
		t.Errorf("promoted positions (-want +got):\n%s", diff)
	}

	// Concurrently: five confirmed places freed at once go to the next five
	// waiting, whatever order the cancellations commit in.
	var mu sync.Mutex
	got := map[int64]bool{}
	for _, pos := range []int64{2, 4, 5, 6, 8} {
		wg.Go(func() {
			resp, err := h.client.CancelRegistration(ctx, &pb.CancelRegistrationRequest{ActivityId: a.Id, RetireeId: byPosition[pos].RetireeId})
			if err != nil {
				t.Errorf("cancel position %d: %v", pos, err)
				return
			}
			mu.Lock()
			got[resp.GetPromoted().GetPosition()] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if diff := cmp.Diff(map[int64]bool{15: true, 16: true, 17: true, 18: true, 19: true}, got); diff != "" {
		t.Errorf("promoted positions (-want +got):\n%s", diff)
	}

	// The list agrees: positions 9-12, 14-19 confirmed, 20-50 waiting.
	list, err := h.client.ListRegistrations(ctx, &pb.ListRegistrationsRequest{ActivityId: a.Id, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	states := map[pb.Registration_State][]int64{}
	for _, r := range list.Registrations {
		states[r.State] = append(states[r.State], r.Position)
	}
	want := map[pb.Registration_State][]int64{
		pb.Registration_CONFIRMED: {9, 10, 11, 12, 14, 15, 16, 17, 18, 19},
		pb.Registration_CANCELLED: {1, 2, 3, 4, 5, 6, 7, 8, 13},
	}
	for pos := int64(20); pos <= people; pos++ {
		want[pb.Registration_WAITLISTED] = append(want[pb.Registration_WAITLISTED], pos)
	}
	if diff := cmp.Diff(want, states); diff != "" {
		t.Errorf("registrations by state (-want +got):\n%s", diff)
	}
}

// TestConcurrentBookings creates 20 overlapping activities at one venue at
// once: exactly one wins, every other gets SCHEDULE_CONFLICT naming it.
func TestConcurrentBookings(t *testing.T) {
	t.Parallel()
	const racers = 20
	h := newHarness(t)
	venue := h.mustVenue(communityA, 40)
	ctx := h.as(clerkP)
	ids := make([]string, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			// Each starts a minute later than the one before: all overlap.
			a := weekly(venue, sh(2026, 7, 6, 9, i), time.Hour, 1, 8)
			<-start
			resp, err := h.client.CreateActivity(ctx, &pb.CreateActivityRequest{Activity: a})
			ids[i], errs[i] = resp.GetActivity().GetId(), err
		})
	}
	close(start)
	wg.Wait()
	winner := ""
	for i, err := range errs {
		if err == nil {
			if winner != "" {
				t.Fatalf("two overlapping activities were both booked: %s and %s", winner, ids[i])
			}
			winner = ids[i]
		}
	}
	if winner == "" {
		t.Fatal("no activity was booked")
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		info := errorInfo(wantCode(t, err, codes.AlreadyExists))
		if info.GetReason() != ReasonScheduleConflict || info.GetMetadata()["conflicting_activity_id"] != winner {
			t.Errorf("loser's ErrorInfo = %v, want a conflict with %s", info, winner)
		}
	}
}
