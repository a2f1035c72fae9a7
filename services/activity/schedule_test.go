package activity

import (
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

func TestSpanOverlaps(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b span
		want bool
	}{
		{"touching: a ends when b starts", span{100, 200}, span{200, 300}, false},
		{"touching: b ends when a starts", span{200, 300}, span{100, 200}, false},
		{"disjoint with a gap", span{100, 200}, span{201, 300}, false},
		{"overlap by one second", span{100, 201}, span{200, 300}, true},
		{"overlap at the start", span{150, 250}, span{100, 200}, true},
		{"identical", span{100, 200}, span{100, 200}, true},
		{"a contains b", span{100, 400}, span{200, 300}, true},
		{"b contains a", span{200, 300}, span{100, 400}, true},
		{"same start, different ends", span{100, 150}, span{100, 300}, true},
		{"same end, different starts", span{250, 300}, span{100, 300}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.a.overlaps(tc.b); got != tc.want {
				t.Errorf("%v.overlaps(%v) = %v, want %v", tc.a, tc.b, got, tc.want)
			}
			if got := tc.b.overlaps(tc.a); got != tc.want {
				t.Errorf("not symmetric: %v.overlaps(%v) = %v", tc.b, tc.a, got)
			}
		})
	}
}

// TestRecurrenceExpansion expands weekly activities in their zone's wall
// clock: across month and year ends, leap days, late evenings whose UTC
// date differs, and a DST zone whose UTC offset moves under them.
func TestRecurrenceExpansion(t *testing.T) {
	const venue = "bbbbbbbbbbbbbbbb"
	for _, tc := range []struct {
		name       string
		start, end string
		zone       string
		rec        *pb.Recurrence
		want       []string // session starts, RFC 3339 in the zone
		wantEnd    string   // end of the last session, when checked
	}{
		{
			name:  "one-off",
			start: "2027-01-31T09:00:00+08:00", end: "2027-01-31T11:00:00+08:00",
			want: []string{"2027-01-31T09:00:00+08:00"},
		},
		{
			name:  "every week from 29 January, by count, into February",
			start: "2027-01-29T09:00:00+08:00", end: "2027-01-29T11:00:00+08:00",
			rec:     &pb.Recurrence{Count: 5},
			want:    []string{"2027-01-29T09:00:00+08:00", "2027-02-05T09:00:00+08:00", "2027-02-12T09:00:00+08:00", "2027-02-19T09:00:00+08:00", "2027-02-26T09:00:00+08:00"},
			wantEnd: "2027-02-26T11:00:00+08:00",
		},
		{
			name:  "every week from 31 January until a session day, inclusive",
			start: "2027-01-31T14:30:00+08:00", end: "2027-01-31T16:00:00+08:00",
			rec:  &pb.Recurrence{IntervalWeeks: 1, Until: "2027-02-21"},
			want: []string{"2027-01-31T14:30:00+08:00", "2027-02-07T14:30:00+08:00", "2027-02-14T14:30:00+08:00", "2027-02-21T14:30:00+08:00"},
		},
		{
			name:  "every week until a day without a session",
			start: "2027-01-31T14:30:00+08:00", end: "2027-01-31T16:00:00+08:00",
			rec:  &pb.Recurrence{Until: "2027-02-20"},
			want: []string{"2027-01-31T14:30:00+08:00", "2027-02-07T14:30:00+08:00", "2027-02-14T14:30:00+08:00"},
		},
		{
			name:  "every two weeks from 30 January, across February and March",
			start: "2027-01-30T19:00:00+08:00", end: "2027-01-30T21:00:00+08:00",
			rec:  &pb.Recurrence{IntervalWeeks: 2, Count: 4},
			want: []string{"2027-01-30T19:00:00+08:00", "2027-02-13T19:00:00+08:00", "2027-02-27T19:00:00+08:00", "2027-03-13T19:00:00+08:00"},
		},
		{
			name:  "every two weeks from 31 January until 31 March",
			start: "2027-01-31T08:00:00+08:00", end: "2027-01-31T09:00:00+08:00",
			rec:  &pb.Recurrence{IntervalWeeks: 2, Until: "2027-03-31"},
			want: []string{"2027-01-31T08:00:00+08:00", "2027-02-14T08:00:00+08:00", "2027-02-28T08:00:00+08:00", "2027-03-14T08:00:00+08:00", "2027-03-28T08:00:00+08:00"},
		},
		{
			name:  "every four weeks across the year end",
			start: "2026-12-03T09:00:00+08:00", end: "2026-12-03T10:00:00+08:00",
			rec:  &pb.Recurrence{IntervalWeeks: 4, Count: 3},
			want: []string{"2026-12-03T09:00:00+08:00", "2026-12-31T09:00:00+08:00", "2027-01-28T09:00:00+08:00"},
		},
		{
			name:  "from a leap day",
			start: "2028-02-29T09:00:00+08:00", end: "2028-02-29T10:00:00+08:00",
			rec:  &pb.Recurrence{Count: 2},
			want: []string{"2028-02-29T09:00:00+08:00", "2028-03-07T09:00:00+08:00"},
		},
		{
			name:  "late evening: the UTC date is a day earlier, until counts the local date",
			start: "2027-01-31T23:30:00+08:00", end: "2027-02-01T01:00:00+08:00",
			rec:     &pb.Recurrence{Until: "2027-02-07"},
			want:    []string{"2027-01-31T23:30:00+08:00", "2027-02-07T23:30:00+08:00"},
			wantEnd: "2027-02-08T01:00:00+08:00",
		},
		{
			name:  "a start given in UTC is normalised to the zone",
			start: "2027-01-31T16:00:00Z", end: "2027-01-31T18:00:00Z",
			rec:  &pb.Recurrence{Until: "2027-02-08"},
			want: []string{"2027-02-01T00:00:00+08:00", "2027-02-08T00:00:00+08:00"},
		},
		{
			name:  "a DST zone keeps the wall clock as the offset changes",
			zone:  "America/New_York",
			start: "2027-03-07T09:00:00-05:00", end: "2027-03-07T10:00:00-05:00",
			rec:  &pb.Recurrence{Count: 2},
			want: []string{"2027-03-07T09:00:00-05:00", "2027-03-14T09:00:00-04:00"},
		},
		{
			name:  "104 weekly sessions fit in two years",
			start: "2027-01-04T09:00:00+08:00", end: "2027-01-04T10:00:00+08:00",
			rec: &pb.Recurrence{Count: 104},
			// Checked by count and the last one below.
			wantEnd: "2028-12-25T10:00:00+08:00",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := &pb.Activity{
				CommunityId: communityA, VenueId: venue, Title: "合唱团", Category: pb.Category_CULTURE,
				StartTime: tc.start, EndTime: tc.end, TimeZone: tc.zone, Capacity: 10, Recurrence: tc.rec,
			}
			p, err := checkActivity(a, newZoneCache())
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range p.sessions {
				got = append(got, formatUnix(s.start, p.loc))
				if d := time.Duration(s.end-s.start) * time.Second; d != p.sessions[0].duration() {
					t.Errorf("session at %s lasts %v, want %v", formatUnix(s.start, p.loc), d, p.sessions[0].duration())
				}
			}
			if tc.want != nil {
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("sessions (-want +got):\n%s", diff)
				}
			} else if tc.rec != nil && len(got) != int(tc.rec.Count) {
				t.Errorf("%d sessions, want %d", len(got), tc.rec.Count)
			}
			if tc.wantEnd != "" {
				if end := formatUnix(p.sessions[len(p.sessions)-1].end, p.loc); end != tc.wantEnd {
					t.Errorf("last session ends %s, want %s", end, tc.wantEnd)
				}
			}
		})
	}
}

func (s span) duration() time.Duration { return time.Duration(s.end-s.start) * time.Second }

func TestActivityValidation(t *testing.T) {
	valid := func() *pb.Activity {
		return &pb.Activity{
			CommunityId: communityA, VenueId: "bbbbbbbbbbbbbbbb", Title: "书法班", Category: pb.Category_EDUCATION,
			StartTime: "2026-12-01T09:00:00+08:00", EndTime: "2026-12-01T11:00:00+08:00", Capacity: 20,
		}
	}
	for _, tc := range []struct {
		name   string
		change func(a *pb.Activity)
		want   map[string]string
	}{
		{"valid", func(*pb.Activity) {}, nil},
		{"end before start", func(a *pb.Activity) { a.EndTime = "2026-12-01T08:00:00+08:00" }, map[string]string{"endTime": "must be after the start"}},
		{"end at start", func(a *pb.Activity) { a.EndTime = a.StartTime }, map[string]string{"endTime": "must be after the start"}},
		{"longer than 12 hours", func(a *pb.Activity) { a.EndTime = "2026-12-01T21:00:01+08:00" }, map[string]string{"endTime": "a session lasts at most 12 hours"}},
		{"exactly 12 hours", func(a *pb.Activity) { a.EndTime = "2026-12-01T21:00:00+08:00" }, nil},
		{"no offset", func(a *pb.Activity) { a.StartTime = "2026-12-01T09:00:00" }, map[string]string{"startTime": "must be an RFC 3339 time such as 2026-12-01T09:00:00+08:00"}},
		{"fractional second", func(a *pb.Activity) { a.StartTime = "2026-12-01T09:00:00.5+08:00" }, map[string]string{"startTime": "must be a whole second"}},
		{"unknown zone", func(a *pb.Activity) { a.TimeZone = "Mars/Olympus" }, map[string]string{"timeZone": "not a known IANA time zone, e.g. Asia/Shanghai"}},
		{"machine-local zone", func(a *pb.Activity) { a.TimeZone = "Local" }, map[string]string{"timeZone": "not a known IANA time zone, e.g. Asia/Shanghai"}},
		{"no category", func(a *pb.Activity) { a.Category = 0 }, map[string]string{"category": "must be one of CULTURE, SPORTS, HEALTH, EDUCATION, VOLUNTEER, OTHER"}},
		{"capacity 0", func(a *pb.Activity) { a.Capacity = 0 }, map[string]string{"capacity": "must be between 1 and the venue's capacity"}},
		{"both count and until", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{Count: 3, Until: "2027-01-01"} }, map[string]string{"recurrence": "set either count or until, not both"}},
		{"neither count nor until", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{IntervalWeeks: 2} }, map[string]string{"recurrence": "set count or until"}},
		{"interval 5", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{IntervalWeeks: 5, Count: 2} }, map[string]string{"recurrence.intervalWeeks": "must be between 1 and 4"}},
		{"count 105", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{Count: 105} }, map[string]string{"recurrence.count": "must be between 1 and 104"}},
		{"count beyond two years", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{IntervalWeeks: 2, Count: 60} }, map[string]string{"recurrence.count": "the last session would start more than 2 years after the first"}},
		{"until beyond two years", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{IntervalWeeks: 4, Until: "2029-01-01"} }, map[string]string{"recurrence.until": "the last session would start more than 2 years after the first"}},
		{"until beyond 104 sessions", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{Until: "2028-11-30"} }, map[string]string{"recurrence.until": "more than 104 sessions"}},
		{"until before the start", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{Until: "2026-11-30"} }, map[string]string{"recurrence.until": "before the first session"}},
		{"until not a date", func(a *pb.Activity) { a.Recurrence = &pb.Recurrence{Until: "2026-12-32"} }, map[string]string{"recurrence.until": "must be a date YYYY-MM-DD"}},
		{"year out of range", func(a *pb.Activity) {
			a.StartTime, a.EndTime = "1999-12-01T09:00:00+08:00", "1999-12-01T10:00:00+08:00"
		}, map[string]string{"startTime": "must be in the years 2000 to 2099"}},
		{"title with a newline", func(a *pb.Activity) { a.Title = "书法\n班" }, map[string]string{"title": "contains control characters"}},
		{"description may have newlines", func(a *pb.Activity) { a.Description = "第一行\n第二行" }, nil},
		{"bad venue id", func(a *pb.Activity) { a.VenueId = "../etc" }, map[string]string{"venueId": "not a venue id"}},
		{"bad community", func(a *pb.Activity) { a.CommunityId = "21010200100" }, map[string]string{"communityId": "must be a 12-digit division code"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := valid()
			tc.change(a)
			_, err := checkActivity(a, newZoneCache())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("checkActivity: %v", err)
				}
				return
			}
			st := wantCode(t, err, codes.InvalidArgument)
			if diff := cmp.Diff(tc.want, violations(st)); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClashes books activities at one venue and checks which later ones
// clash. The 409 names the conflicting activity and session, and the
// session of the new activity that clashes: a weekly activity meeting a
// one-off on its 7th week names that week.
func TestClashes(t *testing.T) {
	t.Parallel()
	// The weekly activity: Mondays 09:00-11:00 for 10 weeks from 6 July
	// 2026; its 7th session is on 17 August.
	first := sh(2026, 7, 6, 9, 0)
	week7 := first.AddDate(0, 0, 42)
	for _, tc := range []struct {
		name   string
		booked []func(v *pb.Venue) *pb.Activity
		// cancel cancels the first booked activity before the new one.
		cancel bool
		create func(v *pb.Venue) *pb.Activity
		// wantClash is the booked activity (index) and the metadata
		// expected, or -1 for no clash.
		wantClash int
		wantMeta  map[string]string
	}{
		{
			name:      "a one-off on the 7th week of a weekly activity",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 10) }},
			create:    func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(time.Hour), time.Hour) },
			wantClash: 0,
			wantMeta: map[string]string{
				"conflicting_occurrence_start": "2026-08-17T09:00:00+08:00",
				"conflicting_occurrence_end":   "2026-08-17T11:00:00+08:00",
				"occurrence_start":             "2026-08-17T10:00:00+08:00",
				"occurrence_number":            "1",
			},
		},
		{
			name:      "a weekly activity meeting a one-off on its 7th week",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(90*time.Minute), time.Hour) }},
			create:    func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 10) },
			wantClash: 0,
			wantMeta: map[string]string{
				"conflicting_occurrence_start": "2026-08-17T10:30:00+08:00",
				"conflicting_occurrence_end":   "2026-08-17T11:30:00+08:00",
				"occurrence_start":             "2026-08-17T09:00:00+08:00",
				"occurrence_number":            "7",
			},
		},
		{
			name:      "a one-off touching the end of a session",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 10) }},
			create:    func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(2*time.Hour), time.Hour) },
			wantClash: -1,
		},
		{
			name:      "a one-off touching the start of a session",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 10) }},
			create:    func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(-time.Hour), time.Hour) },
			wantClash: -1,
		},
		{
			name:      "a one-off in the week between two sessions",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 2, 5) }},
			create:    func(v *pb.Venue) *pb.Activity { return oneOff(v, first.AddDate(0, 0, 7), 2*time.Hour) },
			wantClash: -1,
		},
		{
			name:      "a one-off after the last session",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 6) }},
			create:    func(v *pb.Venue) *pb.Activity { return oneOff(v, week7, 2*time.Hour) },
			wantClash: -1,
		},
		{
			name: "a 12-hour session reaching into the next booking",
			booked: []func(*pb.Venue) *pb.Activity{
				func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(-12*time.Hour), 12*time.Hour) },
				func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(3*time.Hour), time.Hour) },
			},
			create:    func(v *pb.Venue) *pb.Activity { return oneOff(v, week7.Add(-30*time.Minute), time.Hour) },
			wantClash: 0,
			wantMeta: map[string]string{
				"conflicting_occurrence_start": "2026-08-16T21:00:00+08:00",
				"conflicting_occurrence_end":   "2026-08-17T09:00:00+08:00",
				"occurrence_start":             "2026-08-17T08:30:00+08:00",
				"occurrence_number":            "1",
			},
		},
		{
			name:      "a cancelled activity frees its sessions",
			booked:    []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 10) }},
			cancel:    true,
			create:    func(v *pb.Venue) *pb.Activity { return weekly(v, first.Add(time.Hour), 2*time.Hour, 1, 10) },
			wantClash: -1,
		},
		{
			name: "another venue's bookings do not count",
			booked: []func(*pb.Venue) *pb.Activity{func(v *pb.Venue) *pb.Activity {
				a := weekly(v, first, 2*time.Hour, 1, 10)
				a.VenueId = "" // replaced by the other venue below
				return a
			}},
			create:    func(v *pb.Venue) *pb.Activity { return weekly(v, first, 2*time.Hour, 1, 10) },
			wantClash: -1,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			venue := e.mustVenue(communityA, 50)
			other := e.mustVenue(communityA, 50)
			var booked []*pb.Activity
			for _, mk := range tc.booked {
				a := mk(venue)
				if a.VenueId == "" {
					a.VenueId = other.Id
				}
				booked = append(booked, e.mustActivity(a))
			}
			if tc.cancel {
				if _, err := e.store.CancelActivity(booked[0].Id, "场地维修", allow); err != nil {
					t.Fatal(err)
				}
			}
			created, err := e.createActivity(tc.create(venue))
			if tc.wantClash < 0 {
				if err != nil {
					t.Fatalf("create: %v, want no clash", err)
				}
				if created.Id == "" || created.State != pb.Activity_SCHEDULED {
					t.Errorf("created %v", created)
				}
				return
			}
			st := wantCode(t, err, codes.AlreadyExists)
			info := errorInfo(st)
			if info == nil || info.Reason != ReasonScheduleConflict {
				t.Fatalf("ErrorInfo = %v, want %s", info, ReasonScheduleConflict)
			}
			want := map[string]string{"conflicting_activity_id": booked[tc.wantClash].Id}
			for k, v := range tc.wantMeta {
				want[k] = v
			}
			if diff := cmp.Diff(want, info.Metadata); diff != "" {
				t.Errorf("metadata (-want +got):\n%s", diff)
			}
			// A rejected request changes nothing: the venue holds only the
			// booked sessions.
			list, _, err := e.store.listOccurrences(occurrenceQuery{venueID: venue.Id, from: first.AddDate(0, 0, -7).Unix(), to: first.AddDate(0, 0, 120).Unix()}, 1000, nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range list {
				if o.ActivityId != booked[tc.wantClash].Id && (len(booked) < 2 || o.ActivityId != booked[1].Id) {
					t.Errorf("session %s #%s of an activity that was refused", o.ActivityId, strconv.Itoa(int(o.Number)))
				}
			}
		})
	}
}
