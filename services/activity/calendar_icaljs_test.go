package activity

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// icalJSDir holds the check's npm package: ical.js, pinned by its
// package-lock.json and installed by `make tools`, and expand.mjs.
var icalJSDir = filepath.Join("testdata", "icaljs")

// icalJSOccurrence is one occurrence as expand.mjs prints it.
type icalJSOccurrence struct {
	UID   string `json:"uid"`
	TZID  string `json:"tzid"`
	Start int64  `json:"start"`
	End   int64  `json:"end"`
	Local string `json:"local"`
}

// expandWithICALJS expands a calendar with ical.js. Without node or the
// package it skips, except in CI (CI set), where `make tools` installs
// them and their absence is a failure.
func expandWithICALJS(t *testing.T, ics []byte) []icalJSOccurrence {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(icalJSDir, "node_modules", "ical.js", "package.json"))
	}
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("ical.js cannot run (%v); `make tools` installs it", err)
		}
		t.Skipf("ical.js cannot run (%v); `make tools` installs it", err)
	}
	file := filepath.Join(t.TempDir(), "calendar.ics")
	if err := os.WriteFile(file, ics, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, filepath.Join(icalJSDir, "expand.mjs"), file)
	var stderr limitedBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ical.js: %v\n%s", err, stderr.b)
	}
	var occ []icalJSOccurrence
	if err := json.Unmarshal(out, &occ); err != nil {
		t.Fatalf("ical.js output: %v\n%s", err, out)
	}
	return occ
}

// limitedBuffer keeps the first 4 KiB written to it.
type limitedBuffer struct{ b []byte }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.b = append(l.b, p[:min(len(p), 4096-len(l.b))]...)
	return len(p), nil
}

// TestCalendarInICALJS has ical.js, a parser not written in Go, expand
// weekly activities in zones with daylight saving time across changes in
// both directions (spring and autumn in Berlin, autumn in New York,
// autumn in Sydney), and in Shanghai, which has none. Every occurrence
// must be a session the service lists, at the same instant; the local
// time of a weekly activity's sessions stays the same on both sides of a
// change while the UTC offset moves; and each start is read in its
// activity's zone, as the feed's VTIMEZONE defines it.
func TestCalendarInICALJS(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.clock.Set(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	type series struct {
		zone       string
		start      time.Time
		count      int32
		until      string
		crossesDST bool
	}
	berlin, newYork, sydney := mustZone("Europe/Berlin"), mustZone("America/New_York"), mustZone("Australia/Sydney")
	all := []series{
		{zone: "Europe/Berlin", start: time.Date(2026, 3, 15, 10, 0, 0, 0, berlin), count: 5, crossesDST: true},
		{zone: "Europe/Berlin", start: time.Date(2026, 10, 13, 19, 30, 0, 0, berlin), until: "2026-11-10", crossesDST: true},
		{zone: "America/New_York", start: time.Date(2026, 10, 19, 8, 0, 0, 0, newYork), count: 4, crossesDST: true},
		{zone: "Australia/Sydney", start: time.Date(2026, 3, 23, 18, 0, 0, 0, sydney), count: 4, crossesDST: true},
		{zone: "Asia/Shanghai", start: sh(2026, 3, 10, 9, 0), count: 3},
	}
	zoneOf := map[string]string{}
	uids := make([]string, len(all))
	for i, s := range all {
		a := weekly(h.mustVenue(communityA, 50), s.start, 90*time.Minute, 1, s.count)
		a.StartTime, a.EndTime = s.start.Format(time.RFC3339), s.start.Add(90*time.Minute).Format(time.RFC3339)
		a.TimeZone = s.zone
		if s.until != "" {
			a.Recurrence = &pb.Recurrence{IntervalWeeks: 1, Until: s.until}
		}
		uids[i] = h.mustActivity(a).Id + "@socmgmt"
		zoneOf[uids[i]] = s.zone
	}
	ctx := h.as(adminP)
	resp, err := h.client.GetCommunityCalendar(ctx, &pb.GetCommunityCalendarRequest{CommunityId: communityA})
	if err != nil {
		t.Fatal(err)
	}
	occurrences := expandWithICALJS(t, resp.Ics)

	// What the service lists, by event UID: instants and local starts.
	type session struct {
		Start, End int64
		Local      string
	}
	listed := map[string][]session{}
	sessions := servicetest.AllPages(t, 10, func(page string) ([]*pb.Occurrence, string, error) {
		r, err := h.client.ListActivities(ctx, &pb.ListActivitiesRequest{
			CommunityId: communityA, From: "2026-03-01T00:00:00Z", To: "2027-01-01T00:00:00Z", PageSize: 100, PageToken: page,
		})
		return r.GetOccurrences(), r.GetNextPageToken(), err
	})
	for _, o := range sessions {
		start, _ := time.Parse(time.RFC3339, o.StartTime)
		end, _ := time.Parse(time.RFC3339, o.EndTime)
		listed[o.ActivityId+"@socmgmt"] = append(listed[o.ActivityId+"@socmgmt"], session{start.Unix(), end.Unix(), o.StartTime[:19]})
	}
	expanded := map[string][]session{}
	for _, o := range occurrences {
		if o.TZID != zoneOf[o.UID] {
			t.Errorf("%s: ical.js read a start in zone %q, want %q from the feed's VTIMEZONE", o.UID, o.TZID, zoneOf[o.UID])
		}
		expanded[o.UID] = append(expanded[o.UID], session{o.Start, o.End, o.Local})
	}
	if diff := cmp.Diff(listed, expanded); diff != "" {
		t.Errorf("ical.js's occurrences differ from the sessions listed (-listed +ical.js):\n%s\n%s", diff, resp.Ics)
	}

	for i, s := range all {
		uid := uids[i]
		clocks, offsets := map[string]bool{}, map[int64]bool{}
		for _, o := range expanded[uid] {
			local, err := time.Parse("2006-01-02T15:04:05", o.Local)
			if err != nil {
				t.Fatalf("%s: local time %q: %v", uid, o.Local, err)
			}
			clocks[local.Format("15:04")] = true
			offsets[local.Unix()-o.Start] = true
		}
		if len(clocks) != 1 || !clocks[s.start.Format("15:04")] {
			t.Errorf("%s %s: local start times %v, want %s throughout", s.zone, s.start, clocks, s.start.Format("15:04"))
		}
		if s.crossesDST && len(offsets) != 2 {
			t.Errorf("%s %s: UTC offsets %v: the series does not cross a change, so the test shows nothing", s.zone, s.start, offsets)
		}
	}
}
