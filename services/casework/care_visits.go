package casework

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// What a visit's outcome starts (issue 16):
//
//   - WELL closes the retiree's open visit items whose period has begun
//     (the period's, an overdue one's) and every open crisis visit, DONE
//     with the outcome; the failed contacts start again from 0.
//   - NEEDS_HELP does the same and opens a HARDSHIP item due in 3
//     working days.
//   - NO_CONTACT counts a failed contact; the items stay open. The second
//     in a row sets the retiree LOST_CONTACT in registry (effective the
//     visit's date, reason "两次走访未能联系") and opens a
//     LOST_CONTACT_CONFIRMATION item for the area's supervisor, whose
//     outcome CONFIRMED keeps it and REJECTED sets the retiree LIVING
//     again.
//   - FOUND_DECEASED files a death report in registry (source
//     CLERK_VISIT, the visit's date as the date of death found, the
//     visitor as reporter) and cancels the retiree's open visit items.
//
// The registry calls go through the care outbox (care_outbox.go).

// lostContactReason is the reason registry records for LOST_CONTACT.
const lostContactReason = "两次走访未能联系"

// Outcomes of a LOST_CONTACT_CONFIRMATION item.
const (
	OutcomeConfirmed = "CONFIRMED"
	OutcomeRejected  = "REJECTED"
)

var errVisitNotFound = fmt.Errorf("visit %w", fault.ErrNotFound)

// RecordVisit records a visit (validated by the caller: v carries
// retiree_id, method, visitor, visit_time, outcome, needs, referral,
// note, optionally work_item_id) with what its outcome starts, all in
// one transaction; key (scoped to the caller, "" for none) makes it
// idempotent.
func (s *Store) RecordVisit(v *pb.Visit, key string, actor Actor, allowed CareAllowed) (*pb.Visit, *pb.CareProfile, error) {
	var out *pb.Visit
	var prof *pb.CareProfile
	err := s.Update(func(tx *bolt.Tx) error {
		st, err := careRetiree(tx, v.RetireeId, allowed)
		if err != nil {
			return err
		}
		fp := visitFingerprint(v)
		if out, err = visitOfKey(tx, key, fp); err != nil || out != nil {
			if err == nil {
				prof, err = s.profileOf(tx, st)
			}
			return err
		}
		if out, err = s.recordVisit(tx, st, v, actor); err != nil {
			return err
		}
		if key != "" {
			if err := tx.Bucket(bucketVisitKeys).Put([]byte(key), append(fp, out.Id...)); err != nil {
				return err
			}
		}
		prof, err = s.profileOf(tx, st)
		return err
	})
	return out, prof, err
}

// visitFingerprint identifies what a request asked to record.
func visitFingerprint(v *pb.Visit) []byte {
	raw, _ := proto.MarshalOptions{Deterministic: true}.Marshal(v)
	sum := sha256.Sum256(raw)
	return sum[:]
}

// visitOfKey returns the visit a request key recorded, nil for an unused
// key, or REQUEST_KEY_REUSED when it recorded a different one.
func visitOfKey(tx *bolt.Tx, key string, fp []byte) (*pb.Visit, error) {
	if key == "" {
		return nil, nil
	}
	rec := tx.Bucket(bucketVisitKeys).Get([]byte(key))
	if rec == nil {
		return nil, nil
	}
	if len(rec) < sha256.Size || !bytes.Equal(rec[:sha256.Size], fp) {
		return nil, fault.Rule(ReasonRequestKeyReused, "the request key recorded a different visit")
	}
	v := new(pb.Visit)
	return v, boltstore.GetProto(tx.Bucket(bucketVisits), rec[sha256.Size:], v, errVisitNotFound)
}

// recordVisit writes a new visit and applies its outcome.
func (s *Store) recordVisit(tx *bolt.Tx, st *registryv1.RetireeState, in *pb.Visit, actor Actor) (*pb.Visit, error) {
	if st.Status != registryv1.RetireeStatus_LIVING && st.Status != registryv1.RetireeStatus_LOST_CONTACT {
		return nil, fault.Rule(ReasonRetireeNotLiving, "a visit is recorded for a living retiree", "status", st.Status.String())
	}
	if err := checkVisitItem(tx, in); err != nil {
		return nil, err
	}
	now := s.now()
	v := proto.Clone(in).(*pb.Visit)
	v.Id, v.CommunityId = unusedID(tx.Bucket(bucketVisits), nil), st.CommunityId
	v.RecordedBy, v.RecordTime, v.FollowUpItemId, v.DeathReportId = actor.Subject, timestamppb.New(now), "", ""
	p, err := storedProfile(tx, st.Id)
	if err != nil {
		return nil, err
	}
	vt := v.VisitTime.AsTime()
	if p.LastVisitTime == nil || !vt.Before(p.LastVisitTime.AsTime()) {
		p.LastVisitTime, p.LastOutcome = v.VisitTime, v.Outcome
	}
	if err := s.applyOutcome(tx, st, v, p, actor); err != nil {
		return nil, err
	}
	if err := putProfile(tx, p); err != nil {
		return nil, err
	}
	return v, putVisit(tx, v)
}

// checkVisitItem checks that the item a visit names is a visit item of
// its retiree.
func checkVisitItem(tx *bolt.Tx, v *pb.Visit) error {
	if v.WorkItemId == "" {
		return nil
	}
	it, err := getItem(tx, v.WorkItemId)
	if err != nil || !isVisitKind(it.Kind) || it.RetireeId != v.RetireeId {
		return fault.Invalid("visit.workItemId", "not a visit item of this retiree")
	}
	return nil
}

// putVisit writes a visit and its two indexes.
func putVisit(tx *bolt.Tx, v *pb.Visit) error {
	if err := boltstore.PutProto(tx.Bucket(bucketVisits), []byte(v.Id), v); err != nil {
		return err
	}
	vt := v.VisitTime.AsTime()
	if err := tx.Bucket(bucketVisitsByRetiree).Put(queueKey(v.RetireeId, vt, v.Id), nil); err != nil {
		return err
	}
	return tx.Bucket(bucketVisitsByCommunity).Put(queueKey(v.CommunityId, vt, v.Id), nil)
}

// applyOutcome does what the visit's outcome starts (see the top of the
// file), updating the stored profile p.
func (s *Store) applyOutcome(tx *bolt.Tx, st *registryv1.RetireeState, v *pb.Visit, p *pb.CareProfile, actor Actor) error {
	switch v.Outcome {
	case pb.VisitOutcome_WELL, pb.VisitOutcome_NEEDS_HELP:
		p.FailedContacts = 0
		if err := s.closeVisitItems(tx, v, pb.WorkState_DONE, v.Outcome.String(), actor); err != nil {
			return err
		}
		if v.Outcome == pb.VisitOutcome_NEEDS_HELP {
			return s.openVisitFollowUp(tx, st, v, pb.WorkKind_HARDSHIP, "hardship/", "走访发现困难，需帮扶", actor)
		}
	case pb.VisitOutcome_NO_CONTACT:
		p.FailedContacts++
		// The second failure in a row, once: a third before registry's
		// answer has come back through the projection asks again nothing.
		if p.FailedContacts != 2 || st.Status != registryv1.RetireeStatus_LIVING {
			return nil
		}
		if err := s.enqueueCare(tx, cmdStatusChange, v.Id, &registryv1.ChangeRetireeStatusRequest{
			Id: st.Id, Status: registryv1.RetireeStatus_LOST_CONTACT, Reason: lostContactReason,
			EffectiveOn: chinaDate(v.VisitTime.AsTime()),
		}); err != nil {
			return err
		}
		return s.openVisitFollowUp(tx, st, v, pb.WorkKind_LOST_CONTACT_CONFIRMATION, "lost_contact/",
			"两次走访未能联系，已设为失联，请街道/区级主管确认（CONFIRMED 或 REJECTED）", actor)
	case pb.VisitOutcome_FOUND_DECEASED:
		if err := s.closeVisitItems(tx, v, pb.WorkState_CANCELLED, "found deceased at a visit", actor); err != nil {
			return err
		}
		return s.enqueueCare(tx, cmdDeathReport, v.Id, &registryv1.CreateDeathReportRequest{
			Id: st.Id, DateOfDeath: chinaDate(v.VisitTime.AsTime()), Source: registryv1.DeathReportSource_CLERK_VISIT,
			Reporter: &registryv1.DeathReporter{Name: v.Visitor},
		})
	}
	return nil
}

// chinaDate is the China date of t as YYYY-MM-DD.
func chinaDate(t time.Time) string { return t.In(workdays.ChinaTime).Format(time.DateOnly) }

// followUpDays is how many working days a HARDSHIP or confirmation item
// has.
const followUpDays = 3

// openVisitFollowUp opens the item an outcome starts, due at the end of the
// third working day, and names it on the visit.
func (s *Store) openVisitFollowUp(tx *bolt.Tx, st *registryv1.RetireeState, v *pb.Visit, kind pb.WorkKind, keyPrefix, summary string, actor Actor) error {
	now := s.now()
	day, _ := s.calendar.AddWorkingDays(workdays.Today(now), followUpDays)
	it, _, err := s.openItem(tx, ItemSpec{
		Kind: kind, Subject: retireeSubject(st.Id), RetireeID: st.Id, CommunityID: st.CommunityId,
		Start: now, Due: endOfDay(day), Priority: pb.Priority_PRIORITY_HIGH, Summary: summary,
		Source: careSource, SourceKey: keyPrefix + v.Id, Actor: actor.Subject,
	})
	if err != nil {
		return err
	}
	v.FollowUpItemId = it.Id
	return nil
}

// closeVisitItems closes the retiree's open visit items a visit answers:
// the one it names, every crisis visit, and the scheduled ones whose
// period began by the visit's time (those closed DONE within their period
// count in the visit report).
func (s *Store) closeVisitItems(tx *bolt.Tx, v *pb.Visit, state pb.WorkState, outcome string, actor Actor) error {
	ids, err := openItemsOf(tx, v.RetireeId)
	if err != nil {
		return err
	}
	vt := v.VisitTime.AsTime()
	for _, id := range ids {
		it, err := getItem(tx, id)
		if err != nil {
			return err
		}
		answers := it.Id == v.WorkItemId || it.Kind == pb.WorkKind_CRISIS_VISIT ||
			(it.Kind == pb.WorkKind_CARE_VISIT && !vt.Before(it.StartTime.AsTime()))
		if state == pb.WorkState_CANCELLED {
			answers = isVisitKind(it.Kind)
		}
		if !answers {
			continue
		}
		if _, err := s.changeIn(tx, it, func(_ *bolt.Tx, it *pb.WorkItem, now time.Time) error {
			closeItem(it, state, now, outcome)
			kind := pb.WorkEventKind_COMPLETED
			if state == pb.WorkState_CANCELLED {
				kind = pb.WorkEventKind_CANCELLED_BY_HAND
			}
			addEvent(it, kind, now, actor.Subject, "visit "+v.Id)
			return nil
		}); err != nil {
			return err
		}
		if state == pb.WorkState_DONE && it.Kind == pb.WorkKind_CARE_VISIT {
			if err := reportItemVisited(tx, it, vt); err != nil {
				return err
			}
		}
	}
	return nil
}

// confirmLostContact is the completion of a LOST_CONTACT_CONFIRMATION
// item: a supervisor (or admin) CONFIRMED keeps the retiree LOST_CONTACT;
// REJECTED sets them LIVING again in registry (through the outbox) and
// the failed contacts start again from 0.
func (s *Store) confirmLostContact(tx *bolt.Tx, it *pb.WorkItem, actor Actor) error {
	role := authn.Role(actor.Role)
	if role != authn.RoleStreet && role != authn.RoleDistrict && role != authn.RoleAdmin {
		return authn.ErrPermissionDenied
	}
	switch it.Outcome {
	case OutcomeConfirmed:
		return nil
	case OutcomeRejected:
	default:
		return fault.Invalid("outcome", "must be CONFIRMED or REJECTED")
	}
	p, err := storedProfile(tx, it.RetireeId)
	if err != nil {
		return err
	}
	p.FailedContacts = 0
	if err := putProfile(tx, p); err != nil {
		return err
	}
	return s.enqueueCare(tx, cmdStatusChange, "", &registryv1.ChangeRetireeStatusRequest{
		Id: it.RetireeId, Status: registryv1.RetireeStatus_LIVING, EffectiveOn: chinaDate(s.now()),
		Reason: "主管核实：未失联",
	})
}

// ListVisits reads one page of visits, newest first: a retiree's (prefix
// of bucketVisitsByRetiree) or a community's.
func (s *Store) ListVisits(byRetiree bool, owner string, size int, after []byte) ([]*pb.Visit, []byte, error) {
	var out []*pb.Visit
	var last []byte
	b := bucketVisitsByCommunity
	if byRetiree {
		b = bucketVisitsByRetiree
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		scan := boltstore.Scan{Prefix: boltstore.Prefix(owner), After: after, Size: size, Reverse: true}
		var err error
		last, err = scan.Page(tx.Bucket(b).Cursor(), func(k, _ []byte) (bool, error) {
			id, err := idOfKey(k)
			if err != nil {
				return false, err
			}
			v := new(pb.Visit)
			if err := boltstore.GetProto(tx.Bucket(bucketVisits), []byte(id), v, errVisitNotFound); err != nil {
				return false, err
			}
			out = append(out, v)
			return true, nil
		})
		return err
	})
	return out, last, err
}
