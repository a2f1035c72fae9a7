package activity

import (
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// FuzzCheckActivity feeds arbitrary times, zones and recurrences to the
// validation: it must never panic, and whatever it accepts is a bounded,
// ordered schedule of sessions of the stated length.
func FuzzCheckActivity(f *testing.F) {
	f.Add("2026-12-01T09:00:00+08:00", "2026-12-01T11:00:00+08:00", "", int32(0), int32(0), "", false)
	f.Add("2027-01-31T23:30:00+08:00", "2027-02-01T01:00:00+08:00", "Asia/Shanghai", int32(1), int32(0), "2027-03-01", true)
	f.Add("2027-03-07T09:00:00-05:00", "2027-03-07T10:00:00-05:00", "America/New_York", int32(2), int32(30), "", true)
	f.Add("2099-12-31T23:00:00Z", "2100-01-01T11:00:00Z", "UTC", int32(4), int32(104), "", true)
	f.Add("2026-12-01T09:00:00+08:00", "2026-12-01T09:00:00.5+08:00", "Local", int32(-1), int32(1), "2026-13-01", true)
	zones := newZoneCache()
	f.Fuzz(func(t *testing.T, start, end, zone string, interval, count int32, until string, recurring bool) {
		a := &pb.Activity{
			CommunityId: communityA, VenueId: "bbbbbbbbbbbbbbbb", Title: "t", Category: pb.Category_OTHER,
			StartTime: start, EndTime: end, TimeZone: zone, Capacity: 1,
		}
		if recurring {
			a.Recurrence = &pb.Recurrence{IntervalWeeks: interval, Count: count, Until: until}
		}
		p, err := checkActivity(a, zones)
		if err != nil {
			return
		}
		if n := len(p.sessions); n < 1 || n > maxSessions {
			t.Fatalf("%d sessions", n)
		}
		first, err := time.Parse(time.RFC3339, p.activity.StartTime)
		if err != nil || first.Unix() != p.sessions[0].start {
			t.Fatalf("normalised start %q does not match the first session (%v)", p.activity.StartTime, err)
		}
		limit := first.In(p.loc).AddDate(seriesYears, 0, 0).Unix()
		for i, s := range p.sessions {
			if d := s.end - s.start; d <= 0 || d > maxDurationSec {
				t.Fatalf("session %d lasts %d s", i+1, d)
			}
			if i > 0 && s.start <= p.sessions[i-1].end {
				t.Fatalf("session %d starts before session %d ends", i+1, i)
			}
			if s.start > limit {
				t.Fatalf("session %d starts more than %d years after the first", i+1, seriesYears)
			}
		}
	})
}

// FuzzParseBound checks that a report's bound parses to an instant or an
// error, and that a date ending a range includes its whole day.
func FuzzParseBound(f *testing.F) {
	for _, s := range []string{"2026-07-01", "2026-07-01T00:00:00+08:00", "2026-02-30", "2026-07-01T00:00:00", "", "9999-12-31", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, errFrom := parseBound(s, shanghai, false)
		to, errTo := parseBound(s, shanghai, true)
		if (errFrom == nil) != (errTo == nil) {
			t.Fatalf("%q parses as a start (%v) but not as an end (%v), or the other way", s, errFrom, errTo)
		}
		if errFrom != nil {
			return
		}
		switch d := to.Sub(from); {
		case len(s) == len(time.DateOnly) && (d < 23*time.Hour || d > 25*time.Hour):
			t.Fatalf("the date %q spans %v", s, d)
		case len(s) != len(time.DateOnly) && d != 0:
			t.Fatalf("the instant %q moved by %v as an end", s, d)
		}
	})
}

// FuzzHashFeedToken feeds arbitrary text where a feed token goes (the
// feed's URL): it must never panic, and it is taken only when it is the
// one spelling of 256 bits that newFeedToken writes.
func FuzzHashFeedToken(f *testing.F) {
	token, _ := newFeedToken()
	for _, s := range []string{"", token, token + "=", token[:len(token)-1] + "B", strings.Repeat("中", 15), "../../etc/passwd", strings.Repeat("A", 43)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		hash, ok := hashFeedToken(s)
		if !ok {
			return
		}
		raw, err := feedTokenEncoding.DecodeString(s)
		if err != nil || len(raw) != feedTokenBytes || feedTokenEncoding.EncodeToString(raw) != s {
			t.Fatalf("took %q, which newFeedToken would not write", s)
		}
		if hash != sha256.Sum256([]byte(s)) {
			t.Fatalf("hash of %q is not its SHA-256", s)
		}
	})
}
