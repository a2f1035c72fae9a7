package activity

import (
	"errors"
	"math"
	"sync"
	"time"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Bounds on inputs.
const (
	maxNameLen        = 64
	maxTitleLen       = 100
	maxAddressLen     = 200
	maxDescriptionLen = 2000
	maxReasonLen      = 500
	maxRequestKeyLen  = 128
	maxTimeLen        = 64
	maxZoneLen        = 64
	maxVenueCapacity  = 10_000
	maxAreaSqm        = 1_000_000
	maxCount          = maxSessions
	// maxWaitlist bounds the waiting list of an activity.
	maxWaitlist = 1000
	// maxPresent bounds the retirees one attendance record names.
	maxPresent = maxVenueCapacity
	// maxListSpan bounds the time range of a list or a report.
	maxListSpan = 366 * 24 * time.Hour
	// defaultListSpan is the range of a list that names no end.
	defaultListSpan = 31 * 24 * time.Hour
	// idLen is the length of venue, activity and retiree ids.
	idLen = inputcheck.OpaqueIDLen
)

// DefaultTimeZone is the zone of an activity that names none.
const DefaultTimeZone = "Asia/Shanghai"

// checkVenue validates a venue to create and clears its output fields.
func checkVenue(in *pb.Venue, requestKey string, keyRequired bool) error {
	var v fault.Violations
	if in == nil {
		return fault.Invalid("venue", "required")
	}
	inputcheck.CommunityID(&v, "communityId", in.CommunityId)
	inputcheck.Text(&v, "name", in.Name, true, maxNameLen)
	inputcheck.Text(&v, "address", in.Address, false, maxAddressLen)
	if in.Capacity < 1 || in.Capacity > maxVenueCapacity {
		v.Addf("capacity", "must be between 1 and %d", maxVenueCapacity)
	}
	if math.IsNaN(in.AreaSqm) || in.AreaSqm < 0 || in.AreaSqm > maxAreaSqm {
		v.Addf("areaSqm", "must be between 0 and %d", maxAreaSqm)
	}
	inputcheck.Text(&v, "requestKey", requestKey, keyRequired, maxRequestKeyLen)
	if err := v.Err(); err != nil {
		return err
	}
	in.Id, in.CreateTime = "", nil
	return nil
}

// zoneCache loads IANA time zones once each: loading parses the zone's
// data every time.
type zoneCache struct {
	mu    sync.Mutex
	zones map[string]*time.Location
}

func newZoneCache() *zoneCache { return &zoneCache{zones: make(map[string]*time.Location)} }

// load returns the named zone. "Local" and "" are refused: they mean
// whatever the server's machine is set to.
func (z *zoneCache) load(name string) (*time.Location, error) {
	z.mu.Lock()
	defer z.mu.Unlock()
	if loc, ok := z.zones[name]; ok {
		return loc, nil
	}
	if name == "" || name == "Local" || len(name) > maxZoneLen {
		return nil, errUnknownZone
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, errUnknownZone
	}
	z.zones[name] = loc
	return loc, nil
}

var errUnknownZone = errors.New("unknown time zone")

// parseTime parses an RFC 3339 instant with an offset and a whole second.
func parseTime(v *fault.Violations, field, s string) time.Time {
	if len(s) > maxTimeLen {
		v.Add(field, "must be an RFC 3339 time such as 2026-12-01T09:00:00+08:00")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		v.Add(field, "must be an RFC 3339 time such as 2026-12-01T09:00:00+08:00")
		return time.Time{}
	}
	if t.Nanosecond() != 0 {
		v.Add(field, "must be a whole second")
		return time.Time{}
	}
	return t
}

// parseBound parses the bound of a report's range: an RFC 3339 instant, or
// a date (YYYY-MM-DD) in loc. A date that ends a range includes its whole
// day.
func parseBound(s string, loc *time.Location, end bool) (time.Time, error) {
	if len(s) > maxTimeLen {
		return time.Time{}, errBadBound
	}
	if len(s) == len(time.DateOnly) {
		d, err := time.ParseInLocation(time.DateOnly, s, loc)
		if err != nil {
			return time.Time{}, errBadBound
		}
		if end {
			d = d.AddDate(0, 0, 1)
		}
		return d, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, errBadBound
	}
	return t, nil
}

var errBadBound = errors.New("must be an RFC 3339 time or a date YYYY-MM-DD")

// plan is a validated activity to create: the normalised record and its
// sessions.
type plan struct {
	activity *pb.Activity
	loc      *time.Location
	sessions []span
}

// checkActivity validates an activity to create: fields, times and the
// recurrence, which it expands. Times are normalised to the activity's
// zone and output fields cleared. The venue's rules (community, capacity,
// clashes) are checked by the store. Violations are reported in field
// order, each step adding those of its own fields.
func checkActivity(in *pb.Activity, zones *zoneCache) (*plan, error) {
	if in == nil {
		return nil, fault.Invalid("activity", "required")
	}
	var v fault.Violations
	checkActivityFields(&v, in)
	zone, loc := activityZone(&v, in.TimeZone, zones)
	start, end := checkSessionTimes(&v, in.StartTime, in.EndTime)
	s := series{first: start, duration: end.Sub(start), loc: loc}
	if in.Recurrence != nil {
		checkRecurrence(&v, in.Recurrence, &s)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	sessions, err := s.expand()
	if err != nil {
		return nil, err
	}
	return &plan{activity: activityRecord(in, zone, s), loc: loc, sessions: sessions}, nil
}

// checkActivityFields checks the fields of an activity that stand alone,
// needing neither a zone nor a parse: ids, texts, category and capacity.
// The capacity is checked against the venue later, by the store.
func checkActivityFields(v *fault.Violations, in *pb.Activity) {
	inputcheck.CommunityID(v, "communityId", in.CommunityId)
	switch {
	case in.VenueId == "":
		v.Add("venueId", "required")
	case !inputcheck.IsOpaqueID(in.VenueId):
		v.Add("venueId", "not a venue id")
	}
	inputcheck.Text(v, "title", in.Title, true, maxTitleLen)
	inputcheck.MultilineText(v, "description", in.Description, false, maxDescriptionLen)
	if _, ok := pb.Category_name[int32(in.Category)]; !ok || in.Category == pb.Category_CATEGORY_UNSPECIFIED {
		v.Add("category", "must be one of CULTURE, SPORTS, HEALTH, EDUCATION, VOLUNTEER, OTHER")
	}
	if in.Capacity < 1 || in.Capacity > maxVenueCapacity {
		v.Add("capacity", "must be between 1 and the venue's capacity")
	}
}

// activityZone returns the name of an activity's zone, DefaultTimeZone
// when it names none, and the zone; the zone is nil when the name is not
// a known one.
func activityZone(v *fault.Violations, name string, zones *zoneCache) (string, *time.Location) {
	if name == "" {
		name = DefaultTimeZone
	}
	loc, err := zones.load(name)
	if err != nil {
		v.Add("timeZone", "not a known IANA time zone, e.g. Asia/Shanghai")
	}
	return name, loc
}

// checkSessionTimes parses the start and end of an activity's (first)
// session and checks that the session lies in the years a store keeps
// and lasts at most maxDuration. A time that is missing or does not parse
// comes back zero, and the checks that need it are skipped.
func checkSessionTimes(v *fault.Violations, startTime, endTime string) (start, end time.Time) {
	start = requiredTime(v, "startTime", startTime)
	end = requiredTime(v, "endTime", endTime)
	if !start.IsZero() {
		if y := start.UTC().Year(); y < minYear || y > maxYear {
			v.Addf("startTime", "must be in the years %d to %d", minYear, maxYear)
		}
	}
	if !start.IsZero() && !end.IsZero() {
		switch d := end.Sub(start); {
		case d <= 0:
			v.Add("endTime", "must be after the start")
		case d > maxDuration:
			v.Addf("endTime", "a session lasts at most %d hours", int(maxDuration.Hours()))
		}
	}
	return start, end
}

// requiredTime is parseTime for a field that must be set.
func requiredTime(v *fault.Violations, field, s string) time.Time {
	if s == "" {
		v.Add(field, "required")
		return time.Time{}
	}
	return parseTime(v, field, s)
}

// checkRecurrence checks a weekly recurrence and sets it on s, whose first
// session and zone are already set (either may be missing when their own
// fields were refused). Exactly one of count and until bounds the series.
func checkRecurrence(v *fault.Violations, r *pb.Recurrence, s *series) {
	s.weekly = true
	s.intervalWeeks = int(r.IntervalWeeks)
	if s.intervalWeeks == 0 {
		s.intervalWeeks = 1
	}
	if s.intervalWeeks < 1 || s.intervalWeeks > maxIntervalWeeks {
		v.Addf("recurrence.intervalWeeks", "must be between 1 and %d", maxIntervalWeeks)
	}
	switch {
	case r.Count != 0 && r.Until != "":
		v.Add("recurrence", "set either count or until, not both")
	case r.Count == 0 && r.Until == "":
		v.Add("recurrence", "set count or until")
	case r.Count != 0:
		if r.Count < 1 || r.Count > maxCount {
			v.Addf("recurrence.count", "must be between 1 and %d", maxCount)
		}
		s.count = int(r.Count)
	default:
		s.until = checkUntil(v, r.Until, s.first, s.loc)
	}
}

// checkUntil parses a recurrence's until date, which may not fall before
// the first session's date in loc. It returns the date, or zero when it
// does not parse.
func checkUntil(v *fault.Violations, until string, first time.Time, loc *time.Location) time.Time {
	u, err := time.Parse(time.DateOnly, until)
	if err != nil || len(until) != len(time.DateOnly) {
		v.Add("recurrence.until", "must be a date YYYY-MM-DD")
		return time.Time{}
	}
	if loc != nil && !first.IsZero() && until < first.In(loc).Format(time.DateOnly) {
		v.Add("recurrence.until", "before the first session")
	}
	return u
}

// activityRecord is the activity to store for a validated request: its
// input fields with the times of the first session written in the
// activity's zone, the zone named, and the recurrence with its interval
// made explicit. Output fields other than the state stay empty.
func activityRecord(in *pb.Activity, zone string, s series) *pb.Activity {
	a := &pb.Activity{
		CommunityId: in.CommunityId,
		VenueId:     in.VenueId,
		Title:       in.Title,
		Category:    in.Category,
		StartTime:   s.first.In(s.loc).Format(time.RFC3339),
		EndTime:     s.first.Add(s.duration).In(s.loc).Format(time.RFC3339),
		TimeZone:    zone,
		Capacity:    in.Capacity,
		State:       pb.Activity_SCHEDULED,
		Description: in.Description,
	}
	if r := in.Recurrence; r != nil {
		weeks := int32(s.intervalWeeks) //nolint:gosec // G115: at most maxIntervalWeeks (checked above)
		a.Recurrence = &pb.Recurrence{IntervalWeeks: weeks, Count: r.Count, Until: r.Until}
	}
	return a
}

// formatUnix formats Unix seconds as RFC 3339 in loc.
func formatUnix(sec int64, loc *time.Location) string {
	return time.Unix(sec, 0).In(loc).Format(time.RFC3339)
}
