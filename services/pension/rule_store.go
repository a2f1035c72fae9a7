package pension

import (
	"bytes"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// reasonRuleExists is the ErrorInfo reason for a second rule of a region
// from the same day.
const reasonRuleExists = "CERTIFICATION_RULE_EXISTS"

// maxPreviewRetirees bounds the retirees one preview counts: a province's
// retirees are counted by walking their index keys, a few hundred
// nanoseconds each.
const maxPreviewRetirees = 5_000_000

// ruleID is a rule's id: its region and the day it takes effect, which
// identify it, as no two rules of a region start on the same day.
func ruleID(region, effectiveOn string) string {
	return region + "-" + strings.ReplaceAll(effectiveOn, "-", "")
}

// CreateRule stores a new, validated certification rule by actor, with
// its id and creation time; a rule of the same region from the same day
// is a conflict.
func (s *Store) CreateRule(r *pb.CertificationRule, actor Actor) (*pb.CertificationRule, error) {
	out := proto.CloneOf(r)
	out.Id = ruleID(r.RegionPrefix, r.EffectiveOn)
	out.CreatedBy = actor.Subject
	out.CreateTime = timestamppb.New(s.now())
	if err := s.putRegionRule(bucketRules, out, reasonRuleExists); err != nil {
		return nil, err
	}
	return out, nil
}

// putRegionRule stores a rule of a bucket keyed like bucketRules; a rule
// of the same region from the same day is a conflict with reason.
func (s *Store) putRegionRule(bucket []byte, r storedRule, reason string) error {
	region, on := r.GetRegionPrefix(), r.GetEffectiveOn()
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		k, _ := b.Cursor().Seek(boltstore.Prefix(region, on))
		if bytes.HasPrefix(k, boltstore.Prefix(region, on)) {
			return fault.Conflict(reason, "the region has a rule from this day already", "ruleId", r.GetId())
		}
		return boltstore.PutProto(b, boltstore.Key(region, on, r.GetId()), r)
	})
}

// storedRule is a regionalRule as the store writes it.
type storedRule interface {
	proto.Message
	GetRegionPrefix() string
	GetEffectiveOn() string
	GetId() string
}

// ListRules returns a page of the rules whose region starts with prefix
// ("" for all), by region and then effective date. after is the last key
// of the previous page.
func (s *Store) ListRules(prefix string, size int, after []byte) ([]*pb.CertificationRule, []byte, error) {
	return listRegionRules[pb.CertificationRule](s, bucketRules, "certification rule", prefix, size, after)
}

// listRegionRules is ListRules over a bucket keyed like bucketRules.
func listRegionRules[R any, P interface {
	*R
	proto.Message
}](s *Store, bucket []byte, what, prefix string, size int, after []byte) ([]P, []byte, error) {
	var out []P
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		scan := boltstore.Scan{Prefix: []byte(prefix), After: after, Size: size, MaxExamined: s.maxExamined}
		next, err = scan.Page(tx.Bucket(bucket).Cursor(), func(_, v []byte) (bool, error) {
			r := P(new(R))
			if err := unmarshal(v, r, what); err != nil {
				return false, err
			}
			out = append(out, r)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// rulesIn appends to dst the rules stored for exactly region, oldest
// first.
func rulesIn(tx *bolt.Tx, dst []*pb.CertificationRule, region []byte) ([]*pb.CertificationRule, error) {
	return regionRulesIn(tx, bucketRules, dst, region, "certification rule")
}

// regionRulesIn appends to dst the rules of a bucket keyed like
// bucketRules stored for exactly region, oldest first.
func regionRulesIn[R any, P interface {
	*R
	proto.Message
}](tx *bolt.Tx, bucket []byte, dst []P, region []byte, what string) ([]P, error) {
	err := boltstore.ScanPrefix(tx.Bucket(bucket).Cursor(), region, nil, func(_, v []byte) (bool, error) {
		r := P(new(R))
		if err := unmarshal(v, r, what); err != nil {
			return false, err
		}
		dst = append(dst, r)
		return true, nil
	})
	return dst, err
}

// rulesFor returns the rules of a bucket keyed like bucketRules whose
// region contains community: its province's, city's and district's.
func rulesFor[R any, P interface {
	*R
	proto.Message
}](tx *bolt.Tx, bucket []byte, community, what string) ([]P, error) {
	var rules []P
	var err error
	for _, n := range regionPrefixLens {
		if n <= len(community) {
			if rules, err = regionRulesIn(tx, bucket, rules, boltstore.Prefix(community[:n]), what); err != nil {
				return nil, err
			}
		}
	}
	return rules, nil
}

// rulesOver returns the rules that may govern a community of region: the
// rules of the regions that contain it and of those it contains.
func rulesOver(tx *bolt.Tx, region string) ([]*pb.CertificationRule, error) {
	var out []*pb.CertificationRule
	var err error
	for _, n := range regionPrefixLens {
		if n < len(region) {
			if out, err = rulesIn(tx, out, boltstore.Prefix(region[:n])); err != nil {
				return nil, err
			}
		}
	}
	// Raw bytes: region's own rules and those of the regions in it.
	return rulesIn(tx, out, []byte(region))
}

// ruleOn returns the rule that governs community on day.
func ruleOn(tx *bolt.Tx, community string, day time.Time) (certRule, error) {
	rules, err := rulesFor[pb.CertificationRule](tx, bucketRules, community, "certification rule")
	if err != nil {
		return certRule{}, err
	}
	return ruleOf(selectRule(rules, community, day)), nil
}

// PreviewRule counts the living retirees of r's region by certification
// status on asOf, as if r were stored besides the rules there are: a
// community that a more specific rule governs keeps it.
func (s *Store) PreviewRule(r *pb.CertificationRule, asOf time.Time) (*pb.PreviewCertificationRuleResponse, error) {
	out := &pb.PreviewCertificationRuleResponse{AsOf: formatDate(asOf)}
	err := s.DB().View(func(tx *bolt.Tx) error {
		stored, err := rulesOver(tx, r.RegionPrefix)
		if err != nil {
			return err
		}
		// The proposal goes first: of two rules of a region from the same
		// day, selectRule keeps the first.
		rules := append([]*pb.CertificationRule{r}, stored...)
		return countStatuses(tx, r.RegionPrefix, asOf, rules, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// countStatuses adds to out the retirees of the due index under region by
// their status on asOf under rules, one community after another: within a
// community the index is ordered by the last certification day, and the
// two days that separate the overdue from the due soon and the due soon
// from the current are found once per community.
func countStatuses(tx *bolt.Tx, region string, asOf time.Time, rules []*pb.CertificationRule, out *pb.PreviewCertificationRuleResponse) error {
	var community, overdueBefore, dueSoonBefore string
	n := 0
	return boltstore.ScanPrefix(tx.Bucket(bucketDue).Cursor(), []byte(region), nil, func(k, _ []byte) (bool, error) {
		if n++; n > maxPreviewRetirees {
			return false, fault.Rule("PREVIEW_TOO_LARGE", "the region has too many retirees to preview at once; preview its cities or districts")
		}
		c, last, _, ok := splitDueKey(k)
		if !ok {
			return false, boltstore.ErrBadKey
		}
		if c != community {
			community = c
			rule := ruleOf(selectRule(rules, community, asOf))
			overdueBefore = formatDate(rule.firstCertifiedDueFrom(asOf))
			dueSoonBefore = formatDate(rule.firstCertifiedDueFrom(asOf.AddDate(0, 0, dueSoonDays+1)))
		}
		switch {
		case last < overdueBefore:
			out.Overdue++
		case last < dueSoonBefore:
			out.DueSoon++
		default:
			out.Current++
		}
		return true, nil
	})
}
