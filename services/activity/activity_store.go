package activity

import (
	"bytes"
	"errors"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// maxDurationSec is maxDuration in the Unix seconds of the slot keys.
const maxDurationSec = int64(maxDuration / time.Second)

// createActivity stores a validated activity with its sessions. The venue
// must be visible to scope, of the activity's community and large enough;
// every session is checked against the venue's bookings and booked in the
// same transaction, so that of two clashing requests only one can win.
func (s *Store) createActivity(p *plan, scope Scope) (*pb.Activity, error) {
	a := proto.Clone(p.activity).(*pb.Activity)
	a.CreateTime = timestamppb.New(s.now())
	err := s.Update(func(tx *bolt.Tx) error {
		if err := checkVenueFits(tx, a, scope); err != nil {
			return err
		}
		if err := s.checkClashes(tx, a.VenueId, p.sessions, p.loc); err != nil {
			return err
		}
		if err := insertActivity(tx, a, p.sessions); err != nil {
			return err
		}
		return bookSessions(tx, a, p.sessions)
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// checkVenueFits applies the venue's rules to an activity to create: the
// venue exists, belongs to the activity's community and holds the
// activity's capacity. A caller who may not see the venue gets scope's
// refusal, whether or not it exists.
func checkVenueFits(tx *bolt.Tx, a *pb.Activity, scope Scope) error {
	venue, err := loadVenue(tx, a.VenueId, scope)
	if errors.Is(err, fault.ErrNotFound) {
		return fault.Invalid("venue_id", "no venue with this id")
	}
	if err != nil {
		return err
	}
	var v fault.Violations
	if venue.CommunityId != a.CommunityId {
		v.Add("venueId", "the venue belongs to another community")
	}
	if a.Capacity > venue.Capacity {
		v.Addf("capacity", "more than the venue holds (%d)", venue.Capacity)
	}
	return v.Err()
}

// insertActivity gives a a fresh id and stores it with its counters,
// which start from its sessions.
func insertActivity(tx *bolt.Tx, a *pb.Activity, sessions []span) error {
	activities := tx.Bucket(bucketActivities)
	a.Id = unusedID(activities)
	if err := boltstore.PutProto(activities, []byte(a.Id), a); err != nil {
		return err
	}
	last := sessions[len(sessions)-1]
	meta := activityMeta{
		nextPosition: 1,
		sessions:     uint32(len(sessions)), //nolint:gosec // G115: at most maxSessions (planned)
		firstStart:   sessions[0].start,
		lastStart:    last.start,
		lastEnd:      last.end,
	}
	return tx.Bucket(bucketActivityMeta).Put([]byte(a.Id), meta.encode())
}

// bookSessions stores a stored activity's sessions, numbered from 1, and
// books each in the venue's and the community's slot indexes.
func bookSessions(tx *bolt.Tx, a *pb.Activity, sessions []span) error {
	occ, venueSlots, communitySlots := tx.Bucket(bucketOccurrences), tx.Bucket(bucketVenueSlots), tx.Bucket(bucketCommunitySlots)
	for i, sp := range sessions {
		n := i + 1
		val := slotValue(sp.end, slotScheduled)
		if err := occ.Put(occurrenceKey(a.Id, n), occurrenceValue(sp)); err != nil {
			return err
		}
		if err := venueSlots.Put(slotKey(a.VenueId, sp.start, a.Id, n), val); err != nil {
			return err
		}
		if err := communitySlots.Put(slotKey(a.CommunityId, sp.start, a.Id, n), val); err != nil {
			return err
		}
	}
	return nil
}

// checkClashes fails with SCHEDULE_CONFLICT when one of sessions overlaps
// a booking of the venue. Sessions last at most maxDuration, so only the
// bookings starting in [start-maxDuration, end) can overlap a session:
// one seek in the venue's index per session.
func (s *Store) checkClashes(tx *bolt.Tx, venueID string, sessions []span, loc *time.Location) error {
	prefix := boltstore.Prefix(venueID)
	c := tx.Bucket(bucketVenueSlots).Cursor()
	for i, sp := range sessions {
		for k, v := c.Seek(slotTimeKey(venueID, sp.start-maxDurationSec)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			sl, err := parseSlot(prefix, k, v)
			if err != nil {
				return err
			}
			if sl.start >= sp.end {
				break
			}
			if sl.state == slotCancelled || !(span{start: sl.start, end: sl.end}).overlaps(sp) {
				continue
			}
			return s.clashError(tx, sl, sp, i+1, loc)
		}
	}
	return nil
}

// clashError describes the first clash found: the booked session and the
// new one, each in its own activity's zone.
func (s *Store) clashError(tx *bolt.Tx, booked slot, sp span, n int, loc *time.Location) error {
	other := new(pb.Activity)
	if err := boltstore.GetProto(tx.Bucket(bucketActivities), []byte(booked.activityID), other, errActivityNotFound); err != nil {
		return err
	}
	otherLoc, err := s.zones.load(other.TimeZone)
	if err != nil {
		return err
	}
	return fault.Conflict(ReasonScheduleConflict,
		"the venue is booked by another activity at that time",
		"conflicting_activity_id", booked.activityID,
		"conflicting_occurrence_start", formatUnix(booked.start, otherLoc),
		"conflicting_occurrence_end", formatUnix(booked.end, otherLoc),
		"occurrence_start", formatUnix(sp.start, loc),
		"occurrence_number", strconv.Itoa(n),
	)
}

// GetActivity returns an activity the caller may see.
func (s *Store) GetActivity(id string, scope Scope) (*pb.Activity, error) {
	var a *pb.Activity
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		a, _, err = loadActivity(tx, id, scope)
		return err
	})
	return a, err
}

// loadActivity reads an activity and its meta and applies scope to it.
func loadActivity(tx *bolt.Tx, id string, scope Scope) (*pb.Activity, activityMeta, error) {
	a, err := loadScoped[pb.Activity](tx.Bucket(bucketActivities), id, scope, errActivityNotFound)
	if err != nil {
		return nil, activityMeta{}, err
	}
	meta, err := decodeMeta(tx.Bucket(bucketActivityMeta).Get([]byte(id)))
	if err != nil {
		return nil, activityMeta{}, err
	}
	return a, meta, nil
}

// loadOpenActivity is loadActivity for a change: it also fails, as
// checkOpen says, when the activity no longer takes changes.
func loadOpenActivity(tx *bolt.Tx, id string, scope Scope, now time.Time) (*pb.Activity, activityMeta, error) {
	a, meta, err := loadActivity(tx, id, scope)
	if err != nil {
		return nil, activityMeta{}, err
	}
	if err := checkOpen(a, meta, now); err != nil {
		return nil, activityMeta{}, err
	}
	return a, meta, nil
}

// checkOpen fails when an activity no longer takes registrations or
// changes: cancelled, or its last session over.
func checkOpen(a *pb.Activity, meta activityMeta, now time.Time) error {
	if a.State == pb.Activity_CANCELLED {
		return fault.Rule(ReasonActivityCancelled, "the activity is cancelled")
	}
	if meta.lastEnd <= now.Unix() {
		return fault.Rule(ReasonActivityEnded, "the activity's last session is over")
	}
	return nil
}

// CancelActivity cancels an activity that has not ended: its sessions yet
// to start stay listed, marked cancelled, and free the venue; those that
// have started were held and stay so, for attendance and reports. Its
// registrations are kept and marked.
func (s *Store) CancelActivity(id, reason string, scope Scope) (*pb.Activity, error) {
	var out *pb.Activity
	err := s.Update(func(tx *bolt.Tx) error {
		now := s.now()
		a, _, err := loadOpenActivity(tx, id, scope, now)
		if err != nil {
			return err
		}
		a.State = pb.Activity_CANCELLED
		a.CancelReason = reason
		if err := boltstore.PutProto(tx.Bucket(bucketActivities), []byte(a.Id), a); err != nil {
			return err
		}
		if err := cancelFutureSessions(tx, a, now); err != nil {
			return err
		}
		told, err := markRegistrationsCancelled(tx, a.Id)
		if err != nil {
			return err
		}
		for _, retiree := range told {
			if err := s.noticeCancelled(tx, a, retiree); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	return out, err
}

// cancelFutureSessions marks cancelled, in the venue's and the community's
// slot indexes, the sessions of a that start after now; this frees the
// venue for them.
func cancelFutureSessions(tx *bolt.Tx, a *pb.Activity, now time.Time) error {
	venueSlots, communitySlots := tx.Bucket(bucketVenueSlots), tx.Bucket(bucketCommunitySlots)
	prefix := boltstore.Prefix(a.Id)
	return boltstore.ScanPrefix(tx.Bucket(bucketOccurrences).Cursor(), prefix, nil, func(k, v []byte) (bool, error) {
		n, sp, err := parseOccurrence(prefix, k, v)
		if err != nil {
			return false, err
		}
		if sp.start <= now.Unix() {
			return true, nil
		}
		val := slotValue(sp.end, slotCancelled)
		if err := venueSlots.Put(slotKey(a.VenueId, sp.start, a.Id, n), val); err != nil {
			return false, err
		}
		return true, communitySlots.Put(slotKey(a.CommunityId, sp.start, a.Id, n), val)
	})
}

// markRegistrationsCancelled sets ActivityCancelled on every registration
// of an activity, whatever its state. It returns the retirees whose
// registration was confirmed or waiting, who are to be told.
func markRegistrationsCancelled(tx *bolt.Tx, activityID string) ([]string, error) {
	regs := tx.Bucket(bucketRegistrations)
	var marked [][2][]byte
	var told []string
	err := boltstore.ScanPrefix(regs.Cursor(), boltstore.Prefix(activityID), nil, func(k, v []byte) (bool, error) {
		r := new(pb.Registration)
		if err := proto.Unmarshal(v, r); err != nil {
			return false, err
		}
		r.ActivityCancelled = true
		if r.State == pb.Registration_CONFIRMED || r.State == pb.Registration_WAITLISTED {
			told = append(told, r.RetireeId)
		}
		b, err := proto.Marshal(r)
		if err != nil {
			return false, err
		}
		marked = append(marked, [2][]byte{bytes.Clone(k), b})
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	// Written after the scan: a bbolt cursor must not walk a bucket
	// that is being changed under it.
	for _, kv := range marked {
		if err := regs.Put(kv[0], kv[1]); err != nil {
			return nil, err
		}
	}
	return told, nil
}

// occurrenceQuery selects the sessions of listOccurrences: those of a
// venue or of a community starting in [from, to).
type occurrenceQuery struct {
	venueID     string
	communityID string
	from, to    int64
}

// listOccurrences returns a page of sessions in start order; after is the
// last key of the previous page.
func (s *Store) listOccurrences(q occurrenceQuery, size int, after []byte) ([]*pb.Occurrence, []byte, error) {
	var out []*pb.Occurrence
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		bucket, owner := bucketCommunitySlots, q.communityID
		if q.venueID != "" {
			bucket, owner = bucketVenueSlots, q.venueID
		}
		prefix := boltstore.Prefix(owner)
		activities := newActivityCache(tx, s.zones)
		scan := boltstore.Scan{Prefix: prefix, After: after, From: slotTimeKey(owner, q.from), Size: size}
		var err error
		next, err = scan.Page(tx.Bucket(bucket).Cursor(), func(k, v []byte) (bool, error) {
			sl, err := parseSlot(prefix, k, v)
			if err != nil {
				return false, err
			}
			if sl.start >= q.to {
				return false, boltstore.ErrEndOfList
			}
			a, err := activities.get(sl.activityID)
			if err != nil {
				return false, err
			}
			out = append(out, a.occurrence(sl))
			return true, nil
		})
		return err
	})
	return out, next, err
}

// cachedActivity is an activity read once for the many sessions of a list.
type cachedActivity struct {
	*pb.Activity
	loc *time.Location
}

// occurrence describes a session: cancelled when its slot is, and
// otherwise scheduled (or held), even in a cancelled activity.
func (a cachedActivity) occurrence(sl slot) *pb.Occurrence {
	state := pb.Activity_SCHEDULED
	if sl.state == slotCancelled {
		state = pb.Activity_CANCELLED
	}
	return &pb.Occurrence{
		ActivityId: sl.activityID,
		Number:     int32(sl.number), //nolint:gosec // G115: a session number, at most maxSessions
		StartTime:  formatUnix(sl.start, a.loc),
		EndTime:    formatUnix(sl.end, a.loc),
		Title:      a.Title,
		VenueId:    a.VenueId,
		Category:   a.Category,
		State:      state,
	}
}

// activityCache reads activities within one transaction, each once.
type activityCache struct {
	tx    *bolt.Tx
	zones *zoneCache
	m     map[string]cachedActivity
}

func newActivityCache(tx *bolt.Tx, zones *zoneCache) *activityCache {
	return &activityCache{tx: tx, zones: zones, m: make(map[string]cachedActivity)}
}

func (c *activityCache) get(id string) (cachedActivity, error) {
	if a, ok := c.m[id]; ok {
		return a, nil
	}
	a := new(pb.Activity)
	if err := boltstore.GetProto(c.tx.Bucket(bucketActivities), []byte(id), a, errActivityNotFound); err != nil {
		return cachedActivity{}, err
	}
	loc, err := c.zones.load(a.TimeZone)
	if err != nil {
		return cachedActivity{}, err
	}
	ca := cachedActivity{Activity: a, loc: loc}
	c.m[id] = ca
	return ca, nil
}
