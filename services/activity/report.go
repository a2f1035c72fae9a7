package activity

import (
	"bytes"
	"errors"
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
	out := &pb.GetParticipationReportResponse{CommunityId: community}
	err := s.db.View(func(tx *bolt.Tx) error {
		byCategory := map[pb.Category]*pb.CategoryParticipation{}
		category := func(c pb.Category) *pb.CategoryParticipation {
			if byCategory[c] == nil {
				byCategory[c] = &pb.CategoryParticipation{Category: c}
			}
			return byCategory[c]
		}
		counted := map[string]bool{} // activities whose registrations are counted
		people := map[string]*participant{}
		var places uint64 // confirmed places of sessions with attendance recorded
		activities := newActivityCache(tx, s.zones)
		metas := tx.Bucket(bucketActivityMeta)
		recorded := tx.Bucket(bucketAttendanceRecorded)
		attendance := tx.Bucket(bucketAttendance).Cursor()

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
			a, err := activities.get(sl.activityID)
			if err != nil {
				return err
			}
			cat := category(a.Category)
			out.OccurrencesHeld++
			cat.Occurrences++
			if !counted[a.Id] {
				counted[a.Id] = true
				meta, err := decodeMeta(metas.Get([]byte(a.Id)))
				if err != nil {
					return err
				}
				out.Registrations += int32(meta.confirmed)
				cat.Registrations += int32(meta.confirmed)
			}
			session := sessionKey(a.Id, sl.start)
			if n := recorded.Get(session); n != nil {
				confirmed, err := boltstore.ParseU64(n)
				if err != nil {
					return err
				}
				places += confirmed
			}
			day := time.Unix(sl.start, 0).In(a.loc)
			for ak, _ := attendance.Seek(session); ak != nil && bytes.HasPrefix(ak, session); ak, _ = attendance.Next() {
				id := string(ak[len(session):])
				out.Attended++
				cat.Attended++
				p := people[id]
				if p == nil {
					p = &participant{}
					people[id] = p
				}
				if err := p.note(tx, id, day); err != nil {
					return err
				}
			}
		}
		for _, p := range people {
			if p.aged80 {
				out.Aged_80PlusParticipants++
			}
			if p.livingAlone {
				out.LivingAloneParticipants++
			}
		}
		out.DistinctParticipants = int32(len(people))
		if places > 0 {
			out.AttendanceRate = float64(out.Attended) / float64(places)
		}
		for _, cat := range byCategory {
			out.ByCategory = append(out.ByCategory, cat)
		}
		slices.SortFunc(out.ByCategory, func(a, b *pb.CategoryParticipation) int { return int(a.Category - b.Category) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
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
