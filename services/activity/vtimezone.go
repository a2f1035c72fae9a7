package activity

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// maxObservances bounds the observances of one VTIMEZONE. Sessions fall
// in the years minYear to maxYear+2, and no zone has changed its offset
// more than twice a year in them, so the bound is never reached; it is a
// guard, not a limit.
const maxObservances = 2*(maxYear+2-minYear+1) + 2

// zoneSpan is the time a feed's sessions in one zone cover: from the
// first one's start to the last one's end, in Unix seconds.
type zoneSpan struct {
	name     string
	loc      *time.Location
	from, to int64
}

// zoneSpans returns the zones of events, ordered by name, each with the
// span of its events' sessions.
func zoneSpans(events []calendarEvent) []zoneSpan {
	byName := map[string]*zoneSpan{}
	for _, e := range events {
		z := byName[e.activity.TimeZone]
		if z == nil {
			z = &zoneSpan{name: e.activity.TimeZone, loc: e.loc, from: e.first.start, to: e.lastEnd}
			byName[z.name] = z
		}
		z.from = min(z.from, e.first.start)
		z.to = max(z.to, e.lastEnd, e.first.end)
	}
	out := make([]zoneSpan, 0, len(byName))
	for _, z := range byName {
		out = append(out, *z)
	}
	slices.SortFunc(out, func(a, b zoneSpan) int { return cmp.Compare(a.name, b.name) })
	return out
}

// timeZone writes the VTIMEZONE of z from Go's zone data: an observance
// for the offset in effect when z begins, from the change that began it,
// and one for each change of offset until z ends. Each observance names
// its one onset (no RRULE), which holds for zones whose rules changed
// too; a DAYLIGHT observance is one Go reports as daylight saving time.
func (w *icsWriter) timeZone(z zoneSpan) {
	w.line("BEGIN:VTIMEZONE")
	w.line("TZID:" + z.name)
	at := time.Unix(z.from, 0).In(z.loc)
	start, end := at.ZoneBounds()
	before := offsetBefore(start, at)
	w.observance(start, before, at)
	for n := 1; !end.IsZero() && end.Unix() <= z.to && n < maxObservances; n++ {
		_, before = at.Zone()
		at = end
		start, end = at.ZoneBounds()
		w.observance(start, before, at)
	}
	w.line("END:VTIMEZONE")
}

// offsetBefore returns the offset in effect just before start, the onset
// of the offset at at; at's own offset when it has been in effect
// forever (start is zero).
func offsetBefore(start, at time.Time) int {
	if start.IsZero() {
		_, offset := at.Zone()
		return offset
	}
	_, offset := start.Add(-time.Second).Zone()
	return offset
}

// observance writes the STANDARD or DAYLIGHT observance of the offset in
// effect at at, which began at start after the offset before: DTSTART is
// the onset in the local time that was in effect until then, as RFC 5545
// has it. An offset in effect forever begins at 1970-01-01.
func (w *icsWriter) observance(start time.Time, before int, at time.Time) {
	name, offset := at.Zone()
	kind := "STANDARD"
	if at.IsDST() {
		kind = "DAYLIGHT"
	}
	onset := "19700101T000000"
	if !start.IsZero() {
		onset = start.In(time.FixedZone("", before)).Format(localLayout)
	}
	w.line("BEGIN:" + kind)
	w.line("DTSTART:" + onset)
	w.line("TZOFFSETFROM:" + utcOffset(before))
	w.line("TZOFFSETTO:" + utcOffset(offset))
	if name != "" {
		w.line("TZNAME:" + escapeText(name))
	}
	w.line("END:" + kind)
}

// utcOffset writes an offset east of UTC in seconds as a UTC-OFFSET
// value: +HHMM, or +HHMMSS when it has seconds.
func utcOffset(sec int) string {
	sign := '+'
	if sec < 0 {
		sign, sec = '-', -sec
	}
	s := fmt.Sprintf("%c%02d%02d", sign, sec/3600, sec/60%60)
	if sec%60 != 0 {
		s += fmt.Sprintf("%02d", sec%60)
	}
	return s
}
