package casework

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// careSource is the source of the items care visits make; their source
// keys are visit/<retiree>/<period> and crisis/<retiree>/<key>.
const careSource = "care"

// ReasonRetireeNotLiving refuses care work for a retiree who is not
// LIVING (deceased, moved out, lost contact…).
const ReasonRetireeNotLiving = "RETIREE_NOT_LIVING"

// CareAllowed is the object check of a care call: it sees the retiree's
// projected state, or nil for a retiree the projection does not know.
type CareAllowed func(st *registryv1.RetireeState) error

// careRetiree reads a retiree for a care call that allowed guards.
func careRetiree(tx *bolt.Tx, id string, allowed CareAllowed) (*registryv1.RetireeState, error) {
	var st *registryv1.RetireeState
	if inputcheck.IsOpaqueID(id) {
		var err error
		if st, err = retireeOf(tx, id); err != nil && !errors.Is(err, errRetireeNotFound) {
			return nil, err
		}
	}
	if err := allowed(st); err != nil {
		return nil, err
	}
	if st == nil {
		return nil, errRetireeNotFound
	}
	return st, nil
}

// storedProfile reads the stored part of a retiree's care profile; an
// empty one when none is stored.
func storedProfile(tx *bolt.Tx, id string) (*pb.CareProfile, error) {
	p := new(pb.CareProfile)
	err := boltstore.GetProto(tx.Bucket(bucketCareProfiles), []byte(id), p, errRetireeNotFound)
	if errors.Is(err, errRetireeNotFound) {
		return &pb.CareProfile{RetireeId: id}, nil
	}
	return p, err
}

// putProfile stores what of a profile is not derived.
func putProfile(tx *bolt.Tx, p *pb.CareProfile) error {
	keep := &pb.CareProfile{
		RetireeId: p.RetireeId, Override: p.Override, LastVisitTime: p.LastVisitTime,
		LastOutcome: p.LastOutcome, FailedContacts: p.FailedContacts,
	}
	return boltstore.PutProto(tx.Bucket(bucketCareProfiles), []byte(p.RetireeId), keep)
}

// tierOf is the tier that applies to a retiree now: the override's, else
// the derived one; UNSPECIFIED for a retiree who is not LIVING.
func tierOf(st *registryv1.RetireeState, stored *pb.CareProfile, now time.Time) pb.RiskTier {
	derived, _ := deriveTier(st, now)
	if derived != pb.RiskTier_RISK_TIER_UNSPECIFIED && stored.GetOverride() != nil {
		return stored.Override.Tier
	}
	return derived
}

// profileOf is the full profile: the stored part, the tiers and the next
// visit due (the earliest due time of the retiree's open visit items).
func (s *Store) profileOf(tx *bolt.Tx, st *registryv1.RetireeState) (*pb.CareProfile, error) {
	stored, err := storedProfile(tx, st.Id)
	if err != nil {
		return nil, err
	}
	p := proto.Clone(stored).(*pb.CareProfile)
	p.RetireeName, p.CommunityId = st.Name, st.CommunityId
	p.DerivedTier, p.DerivedFrom = deriveTier(st, s.now())
	p.Tier = tierOf(st, stored, s.now())
	ids, err := openItemsOf(tx, st.Id)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		it, err := getItem(tx, id)
		if err != nil {
			return nil, err
		}
		if isVisitKind(it.Kind) && (p.NextVisitDue == nil || it.DueTime.AsTime().Before(p.NextVisitDue.AsTime())) {
			p.NextVisitDue = it.DueTime
		}
	}
	return p, nil
}

// isVisitKind reports whether items of kind are answered by a visit.
func isVisitKind(k pb.WorkKind) bool {
	return k == pb.WorkKind_CARE_VISIT || k == pb.WorkKind_CRISIS_VISIT
}

// CareProfile returns a retiree's care profile.
func (s *Store) CareProfile(id string, allowed CareAllowed) (*pb.CareProfile, error) {
	var out *pb.CareProfile
	err := s.DB().View(func(tx *bolt.Tx) error {
		st, err := careRetiree(tx, id, allowed)
		if err != nil {
			return err
		}
		out, err = s.profileOf(tx, st)
		return err
	})
	return out, err
}

// SetTier overrides a living retiree's tier with a reason, or, with
// RISK_TIER_UNSPECIFIED, removes the override. The change time is kept so
// that it applies from the next period.
func (s *Store) SetTier(id string, tier pb.RiskTier, reason string, actor Actor, allowed CareAllowed) (*pb.CareProfile, error) {
	var out *pb.CareProfile
	err := s.Update(func(tx *bolt.Tx) error {
		st, err := careRetiree(tx, id, allowed)
		if err != nil {
			return err
		}
		if st.Status != registryv1.RetireeStatus_LIVING {
			return fault.Rule(ReasonRetireeNotLiving, "only a living retiree has a care tier", "status", st.Status.String())
		}
		p, err := storedProfile(tx, id)
		if err != nil {
			return err
		}
		now := s.now()
		p.Override = nil
		if tier != pb.RiskTier_RISK_TIER_UNSPECIFIED {
			p.Override = &pb.TierOverride{Tier: tier, Reason: reason, SetBy: actor.Subject, SetTime: timestamppb.New(now)}
		}
		if err := putProfile(tx, p); err != nil {
			return err
		}
		if err := tx.Bucket(bucketCareTierChanged).Put([]byte(id), keyTime(now)); err != nil {
			return err
		}
		out, err = s.profileOf(tx, st)
		return err
	})
	return out, err
}

// crisisDue is how long after a crisis is reported its visit is due.
const crisisDue = 24 * time.Hour

// ReportCrisis opens a CRISIS_VISIT item for a living retiree, URGENT and
// due 24 hours after the report, under the source key
// crisis/<retiree>/<key>: the request key, else the report time, so that
// a repeated request makes no second item.
func (s *Store) ReportCrisis(id string, kind pb.CrisisKind, key, note string, actor Actor, allowed CareAllowed) (*pb.WorkItem, error) {
	var out *pb.WorkItem
	err := s.Update(func(tx *bolt.Tx) error {
		st, err := careRetiree(tx, id, allowed)
		if err != nil {
			return err
		}
		if st.Status != registryv1.RetireeStatus_LIVING {
			return fault.Rule(ReasonRetireeNotLiving, "a crisis visit is for a living retiree", "status", st.Status.String())
		}
		now := s.now()
		if key == "" {
			key = now.UTC().Format(time.RFC3339Nano)
		}
		summary := "危机探视（" + crisisName[kind] + "）"
		if note != "" {
			summary += "：" + note
		}
		out, _, err = s.openItem(tx, ItemSpec{
			Kind: pb.WorkKind_CRISIS_VISIT, Subject: retireeSubject(id), RetireeID: id, CommunityID: st.CommunityId,
			Start: now, Due: now.Add(crisisDue), Priority: pb.Priority_PRIORITY_URGENT, Summary: summary,
			Source: careSource, SourceKey: "crisis/" + id + "/" + key, Actor: actor.Subject,
		})
		return err
	})
	return out, err
}

// crisisName is how an item's summary names a crisis.
var crisisName = map[pb.CrisisKind]string{
	pb.CrisisKind_DEATH_IN_HOUSEHOLD: "家中有人去世", pb.CrisisKind_HOSPITAL_STAY: "住院",
	pb.CrisisKind_DISASTER: "灾害", pb.CrisisKind_CRISIS_OTHER: "其他",
}
