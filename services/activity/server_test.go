package activity

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func TestCreateVenueRequestKey(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := h.as(serviceP)
	create := func(v *pb.Venue, key string) (*pb.Venue, error) {
		resp, err := h.client.CreateVenue(ctx, &pb.CreateVenueRequest{Venue: v, RequestKey: key})
		return resp.GetVenue(), err
	}
	first, err := create(venueOf(communityA, 80), "handover-7/premises-1")
	if err != nil {
		t.Fatal(err)
	}
	again, err := create(venueOf(communityA, 80), "handover-7/premises-1")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(first, again, protocmp.Transform()); diff != "" {
		t.Errorf("a repeated key did not return the first venue (-first +again):\n%s", diff)
	}
	_, err = create(venueOf(communityA, 81), "handover-7/premises-1")
	if info := errorInfo(wantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonRequestKeyReused {
		t.Errorf("reason = %v, want %s", info, ReasonRequestKeyReused)
	}
	second, err := create(venueOf(communityA, 80), "handover-7/premises-2")
	if err != nil {
		t.Fatal(err)
	}
	if second.Id == first.Id {
		t.Error("a new key returned the first venue")
	}
	list, err := h.client.ListVenues(h.as(adminP), &pb.ListVenuesRequest{CommunityId: communityA})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Venues) != 2 {
		t.Errorf("%d venues listed, want 2", len(list.Venues))
	}
}

func TestCreateActivityRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	venueA := h.mustVenue(communityA, 20)
	venueB := h.mustVenue(communityB, 20)
	ctx := h.as(adminP)
	for _, tc := range []struct {
		name   string
		a      *pb.Activity
		fields []string
	}{
		{"capacity above the venue's", func() *pb.Activity {
			a := oneOff(venueA, sh(2026, 7, 1, 9, 0), time.Hour)
			a.Capacity = 21
			return a
		}(), []string{"capacity"}},
		{"venue of another community", func() *pb.Activity {
			a := oneOff(venueB, sh(2026, 7, 1, 9, 0), time.Hour)
			a.CommunityId = communityA
			return a
		}(), []string{"venueId"}},
		{"unknown venue", func() *pb.Activity {
			a := oneOff(venueA, sh(2026, 7, 1, 9, 0), time.Hour)
			a.VenueId = unknownID
			return a
		}(), []string{"venueId"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.CreateActivity(ctx, &pb.CreateActivityRequest{Activity: tc.a})
			st := wantCode(t, err, codes.InvalidArgument)
			var got []string
			for f := range violations(st) {
				got = append(got, f)
			}
			if diff := cmp.Diff(tc.fields, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("output fields are the server's", func(t *testing.T) {
		a := oneOff(venueA, sh(2026, 7, 2, 9, 0), time.Hour)
		a.Id, a.State, a.CancelReason = "mine", pb.Activity_CANCELLED, "no"
		resp, err := h.client.CreateActivity(ctx, &pb.CreateActivityRequest{Activity: a})
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Activity
		if got.Id == "mine" || !inputcheck.IsOpaqueID(got.Id) || got.State != pb.Activity_SCHEDULED || got.CancelReason != "" || got.TimeZone != DefaultTimeZone {
			t.Errorf("created %v", got)
		}
	})
}

// TestRegistrationRules checks who can be registered and when.
func TestRegistrationRules(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	living := livingIn(communityA, 3)
	dead := &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: registryv1.RetireeStatus_DECEASED, BirthDate: "1940-01-01", DateOfDeath: "2026-01-01"}
	movedOut := &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: registryv1.RetireeStatus_MOVED_OUT, BirthDate: "1940-01-01"}
	// Alive and on the roster, but not where an activity can reach them.
	var absent []*registryv1.RetireeState
	for _, status := range []registryv1.RetireeStatus{registryv1.RetireeStatus_LOST_CONTACT, registryv1.RetireeStatus_IMPRISONED, registryv1.RetireeStatus_ABROAD} {
		absent = append(absent, &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: status, BirthDate: "1940-01-01", StatusEffectiveOn: "2026-01-01"})
	}
	elsewhere := livingIn(communityB, 1)[0]
	h.retirees(append(append(living, dead, movedOut, elsewhere), absent...)...)
	venue := h.mustVenue(communityA, 20)
	a := h.mustActivity(oneOff(venue, sh(2026, 7, 1, 9, 0), time.Hour))
	ctx := h.as(clerkP)
	register := func(activity, retiree string) (*pb.Registration, error) {
		resp, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: activity, RetireeId: retiree})
		return resp.GetRegistration(), err
	}

	for _, tc := range []struct {
		name, retiree, why string
	}{
		{"deceased", dead.Id, "retiree is not living"},
		{"moved out", movedOut.Id, "retiree is not living"},
		{"lost contact", absent[0].Id, "retiree is not living"},
		{"imprisoned", absent[1].Id, "retiree is not living"},
		{"abroad", absent[2].Id, "retiree is not living"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := register(a.Id, tc.retiree)
			st := wantCode(t, err, codes.InvalidArgument)
			if diff := cmp.Diff(map[string]string{"retireeId": tc.why}, violations(st)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
	// A clerk learns nothing of retirees it may not see: unknown ids and
	// retirees of other communities are refused alike; admin, who may know,
	// gets the reasons.
	for _, tc := range []struct {
		name, retiree string
	}{
		{"of another community", elsewhere.Id},
		{"unknown to the projection", inputcheck.NewOpaqueID()},
		{"not an id", "../../etc/passwd"},
	} {
		t.Run("clerk/"+tc.name, func(t *testing.T) {
			_, err := register(a.Id, tc.retiree)
			wantCode(t, err, codes.PermissionDenied)
		})
	}
	for _, tc := range []struct {
		name, retiree, why string
	}{
		{"of another community", elsewhere.Id, "retiree does not belong to the activity's community"},
		{"unknown to the projection", inputcheck.NewOpaqueID(), "unknown retiree"},
	} {
		t.Run("admin/"+tc.name, func(t *testing.T) {
			_, err := h.client.RegisterRetiree(h.as(adminP), &pb.RegisterRetireeRequest{ActivityId: a.Id, RetireeId: tc.retiree})
			st := wantCode(t, err, codes.InvalidArgument)
			if diff := cmp.Diff(map[string]string{"retireeId": tc.why}, violations(st)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("twice", func(t *testing.T) {
		first, err := register(a.Id, living[0].Id)
		if err != nil {
			t.Fatal(err)
		}
		_, err = register(a.Id, living[0].Id)
		if info := errorInfo(wantCode(t, err, codes.AlreadyExists)); info.GetReason() != ReasonAlreadyRegistered {
			t.Errorf("reason = %v, want %s", info, ReasonAlreadyRegistered)
		}
		// After cancelling, the retiree may register again, at the end.
		if _, err := register(a.Id, living[1].Id); err != nil {
			t.Fatal(err)
		}
		if _, err := h.client.CancelRegistration(ctx, &pb.CancelRegistrationRequest{ActivityId: a.Id, RetireeId: living[0].Id}); err != nil {
			t.Fatal(err)
		}
		_, err = h.client.CancelRegistration(ctx, &pb.CancelRegistrationRequest{ActivityId: a.Id, RetireeId: living[0].Id})
		wantCode(t, err, codes.NotFound)
		again, err := register(a.Id, living[0].Id)
		if err != nil {
			t.Fatal(err)
		}
		if again.Position <= first.Position+1 || again.State != pb.Registration_CONFIRMED {
			t.Errorf("registered again at %d (%v), want after position %d", again.Position, again.State, first.Position+1)
		}
		list, err := h.client.ListRegistrations(ctx, &pb.ListRegistrationsRequest{ActivityId: a.Id})
		if err != nil {
			t.Fatal(err)
		}
		if n := len(list.Registrations); n != 2 {
			t.Errorf("%d registrations listed, want 2 (one per retiree)", n)
		}
	})

	t.Run("cancelled activity", func(t *testing.T) {
		b := h.mustActivity(oneOff(venue, sh(2026, 7, 2, 9, 0), time.Hour))
		if _, err := register(b.Id, living[2].Id); err != nil {
			t.Fatal(err)
		}
		resp, err := h.client.CancelActivity(ctx, &pb.CancelActivityRequest{Id: b.Id, Reason: "暴雨预警"})
		if err != nil {
			t.Fatal(err)
		}
		if resp.Activity.State != pb.Activity_CANCELLED || resp.Activity.CancelReason != "暴雨预警" {
			t.Errorf("cancelled activity = %v", resp.Activity)
		}
		_, err = h.client.CancelActivity(ctx, &pb.CancelActivityRequest{Id: b.Id, Reason: "again"})
		if info := errorInfo(wantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonActivityCancelled {
			t.Errorf("cancel twice: reason %v", info)
		}
		_, err = register(b.Id, living[1].Id)
		if info := errorInfo(wantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonActivityCancelled {
			t.Errorf("register: reason %v", info)
		}
		list, err := h.client.ListRegistrations(ctx, &pb.ListRegistrationsRequest{ActivityId: b.Id})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Registrations) != 1 || !list.Registrations[0].ActivityCancelled || list.Registrations[0].State != pb.Registration_CONFIRMED {
			t.Errorf("registrations of the cancelled activity: %v", list.Registrations)
		}
	})

	t.Run("ended activity", func(t *testing.T) {
		c := h.mustActivity(oneOff(venue, sh(2026, 7, 3, 9, 0), time.Hour))
		h.clock.Set(sh(2026, 7, 3, 10, 0))
		defer h.clock.Set(testNow)
		_, err := register(c.Id, living[2].Id)
		if info := errorInfo(wantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonActivityEnded {
			t.Errorf("reason = %v, want %s", info, ReasonActivityEnded)
		}
	})

	t.Run("changes and reads are audited", func(t *testing.T) {
		entries, _, err := audit.List(h.store.DB(), living[0].Id, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range entries {
			if e.Subject != clerkP.Subject {
				t.Errorf("entry by %q, want %q", e.Subject, clerkP.Subject)
			}
			got = append(got, e.Action)
		}
		want := []string{"RegisterRetiree", "CancelRegistration", "RegisterRetiree", "ListRegistrations"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("audit of the retiree (-want +got):\n%s", diff)
		}
	})
}

// TestListActivities pages through a community's sessions in a range, in
// start order, and checks the range's bounds.
func TestListActivities(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	venue := h.mustVenue(communityA, 20)
	other := h.mustVenue(communityA, 20)
	weeklyA := h.mustActivity(weekly(venue, sh(2026, 7, 6, 9, 0), 2*time.Hour, 1, 10))
	oneOffB := h.mustActivity(oneOff(other, sh(2026, 7, 8, 14, 0), time.Hour))
	cancelled := h.mustActivity(oneOff(venue, sh(2026, 7, 10, 9, 0), time.Hour))
	h.mustActivity(oneOff(h.mustVenue(communityB, 20), sh(2026, 7, 9, 9, 0), time.Hour))
	ctx := h.as(clerkP)
	if _, err := h.client.CancelActivity(ctx, &pb.CancelActivityRequest{Id: cancelled.Id, Reason: "取消"}); err != nil {
		t.Fatal(err)
	}

	list := func(req *pb.ListActivitiesRequest) []string {
		t.Helper()
		var out []string
		for {
			resp, err := h.client.ListActivities(ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Occurrences) > int(req.PageSize) {
				t.Fatalf("page of %d, asked for %d", len(resp.Occurrences), req.PageSize)
			}
			for _, o := range resp.Occurrences {
				out = append(out, o.StartTime+" "+o.ActivityId[:4]+" "+o.State.String())
			}
			if resp.NextPageToken == "" {
				return out
			}
			req.PageToken = resp.NextPageToken
		}
	}
	july := &pb.ListActivitiesRequest{CommunityId: communityA, From: "2026-07-01T00:00:00+08:00", To: "2026-07-21T00:00:00+08:00", PageSize: 2}
	want := []string{
		"2026-07-06T09:00:00+08:00 " + weeklyA.Id[:4] + " SCHEDULED",
		"2026-07-08T14:00:00+08:00 " + oneOffB.Id[:4] + " SCHEDULED",
		"2026-07-10T09:00:00+08:00 " + cancelled.Id[:4] + " CANCELLED",
		"2026-07-13T09:00:00+08:00 " + weeklyA.Id[:4] + " SCHEDULED",
		"2026-07-20T09:00:00+08:00 " + weeklyA.Id[:4] + " SCHEDULED",
	}
	if diff := cmp.Diff(want, list(july)); diff != "" {
		t.Errorf("community's sessions (-want +got):\n%s", diff)
	}
	byVenue := &pb.ListActivitiesRequest{VenueId: other.Id, From: "2026-07-01T00:00:00+08:00", To: "2026-08-01T00:00:00+08:00", PageSize: 10}
	if diff := cmp.Diff(want[1:2], list(byVenue)); diff != "" {
		t.Errorf("venue's sessions (-want +got):\n%s", diff)
	}
	// [from, to): a session starting at to is not listed, one at from is.
	edge := &pb.ListActivitiesRequest{CommunityId: communityA, From: "2026-07-13T09:00:00+08:00", To: "2026-07-20T09:00:00+08:00", PageSize: 10}
	if diff := cmp.Diff(want[3:4], list(edge)); diff != "" {
		t.Errorf("sessions in [from, to) (-want +got):\n%s", diff)
	}

	t.Run("default range, paged while the clock moves", func(t *testing.T) {
		h.clock.Set(sh(2026, 7, 1, 0, 0))
		defer h.clock.Set(testNow)
		req := &pb.ListActivitiesRequest{CommunityId: communityA, PageSize: 2}
		first, err := h.client.ListActivities(ctx, req)
		if err != nil || first.NextPageToken == "" {
			t.Fatalf("first page: %v, token %q", err, first.GetNextPageToken())
		}
		h.clock.Set(sh(2026, 7, 1, 0, 0).Add(3 * time.Second))
		req.PageToken = first.NextPageToken
		second, err := h.client.ListActivities(ctx, req)
		if err != nil {
			t.Fatalf("second page: %v", err)
		}
		if got := second.Occurrences[0].StartTime; got != "2026-07-10T09:00:00+08:00" {
			t.Errorf("second page starts at %s, want the third session", got)
		}
	})

	for _, tc := range []struct {
		name  string
		req   *pb.ListActivitiesRequest
		field string
	}{
		{"range over 366 days", &pb.ListActivitiesRequest{CommunityId: communityA, From: "2026-07-01T00:00:00+08:00", To: "2027-07-03T00:00:00+08:00"}, "to"},
		{"to before from", &pb.ListActivitiesRequest{CommunityId: communityA, From: "2026-07-01T00:00:00+08:00", To: "2026-06-01T00:00:00+08:00"}, "to"},
		{"from not a time", &pb.ListActivitiesRequest{CommunityId: communityA, From: "July"}, "from"},
		{"neither community nor venue for a bureau", &pb.ListActivitiesRequest{}, "communityId"},
		{"a token of another query", &pb.ListActivitiesRequest{CommunityId: communityA, PageToken: func() string {
			resp, err := h.client.ListActivities(ctx, &pb.ListActivitiesRequest{CommunityId: communityA, From: july.From, To: july.To, PageSize: 1})
			if err != nil {
				t.Fatal(err)
			}
			return resp.NextPageToken
		}()}, "pageToken"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.ListActivities(h.as(bureauP), tc.req)
			if _, ok := violations(wantCode(t, err, codes.InvalidArgument))[tc.field]; !ok {
				t.Errorf("no violation of %s in %v", tc.field, err)
			}
		})
	}
}

// TestAttendanceAndReport records attendance and reads the participation
// report: sessions held, registrations, attendance rate, by category, and
// the aged-80+ (by flag, or by age on the day of a session attended) and
// living-alone participants.
func TestAttendanceAndReport(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	r1 := &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING, BirthDate: "1944-08-01"}
	// r2 turns 80 on 10 July 2026, between two sessions she attends.
	r2 := &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING, BirthDate: "1946-07-10"}
	r3 := &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING, BirthDate: "1955-05-05",
		Flags: []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE}}
	r4 := &registryv1.RetireeState{Id: inputcheck.NewOpaqueID(), CommunityId: communityA, Status: registryv1.RetireeStatus_LIVING, BirthDate: "1960-01-01",
		Flags: []registryv1.RetireeFlag{registryv1.RetireeFlag_AGED_80_PLUS}}
	r5 := livingIn(communityA, 1)[0]
	h.retirees(r1, r2, r3, r4, r5)
	venue := h.mustVenue(communityA, 20)
	sports := weekly(venue, sh(2026, 7, 6, 9, 0), 2*time.Hour, 1, 3) // 6, 13, 20 July
	sports.Capacity = 10
	x := h.mustActivity(sports)
	culture := oneOff(venue, sh(2026, 7, 8, 14, 0), time.Hour)
	culture.Category = pb.Category_CULTURE
	y := h.mustActivity(culture)
	health := oneOff(venue, sh(2026, 7, 9, 9, 0), time.Hour)
	health.Category = pb.Category_HEALTH
	z := h.mustActivity(health)
	ctx := h.as(clerkP)
	for _, reg := range []struct {
		a *pb.Activity
		r []*registryv1.RetireeState
	}{{x, []*registryv1.RetireeState{r1, r2, r3, r4, r5}}, {y, []*registryv1.RetireeState{r3, r4}}, {z, []*registryv1.RetireeState{r1}}} {
		for _, r := range reg.r {
			if _, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: reg.a.Id, RetireeId: r.Id}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := h.client.CancelActivity(ctx, &pb.CancelActivityRequest{Id: z.Id, Reason: "医生请假"}); err != nil {
		t.Fatal(err)
	}

	record := func(a *pb.Activity, start string, present ...string) (*pb.RecordAttendanceResponse, error) {
		return h.client.RecordAttendance(ctx, &pb.RecordAttendanceRequest{Id: a.Id, OccurrenceStart: start, Present: present})
	}
	// Before the session: too early.
	_, err := record(x, "2026-07-06T09:00:00+08:00", r1.Id)
	if info := errorInfo(wantCode(t, err, codes.FailedPrecondition)); info.GetReason() != ReasonSessionNotStarted {
		t.Errorf("reason = %v, want %s", info, ReasonSessionNotStarted)
	}
	h.clock.Set(sh(2026, 7, 21, 12, 0))
	defer h.clock.Set(testNow)

	for _, tc := range []struct {
		name   string
		a      *pb.Activity
		start  string
		ids    []string
		code   codes.Code
		fields map[string]string
	}{
		{"not a session", x, "2026-07-07T09:00:00+08:00", []string{r1.Id}, codes.InvalidArgument,
			map[string]string{"occurrenceStart": "not the start of a session of this activity"}},
		{"not registered", y, "2026-07-08T14:00:00+08:00", []string{r3.Id, r1.Id}, codes.InvalidArgument,
			map[string]string{"present[1]": "holds no confirmed registration"}},
		{"listed twice", y, "2026-07-08T14:00:00+08:00", []string{r3.Id, r3.Id}, codes.InvalidArgument,
			map[string]string{"present[1]": "listed twice"}},
		{"cancelled activity", z, "2026-07-09T09:00:00+08:00", []string{r1.Id}, codes.FailedPrecondition, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := record(tc.a, tc.start, tc.ids...)
			st := wantCode(t, err, tc.code)
			if tc.fields != nil {
				if diff := cmp.Diff(tc.fields, violations(st)); diff != "" {
					t.Errorf("violations (-want +got):\n%s", diff)
				}
			}
		})
	}

	// Recorded twice: the second record replaces the first. The same
	// instant written in UTC names the same session.
	if _, err := record(x, "2026-07-06T09:00:00+08:00", r1.Id, r2.Id, r5.Id); err != nil {
		t.Fatal(err)
	}
	resp, err := record(x, "2026-07-06T01:00:00Z", r1.Id, r2.Id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&pb.RecordAttendanceResponse{ActivityId: x.Id, OccurrenceStart: "2026-07-06T09:00:00+08:00", Present: 2, Confirmed: 5}, resp, protocmp.Transform()); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
	if _, err := record(x, "2026-07-13T09:00:00+08:00", r2.Id, r3.Id); err != nil {
		t.Fatal(err)
	}
	if _, err := record(y, "2026-07-08T14:00:00+08:00", r4.Id); err != nil {
		t.Fatal(err)
	}

	report := func(from, to string) *pb.GetParticipationReportResponse {
		t.Helper()
		resp, err := h.client.GetParticipationReport(ctx, &pb.GetParticipationReportRequest{CommunityId: communityA, From: from, To: to})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	want := &pb.GetParticipationReportResponse{
		CommunityId:     communityA,
		From:            "2026-07-01T00:00:00+08:00",
		To:              "2026-08-01T00:00:00+08:00",
		OccurrencesHeld: 4,
		Registrations:   7,
		Attended:        5,
		AttendanceRate:  5.0 / 12,
		ByCategory: []*pb.CategoryParticipation{
			{Category: pb.Category_CULTURE, Occurrences: 1, Registrations: 2, Attended: 1},
			{Category: pb.Category_SPORTS, Occurrences: 3, Registrations: 5, Attended: 4},
		},
		Aged_80PlusParticipants: 3,
		LivingAloneParticipants: 1,
		DistinctParticipants:    4,
	}
	if diff := cmp.Diff(want, report("2026-07-01", "2026-07-31"), protocmp.Transform()); diff != "" {
		t.Errorf("July's report (-want +got):\n%s", diff)
	}
	// Up to 12 July r2 was 79 at the one session she attended.
	early := report("2026-07-01T00:00:00+08:00", "2026-07-12T00:00:00+08:00")
	if early.Aged_80PlusParticipants != 2 || early.Attended != 3 || early.DistinctParticipants != 3 || early.OccurrencesHeld != 2 {
		t.Errorf("report to 12 July: %v", early)
	}

	_, err = h.client.GetParticipationReport(ctx, &pb.GetParticipationReportRequest{CommunityId: communityA, From: "2026-01-01", To: "2027-01-03"})
	if _, ok := violations(wantCode(t, err, codes.InvalidArgument))["to"]; !ok {
		t.Errorf("a range over 366 days: %v", err)
	}
}

// TestProjectionFollowsRegistry checks the registration rule against the
// projection's latest copy: a retiree who dies or moves can no longer be
// registered.
func TestProjectionFollowsRegistry(t *testing.T) {
	t.Parallel()
	h, r, venue := newHarnessWithRetiree(t)
	a := h.mustActivity(oneOff(venue, sh(2026, 7, 1, 9, 0), time.Hour))
	b := h.mustActivity(oneOff(venue, sh(2026, 7, 2, 9, 0), time.Hour))
	ctx := h.as(clerkP)
	if _, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: a.Id, RetireeId: r.Id}); err != nil {
		t.Fatal(err)
	}
	moved := &registryv1.RetireeState{Id: r.Id, CommunityId: communityB, Status: registryv1.RetireeStatus_LIVING, BirthDate: r.BirthDate}
	h.retirees(moved)
	// Moved to a community the clerk does not serve: no longer visible.
	_, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: b.Id, RetireeId: r.Id})
	wantCode(t, err, codes.PermissionDenied)
}

// TestCancelMidSeries cancels a weekly activity after two of its four
// sessions: those two were held (listed, reported, attendance recordable),
// the other two are cancelled and free the venue.
func TestCancelMidSeries(t *testing.T) {
	t.Parallel()
	h, r, venue := newHarnessWithRetiree(t)
	a := h.mustActivity(weekly(venue, sh(2026, 7, 6, 9, 0), time.Hour, 1, 4))
	ctx := h.as(clerkP)
	if _, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: a.Id, RetireeId: r.Id}); err != nil {
		t.Fatal(err)
	}
	h.clock.Set(sh(2026, 7, 14, 12, 0))
	defer h.clock.Set(testNow)
	if _, err := h.client.CancelActivity(ctx, &pb.CancelActivityRequest{Id: a.Id, Reason: "老师调走"}); err != nil {
		t.Fatal(err)
	}
	list, err := h.client.ListActivities(ctx, &pb.ListActivitiesRequest{VenueId: venue.Id, From: "2026-07-01T00:00:00+08:00", To: "2026-08-01T00:00:00+08:00"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range list.Occurrences {
		got = append(got, o.StartTime[:10]+" "+o.State.String())
	}
	want := []string{"2026-07-06 SCHEDULED", "2026-07-13 SCHEDULED", "2026-07-20 CANCELLED", "2026-07-27 CANCELLED"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sessions (-want +got):\n%s", diff)
	}
	if _, err := h.client.RecordAttendance(ctx, &pb.RecordAttendanceRequest{Id: a.Id, OccurrenceStart: "2026-07-13T09:00:00+08:00", Present: []string{r.Id}}); err != nil {
		t.Errorf("attendance of a session held before the cancellation: %v", err)
	}
	rep, err := h.client.GetParticipationReport(ctx, &pb.GetParticipationReportRequest{CommunityId: communityA, From: "2026-07-01", To: "2026-07-31"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OccurrencesHeld != 2 || rep.Attended != 1 {
		t.Errorf("report: %d held, %d attended; want 2 and 1", rep.OccurrencesHeld, rep.Attended)
	}
	// The cancelled sessions' slots are free again.
	h.mustActivity(oneOff(venue, sh(2026, 7, 20, 9, 0), time.Hour))
	_, err = h.createActivity(oneOff(venue, sh(2026, 7, 13, 9, 30), time.Hour))
	wantCode(t, err, codes.AlreadyExists)
}

// TestDeathOrMoveReleasesPlaces: when registry reports a registered
// retiree dead or moved to another community, its place in an activity
// not yet held is released and the first waitlisted moves up.
func TestDeathOrMoveReleasesPlaces(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	rs := livingIn(communityA, 3)
	h.retirees(rs...)
	venue := h.mustVenue(communityA, 20)
	act := oneOff(venue, sh(2026, 7, 1, 9, 0), time.Hour)
	act.Capacity = 1
	a := h.mustActivity(act)
	ctx := h.as(clerkP)
	for _, r := range rs {
		if _, err := h.client.RegisterRetiree(ctx, &pb.RegisterRetireeRequest{ActivityId: a.Id, RetireeId: r.Id}); err != nil {
			t.Fatal(err)
		}
	}
	states := func() map[string]pb.Registration_State {
		t.Helper()
		resp, err := h.client.ListRegistrations(ctx, &pb.ListRegistrationsRequest{ActivityId: a.Id})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]pb.Registration_State{}
		for _, r := range resp.Registrations {
			out[r.RetireeId] = r.State
		}
		return out
	}

	dead := proto.Clone(rs[0]).(*registryv1.RetireeState)
	dead.Status, dead.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-06-01"
	h.retirees(dead)
	want := map[string]pb.Registration_State{
		rs[0].Id: pb.Registration_CANCELLED, rs[1].Id: pb.Registration_CONFIRMED, rs[2].Id: pb.Registration_WAITLISTED,
	}
	if diff := cmp.Diff(want, states()); diff != "" {
		t.Errorf("after a death (-want +got):\n%s", diff)
	}

	moved := proto.Clone(rs[1]).(*registryv1.RetireeState)
	moved.CommunityId = communityB
	h.retirees(moved)
	want[rs[1].Id], want[rs[2].Id] = pb.Registration_CANCELLED, pb.Registration_CONFIRMED
	if diff := cmp.Diff(want, states()); diff != "" {
		t.Errorf("after a move (-want +got):\n%s", diff)
	}
}

// newHarnessWithRetiree starts a harness whose registry knows one living
// retiree of communityA, who may register for activities at the venue of
// 20 places it makes there.
func newHarnessWithRetiree(t *testing.T) (*harness, *registryv1.RetireeState, *pb.Venue) {
	t.Helper()
	h := newHarness(t)
	r := livingIn(communityA, 1)[0]
	h.retirees(r)
	return h, r, h.mustVenue(communityA, 20)
}
