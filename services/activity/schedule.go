package activity

import (
	"fmt"
	"time"

	"github.com/socmgmt/socmgmt/internal/fault"
)

// Bounds of scheduling.
const (
	// maxDuration bounds one session, which bounds how far back the clash
	// check has to look in a venue's index.
	maxDuration = 12 * time.Hour
	// maxSessions bounds the sessions of a weekly activity: two years of
	// weekly sessions.
	maxSessions = 104
	// maxIntervalWeeks is the longest gap between weekly sessions.
	maxIntervalWeeks = 4
	// seriesYears bounds how far after the first session the last may
	// start.
	seriesYears = 2
	// minYear and maxYear bound the year of a first session, which keeps
	// every stored time a positive Unix second.
	minYear, maxYear = 2000, 2099
)

// span is a half-open interval [start, end) of Unix seconds.
type span struct {
	start, end int64
}

// overlaps reports whether a and b share an instant. Spans that only touch
// (one ends when the other starts) do not overlap.
func (a span) overlaps(b span) bool {
	return a.start < b.end && b.start < a.end
}

// series is a validated activity's schedule: a first session, and for a
// weekly activity how it repeats, in the wall clock of loc.
type series struct {
	// first is the first session; its start is in loc.
	first    time.Time
	duration time.Duration
	loc      *time.Location
	// weekly is false for a one-off activity.
	weekly        bool
	intervalWeeks int
	// count is the number of sessions; zero when until bounds them.
	count int
	// until is the last date (inclusive, in loc) a session may start on;
	// only its date counts. Zero when count bounds them.
	until time.Time
}

// expand returns the sessions of s in order. A weekly series keeps its
// local start time every intervalWeeks weeks, whatever the zone's offset
// does in between. The violations name the recurrence's fields when the
// series is longer than maxSessions or than seriesYears.
func (s series) expand() ([]span, error) {
	if !s.weekly {
		return []span{s.sessionAt(s.first)}, nil
	}
	first := s.first.In(s.loc)
	limit := first.AddDate(seriesYears, 0, 0)
	y, m, d := first.Date()
	hh, mm, ss := first.Clock()
	var out []span
	for k := 0; ; k++ {
		if s.count > 0 && k == s.count {
			break
		}
		start := time.Date(y, m, d+7*s.intervalWeeks*k, hh, mm, ss, 0, s.loc)
		if s.count == 0 && start.After(s.untilEnd()) {
			break
		}
		if len(out) == maxSessions {
			field := "recurrence.until"
			if s.count > 0 {
				field = "recurrence.count"
			}
			return nil, fault.Invalid(field, fmt.Sprintf("more than %d sessions", maxSessions))
		}
		if start.After(limit) {
			field := "recurrence.until"
			if s.count > 0 {
				field = "recurrence.count"
			}
			return nil, fault.Invalid(field, fmt.Sprintf("the last session would start more than %d years after the first", seriesYears))
		}
		out = append(out, s.sessionAt(start))
	}
	return out, nil
}

// untilEnd is the last instant a session may start at under until: the
// end of the until date in loc.
func (s series) untilEnd() time.Time {
	y, m, d := s.until.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, s.loc).Add(-time.Nanosecond)
}

func (s series) sessionAt(start time.Time) span {
	return span{start: start.Unix(), end: start.Add(s.duration).Unix()}
}
