package handover

import (
	"fmt"
	"slices"
	"strings"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// A handover is an agreement between an enterprise and a receiving unit,
// a street office (9 digits) or a district (6 digits). The unit's
// supervisor allocates the retirees to its communities; each community's
// clerk works its own part. A package addressed to one community (the
// first version's only kind) is received by that community's street
// office, and its retirees are allocated to that community at submit.

// receiverOf is the receiving unit a new package is addressed to: the
// code given, or the street office of the community it names.
func receiverOf(h *pb.Handover) string {
	if h.ReceiverCode != "" {
		return h.ReceiverCode
	}
	if len(h.CommunityId) == inputcheck.CommunityIDLen {
		return h.CommunityId[:inputcheck.StreetCodeLen]
	}
	return ""
}

// checkReceiver validates the receiving unit and community of a new
// package: one of them at least, and the community within the unit.
func checkReceiver(v *fault.Violations, h *pb.Handover) {
	switch {
	case h.ReceiverCode == "" && h.CommunityId == "":
		v.Add("receiverCode", "required: the street office (9 digits) or district (6 digits) the agreement is made with, or a communityId")
		return
	case h.ReceiverCode != "" && !inputcheck.IsStreetCode(h.ReceiverCode) && !inputcheck.IsDistrictCode(h.ReceiverCode):
		v.Add("receiverCode", "must be a street office's 9-digit or a district's 6-digit division code")
		return
	}
	if h.CommunityId == "" {
		return
	}
	inputcheck.CommunityID(v, "communityId", h.CommunityId)
	if h.ReceiverCode != "" && !strings.HasPrefix(h.CommunityId, h.ReceiverCode) {
		v.Add("communityId", "not a community of the receiving unit "+h.ReceiverCode)
	}
}

// withinReceiver reports whether community is one of the receiving
// unit's communities.
func withinReceiver(h *pb.Handover, community string) bool {
	return len(community) == inputcheck.CommunityIDLen && strings.HasPrefix(community, h.ReceiverCode)
}

// allocate moves ids to community's part, out of any other part; parts
// left empty are dropped, and the parts stay in community order.
func allocate(h *pb.Handover, community string, ids []string) {
	moving := make(map[string]bool, len(ids))
	for _, id := range ids {
		moving[id] = true
	}
	var target *pb.Allocation
	kept := h.Allocations[:0]
	for _, a := range h.Allocations {
		a.RetireeIds = slices.DeleteFunc(a.RetireeIds, func(id string) bool { return moving[id] })
		if a.CommunityId == community {
			target = a
		}
		if len(a.RetireeIds) > 0 || a == target {
			kept = append(kept, a)
		}
	}
	h.Allocations = kept
	if target == nil {
		target = &pb.Allocation{CommunityId: community}
		h.Allocations = append(h.Allocations, target)
		slices.SortFunc(h.Allocations, func(a, b *pb.Allocation) int { return strings.Compare(a.CommunityId, b.CommunityId) })
	}
	target.RetireeIds = append(target.RetireeIds, ids...)
}

// settleAllocations keeps the allocations in step with the package's
// retirees at submit: retirees taken out of the package leave their
// parts, and a package addressed to one community has every retiree not
// yet allocated allocated to it.
func settleAllocations(h *pb.Handover) {
	listed := make(map[string]bool, len(h.RetireeIds))
	for _, id := range h.RetireeIds {
		listed[id] = true
	}
	allocated := make(map[string]bool, len(h.RetireeIds))
	h.Allocations = slices.DeleteFunc(h.Allocations, func(a *pb.Allocation) bool {
		a.RetireeIds = slices.DeleteFunc(a.RetireeIds, func(id string) bool { return !listed[id] })
		for _, id := range a.RetireeIds {
			allocated[id] = true
		}
		return len(a.RetireeIds) == 0
	})
	if h.CommunityId == "" {
		return
	}
	var rest []string
	for _, id := range h.RetireeIds {
		if !allocated[id] {
			rest = append(rest, id)
		}
	}
	if len(rest) > 0 {
		allocate(h, h.CommunityId, rest)
	}
}

// unallocated counts the package's retirees in no community's part.
func unallocated(h *pb.Handover) int {
	n := len(h.RetireeIds)
	for _, a := range h.Allocations {
		n -= len(a.RetireeIds)
	}
	return n
}

// allocateRetirees is the supervisor's allocation of ids to community.
func allocateRetirees(h *pb.Handover, community string, ids []string) (string, error) {
	if err := requireState(h, "allocating retirees", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	if !withinReceiver(h, community) {
		return "", fault.Invalid("communityId", "not a community of the receiving unit "+h.ReceiverCode)
	}
	listed := make(map[string]bool, len(h.RetireeIds))
	for _, id := range h.RetireeIds {
		listed[id] = true
	}
	var v fault.Violations
	for i, id := range ids {
		if !listed[id] {
			v.Add(fmt.Sprintf("retireeIds[%d]", i), "not one of the handover's retirees")
		}
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	allocate(h, community, ids)
	return fmt.Sprintf("%d retirees allocated to community %s; %d not yet allocated", len(ids), community, unallocated(h)), nil
}

// verifyRoster records the bureau's verification of the roster.
func verifyRoster(h *pb.Handover, by string, now *timestamppb.Timestamp, sha, note string) (string, error) {
	if err := requireState(h, "verifying the roster", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	h.RosterVerification = &pb.RosterVerification{VerifiedBy: by, VerifyTime: now, DocumentSha256: sha, Note: note}
	return fmt.Sprintf("roster of %d retirees verified; document sha256 %s", len(h.RetireeIds), sha), nil
}

// allocationCommunities are the communities with a part of h, and its
// community_id.
func allocationCommunities(h *pb.Handover) []string {
	out := make([]string, 0, len(h.Allocations)+1)
	if h.CommunityId != "" {
		out = append(out, h.CommunityId)
	}
	for _, a := range h.Allocations {
		if !slices.Contains(out, a.CommunityId) {
			out = append(out, a.CommunityId)
		}
	}
	return out
}

// superviseReceiver reports whether p is the supervisor of h's receiving
// unit or of the district above it.
func superviseReceiver(p *authn.Principal, h *pb.Handover) bool {
	area := p.Area()
	return p.IsSupervisor() && area != "" && strings.HasPrefix(h.ReceiverCode, area)
}

// clerkSees reports whether clerk p has a part of h: its community_id or
// an allocation is one of p's communities.
func clerkSees(p *authn.Principal, h *pb.Handover) bool {
	return slices.ContainsFunc(allocationCommunities(h), p.InCommunity)
}

// clerkHoldsAll reports whether clerk p holds every part of h: the
// receiving community of a package addressed to one community that no
// supervisor split.
func clerkHoldsAll(p *authn.Principal, h *pb.Handover) bool {
	return h.CommunityId != "" && !slices.ContainsFunc(allocationCommunities(h), func(c string) bool { return !p.InCommunity(c) })
}

// partView is what clerk p sees of h when it does not hold every part:
// the retirees, dossiers and allocations of its own communities only.
// Everyone else sees h whole.
func partView(p *authn.Principal, h *pb.Handover) *pb.Handover {
	if p.Role != authn.RoleClerk || clerkHoldsAll(p, h) {
		return h
	}
	out := proto.Clone(h).(*pb.Handover)
	mine := make(map[string]bool)
	out.Allocations = slices.DeleteFunc(out.Allocations, func(a *pb.Allocation) bool {
		if !p.InCommunity(a.CommunityId) {
			return true
		}
		for _, id := range a.RetireeIds {
			mine[id] = true
		}
		return false
	})
	out.RetireeIds = slices.DeleteFunc(out.RetireeIds, func(id string) bool { return !mine[id] })
	out.Dossiers = slices.DeleteFunc(out.Dossiers, func(d *pb.Dossier) bool { return !mine[d.RetireeId] })
	out.Obligations = slices.DeleteFunc(out.Obligations, func(o *pb.Obligation) bool { return o.RetireeId != "" && !mine[o.RetireeId] })
	return out
}

// migrateAgreements (schema 2 to 3) makes every stored package an
// agreement with the street office of its community, allocates the
// retirees of a submitted one to that community, computes the tracks and
// indexes the packages by receiving unit. Completed packages keep no
// roster verification: none was recorded, and their social-insurance
// track shows it.
func migrateAgreements(tx *bolt.Tx) error {
	byReceiver, err := tx.CreateBucketIfNotExists(bucketByReceiver)
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketHandovers)
	var all []*pb.Handover
	err = b.ForEach(func(_, v []byte) error {
		h := new(pb.Handover)
		if err := proto.Unmarshal(v, h); err != nil {
			return err
		}
		all = append(all, h)
		return nil
	})
	if err != nil {
		return err
	}
	for _, h := range all {
		if h.Kind == pb.Handover_KIND_UNSPECIFIED {
			h.Kind = pb.Handover_AGREEMENT
		}
		h.ReceiverCode = receiverOf(h)
		if h.SubmitTime != nil {
			settleAllocations(h)
		}
		refreshTracks(h, "", h.UpdateTime)
		if err := boltstore.PutProto(b, []byte(h.Id), h); err != nil {
			return err
		}
		if err := boltstore.MoveIndex(byReceiver, "", h.ReceiverCode, h.Id); err != nil {
			return err
		}
	}
	return nil
}
