package activity

import (
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// maxRetireeRegistrationsPage bounds a page of a retiree's registrations
// below boltstore.MaxPageSize: each entry reads its activity's sessions
// and attendance.
const maxRetireeRegistrationsPage = 100

// errRetireeNotFound answers, to those who may learn it, a read of a
// retiree the projection does not know.
var errRetireeNotFound = fmt.Errorf("retiree %w", fault.ErrNotFound)

// ListRetireeRegistrations returns a page of a retiree's registrations,
// the latest registered first, each with its activity's particulars as
// of now. The retiree's community, as the projection knows it, is what
// scope checks: a caller who may not see the retiree is refused whether
// or not it exists, and whatever the communities of its activities.
func (s *Store) ListRetireeRegistrations(retireeID string, scope Scope, size int, after []byte) ([]*pb.RetireeRegistration, []byte, error) {
	var out []*pb.RetireeRegistration
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		if err := checkRetireeVisible(tx, retireeID, scope); err != nil {
			return err
		}
		rows := &registrationRows{tx: tx, activities: newActivityCache(tx, s.zones), retireeID: retireeID, now: s.now().Unix()}
		prefix := boltstore.Prefix(retireeID)
		scan := boltstore.Scan{Prefix: prefix, After: after, Size: size, Reverse: true}
		var err error
		next, err = scan.Page(tx.Bucket(bucketRetireeRegistrations).Cursor(), func(k, v []byte) (bool, error) {
			activityID, err := registeredActivity(prefix, k)
			if err != nil {
				return false, err
			}
			row, err := rows.describe(activityID, v)
			if err != nil {
				return false, err
			}
			out = append(out, row)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// checkRetireeVisible applies scope to the retiree's community as the
// projection knows it; a retiree it does not know is absent.
func checkRetireeVisible(tx *bolt.Tx, retireeID string, scope Scope) error {
	if !inputcheck.IsOpaqueID(retireeID) {
		return absent(scope, errRetireeNotFound)
	}
	st, err := projection.Get(tx, retireeID)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return absent(scope, errRetireeNotFound)
	}
	if err != nil {
		return err
	}
	return scope(st.CommunityId)
}

// registrationRows describes a retiree's registrations within one read
// transaction.
type registrationRows struct {
	tx         *bolt.Tx
	activities *activityCache
	retireeID  string
	// now is the time of the read, in Unix seconds: which session is next.
	now int64
}

// describe returns the registration of the activity stored at pos (the
// index's value) with its activity's particulars.
func (rr *registrationRows) describe(activityID string, pos []byte) (*pb.RetireeRegistration, error) {
	r, err := loadRegistration(rr.tx.Bucket(bucketRegistrations), activityID, pos)
	if err != nil {
		return nil, err
	}
	a, err := rr.activities.get(activityID)
	if err != nil {
		return nil, fmt.Errorf("retiree registration of activity %s: %v", activityID, err) //nolint:errorlint // not wrapped: corruption must not read as 404
	}
	meta, err := decodeMeta(rr.tx.Bucket(bucketActivityMeta).Get([]byte(activityID)))
	if err != nil {
		return nil, err
	}
	venue := new(pb.Venue)
	if err := boltstore.GetProto(rr.tx.Bucket(bucketVenues), []byte(a.VenueId), venue, errVenueNotFound); err != nil {
		return nil, fmt.Errorf("venue of activity %s: %v", activityID, err) //nolint:errorlint // as above
	}
	out := &pb.RetireeRegistration{
		Registration:      r,
		ActivityTitle:     a.Title,
		Category:          a.Category,
		ActivityState:     a.State,
		CommunityId:       a.CommunityId,
		VenueId:           a.VenueId,
		VenueName:         venue.Name,
		SessionCount:      int32(meta.sessions), //nolint:gosec // G115: at most maxSessions
		FirstSessionStart: formatUnix(meta.firstStart, a.loc),
		LastSessionEnd:    formatUnix(meta.lastEnd, a.loc),
	}
	if a.State != pb.Activity_CANCELLED && meta.lastEnd > rr.now {
		if err := rr.nextSession(out, a); err != nil {
			return nil, err
		}
	}
	return out, rr.attendance(out, activityID)
}

// nextSession sets the first of a's sessions that is not over yet.
func (rr *registrationRows) nextSession(out *pb.RetireeRegistration, a cachedActivity) error {
	prefix := boltstore.Prefix(a.Id)
	return boltstore.ScanPrefix(rr.tx.Bucket(bucketOccurrences).Cursor(), prefix, nil, func(k, v []byte) (bool, error) {
		_, sp, err := parseOccurrence(prefix, k, v)
		if err != nil {
			return false, err
		}
		if sp.end <= rr.now {
			return true, nil
		}
		out.NextSessionStart, out.NextSessionEnd = formatUnix(sp.start, a.loc), formatUnix(sp.end, a.loc)
		return false, nil
	})
}

// attendance counts the activity's sessions whose attendance was recorded
// and those of them the retiree attended.
func (rr *registrationRows) attendance(out *pb.RetireeRegistration, activityID string) error {
	present := rr.tx.Bucket(bucketAttendance)
	return boltstore.ScanPrefix(rr.tx.Bucket(bucketAttendanceRecorded).Cursor(), boltstore.Prefix(activityID), nil, func(session, _ []byte) (bool, error) {
		out.SessionsRecorded++
		if present.Get(append(slices.Clip(session), rr.retireeID...)) != nil {
			out.SessionsAttended++
		}
		return true, nil
	})
}
