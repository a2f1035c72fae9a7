package handover

import (
	"strings"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Each part of a handover goes to its own receiver and completes on its
// own: a track. The tracks are not edited; refreshTracks computes them
// from the handover after every step, so they cannot disagree with it.

// FundsRule says where a region requires funds with a handover: the
// division-code prefixes (2, 4, 6 or 9 digits) of the receiving units
// whose region's rule asks for them. Elsewhere community services are
// paid from local budgets and a package may carry no funds.
type FundsRule []string

// Requires reports whether funds are required of a package received by
// the unit with code receiver.
func (r FundsRule) Requires(receiver string) bool {
	for _, prefix := range r {
		if strings.HasPrefix(receiver, prefix) {
			return true
		}
	}
	return false
}

// refreshTracks recomputes h's tracks, keeping the time and actor of a
// track's completion while it stays complete. actor and now describe the
// step that was just taken.
func refreshTracks(h *pb.Handover, actor string, now *timestamppb.Timestamp) {
	old := make(map[pb.Track_Kind]*pb.Track, len(h.Tracks))
	for _, t := range h.Tracks {
		old[t.Kind] = t
	}
	fresh := []*pb.Track{socialInsuranceTrack(h), archivesTrack(h), partyTrack(h), premisesTrack(h), fundsTrack(h)}
	for _, t := range fresh {
		if t.Items == 0 {
			t.State = pb.Track_NOT_APPLICABLE
			continue
		}
		t.State = pb.Track_OPEN
		if t.Settled < t.Items {
			continue
		}
		t.State = pb.Track_COMPLETED
		if o := old[t.Kind]; o != nil && o.State == pb.Track_COMPLETED {
			t.CompletedBy, t.CompleteTime = o.CompletedBy, o.CompleteTime
		} else {
			t.CompletedBy, t.CompleteTime = actor, now
		}
	}
	h.Tracks = fresh
}

// socialInsuranceTrack is the bureau's: one item, the roster, settled by
// its verification.
func socialInsuranceTrack(h *pb.Handover) *pb.Track {
	t := &pb.Track{Kind: pb.Track_SOCIAL_INSURANCE, ReceiverRole: string(authn.RoleBureau), Items: 1}
	if h.RosterVerification != nil {
		t.Settled = 1
	}
	return t
}

// archivesTrack is the archivist's: one item per dossier, settled when it
// was received or its absence explained.
func archivesTrack(h *pb.Handover) *pb.Track {
	t := &pb.Track{Kind: pb.Track_ARCHIVES, ReceiverRole: string(authn.RoleArchivist), Items: int64(len(h.Dossiers))}
	for _, d := range h.Dossiers {
		if dossierSettled(d) {
			t.Settled++
		}
	}
	return t
}

// partyTrack is the receiving party organisation's: one item per party
// member's transfer, settled when the receiving organisation confirmed
// it; it does not apply to a package without party members.
func partyTrack(h *pb.Handover) *pb.Track {
	items, settled := partyCounts(h)
	return &pb.Track{Kind: pb.Track_PARTY, ReceiverRole: string(authn.RoleStreet), Items: items, Settled: settled}
}

// premisesTrack is the receiving unit's: one item per premises, settled
// once inspected either way.
func premisesTrack(h *pb.Handover) *pb.Track {
	t := &pb.Track{Kind: pb.Track_PREMISES, ReceiverRole: receivingRole(h), Items: int64(len(h.Premises))}
	for _, pr := range h.Premises {
		if pr.Inspection == pb.Premises_ACCEPTED || pr.Inspection == pb.Premises_DECLINED {
			t.Settled++
		}
	}
	return t
}

// fundsTrack is the receiving unit's: the fen of the package, settled as
// they are received. A package without funds has no funds track; submit
// refuses one where the region's rule requires funds.
func fundsTrack(h *pb.Handover) *pb.Track {
	f := h.GetFunds()
	return &pb.Track{Kind: pb.Track_FUNDS, ReceiverRole: receivingRole(h), Items: f.GetAmountFen(), Settled: f.GetReceivedFen()}
}

// receivingRole is the role that receives a package's premises and funds:
// the clerk of the one community it is addressed to, else the receiving
// unit's supervisor.
func receivingRole(h *pb.Handover) string {
	switch {
	case h.CommunityId != "":
		return string(authn.RoleClerk)
	case len(h.ReceiverCode) == inputcheck.DistrictCodeLen:
		return string(authn.RoleDistrict)
	}
	return string(authn.RoleStreet)
}

// openTracks lists the kinds of h's tracks that apply and are not yet
// complete.
func openTracks(h *pb.Handover) []*pb.Track {
	var out []*pb.Track
	for _, t := range h.Tracks {
		if t.State == pb.Track_OPEN {
			out = append(out, t)
		}
	}
	return out
}
