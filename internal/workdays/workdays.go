// Package workdays counts Chinese working days: Monday to Friday, less the
// public holidays, plus the weekend days worked in their place (调休), as
// the State Council announces them for each year. Deadlines that
// regulations give in working days (a death reported within 20, an
// overpayment repaid within 30) are computed here.
//
// The calendar is data: calendar.txt, embedded as the default, or a file
// of the same format given at start (see Load), so a new year's notice
// needs no release. A date in a year the calendar does not know counts
// weekends only, and Calendar.Known says so, for callers to mark such a
// deadline provisional.
package workdays

import (
	"bufio"
	_ "embed"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// ChinaTime is the zone in which dates are days in China (UTC+8, no
// daylight saving): "today", a due day, the day a change was recorded.
var ChinaTime = time.FixedZone("CST", 8*60*60)

// Today is the date in China at t, at midnight UTC (the form dates are
// compared in here).
func Today(t time.Time) time.Time {
	y, m, d := t.In(ChinaTime).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// EndOfDay is the end of date day (its year, month and day, whatever its
// zone) in China: the first moment of the next day there, a due date's
// deadline.
func EndOfDay(day time.Time) time.Time {
	return time.Date(day.Year(), day.Month(), day.Day()+1, 0, 0, 0, 0, ChinaTime)
}

//go:embed calendar.txt
var defaultCalendar string

// maxLines bounds a calendar file: a few dozen lines a year.
const maxLines = 10_000

// Calendar says which days are working days.
type Calendar struct {
	// special holds the listed days: true for a workday, false for a
	// holiday.
	special map[time.Time]bool
	known   map[int]bool
}

// Default is the calendar shipped with this build.
func Default() *Calendar {
	c, err := Parse(strings.NewReader(defaultCalendar))
	if err != nil {
		panic("workdays: the embedded calendar: " + err.Error())
	}
	return c
}

// Load reads a calendar file; an empty path gives Default.
func Load(path string) (*Calendar, error) {
	if path == "" {
		return Default(), nil
	}
	f, err := os.Open(path) //nolint:gosec // G304: an operator's flag
	if err != nil {
		return nil, err
	}
	defer f.Close() //nolint:errcheck // read only: a close error loses nothing
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads a calendar: lines "YYYY-MM-DD holiday|workday NAME", blank
// lines and lines starting with '#' ignored.
func Parse(r io.Reader) (*Calendar, error) {
	c := &Calendar{special: map[time.Time]bool{}, known: map[int]bool{}}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		if n > maxLines {
			return nil, fmt.Errorf("more than %d lines", maxLines)
		}
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := c.add(line); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// add records one line of a calendar.
func (c *Calendar) add(line string) error {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return fmt.Errorf("want DATE KIND NAME, got %q", line)
	}
	day, err := time.Parse(time.DateOnly, fields[0])
	if err != nil {
		return fmt.Errorf("date %q: want YYYY-MM-DD", fields[0])
	}
	if _, dup := c.special[day]; dup {
		return fmt.Errorf("%s listed twice", fields[0])
	}
	weekend := isWeekend(day)
	switch fields[1] {
	case "holiday":
		c.special[day] = false
	case "workday":
		if !weekend {
			return fmt.Errorf("%s is a weekday: only a weekend day can be a make-up working day", fields[0])
		}
		c.special[day] = true
	default:
		return fmt.Errorf("kind %q: want holiday or workday", fields[1])
	}
	c.known[day.Year()] = true
	return nil
}

func isWeekend(day time.Time) bool {
	wd := day.Weekday()
	return wd == time.Saturday || wd == time.Sunday
}

// Known reports whether the calendar lists the holidays of year; in other
// years only weekends are days off.
func (c *Calendar) Known(year int) bool { return c.known[year] }

// IsWorkingDay reports whether the date of day (its year, month and day,
// whatever its zone) is a working day.
func (c *Calendar) IsWorkingDay(day time.Time) bool {
	d := dateOf(day)
	if w, ok := c.special[d]; ok {
		return w
	}
	return !isWeekend(d)
}

// AddWorkingDays returns the date n working days after day (n ≥ 0): the
// n-th working day that follows it. known is false when a year on the way
// is not in the calendar, so the answer counted weekends only there.
func (c *Calendar) AddWorkingDays(day time.Time, n int) (due time.Time, known bool) {
	d := dateOf(day)
	known = c.Known(d.Year())
	for n > 0 {
		d = d.AddDate(0, 0, 1)
		known = known && c.Known(d.Year())
		if c.IsWorkingDay(d) {
			n--
		}
	}
	return d, known
}

// WorkingDaysBetween counts the working days after from up to and
// including to (0 when to is not after from): how many working days of a
// deadline have passed on day to.
func (c *Calendar) WorkingDaysBetween(from, to time.Time) int {
	a, b := dateOf(from), dateOf(to)
	n := 0
	for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
		if c.IsWorkingDay(d) {
			n++
		}
	}
	return n
}

// dateOf is t's calendar date at midnight UTC.
func dateOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
