package activity

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Why a retiree cannot be registered, as the retireeId violation says it.
const (
	whyUnknownRetiree = "unknown retiree"
	whyNotLiving      = "retiree is not living"
	whyOtherCommunity = "retiree does not belong to the activity's community"
)

// Register registers a retiree for an activity: CONFIRMED while places
// remain, else WAITLISTED behind those already waiting. The activity must
// be open, and the retiree living and of the activity's community as the
// projection knows them. Counting and inserting happen in one write
// transaction, which bbolt runs one at a time, so concurrent registrations
// never exceed the capacity. A retiree who cancelled may register again,
// at the end of the queue.
func (s *Store) Register(activityID, retireeID string, actor Actor, scope Scope) (*pb.Registration, error) {
	var out *pb.Registration
	err := s.Batch(func(tx *bolt.Tx) error {
		now := s.now()
		a, meta, err := loadOpenActivity(tx, activityID, scope, now)
		if err != nil {
			return err
		}
		if err := checkRetiree(tx, retireeID, a.CommunityId, scope); err != nil {
			return err
		}
		if err := clearCancelled(tx, a.Id, retireeID); err != nil {
			return err
		}
		state, err := admit(&meta, a.Capacity)
		if err != nil {
			return err
		}
		r := &pb.Registration{
			ActivityId:   a.Id,
			RetireeId:    retireeID,
			Position:     keyI64(meta.nextPosition),
			RegisterTime: timestamppb.New(now),
			State:        state,
		}
		meta.nextPosition++
		if err := putRegistration(tx, r, meta); err != nil {
			return err
		}
		out = r
		return audit.Put(tx, audit.NewEntry(actor, "RegisterRetiree", retireeID, now))
	})
	return out, err
}

// clearCancelled refuses a retiree already registered for an activity and
// deletes the retiree's cancelled registration, if any: one record per
// retiree, so the cancelled one makes way for the new.
func clearCancelled(tx *bolt.Tx, activityID, retireeID string) error {
	regs := tx.Bucket(bucketRegistrations)
	pos := tx.Bucket(bucketRegistrationByRetiree).Get(boltstore.Key(activityID, retireeID))
	if pos == nil {
		return nil
	}
	old, err := loadRegistration(regs, activityID, pos)
	if err != nil {
		return err
	}
	if old.State != pb.Registration_CANCELLED {
		return fault.Conflict(ReasonAlreadyRegistered, "the retiree is already registered for this activity", "state", old.State.String())
	}
	if err := tx.Bucket(bucketRetireeRegistrations).Delete(retireeRegistrationKey(old)); err != nil {
		return err
	}
	return regs.Delete(registrationKey(activityID, keyU64(old.Position)))
}

// admit counts a new registration in an activity's counters m and says its
// state: CONFIRMED while fewer than capacity are confirmed, else
// WAITLISTED while fewer than maxWaitlist wait.
func admit(m *activityMeta, capacity int32) (pb.Registration_State, error) {
	if int64(m.confirmed) < int64(capacity) {
		m.confirmed++
		return pb.Registration_CONFIRMED, nil
	}
	if m.waitlisted >= maxWaitlist {
		return 0, fault.Rule(ReasonWaitlistFull, fmt.Sprintf("the activity is full and %d are waiting", maxWaitlist))
	}
	m.waitlisted++
	return pb.Registration_WAITLISTED, nil
}

// putRegistration stores a new registration with its two indexes (by
// activity and retiree, by retiree and time) and its activity's counters,
// in tx.
func putRegistration(tx *bolt.Tx, r *pb.Registration, meta activityMeta) error {
	pos := keyU64(r.Position)
	if err := boltstore.PutProto(tx.Bucket(bucketRegistrations), registrationKey(r.ActivityId, pos), r); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRegistrationByRetiree).Put(boltstore.Key(r.ActivityId, r.RetireeId), boltstore.U64(pos)); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRetireeRegistrations).Put(retireeRegistrationKey(r), boltstore.U64(pos)); err != nil {
		return err
	}
	return tx.Bucket(bucketActivityMeta).Put([]byte(r.ActivityId), meta.encode())
}

// checkRetiree applies the registration rule to the projection's copy of
// a retiree. A caller who may not see the retiree — unknown, or of a
// community outside its scope — gets scope's refusal (403), so the answer
// says nothing about a retiree it may not see; only then do the rule's
// reasons come, community before life status.
func checkRetiree(tx *bolt.Tx, retireeID, community string, scope Scope) error {
	st, err := projection.Get(tx, retireeID)
	if !inputcheck.IsOpaqueID(retireeID) || errors.Is(err, projection.ErrUnknownRetiree) {
		return absent(scope, fault.Invalid("retiree_id", whyUnknownRetiree))
	}
	if err != nil {
		return err
	}
	if err := scope(st.CommunityId); err != nil {
		return err
	}
	if st.CommunityId != community {
		return fault.Invalid("retiree_id", whyOtherCommunity)
	}
	if st.Status != registryv1.RetireeStatus_LIVING {
		return fault.Invalid("retiree_id", whyNotLiving)
	}
	return nil
}

func loadRegistration(regs *bolt.Bucket, activityID string, pos []byte) (*pb.Registration, error) {
	p, err := boltstore.ParseU64(pos)
	if err != nil {
		return nil, err
	}
	r := new(pb.Registration)
	if err := boltstore.GetProto(regs, registrationKey(activityID, p), r, errRegistrationNotFound); err != nil {
		// The index names a registration that is not there: corruption,
		// not a missing object, so it must not read as 404.
		return nil, fmt.Errorf("registration index inconsistent at %s/%d: %v", activityID, p, err) //nolint:errorlint // not wrapped, as said above
	}
	return r, nil
}

// CancelRegistration cancels a retiree's registration for an open
// activity. When it held a confirmed place, the first on the waiting list
// (the lowest position) is confirmed in its place, in the same
// transaction; promoted is that registration, or nil.
func (s *Store) CancelRegistration(activityID, retireeID string, actor Actor, scope Scope) (cancelled, promoted *pb.Registration, err error) {
	err = s.Batch(func(tx *bolt.Tx) error {
		cancelled, promoted = nil, nil
		now := s.now()
		a, meta, err := loadOpenActivity(tx, activityID, scope, now)
		if err != nil {
			return err
		}
		if !inputcheck.IsOpaqueID(retireeID) {
			return errRegistrationNotFound
		}
		cancelled, promoted, err = cancelIn(tx, a, &meta, retireeID, actor, "CancelRegistration", now)
		if err != nil {
			return err
		}
		return s.noticePromoted(tx, a, promoted)
	})
	return cancelled, promoted, err
}

// cancelIn cancels retireeID's registration of activity a within tx and,
// when a confirmed place frees, confirms the first waitlisted; it stores
// the activity's counters. errRegistrationNotFound when there is no open
// registration.
func cancelIn(tx *bolt.Tx, a *pb.Activity, meta *activityMeta, retireeID string, actor Actor, action string, now time.Time) (cancelled, promoted *pb.Registration, err error) {
	regs := tx.Bucket(bucketRegistrations)
	pos := tx.Bucket(bucketRegistrationByRetiree).Get(boltstore.Key(a.Id, retireeID))
	if pos == nil {
		return nil, nil, errRegistrationNotFound
	}
	r, err := loadRegistration(regs, a.Id, pos)
	if err != nil {
		return nil, nil, err
	}
	was := r.State
	switch was {
	case pb.Registration_CANCELLED:
		return nil, nil, errRegistrationNotFound
	case pb.Registration_CONFIRMED:
		meta.confirmed--
	case pb.Registration_WAITLISTED:
		meta.waitlisted--
	}
	r.State = pb.Registration_CANCELLED
	if err := boltstore.PutProto(regs, registrationKey(a.Id, keyU64(r.Position)), r); err != nil {
		return nil, nil, err
	}
	if err := audit.Put(tx, audit.NewEntry(actor, action, retireeID, now)); err != nil {
		return nil, nil, err
	}
	if was == pb.Registration_CONFIRMED && meta.waitlisted > 0 {
		next, err := firstWaitlisted(regs, a.Id)
		if err != nil {
			return nil, nil, err
		}
		next.State = pb.Registration_CONFIRMED
		meta.waitlisted--
		meta.confirmed++
		if err := boltstore.PutProto(regs, registrationKey(a.Id, keyU64(next.Position)), next); err != nil {
			return nil, nil, err
		}
		if err := audit.Put(tx, audit.NewEntry(actor, "PromoteRegistration", next.RetireeId, now)); err != nil {
			return nil, nil, err
		}
		promoted = next
	}
	return r, promoted, tx.Bucket(bucketActivityMeta).Put([]byte(a.Id), meta.encode())
}

// applyRetiree is the projection hook: when a retiree dies, moves out,
// leaves the community or is no longer LIVING otherwise (lost contact
// with, imprisoned, abroad: none of them comes to an activity), the places
// it holds in activities not yet over are released (the first waitlisted
// moves up), in the projection's transaction.
func (s *Store) applyRetiree(tx *bolt.Tx, old, cur *registryv1.RetireeState) error {
	if old == nil {
		return nil
	}
	if cur != nil && cur.Status == registryv1.RetireeStatus_LIVING && cur.CommunityId == old.CommunityId {
		return nil
	}
	now := s.now()
	system := Actor{Subject: "activity", Role: "service"}
	prefix := boltstore.Prefix(old.Id)
	var activities []string
	if err := boltstore.ScanPrefix(tx.Bucket(bucketRetireeRegistrations).Cursor(), prefix, nil, func(k, _ []byte) (bool, error) {
		id, err := registeredActivity(prefix, k)
		activities = append(activities, id)
		return err == nil, err
	}); err != nil {
		return err
	}
	all := func(string) error { return nil }
	for _, id := range activities {
		a, meta, err := loadActivity(tx, id, all)
		if err != nil {
			return err
		}
		if checkOpen(a, meta, now) != nil {
			continue // over or cancelled: its registrations are history
		}
		_, promoted, err := cancelIn(tx, a, &meta, old.Id, system, "ReleaseRegistration", now)
		if err != nil && !errors.Is(err, errRegistrationNotFound) {
			return err
		}
		if err := s.noticePromoted(tx, a, promoted); err != nil {
			return err
		}
	}
	return nil
}

// firstWaitlisted returns the waiting registration with the lowest
// position. The meta counters say one exists.
func firstWaitlisted(regs *bolt.Bucket, activityID string) (*pb.Registration, error) {
	var found *pb.Registration
	err := boltstore.ScanPrefix(regs.Cursor(), boltstore.Prefix(activityID), nil, func(_, v []byte) (bool, error) {
		r := new(pb.Registration)
		if err := proto.Unmarshal(v, r); err != nil {
			return false, err
		}
		if r.State == pb.Registration_WAITLISTED {
			found = r
			return false, nil
		}
		return true, nil
	})
	if err == nil && found == nil {
		err = errors.New("waiting list count without a waiting registration")
	}
	return found, err
}

// ListRegistrations returns a page of an activity's registrations in
// position order.
func (s *Store) ListRegistrations(activityID string, scope Scope, size int, after []byte) ([]*pb.Registration, []byte, error) {
	var out []*pb.Registration
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		a, _, err := loadActivity(tx, activityID, scope)
		if err != nil {
			return err
		}
		next, err = boltstore.Scan{Prefix: boltstore.Prefix(a.Id), After: after, Size: size}.Page(tx.Bucket(bucketRegistrations).Cursor(), func(_, v []byte) (bool, error) {
			r := new(pb.Registration)
			if err := proto.Unmarshal(v, r); err != nil {
				return false, err
			}
			out = append(out, r)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// RecordAttendance replaces the attendance of one session: the session
// (by its start) must be one of the activity's, not cancelled, and have
// begun, and each retiree present must hold a confirmed registration.
func (s *Store) RecordAttendance(activityID string, start time.Time, present []string, actor Actor, scope Scope) (*pb.RecordAttendanceResponse, error) {
	var out *pb.RecordAttendanceResponse
	err := s.Batch(func(tx *bolt.Tx) error {
		now := s.now()
		a, meta, err := loadActivity(tx, activityID, scope)
		if err != nil {
			return err
		}
		if err := checkSessionBegun(tx, a, start, now); err != nil {
			return err
		}
		if err := checkConfirmed(tx, a.Id, present); err != nil {
			return err
		}
		session := sessionKey(a.Id, start.Unix())
		if err := replaceAttendance(tx, session, present, actor, now); err != nil {
			return err
		}
		// The places confirmed now are the session's: the report's
		// attendance rate is over them.
		if err := tx.Bucket(bucketAttendanceRecorded).Put(session, boltstore.U64(uint64(meta.confirmed))); err != nil {
			return err
		}
		loc, err := s.zones.load(a.TimeZone)
		if err != nil {
			return err
		}
		out = &pb.RecordAttendanceResponse{
			ActivityId:      a.Id,
			OccurrenceStart: start.In(loc).Format(time.RFC3339),
			Present:         int32(len(present)),   //nolint:gosec // G115: at most maxPresent (validated)
			Confirmed:       int32(meta.confirmed), //nolint:gosec // G115: within a capacity, at most maxVenueCapacity
		}
		return nil
	})
	return out, err
}

// checkSessionBegun fails unless start is the start of a session of a
// that was not cancelled and has begun by now.
func checkSessionBegun(tx *bolt.Tx, a *pb.Activity, start, now time.Time) error {
	n, err := sessionNumber(tx, a.Id, start.Unix())
	if err != nil {
		return err
	}
	if n == 0 {
		return fault.Invalid("occurrence_start", "not the start of a session of this activity")
	}
	if v := tx.Bucket(bucketCommunitySlots).Get(slotKey(a.CommunityId, start.Unix(), a.Id, n)); len(v) == 9 && v[8] == slotCancelled {
		return fault.Rule(ReasonActivityCancelled, "the session was cancelled")
	}
	if start.After(now) {
		return fault.Rule(ReasonSessionNotStarted, "the session has not started yet")
	}
	return nil
}

// checkConfirmed fails, naming each offending entry of present, unless
// every retiree in it holds a confirmed registration for the activity.
func checkConfirmed(tx *bolt.Tx, activityID string, present []string) error {
	regs, byRetiree := tx.Bucket(bucketRegistrations), tx.Bucket(bucketRegistrationByRetiree)
	var v fault.Violations
	for i, id := range present {
		pos := byRetiree.Get(boltstore.Key(activityID, id))
		if pos == nil {
			v.Add(fmt.Sprintf("present[%d]", i), "holds no confirmed registration")
			continue
		}
		r, err := loadRegistration(regs, activityID, pos)
		if err != nil {
			return err
		}
		if r.State != pb.Registration_CONFIRMED {
			v.Add(fmt.Sprintf("present[%d]", i), "holds no confirmed registration")
		}
	}
	return v.Err()
}

// replaceAttendance makes present the attendance of a session (its key):
// the attendance recorded before is deleted, and each retiree present is
// stored and audited.
func replaceAttendance(tx *bolt.Tx, session []byte, present []string, actor Actor, now time.Time) error {
	attendance := tx.Bucket(bucketAttendance)
	var stale [][]byte
	if err := boltstore.ScanPrefix(attendance.Cursor(), session, nil, func(k, _ []byte) (bool, error) {
		stale = append(stale, bytes.Clone(k))
		return true, nil
	}); err != nil {
		return err
	}
	// Deleted after the scan: a bbolt cursor must not walk a bucket that
	// is being changed under it.
	for _, k := range stale {
		if err := attendance.Delete(k); err != nil {
			return err
		}
	}
	for _, id := range present {
		if err := attendance.Put(append(slices.Clip(session), id...), nil); err != nil {
			return err
		}
		if err := audit.Put(tx, audit.NewEntry(actor, "RecordAttendance", id, now)); err != nil {
			return err
		}
	}
	return nil
}

// sessionNumber returns the number of an activity's session starting at
// start, or 0 when it has none.
func sessionNumber(tx *bolt.Tx, activityID string, start int64) (int, error) {
	prefix := boltstore.Prefix(activityID)
	found := 0
	err := boltstore.ScanPrefix(tx.Bucket(bucketOccurrences).Cursor(), prefix, nil, func(k, v []byte) (bool, error) {
		n, sp, err := parseOccurrence(prefix, k, v)
		if err != nil {
			return false, err
		}
		if sp.start == start {
			found = n
		}
		return found == 0 && sp.start < start, nil
	})
	return found, err
}
