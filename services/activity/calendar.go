package activity

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"hash"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Bounds of the calendar feed.
const (
	// calendarPast is how far back the feed reaches: activities with a
	// session since then are in it, with all their sessions.
	calendarPast = 90 * 24 * time.Hour
	// maxCalendarEvents bounds the events of one feed.
	maxCalendarEvents = 5000
	// maxLineOctets is RFC 5545's limit on a content line, CRLF excluded.
	maxLineOctets = 75
	// refreshInterval is how often the feed asks calendar apps to poll
	// it (RFC 7986 REFRESH-INTERVAL, and Apple's X-PUBLISHED-TTL).
	refreshInterval = "PT1H"
)

// localLayout writes a local date-time: no zone, the TZID says it.
const localLayout = "20060102T150405"

// calendarEvent is one VEVENT: an activity, its venue and its sessions'
// span.
type calendarEvent struct {
	activity  *pb.Activity
	venue     *pb.Venue
	loc       *time.Location
	first     span
	lastStart int64
	lastEnd   int64
	sessions  int
}

// calendarEvents returns the community's activities with a session since
// calendarPast before now, in the order of their first such session, at
// most maxCalendarEvents of them.
func (s *Store) calendarEvents(community string, now time.Time) ([]calendarEvent, error) {
	var out []calendarEvent
	err := s.DB().View(func(tx *bolt.Tx) error {
		seen := map[string]bool{}
		venues := map[string]*pb.Venue{}
		activities := newActivityCache(tx, s.zones)
		occurrences := tx.Bucket(bucketOccurrences)
		metas := tx.Bucket(bucketActivityMeta)
		prefix := boltstore.Prefix(community)
		c := tx.Bucket(bucketCommunitySlots).Cursor()
		for k, v := c.Seek(slotTimeKey(community, now.Add(-calendarPast).Unix())); k != nil && bytes.HasPrefix(k, prefix) && len(out) < maxCalendarEvents; k, v = c.Next() {
			sl, err := parseSlot(prefix, k, v)
			if err != nil {
				return err
			}
			if seen[sl.activityID] {
				continue
			}
			seen[sl.activityID] = true
			a, err := activities.get(sl.activityID)
			if err != nil {
				return err
			}
			venue := venues[a.VenueId]
			if venue == nil {
				venue = new(pb.Venue)
				if err := boltstore.GetProto(tx.Bucket(bucketVenues), []byte(a.VenueId), venue, errVenueNotFound); err != nil {
					return err
				}
				venues[a.VenueId] = venue
			}
			meta, err := decodeMeta(metas.Get([]byte(a.Id)))
			if err != nil {
				return err
			}
			firstKey := occurrenceKey(a.Id, 1)
			_, first, err := parseOccurrence(firstKey[:len(firstKey)-4], firstKey, occurrences.Get(firstKey))
			if err != nil {
				return err
			}
			out = append(out, calendarEvent{
				activity: a.Activity, venue: venue, loc: a.loc,
				first: first, lastStart: meta.lastStart, lastEnd: meta.lastEnd, sessions: int(meta.sessions),
			})
		}
		return nil
	})
	return out, err
}

// encodeCalendar renders events as an RFC 5545 calendar stamped at stamp,
// and returns it with its etag: a hash of every line but the DTSTAMPs,
// so that it changes with the content and not with the clock. It writes
// the format itself: a handful of properties, escaped and folded as the
// RFC says, and VTIMEZONEs from Go's own zone data are less code than
// adapting a library.
func encodeCalendar(name string, events []calendarEvent, stamp time.Time) (ics []byte, etag string) {
	w := icsWriter{sum: sha256.New()}
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:-//socmgmt//activity calendar//ZH")
	w.line("CALSCALE:GREGORIAN")
	w.line("METHOD:PUBLISH")
	w.line("X-WR-CALNAME:" + escapeText(name))
	w.line("REFRESH-INTERVAL;VALUE=DURATION:" + refreshInterval)
	w.line("X-PUBLISHED-TTL:" + refreshInterval)
	for _, z := range zoneSpans(events) {
		w.timeZone(z)
	}
	dstamp := utcStamp(stamp)
	for _, e := range events {
		w.event(e, dstamp)
	}
	w.line("END:VCALENDAR")
	return w.buf.Bytes(), hex.EncodeToString(w.sum.Sum(nil)[:16])
}

// event writes the VEVENT of one activity, stamped dstamp.
func (w *icsWriter) event(e calendarEvent, dstamp string) {
	a := e.activity
	w.line("BEGIN:VEVENT")
	w.line("UID:" + a.Id + "@socmgmt")
	w.stamp("DTSTAMP:" + dstamp)
	if a.CreateTime != nil {
		w.line("CREATED:" + utcStamp(a.CreateTime.AsTime()))
	}
	w.line("DTSTART" + e.when(e.first.start))
	w.line("DTEND" + e.when(e.first.end))
	if a.Recurrence != nil {
		w.line(e.rrule())
	}
	w.line("SUMMARY:" + escapeText(a.Title))
	if a.Description != "" {
		w.line("DESCRIPTION:" + escapeText(a.Description))
	}
	location := e.venue.Name
	if e.venue.Address != "" {
		location += ", " + e.venue.Address
	}
	w.line("LOCATION:" + escapeText(location))
	w.line("CATEGORIES:" + a.Category.String())
	if a.State == pb.Activity_CANCELLED {
		w.line("STATUS:CANCELLED")
	} else {
		w.line("STATUS:CONFIRMED")
	}
	w.line("END:VEVENT")
}

// rrule writes the RRULE of a weekly activity. A count is written as the
// sessions stored and an until as the last session's start in UTC (as
// RFC 5545 asks when DTSTART has a TZID), so a client expands the rule
// to exactly the sessions the service lists: the rule repeats DTSTART's
// local time, as the service's own expansion does.
func (e calendarEvent) rrule() string {
	r := e.activity.Recurrence
	rule := "RRULE:FREQ=WEEKLY;INTERVAL=" + strconv.Itoa(int(r.IntervalWeeks))
	if r.Count > 0 {
		return rule + ";COUNT=" + strconv.Itoa(e.sessions)
	}
	return rule + ";UNTIL=" + utcStamp(time.Unix(e.lastStart, 0))
}

// when writes a DTSTART or DTEND value with its parameters: the local
// time in the activity's zone and that zone's id, which a VTIMEZONE of
// the feed describes. In UTC, a weekly session would move by an hour in
// every parser once daylight saving time began or ended.
func (e calendarEvent) when(sec int64) string {
	return ";TZID=" + e.activity.TimeZone + ":" + time.Unix(sec, 0).In(e.loc).Format(localLayout)
}

func utcStamp(t time.Time) string { return t.UTC().Format("20060102T150405Z") }

// icsWriter collects content lines, folded and CRLF-terminated, and a
// hash of them.
type icsWriter struct {
	buf bytes.Buffer
	// sum hashes every line but stamps; nil hashes nothing.
	sum hash.Hash
}

// line writes one content line, and adds it to the hash.
func (w *icsWriter) line(s string) {
	from := w.buf.Len()
	w.fold(s)
	if w.sum != nil {
		w.sum.Write(w.buf.Bytes()[from:])
	}
}

// stamp writes a content line that the hash leaves out: one that changes
// with the clock, not with the content.
func (w *icsWriter) stamp(s string) { w.fold(s) }

// fold writes one content line, folded into physical lines of at most
// maxLineOctets octets each: every continuation starts with a space, which
// counts, and a fold never splits a UTF-8 sequence.
func (w *icsWriter) fold(s string) {
	limit := maxLineOctets
	for len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		if cut == 0 {
			// Not UTF-8 (inputs are validated, so never in practice):
			// split by octets rather than loop.
			cut = limit
		}
		w.buf.WriteString(s[:cut])
		w.buf.WriteString("\r\n ")
		s = s[cut:]
		limit = maxLineOctets - 1
	}
	w.buf.WriteString(s)
	w.buf.WriteString("\r\n")
}

// escapeText escapes a TEXT value: backslash, semicolon and comma get a
// backslash, a line break becomes \n, and other control characters but tab
// are dropped, as TEXT does not allow them.
func escapeText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b.WriteString(`\\`)
		case c == ';':
			b.WriteString(`\;`)
		case c == ',':
			b.WriteString(`\,`)
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
		case c == '\n' || c == '\r':
			b.WriteString(`\n`)
		case c < 0x20 && c != '\t' || c == 0x7f:
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
