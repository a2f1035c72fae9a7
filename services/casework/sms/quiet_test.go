package sms

import (
	"testing"
	"time"
)

func TestParseQuietHours(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in         string
		start, end int
		ok         bool
	}{
		{"21:00-08:00", 21 * 60, 8 * 60, true},
		{"12:30-13:45", 12*60 + 30, 13*60 + 45, true},
		{"00:00-23:59", 0, 23*60 + 59, true},
		{"", 0, 0, true},
		{"none", 0, 0, true},
		{"21:00", 0, 0, false},
		{"21:00-21:00", 0, 0, false},
		{"24:00-08:00", 0, 0, false},
		{"21:60-08:00", 0, 0, false},
		{"9:00-18:00", 0, 0, false},
		{"+9:00-18:00", 0, 0, false},
		{"21:00-08:00-09:00", 0, 0, false},
		{"２１:00-08:00", 0, 0, false},
	} {
		q, err := ParseQuietHours(tc.in, shanghai)
		if (err == nil) != tc.ok {
			t.Errorf("%q: err %v, want ok %v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && (q.Start != tc.start || q.End != tc.end) {
			t.Errorf("%q: %d-%d, want %d-%d", tc.in, q.Start, q.End, tc.start, tc.end)
		}
	}
	if _, err := ParseQuietHours("21:00-08:00", nil); err == nil {
		t.Error("no time zone accepted")
	}
}

// TestNextSendTime: across midnight, at the edges, and with the instant
// given in another zone.
func TestNextSendTime(t *testing.T) {
	t.Parallel()
	night, err := ParseQuietHours("21:00-08:00", shanghai)
	if err != nil {
		t.Fatal(err)
	}
	lunch, err := ParseQuietHours("12:00-14:00", shanghai)
	if err != nil {
		t.Fatal(err)
	}
	none, err := ParseQuietHours("", shanghai)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		q    QuietHours
		now  time.Time
		want time.Time
	}{
		{"daytime", night, at(2026, 12, 7, 14, 0), at(2026, 12, 7, 14, 0)},
		{"last minute before", night, at(2026, 12, 7, 20, 59).Add(59 * time.Second), at(2026, 12, 7, 20, 59).Add(59 * time.Second)},
		{"start of quiet", night, at(2026, 12, 7, 21, 0), at(2026, 12, 8, 8, 0)},
		{"before midnight", night, at(2026, 12, 7, 23, 59), at(2026, 12, 8, 8, 0)},
		{"midnight", night, at(2026, 12, 8, 0, 0), at(2026, 12, 8, 8, 0)},
		{"after midnight", night, at(2026, 12, 8, 3, 15), at(2026, 12, 8, 8, 0)},
		{"last quiet second", night, at(2026, 12, 8, 7, 59).Add(59 * time.Second), at(2026, 12, 8, 8, 0)},
		{"end of quiet", night, at(2026, 12, 8, 8, 0), at(2026, 12, 8, 8, 0)},
		{"new year's eve", night, at(2026, 12, 31, 22, 0), at(2027, 1, 1, 8, 0)},
		{"given in UTC", night, at(2026, 12, 7, 22, 0).UTC(), at(2026, 12, 8, 8, 0)},
		{"same-day span", lunch, at(2026, 12, 7, 12, 30), at(2026, 12, 7, 14, 0)},
		{"after same-day span", lunch, at(2026, 12, 7, 14, 0), at(2026, 12, 7, 14, 0)},
		{"no quiet hours", none, at(2026, 12, 7, 23, 0), at(2026, 12, 7, 23, 0)},
	} {
		if got := tc.q.NextSendTime(tc.now); !got.Equal(tc.want) {
			t.Errorf("%s: NextSendTime(%v) = %v, want %v", tc.name, tc.now, got, tc.want)
		}
	}
}

// FuzzParseQuietHours: whatever the text, parsing does not panic, and
// what parses writes back as itself and never waits a day or more.
func FuzzParseQuietHours(f *testing.F) {
	for _, s := range []string{"21:00-08:00", "12:00-14:00", "", "none", "24:00-1:00", "-", "::-::"} {
		f.Add(s)
	}
	now := at(2026, 12, 7, 22, 0)
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ParseQuietHours(s, shanghai)
		if err != nil {
			return
		}
		if s != "" && q.String() != s {
			t.Errorf("%q parsed writes back as %q", s, q.String())
		}
		for i := range 48 {
			n := now.Add(time.Duration(i) * 30 * time.Minute)
			next := q.NextSendTime(n)
			if next.Before(n) || next.Sub(n) >= 24*time.Hour || q.Quiet(next) {
				t.Errorf("%q: NextSendTime(%v) = %v", s, n, next)
			}
		}
	})
}
