package activity

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// participant is what the report remembers of one retiree who attended.
type participant struct {
	aged80, livingAlone bool
}

// ParticipationReport summarises the sessions of a community's activities
// that start in [from, to) and were not cancelled: how many were held, the
// confirmed registrations of their activities (each activity counted
// once), the attendances recorded, the attendance rate over the sessions
// whose attendance was recorded, and who took part. A retiree counts as
// aged 80 or more when flagged so or 80 on the day of a session attended.
func (s *Store) ParticipationReport(community string, from, to time.Time) (*pb.GetParticipationReportResponse, error) {
	var out *pb.GetParticipationReportResponse
	err := s.DB().View(func(tx *bolt.Tx) error {
		t := newParticipationTally(tx, s.zones, community)
		prefix := boltstore.Prefix(community)
		c := tx.Bucket(bucketCommunitySlots).Cursor()
		for k, v := c.Seek(slotTimeKey(community, from.Unix())); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			sl, err := parseSlot(prefix, k, v)
			if err != nil {
				return err
			}
			if sl.start >= to.Unix() {
				break
			}
			if sl.state == slotCancelled {
				continue
			}
			if err := t.addSession(sl); err != nil {
				return err
			}
		}
		out = t.result()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// participationTally accumulates a participation report, session by
// session, within one read transaction.
type participationTally struct {
	tx  *bolt.Tx
	out *pb.GetParticipationReportResponse
	// byCategory holds the figures of each category met so far.
	byCategory map[pb.Category]*pb.CategoryParticipation
	// counted holds the activities whose registrations are counted.
	counted map[string]bool
	// people holds the participants met so far, by retiree id.
	people map[string]*participant
	// places sums the confirmed places of the sessions whose attendance
	// was recorded: the attendance rate's denominator.
	places     uint64
	activities *activityCache
	metas      *bolt.Bucket
	recorded   *bolt.Bucket
	attendance *bolt.Cursor
}

func newParticipationTally(tx *bolt.Tx, zones *zoneCache, community string) *participationTally {
	return &participationTally{
		tx:         tx,
		out:        &pb.GetParticipationReportResponse{CommunityId: community},
		byCategory: map[pb.Category]*pb.CategoryParticipation{},
		counted:    map[string]bool{},
		people:     map[string]*participant{},
		activities: newActivityCache(tx, zones),
		metas:      tx.Bucket(bucketActivityMeta),
		recorded:   tx.Bucket(bucketAttendanceRecorded),
		attendance: tx.Bucket(bucketAttendance).Cursor(),
	}
}

// category returns the figures of category c, created on first use.
func (t *participationTally) category(c pb.Category) *pb.CategoryParticipation {
	if t.byCategory[c] == nil {
		t.byCategory[c] = &pb.CategoryParticipation{Category: c}
	}
	return t.byCategory[c]
}

// addSession counts a session held: the session itself, its activity's
// registrations the first time the activity is met, the confirmed places
// when its attendance was recorded, and those who attended.
func (t *participationTally) addSession(sl slot) error {
	a, err := t.activities.get(sl.activityID)
	if err != nil {
		return err
	}
	cat := t.category(a.Category)
	t.out.OccurrencesHeld++
	cat.Occurrences++
	if err := t.addRegistrations(a.Id, cat); err != nil {
		return err
	}
	session := sessionKey(a.Id, sl.start)
	if n := t.recorded.Get(session); n != nil {
		confirmed, err := boltstore.ParseU64(n)
		if err != nil {
			return err
		}
		t.places += confirmed
	}
	return t.addAttendance(session, time.Unix(sl.start, 0).In(a.loc), cat)
}

// addRegistrations counts an activity's confirmed registrations, once
// however many of its sessions the report covers.
func (t *participationTally) addRegistrations(activityID string, cat *pb.CategoryParticipation) error {
	if t.counted[activityID] {
		return nil
	}
	t.counted[activityID] = true
	meta, err := decodeMeta(t.metas.Get([]byte(activityID)))
	if err != nil {
		return err
	}
	t.out.Registrations += int32(meta.confirmed) //nolint:gosec // G115: within a capacity, at most maxVenueCapacity
	cat.Registrations += int32(meta.confirmed)   //nolint:gosec // G115: within a capacity, at most maxVenueCapacity
	return nil
}

// addAttendance counts the attendances recorded for a session (its key)
// held on day, and notes each participant.
func (t *participationTally) addAttendance(session []byte, day time.Time, cat *pb.CategoryParticipation) error {
	for ak, _ := t.attendance.Seek(session); ak != nil && bytes.HasPrefix(ak, session); ak, _ = t.attendance.Next() {
		id := string(ak[len(session):])
		t.out.Attended++
		cat.Attended++
		p := t.people[id]
		if p == nil {
			p = &participant{}
			t.people[id] = p
		}
		if err := p.note(t.tx, id, day); err != nil {
			return err
		}
	}
	return nil
}

// result completes the report: the participants' figures, the attendance
// rate and the categories in enum order.
func (t *participationTally) result() *pb.GetParticipationReportResponse {
	out := t.out
	for _, p := range t.people {
		if p.aged80 {
			out.Aged_80PlusParticipants++
		}
		if p.livingAlone {
			out.LivingAloneParticipants++
		}
	}
	out.DistinctParticipants = int32(min(len(t.people), math.MaxInt32))
	if t.places > 0 {
		out.AttendanceRate = float64(out.Attended) / float64(t.places)
	}
	for _, cat := range t.byCategory {
		out.ByCategory = append(out.ByCategory, cat)
	}
	slices.SortFunc(out.ByCategory, func(a, b *pb.CategoryParticipation) int { return int(a.Category - b.Category) })
	return out
}

// note records what the projection says of a participant on the day of a
// session attended. A retiree the projection does not know (yet) counts
// as a participant without flags.
func (p *participant) note(tx *bolt.Tx, id string, day time.Time) error {
	st, err := projection.Get(tx, id)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, f := range st.Flags {
		switch f {
		case registryv1.RetireeFlag_AGED_80_PLUS:
			p.aged80 = true
		case registryv1.RetireeFlag_LIVING_ALONE:
			p.livingAlone = true
		}
	}
	if !p.aged80 && ageOn(st.BirthDate, day) >= 80 {
		p.aged80 = true
	}
	return nil
}

// ageOn returns the age in whole years on day of someone born on birth
// (YYYY-MM-DD), or -1 when birth is not a date.
func ageOn(birth string, day time.Time) int {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return -1
	}
	age := day.Year() - b.Year()
	if day.Month() < b.Month() || day.Month() == b.Month() && day.Day() < b.Day() {
		age--
	}
	return age
}
