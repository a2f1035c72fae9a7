package registry

import (
	"context"
	"time"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// transferRoles may answer transfers, and transferReaders read them: a
// street or district supervisor reads those of its area and answers
// none. The object checks are in canSeeTransfer and canAnswerTransfer.
var (
	transferRoles   = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk}
	transferReaders = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
)

// canSeeTransfer reports whether p may see transfer t: a clerk of either
// side sees it (the receiving one before it can see the retiree: only
// the name and masked ID number that the transfer carries), and so does
// a supervisor whose area holds either side.
func canSeeTransfer(p *authn.Principal, t *pb.Transfer) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau:
		return true
	case authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict:
		return p.InArea(t.FromCommunityId) || (t.ToCommunityId != "" && p.InArea(t.ToCommunityId))
	}
	return false
}

// canAnswerTransfer reports whether p may accept or decline transfer t:
// the receiving side.
func canAnswerTransfer(p *authn.Principal, t *pb.Transfer) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau:
		return true
	case authn.RoleClerk:
		return t.ToCommunityId != "" && p.InCommunity(t.ToCommunityId)
	}
	return false
}

// guardTransfer returns the object check of a transfer for p: t is nil
// when the transfer does not exist, which only those who may know learn.
func guardTransfer(p *authn.Principal, may func(*authn.Principal, *pb.Transfer) bool) func(*pb.Transfer) error {
	return func(t *pb.Transfer) error {
		if t == nil {
			if knowsExistence(p) {
				return nil
			}
			return authn.ErrPermissionDenied
		}
		if !may(p, t) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// TransferRetiree implements pb.RegistryServiceServer. A clerk transfers
// retirees out of its communities, bureau any: to a community of this
// system as a proposal its clerk answers, or out of the city at once.
// Admin moves a retiree to another community at once.
func (s *Server) TransferRetiree(ctx context.Context, req *pb.TransferRetireeRequest) (*pb.TransferRetireeResponse, error) {
	p, err := authn.Require(ctx, retireeEditors...)
	if err != nil {
		return nil, err
	}
	if err := checkTransferRequest(req, s.now()); err != nil {
		return nil, s.fail(ctx, err)
	}
	tr := TransferRequest{RetireeID: req.Id, To: req.ToCommunityId, Reason: req.Reason, Etag: req.Etag}
	if req.OutOfCity {
		tr.Destination = req.Destination
	} else {
		tr.Direct = p.Is(authn.RoleAdmin)
	}
	if req.ProposedOn != "" {
		if tr.Direct {
			return nil, s.fail(ctx, fault.Invalid("proposedOn", "admin's transfer moves the retiree at once: it has no proposal day"))
		}
		tr.ProposedAt, _ = time.ParseInLocation(time.DateOnly, req.ProposedOn, workdays.ChinaTime)
	}
	r, t, err := s.store.TransferRetiree(tr, audit.ActorOf(ctx, p), guard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.TransferRetireeResponse{Retiree: present(r, false, s.now()), Transfer: t}, nil
}

// maxProposedBack is how many days back a proposal made on paper may be
// dated: a year.
const maxProposedBack = 365

// checkTransferRequest validates a transfer: to a community, or with
// out_of_city to a destination outside this system; a proposal may be
// dated back to the day it was made on paper, not after now.
func checkTransferRequest(req *pb.TransferRetireeRequest, now time.Time) error {
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	checkProposedOn(&v, req, now.In(workdays.ChinaTime))
	if !req.OutOfCity {
		inputcheck.CommunityID(&v, "toCommunityId", req.ToCommunityId)
		if req.Destination != nil {
			v.Add("destination", "only with outOfCity; a transfer within the city names toCommunityId")
		}
		return v.Err()
	}
	if req.ToCommunityId != "" {
		v.Add("toCommunityId", "must be empty with outOfCity: the destination is outside this system")
	}
	d := req.Destination
	inputcheck.Text(&v, "destination.description", d.GetDescription(), true, maxAddressLen)
	if code := d.GetDivisionCode(); code != "" && !isDivisionCode(code) {
		v.Add("destination.divisionCode", "must be a division code of 6, 9 or 12 digits")
	}
	return v.Err()
}

// checkProposedOn checks a proposal's day on paper against today in
// China: not in the future, at most maxProposedBack days back, and only
// for a proposal.
func checkProposedOn(v *fault.Violations, req *pb.TransferRetireeRequest, today time.Time) {
	if req.ProposedOn == "" {
		return
	}
	if req.OutOfCity {
		v.Add("proposedOn", "a move out of the city happens at once: it has no proposal day")
		return
	}
	d := parseDate(v, "proposedOn", req.ProposedOn)
	switch {
	case d.IsZero():
	case dateOnly(d) > dateOnly(today):
		v.Add("proposedOn", "in the future")
	case dateOnly(d) < dateOnly(today.AddDate(0, 0, -maxProposedBack)):
		v.Add("proposedOn", "more than a year ago")
	}
}

// isDivisionCode reports whether s is a division code of a district (6
// digits), a street office (9) or a community (12).
func isDivisionCode(s string) bool {
	if len(s) != 6 && len(s) != 9 && len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// GetTransfer implements pb.RegistryServiceServer. It discloses the
// retiree's name and masked ID number, and is audited as a read of the
// retiree.
func (s *Server) GetTransfer(ctx context.Context, req *pb.GetTransferRequest) (*pb.GetTransferResponse, error) {
	p, err := authn.Require(ctx, transferReaders...)
	if err != nil {
		return nil, err
	}
	t, err := s.store.GetTransfer(req.Id, guardTransfer(p, canSeeTransfer))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "GetTransfer", t.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetTransferResponse{Transfer: t}, nil
}

// ListTransfers implements pb.RegistryServiceServer. A clerk lists the
// transfers into or out of one of its communities (the only one, when it
// has one), a supervisor those of one community of its area (the lists
// are indexed by community and direction); admin and bureau any
// community's, or all. The read is audited as a read of each listed
// retiree.
func (s *Server) ListTransfers(ctx context.Context, req *pb.ListTransfersRequest) (*pb.ListTransfersResponse, error) {
	p, err := authn.Require(ctx, transferReaders...)
	if err != nil {
		return nil, err
	}
	f := TransferFilter{CommunityID: req.CommunityId, Direction: req.Direction, State: req.State}
	if p.Role == authn.RoleClerk && f.CommunityID == "" && len(p.Communities) == 1 {
		f.CommunityID = p.Communities[0]
	}
	if err := checkTransferFilter(f, p); err != nil {
		return nil, s.fail(ctx, err)
	}
	if p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict) && !p.InArea(f.CommunityID) {
		return nil, authn.ErrPermissionDenied
	}
	page, err := s.store.PageTokens().ParsePage(req, f.scope())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListTransfers(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ids := make([]string, len(list))
	for i, t := range list {
		ids[i] = t.RetireeId
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListTransfers", ids...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListTransfersResponse{Transfers: list, NextPageToken: page.Next(last)}, nil
}

// checkTransferFilter validates a transfer list's filter for p: a
// community and a direction go together, and a clerk or a supervisor
// names a community.
func checkTransferFilter(f TransferFilter, p *authn.Principal) error {
	var v fault.Violations
	if f.CommunityID != "" && !inputcheck.IsCommunityID(f.CommunityID) {
		v.Add("communityId", "must be a 12-digit division code")
	}
	clerkWithout := f.CommunityID == "" && p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict)
	switch {
	case clerkWithout && p.Role == authn.RoleClerk:
		v.Add("communityId", "required for a clerk of several communities")
	case clerkWithout:
		v.Add("communityId", "required for a supervisor: one community of its area")
	}
	if _, ok := pb.TransferDirection_name[int32(f.Direction)]; !ok {
		v.Add("direction", "must be INCOMING or OUTGOING")
	} else if !clerkWithout && (f.Direction == pb.TransferDirection_TRANSFER_DIRECTION_UNSPECIFIED) != (f.CommunityID == "") {
		v.Add("direction", "INCOMING or OUTGOING, with communityId and only with it")
	}
	if _, ok := pb.TransferState_name[int32(f.State)]; !ok {
		v.Add("state", "unknown state")
	}
	return v.Err()
}

// AcceptTransfer implements pb.RegistryServiceServer.
func (s *Server) AcceptTransfer(ctx context.Context, req *pb.AcceptTransferRequest) (*pb.AcceptTransferResponse, error) {
	p, err := authn.Require(ctx, transferRoles...)
	if err != nil {
		return nil, err
	}
	t, r, err := s.store.AnswerTransfer(req.Id, TransferAnswer{Accept: true}, audit.ActorOf(ctx, p), guardTransfer(p, canAnswerTransfer))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.AcceptTransferResponse{Transfer: t, Retiree: present(r, false, s.now())}, nil
}

// DeclineTransfer implements pb.RegistryServiceServer.
func (s *Server) DeclineTransfer(ctx context.Context, req *pb.DeclineTransferRequest) (*pb.DeclineTransferResponse, error) {
	p, err := authn.Require(ctx, transferRoles...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	t, _, err := s.store.AnswerTransfer(req.Id, TransferAnswer{Reason: req.Reason}, audit.ActorOf(ctx, p), guardTransfer(p, canAnswerTransfer))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.DeclineTransferResponse{Transfer: t}, nil
}
