package workdays

import (
	"strings"
	"testing"
	"time"
)

func date(s string) time.Time {
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return d
}

// TestNationalDay2026: the week of 1–7 October 2026 is off, Sunday 20
// September and Saturday 10 October are worked, and deadlines step over
// the holiday accordingly.
func TestNationalDay2026(t *testing.T) {
	t.Parallel()
	c := Default()
	for day, want := range map[string]bool{
		"2026-09-18": true,  // Friday
		"2026-09-19": false, // Saturday
		"2026-09-20": true,  // Sunday, worked for National Day
		"2026-09-25": false, // Mid-Autumn, a Friday
		"2026-09-30": true,  // Wednesday
		"2026-10-01": false,
		"2026-10-05": false, // Monday of the holiday
		"2026-10-07": false,
		"2026-10-08": true,  // Thursday
		"2026-10-10": true,  // Saturday, worked
		"2026-10-11": false, // Sunday
		"2026-10-12": true,
	} {
		if got := c.IsWorkingDay(date(day)); got != want {
			t.Errorf("IsWorkingDay(%s) = %v, want %v", day, got, want)
		}
	}
	for _, tc := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-09-30", 1, "2026-10-08"},
		{"2026-09-30", 3, "2026-10-10"},
		{"2026-09-30", 4, "2026-10-12"},
		{"2026-09-19", 1, "2026-09-20"},
		{"2026-09-30", 0, "2026-09-30"},
		// 30 working days from 15 September: 16–18, 20–24, 28–30 September
		// (11), 8–10 and 12–16 October (19), 19–23 (24), 26–30 (29), 2 November.
		{"2026-09-15", 30, "2026-11-02"},
	} {
		got, known := c.AddWorkingDays(date(tc.from), tc.n)
		if got.Format(time.DateOnly) != tc.want || !known {
			t.Errorf("AddWorkingDays(%s, %d) = %s (known %v), want %s", tc.from, tc.n, got.Format(time.DateOnly), known, tc.want)
		}
		if back := c.WorkingDaysBetween(date(tc.from), got); back != tc.n {
			t.Errorf("WorkingDaysBetween(%s, %s) = %d, want %d", tc.from, tc.want, back, tc.n)
		}
	}
}

// TestUnknownYear: past the calendar's years only weekends are off, and
// a deadline that reaches there says it is not known.
func TestUnknownYear(t *testing.T) {
	t.Parallel()
	c := Default()
	if c.Known(2030) || !c.Known(2026) {
		t.Fatalf("Known(2030) = %v, Known(2026) = %v", c.Known(2030), c.Known(2026))
	}
	due, known := c.AddWorkingDays(date("2026-12-25"), 10)
	if known {
		t.Errorf("a deadline into an unlisted year is known")
	}
	if got := due.Format(time.DateOnly); got != "2027-01-08" {
		t.Errorf("due %s, want 2027-01-08 (weekends only)", got)
	}
}

// TestParseRefuses: a calendar file with a mistake is refused with its
// line, never half-read.
func TestParseRefuses(t *testing.T) {
	t.Parallel()
	for name, text := range map[string]string{
		"bad date":          "2026-13-01 holiday x\n",
		"bad kind":          "2026-10-01 off x\n",
		"weekday as worked": "2026-10-08 workday x\n",
		"twice":             "2026-10-01 holiday x\n2026-10-01 holiday y\n",
		"one field":         "2026-10-01\n",
	} {
		if _, err := Parse(strings.NewReader(text)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParse: any input is parsed or refused, and a parsed calendar
// answers for any day.
func FuzzParse(f *testing.F) {
	f.Add(defaultCalendar)
	f.Add("2026-10-10 workday 调休\n# x\n\n")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := Parse(strings.NewReader(text))
		if err != nil {
			return
		}
		d, _ := c.AddWorkingDays(date("2026-01-01"), 5)
		if c.WorkingDaysBetween(date("2026-01-01"), d) != 5 {
			t.Fatal("AddWorkingDays and WorkingDaysBetween disagree")
		}
	})
}
