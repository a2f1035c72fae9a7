package handover

import (
	"fmt"
	"slices"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Party membership transfers (issue 15). Party membership is a restricted
// field: only admin, bureau and the PARTY track's receivers read a
// handover's party_transfers (see mayReadParty); everyone else gets the
// handover with them left out, and the timeline names no member, only
// counts.

// The actions of the party steps on the timeline.
const (
	actionPartyMembersSet       = "PARTY_MEMBERS_SET"
	actionPartyTransferRecorded = "PARTY_TRANSFER_RECORDED"
)

// Rule-failure reasons of the party steps, in ErrorInfo.
const (
	// ReasonPartyStageOrder: the stage is not the one after the
	// transfer's state.
	ReasonPartyStageOrder = "PARTY_TRANSFER_STAGE_ORDER"
	// ReasonPartyTransferRecorded: the enterprise would change or take
	// off a transfer the receiving side has recorded a stage of.
	ReasonPartyTransferRecorded = "PARTY_TRANSFER_ALREADY_RECORDED"
)

// Bounds of the party requests.
const (
	maxPartyMembersPerCall     = 1_000
	maxOrganisationLen         = 100
	maxIntroductionLetterNoLen = 64
)

// retireeCommunities maps each allocated retiree of h to its community.
// A package addressed to one community has its retirees allocated there
// at submit (settleAllocations).
func retireeCommunities(h *pb.Handover) map[string]string {
	out := make(map[string]string, len(h.RetireeIds))
	for _, a := range h.Allocations {
		for _, id := range a.RetireeIds {
			out[id] = a.CommunityId
		}
	}
	return out
}

// mayReadParty returns whether p may read a transfer of h, given the
// retirees' communities (needed for a clerk only): admin, bureau and the
// receiving unit's supervisor every one; a clerk those of the retirees
// allocated to its communities unless they go to the street's party
// organisation. Nil when p may read none.
func mayReadParty(p *authn.Principal, h *pb.Handover, alloc map[string]string) func(*pb.PartyTransfer) bool {
	switch {
	case p.Is(authn.RoleAdmin, authn.RoleBureau), superviseReceiver(p, h):
		return func(*pb.PartyTransfer) bool { return true }
	case p.Is(authn.RoleClerk):
		return func(t *pb.PartyTransfer) bool {
			return t.ReceivingLevel != pb.PartyTransfer_STREET && p.InCommunity(alloc[t.RetireeId])
		}
	}
	return nil
}

// redactParty leaves out of h, an answer to p, the party transfers p may
// not read, and says so in party_withheld; a caller who may read none
// gets no PARTY track either. Every answer that carries a handover goes
// through it (viewFor).
func redactParty(p *authn.Principal, h *pb.Handover) {
	if h == nil {
		return
	}
	var alloc map[string]string
	if p.Is(authn.RoleClerk) && len(h.PartyTransfers) > 0 {
		alloc = retireeCommunities(h)
	}
	may := mayReadParty(p, h, alloc)
	if may == nil {
		// Whoever may read no transfer learns nothing of them, not even
		// whether there are any: no transfers, no PARTY track, and
		// party_withheld always.
		h.PartyTransfers, h.PartyWithheld = nil, true
		h.Tracks = slices.DeleteFunc(h.Tracks, func(t *pb.Track) bool { return t.Kind == pb.Track_PARTY })
		return
	}
	h.PartyWithheld = false
	if len(h.PartyTransfers) == 0 {
		return
	}
	kept := make([]*pb.PartyTransfer, 0, len(h.PartyTransfers))
	for _, t := range h.PartyTransfers {
		if may(t) {
			kept = append(kept, t)
		}
	}
	h.PartyWithheld = len(kept) < len(h.PartyTransfers)
	h.PartyTransfers = kept
}

// partyCounts are the PARTY track's figures (partyTrack): one item per transfer, settled
// when CONFIRMED.
func partyCounts(h *pb.Handover) (items, settled int64) {
	for _, t := range h.PartyTransfers {
		items++
		if t.State == pb.PartyTransfer_CONFIRMED {
			settled++
		}
	}
	return items, settled
}

// checkPartyLeaving refuses to let retirees leave h (an edit or a batch
// removal of a returned package) while the receiving side has recorded a
// stage of one's party transfer.
func checkPartyLeaving(h *pb.Handover, left []string) error {
	gone := make(map[string]bool, len(left))
	for _, id := range left {
		gone[id] = true
	}
	for _, t := range h.PartyTransfers {
		if gone[t.RetireeId] && t.State != pb.PartyTransfer_PENDING {
			return recordedTransfer("retireeIds", t)
		}
	}
	return nil
}

// dropPartyTransfers takes the transfers of the retirees that left h.
func dropPartyTransfers(h *pb.Handover, left []string) {
	if len(left) == 0 || len(h.PartyTransfers) == 0 {
		return
	}
	gone := make(map[string]bool, len(left))
	for _, id := range left {
		gone[id] = true
	}
	kept := h.PartyTransfers[:0]
	for _, t := range h.PartyTransfers {
		if !gone[t.RetireeId] {
			kept = append(kept, t)
		}
	}
	h.PartyTransfers = kept
}

// checkPartyMembers validates a SetPartyMembers request: 1 to
// maxPartyMembersPerCall entries in all, each retiree named once.
func checkPartyMembers(members []*pb.PartyMember, notMembers []string) error {
	var v fault.Violations
	switch n := len(members) + len(notMembers); {
	case n == 0:
		v.Add("members", "name at least one member or not member")
		return v.Err()
	case n > maxPartyMembersPerCall:
		v.Addf("members", "at most %d members and not members per call", maxPartyMembersPerCall)
		return v.Err()
	}
	seen := make(retireeSet, len(members)+len(notMembers))
	for i, m := range members {
		field := fmt.Sprintf("members[%d]", i)
		if m == nil {
			v.Add(field, "required")
			continue
		}
		seen.check(&v, field+".retireeId", m.RetireeId, "named twice")
		inputcheck.Text(&v, field+".fromOrganisation", m.FromOrganisation, true, maxOrganisationLen)
	}
	for i, id := range notMembers {
		seen.check(&v, fmt.Sprintf("notMembers[%d]", i), id, "named twice")
	}
	return v.Err()
}

// setPartyMembers declares members and takes off notMembers of a DRAFT or
// RETURNED h. A transfer with a stage recorded stays as it is: the
// receiving side has acted on it.
func setPartyMembers(h *pb.Handover, members []*pb.PartyMember, notMembers []string) (string, error) {
	if err := requireState(h, "declaring party members", pb.Handover_DRAFT, pb.Handover_RETURNED); err != nil {
		return "", err
	}
	byRetiree := make(map[string]*pb.PartyTransfer, len(h.PartyTransfers))
	for _, t := range h.PartyTransfers {
		byRetiree[t.RetireeId] = t
	}
	if err := checkMembersOf(h, byRetiree, members, notMembers); err != nil {
		return "", err
	}
	for _, m := range members {
		if t := byRetiree[m.RetireeId]; t != nil {
			t.FromOrganisation = m.FromOrganisation
			continue
		}
		t := &pb.PartyTransfer{RetireeId: m.RetireeId, FromOrganisation: m.FromOrganisation, State: pb.PartyTransfer_PENDING}
		h.PartyTransfers = append(h.PartyTransfers, t)
		byRetiree[t.RetireeId] = t
	}
	before := len(h.PartyTransfers)
	dropPartyTransfers(h, notMembers)
	return fmt.Sprintf("%d party members declared, %d taken off; %d in all",
		len(members), before-len(h.PartyTransfers), len(h.PartyTransfers)), nil
}

// checkMembersOf checks that the retirees a SetPartyMembers names are
// h's, and that it changes no transfer the receiving side has recorded.
func checkMembersOf(h *pb.Handover, byRetiree map[string]*pb.PartyTransfer, members []*pb.PartyMember, notMembers []string) error {
	listed := make(map[string]bool, len(h.RetireeIds))
	for _, id := range h.RetireeIds {
		listed[id] = true
	}
	var v fault.Violations
	for i, m := range members {
		if !listed[m.RetireeId] {
			v.Add(fmt.Sprintf("members[%d].retireeId", i), "not one of the handover's retirees")
		} else if t := byRetiree[m.RetireeId]; t != nil && t.State != pb.PartyTransfer_PENDING && t.FromOrganisation != m.FromOrganisation {
			return recordedTransfer(fmt.Sprintf("members[%d]", i), t)
		}
	}
	for i, id := range notMembers {
		if !listed[id] {
			v.Add(fmt.Sprintf("notMembers[%d]", i), "not one of the handover's retirees")
		} else if t := byRetiree[id]; t != nil && t.State != pb.PartyTransfer_PENDING {
			return recordedTransfer(fmt.Sprintf("notMembers[%d]", i), t)
		}
	}
	return v.Err()
}

// recordedTransfer refuses a change of a transfer the receiving side has
// recorded a stage of.
func recordedTransfer(field string, t *pb.PartyTransfer) error {
	return fault.Rule(ReasonPartyTransferRecorded,
		field+": the receiving side has recorded this transfer "+t.State.String()+"; it cannot be changed or taken off",
		"state", t.State.String())
}

// checkPartyStage validates a RecordPartyTransfer request; today is the
// date in China.
func checkPartyStage(req *pb.RecordPartyTransferRequest, today string) error {
	var v fault.Violations
	if !inputcheck.IsOpaqueID(req.RetireeId) {
		v.Add("retireeId", "not a retiree id")
	}
	switch req.Stage {
	case pb.PartyTransfer_SENT, pb.PartyTransfer_RECEIVED, pb.PartyTransfer_CONFIRMED:
	default:
		v.Add("stage", "must be one of SENT, RECEIVED, CONFIRMED")
	}
	if req.Date == "" {
		v.Add("date", "required")
	} else if !parseDate(&v, "date", req.Date).IsZero() && req.Date > today {
		v.Add("date", "in the future")
	}
	sent := req.Stage == pb.PartyTransfer_SENT
	inputcheck.Text(&v, "introductionLetterNo", req.IntroductionLetterNo, sent, maxIntroductionLetterNoLen)
	inputcheck.Text(&v, "toOrganisation", req.ToOrganisation, sent, maxOrganisationLen)
	switch req.ReceivingLevel {
	case pb.PartyTransfer_STREET, pb.PartyTransfer_COMMUNITY:
	case pb.PartyTransfer_RECEIVING_LEVEL_UNSPECIFIED:
		if sent {
			v.Add("receivingLevel", "required")
		}
	default:
		v.Add("receivingLevel", "must be STREET or COMMUNITY")
	}
	return v.Err()
}

// recordPartyTransfer records the next stage of one transfer of a
// submitted h for p. Whoever may not read the transfer gets 403, whether
// or not the retiree is a party member: that is the restricted fact.
func recordPartyTransfer(p *authn.Principal, h *pb.Handover, req *pb.RecordPartyTransferRequest) (string, error) {
	if err := requireState(h, "recording a party transfer", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	var t *pb.PartyTransfer
	for _, c := range h.PartyTransfers {
		if c.RetireeId == req.RetireeId {
			t = c
			break
		}
	}
	may := mayReadParty(p, h, retireeCommunities(h))
	readsAll := p.Is(authn.RoleAdmin, authn.RoleBureau) || superviseReceiver(p, h)
	switch {
	case may == nil, t == nil && !readsAll, t != nil && !may(t):
		return "", authn.ErrPermissionDenied
	case t == nil:
		return "", fault.Invalid("retireeId", "not declared a party member of this handover")
	case p.Is(authn.RoleClerk) && req.ReceivingLevel == pb.PartyTransfer_STREET:
		return "", fault.Invalid("receivingLevel", "a community's clerk records transfers to its community's party organisation only")
	}
	if err := checkNextStage(t, req); err != nil {
		return "", err
	}
	switch req.Stage {
	case pb.PartyTransfer_SENT:
		t.IntroductionLetterNo, t.ToOrganisation, t.ReceivingLevel = req.IntroductionLetterNo, req.ToOrganisation, req.ReceivingLevel
		t.SentOn = req.Date
	case pb.PartyTransfer_RECEIVED:
		t.ReceivedOn = req.Date
	case pb.PartyTransfer_CONFIRMED:
		t.ConfirmedOn = req.Date
	}
	t.State = req.Stage
	return partyTransferDetail(h, req.Stage), nil
}

// checkNextStage checks that req is the stage after t's, dated not before
// the previous one, and changes nothing recorded at SENT.
func checkNextStage(t *pb.PartyTransfer, req *pb.RecordPartyTransferRequest) error {
	if req.Stage != t.State+1 {
		next := "none: it is settled"
		if t.State < pb.PartyTransfer_CONFIRMED {
			next = (t.State + 1).String()
		}
		return fault.Rule(ReasonPartyStageOrder,
			fmt.Sprintf("the transfer is %s; the next stage is %s", t.State, next), "state", t.State.String())
	}
	prev := map[pb.PartyTransfer_State]string{pb.PartyTransfer_RECEIVED: t.SentOn, pb.PartyTransfer_CONFIRMED: t.ReceivedOn}[req.Stage]
	var v fault.Violations
	if req.Date < prev {
		v.Addf("date", "before the previous stage (%s)", prev)
	}
	if req.Stage != pb.PartyTransfer_SENT {
		unchanged := func(field string, given, recorded string) {
			if given != "" && given != recorded {
				v.Add(field, "recorded at SENT; it cannot change")
			}
		}
		unchanged("introductionLetterNo", req.IntroductionLetterNo, t.IntroductionLetterNo)
		unchanged("toOrganisation", req.ToOrganisation, t.ToOrganisation)
		if req.ReceivingLevel != pb.PartyTransfer_RECEIVING_LEVEL_UNSPECIFIED && req.ReceivingLevel != t.ReceivingLevel {
			v.Add("receivingLevel", "recorded at SENT; it cannot change")
		}
	}
	return v.Err()
}

// partyTransferDetail describes a recorded stage for the timeline, by
// counts only: the timeline is read by callers who may not learn who is
// a party member.
func partyTransferDetail(h *pb.Handover, stage pb.PartyTransfer_State) string {
	n := map[pb.PartyTransfer_State]int{}
	for _, t := range h.PartyTransfers {
		n[t.State]++
	}
	return fmt.Sprintf("a party membership transfer %s; of %d transfers %d pending, %d sent, %d received, %d confirmed",
		stage, len(h.PartyTransfers), n[pb.PartyTransfer_PENDING], n[pb.PartyTransfer_SENT],
		n[pb.PartyTransfer_RECEIVED], n[pb.PartyTransfer_CONFIRMED])
}
