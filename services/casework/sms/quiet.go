package sms

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultQuietHours are when no message goes out, in China's time zone.
const DefaultQuietHours = "21:00-08:00"

// QuietHours is a daily span of local time in which no message is sent:
// from Start (inclusive) to End (exclusive), wrapping past midnight when
// End is earlier than Start. The zero value has no quiet hours.
type QuietHours struct {
	// Start and End are minutes after local midnight.
	Start, End int
	// Loc is the time zone the hours are in.
	Loc *time.Location
}

// ParseQuietHours reads "HH:MM-HH:MM" (24-hour clock) in loc; "" or
// "none" is no quiet hours. Start and end must differ.
func ParseQuietHours(s string, loc *time.Location) (QuietHours, error) {
	if loc == nil {
		return QuietHours{}, fmt.Errorf("quiet hours: no time zone")
	}
	if s == "" || s == "none" {
		return QuietHours{Loc: loc}, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return QuietHours{}, fmt.Errorf("quiet hours %q: want HH:MM-HH:MM, e.g. %s", s, DefaultQuietHours)
	}
	start, err := parseClock(from)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours %q: start: %w", s, err)
	}
	end, err := parseClock(to)
	if err != nil {
		return QuietHours{}, fmt.Errorf("quiet hours %q: end: %w", s, err)
	}
	if start == end {
		return QuietHours{}, fmt.Errorf("quiet hours %q: start and end are the same time", s)
	}
	return QuietHours{Start: start, End: end, Loc: loc}, nil
}

// parseClock reads HH:MM, 00:00 to 23:59, as minutes after midnight.
func parseClock(s string) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	if !ok || len(hh) != 2 || len(mm) != 2 {
		return 0, fmt.Errorf("want HH:MM")
	}
	h, err1 := strconv.Atoi(hh)
	m, err2 := strconv.Atoi(mm)
	if err1 != nil || err2 != nil || hh[0] == '+' || mm[0] == '+' || hh[0] == '-' || mm[0] == '-' {
		return 0, fmt.Errorf("want HH:MM")
	}
	if h > 23 || m > 59 {
		return 0, fmt.Errorf("want a time from 00:00 to 23:59")
	}
	return h*60 + m, nil
}

// String writes q as ParseQuietHours reads it.
func (q QuietHours) String() string {
	if q.Start == q.End {
		return "none"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.Start/60, q.Start%60, q.End/60, q.End%60)
}

// Quiet reports whether t falls in the quiet hours.
func (q QuietHours) Quiet(t time.Time) bool {
	if q.Start == q.End {
		return false
	}
	local := t.In(q.Loc)
	m := local.Hour()*60 + local.Minute()
	if q.Start < q.End {
		return m >= q.Start && m < q.End
	}
	return m >= q.Start || m < q.End
}

// NextSendTime is the earliest time from now on at which a message may
// go out: now itself outside the quiet hours, else the end of the quiet
// hours now falls in (on the wall clock of Loc, so that a daylight-saving
// zone still gets its End).
func (q QuietHours) NextSendTime(now time.Time) time.Time {
	if !q.Quiet(now) {
		return now
	}
	local := now.In(q.Loc)
	y, mo, d := local.Date()
	end := time.Date(y, mo, d, q.End/60, q.End%60, 0, 0, q.Loc)
	if !end.After(local) {
		end = time.Date(y, mo, d+1, q.End/60, q.End%60, 0, 0, q.Loc)
	}
	return end
}
