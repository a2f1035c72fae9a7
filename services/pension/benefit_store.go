package pension

import (
	"bytes"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Reasons of the death benefits' refusals, for clients to act on.
const (
	reasonBenefitRuleExists = "BENEFIT_RULE_EXISTS"
	reasonNotDeceased       = "RETIREE_NOT_DECEASED"
	reasonOpenClaim         = "OPEN_CLAIM_EXISTS"
	reasonNoBenefitRule     = "NO_BENEFIT_RULE"
	reasonNoRegularPayment  = "NO_REGULAR_PAYMENT"
)

// maxRegularLookBack bounds the payment keys read back from the month of
// death to find the last REGULAR payment: ten years of every kind.
const maxRegularLookBack = 500

// errClaimNotFound is what a read of an unknown claim gets; the server
// turns it into 403 for callers who may not learn that.
var errClaimNotFound = fmt.Errorf("death-benefit claim %w", fault.ErrNotFound)

// CreateBenefitRule stores a new, validated benefit rule by actor; a rule
// of the same region from the same day is a conflict.
func (s *Store) CreateBenefitRule(r *pb.BenefitRule, actor Actor) (*pb.BenefitRule, error) {
	out := proto.CloneOf(r)
	out.Id = ruleID(r.RegionPrefix, r.EffectiveOn)
	out.CreatedBy = actor.Subject
	out.CreateTime = timestamppb.New(s.now())
	if err := s.putRegionRule(bucketBenefitRules, out, reasonBenefitRuleExists); err != nil {
		return nil, err
	}
	return out, nil
}

// ListBenefitRules returns a page of the benefit rules whose region
// starts with prefix, by region and then effective date.
func (s *Store) ListBenefitRules(prefix string, size int, after []byte) ([]*pb.BenefitRule, []byte, error) {
	return listRegionRules[pb.BenefitRule](s, bucketBenefitRules, "benefit rule", prefix, size, after)
}

// benefitRuleOn returns the benefit rule that governs community on day,
// or a FAILED_PRECONDITION when none does: there is no national default.
func benefitRuleOn(tx *bolt.Tx, community string, day time.Time) (*pb.BenefitRule, error) {
	rules, err := rulesFor[pb.BenefitRule](tx, bucketBenefitRules, community, "benefit rule")
	if err != nil {
		return nil, err
	}
	r := selectRule(rules, community, day)
	if r == nil {
		return nil, fault.Rule(reasonNoBenefitRule, "no benefit rule governs the community on the date of death", "communityId", community)
	}
	return r, nil
}

// lastRegular returns a retiree's REGULAR payment of the latest month not
// after m (the latest paid, of two), corrections included; nil when none
// is recorded within maxRegularLookBack payments.
func (s *Store) lastRegular(tx *bolt.Tx, id string, m month) (*pb.Payment, error) {
	own := append([]byte(id), 0)
	c := tx.Bucket(bucketPayments).Cursor()
	// The last key before month m+1's: a seek past the end leaves the
	// cursor nowhere, and the last key of all is the one before.
	var k, v []byte
	if k, _ = c.Seek(paymentMonthPrefix(nil, id, m+1)); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for n := 0; k != nil && bytes.HasPrefix(k, own) && n < maxRegularLookBack; k, v = c.Prev() {
		n++
		if kindOfPaymentKey(k) != pb.PaymentKind_REGULAR {
			continue
		}
		p := new(pb.Payment)
		if err := s.Decode(bucketPayments, k, v, p); err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, nil
}

// claimGuard is the object check of a claim's retiree; st is nil when the
// claim or its retiree is unknown.
type claimGuard func(st *registryv1.RetireeState) error

// CreateClaim files c, validated, as a DRAFT for the retiree id by actor:
// only for a retiree the projection has DECEASED, and only when the
// retiree has no open claim.
func (s *Store) CreateClaim(id string, c *pb.DeathBenefitClaim, actor Actor, check claimGuard) (*pb.DeathBenefitClaim, error) {
	out := proto.CloneOf(c)
	now := s.now()
	out.Id, out.RetireeId, out.State = inputcheck.NewOpaqueID(), id, pb.DeathBenefitClaimState_DRAFT
	out.FiledBy, out.CreateTime, out.UpdateTime = actor.Subject, timestamppb.New(now), timestamppb.New(now)
	if out.ConsentToOffset {
		out.ConsentTime = timestamppb.New(now)
	}
	err := s.Update(func(tx *bolt.Tx) error {
		st, err := s.claimRetiree(tx, id, check)
		if err != nil {
			return err
		}
		if st.Status != registryv1.RetireeStatus_DECEASED {
			return fault.Rule(reasonNotDeceased, "a claim is filed only for a retiree registry has deceased")
		}
		if open, err := openClaimOf(tx, id); err != nil || open != "" {
			return cmpErr(err, fault.Conflict(reasonOpenClaim, "the retiree has an open claim", "claimId", open))
		}
		out.CommunityId, out.DateOfDeath = st.CommunityId, st.DateOfDeath
		return s.putClaim(tx, out, pb.DeathBenefitClaimState_DEATH_BENEFIT_CLAIM_STATE_UNSPECIFIED, actor, "CreateDeathBenefitClaim", now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// cmpErr is err when there is one, else alt.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// claimRetiree returns the projected retiree id after check; an unknown
// one is checked as nil.
func (s *Store) claimRetiree(tx *bolt.Tx, id string, check claimGuard) (*registryv1.RetireeState, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, cmpErr(check(nil), errRetireeNotFound)
	}
	st, err := getRetiree(tx, id)
	if isNotFound(err) {
		return nil, cmpErr(check(nil), err)
	}
	if err != nil {
		return nil, err
	}
	return st, check(st)
}

// openClaimOf returns the id of a retiree's open claim, "" for none.
func openClaimOf(tx *bolt.Tx, id string) (string, error) {
	var open string
	err := boltstore.ScanPrefix(tx.Bucket(bucketClaimsByRetiree).Cursor(), boltstore.Prefix(id), nil, func(k, v []byte) (bool, error) {
		if len(v) == 1 && isOpenClaim(ClaimState(v[0])) {
			open = string(k[len(id)+1:])
			return false, nil
		}
		return true, nil
	})
	return open, err
}

// putClaim writes c, moves its index entries from state was to its own,
// and audits the change as action, in tx.
func (s *Store) putClaim(tx *bolt.Tx, c *pb.DeathBenefitClaim, was ClaimState, actor Actor, action string, now time.Time) error {
	if err := s.PutProto(tx, bucketClaims, []byte(c.Id), c); err != nil {
		return err
	}
	if was != c.State {
		state := []byte{byte(c.State)} //nolint:gosec // G115: the states are 1 to 6
		if err := tx.Bucket(bucketClaimsByCommunity).Put(boltstore.Key(c.CommunityId, c.Id), state); err != nil {
			return err
		}
		if err := tx.Bucket(bucketClaimsByRetiree).Put(boltstore.Key(c.RetireeId, c.Id), state); err != nil {
			return err
		}
	}
	return audit.Put(tx, audit.NewEntry(actor, action, c.RetireeId, now))
}

// getClaim reads a claim in tx.
func (s *Store) getClaim(tx *bolt.Tx, id string) (*pb.DeathBenefitClaim, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, errClaimNotFound
	}
	c := new(pb.DeathBenefitClaim)
	if err := s.GetProto(tx, bucketClaims, []byte(id), c, errClaimNotFound); err != nil {
		return nil, err
	}
	return c, nil
}

// claimChange is one change of a claim: the action of the state machine,
// its name in the audit log, and what it sets besides the state, given
// the retiree as the projection has it now.
type claimChange struct {
	action claimAction
	rpc    string
	apply  func(tx *bolt.Tx, c *pb.DeathBenefitClaim, st *registryv1.RetireeState, now time.Time) error
}

// ChangeClaim applies ch to the claim id by actor after check, in one
// transaction with its audit entry.
func (s *Store) ChangeClaim(id string, ch claimChange, actor Actor, check claimGuard) (*pb.DeathBenefitClaim, error) {
	var out *pb.DeathBenefitClaim
	err := s.Update(func(tx *bolt.Tx) error {
		c, err := s.getClaim(tx, id)
		if isNotFound(err) {
			return cmpErr(check(nil), err)
		}
		if err != nil {
			return err
		}
		st, err := s.claimRetiree(tx, c.RetireeId, check)
		if err != nil {
			return err
		}
		was := c.State
		if c.State, err = nextState(ch.action, was); err != nil {
			return err
		}
		now := s.now()
		if ch.apply != nil {
			if err := ch.apply(tx, c, st, now); err != nil {
				return err
			}
		}
		c.UpdateTime = timestamppb.New(now)
		out = c
		return s.putClaim(tx, c, was, actor, ch.rpc, now)
	})
	return out, err
}

// submitClaim is the submission: the rule in force in the retiree's
// community on the date of death, its checklist, and the amounts.
func (s *Store) submitClaim(tx *bolt.Tx, c *pb.DeathBenefitClaim, st *registryv1.RetireeState, _ time.Time) error {
	death, ok := parseDate(st.DateOfDeath)
	if st.Status != registryv1.RetireeStatus_DECEASED || !ok {
		return fault.Rule(reasonNotDeceased, "registry no longer has the retiree deceased")
	}
	rule, err := benefitRuleOn(tx, c.CommunityId, death)
	if err != nil {
		return err
	}
	if err := checkChecklist(rule.RequiredDocuments, c.Documents); err != nil {
		return err
	}
	last, err := s.lastRegular(tx, c.RetireeId, monthOf(death))
	if err != nil {
		return err
	}
	if last == nil && rule.SurvivorMonths > 0 {
		return fault.Rule(reasonNoRegularPayment, "no REGULAR payment is recorded up to the month of death: the survivor payment cannot be computed")
	}
	c.DateOfDeath = st.DateOfDeath
	c.Amounts = benefitAmounts(rule, last)
	return nil
}

// GetClaim returns a claim after check.
func (s *Store) GetClaim(id string, check claimGuard) (*pb.DeathBenefitClaim, error) {
	var out *pb.DeathBenefitClaim
	err := s.DB().View(func(tx *bolt.Tx) error {
		c, err := s.getClaim(tx, id)
		if isNotFound(err) {
			return cmpErr(check(nil), err)
		}
		if err != nil {
			return err
		}
		if _, err := s.claimRetiree(tx, c.RetireeId, check); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// ListClaims returns a page of the claims filed in community ("" for
// all), in state (UNSPECIFIED for any), by community and claim id. after
// is the last key of the previous page.
func (s *Store) ListClaims(community string, state ClaimState, size int, after []byte) ([]*pb.DeathBenefitClaim, []byte, error) {
	var out []*pb.DeathBenefitClaim
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var prefix []byte
		if community != "" {
			prefix = boltstore.Prefix(community)
		}
		scan := boltstore.Scan{Prefix: prefix, After: after, Size: size, MaxExamined: s.maxExamined}
		var err error
		next, err = scan.Page(tx.Bucket(bucketClaimsByCommunity).Cursor(), func(k, v []byte) (bool, error) {
			if len(v) != 1 || state != 0 && ClaimState(v[0]) != state {
				return false, nil
			}
			i := bytes.LastIndexByte(k, 0)
			c, err := s.getClaim(tx, string(k[i+1:]))
			if err != nil {
				return false, err
			}
			out = append(out, c)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// reverseClaims is the death benefits' part of a reversed death, in the
// projection's transaction: the retiree's open claims become VOID, and a
// PAID claim is flagged death_reversed for the bureau to recover.
func (s *Store) reverseClaims(tx *bolt.Tx, id string) error {
	var ids []string
	err := boltstore.ScanPrefix(tx.Bucket(bucketClaimsByRetiree).Cursor(), boltstore.Prefix(id), nil, func(k, v []byte) (bool, error) {
		if len(v) == 1 && (isOpenClaim(ClaimState(v[0])) || ClaimState(v[0]) == pb.DeathBenefitClaimState_PAID) {
			ids = append(ids, string(k[len(id)+1:]))
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	now := s.now()
	actor := Actor{Subject: "pension", Role: "service"}
	for _, cid := range ids {
		c, err := s.getClaim(tx, cid)
		if err != nil {
			return err
		}
		was := c.State
		if was == pb.DeathBenefitClaimState_PAID {
			c.DeathReversed = true
		} else {
			c.State = pb.DeathBenefitClaimState_VOID
		}
		c.UpdateTime = timestamppb.New(now)
		if err := s.putClaim(tx, c, was, actor, "ReverseDeath", now); err != nil {
			return err
		}
	}
	return nil
}
