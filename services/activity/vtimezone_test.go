package activity

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestTimeZone checks VTIMEZONEs written from Go's zone data: the
// observance in effect when the span begins, from its onset, then one per
// change of offset in the span, each DTSTART in the local time before the
// change.
func TestTimeZone(t *testing.T) {
	t.Parallel()
	utc := func(y int, m time.Month, d int) int64 { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() }
	for _, tc := range []struct {
		zone     string
		from, to int64
		want     []string
	}{
		{"Europe/Berlin", utc(2026, 3, 1), utc(2026, 11, 30), []string{
			"BEGIN:STANDARD", "DTSTART:20251026T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "END:STANDARD",
			"BEGIN:DAYLIGHT", "DTSTART:20260329T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "END:DAYLIGHT",
			"BEGIN:STANDARD", "DTSTART:20261025T030000", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "END:STANDARD",
		}},
		// Summer within the span: the observance it starts in, no change.
		{"Europe/Berlin", utc(2026, 5, 1), utc(2026, 6, 1), []string{
			"BEGIN:DAYLIGHT", "DTSTART:20260329T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "END:DAYLIGHT",
		}},
		{"America/New_York", utc(2026, 10, 1), utc(2027, 4, 1), []string{
			"BEGIN:DAYLIGHT", "DTSTART:20260308T020000", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "TZNAME:EDT", "END:DAYLIGHT",
			"BEGIN:STANDARD", "DTSTART:20261101T020000", "TZOFFSETFROM:-0400", "TZOFFSETTO:-0500", "TZNAME:EST", "END:STANDARD",
			"BEGIN:DAYLIGHT", "DTSTART:20270314T020000", "TZOFFSETFROM:-0500", "TZOFFSETTO:-0400", "TZNAME:EDT", "END:DAYLIGHT",
		}},
		// The southern hemisphere: daylight saving time over new year.
		{"Australia/Sydney", utc(2026, 3, 1), utc(2026, 12, 1), []string{
			"BEGIN:DAYLIGHT", "DTSTART:20251005T020000", "TZOFFSETFROM:+1000", "TZOFFSETTO:+1100", "TZNAME:AEDT", "END:DAYLIGHT",
			"BEGIN:STANDARD", "DTSTART:20260405T030000", "TZOFFSETFROM:+1100", "TZOFFSETTO:+1000", "TZNAME:AEST", "END:STANDARD",
			"BEGIN:DAYLIGHT", "DTSTART:20261004T020000", "TZOFFSETFROM:+1000", "TZOFFSETTO:+1100", "TZNAME:AEDT", "END:DAYLIGHT",
		}},
		// No change since daylight saving time ended in 1991.
		{"Asia/Shanghai", utc(2026, 1, 1), utc(2028, 1, 1), []string{
			"BEGIN:STANDARD", "DTSTART:19910915T020000", "TZOFFSETFROM:+0900", "TZOFFSETTO:+0800", "TZNAME:CST", "END:STANDARD",
		}},
		// Never a change: one observance from 1970.
		{"UTC", utc(2026, 1, 1), utc(2028, 1, 1), []string{
			"BEGIN:STANDARD", "DTSTART:19700101T000000", "TZOFFSETFROM:+0000", "TZOFFSETTO:+0000", "TZNAME:UTC", "END:STANDARD",
		}},
		// India's half hour.
		{"Asia/Kolkata", utc(2026, 1, 1), utc(2026, 2, 1), []string{
			"BEGIN:STANDARD", "DTSTART:19451015T000000", "TZOFFSETFROM:+0630", "TZOFFSETTO:+0530", "TZNAME:IST", "END:STANDARD",
		}},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			var w icsWriter
			w.timeZone(zoneSpan{name: tc.zone, loc: mustZone(tc.zone), from: tc.from, to: tc.to})
			got := strings.Split(strings.TrimSuffix(w.buf.String(), "\r\n"), "\r\n")
			want := append(append([]string{"BEGIN:VTIMEZONE", "TZID:" + tc.zone}, tc.want...), "END:VTIMEZONE")
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("VTIMEZONE (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUTCOffset(t *testing.T) {
	for sec, want := range map[int]string{
		0: "+0000", 8 * 3600: "+0800", -5 * 3600: "-0500", 5*3600 + 1800: "+0530",
		-(9*3600 + 30*60): "-0930", 3600 + 61: "+010101",
	} {
		if got := utcOffset(sec); got != want {
			t.Errorf("utcOffset(%d) = %q, want %q", sec, got, want)
		}
	}
}
