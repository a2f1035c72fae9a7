package handover

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// byPartyReceiver is who records the stages of party transfers: the
// street and district supervisors and the clerks who see the handover;
// recordPartyTransfer then checks the transfer itself (mayReadParty).
var byPartyReceiver = party{
	roles: []authn.Role{authn.RoleStreet, authn.RoleDistrict, authn.RoleClerk},
	may:   canSee,
}

// partyReportReaders may read the party transfer report: bureau, and the
// supervisors for their area (admin passes every Require).
var partyReportReaders = []authn.Role{authn.RoleBureau, authn.RoleStreet, authn.RoleDistrict}

// SetPartyMembers implements pb.HandoverServiceServer. The enterprise
// declares its party members but does not read them back: its answer has
// them withheld, as every answer to a caller outside the PARTY track.
func (s *Server) SetPartyMembers(ctx context.Context, req *pb.SetPartyMembersRequest) (*pb.SetPartyMembersResponse, error) {
	check := func() error { return checkPartyMembers(req.Members, req.NotMembers) }
	h, err := s.takeStep(ctx, byOwner, req.Id, req.Etag, check, rule(actionPartyMembersSet, func(cur *pb.Handover) (string, error) {
		return setPartyMembers(cur, req.Members, req.NotMembers)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.SetPartyMembersResponse{Handover: h}, nil
}

// RecordPartyTransfer implements pb.HandoverServiceServer.
func (s *Server) RecordPartyTransfer(ctx context.Context, req *pb.RecordPartyTransferRequest) (*pb.RecordPartyTransferResponse, error) {
	// takeStep authenticates before the step runs; p is nil only when it
	// refuses the call.
	p, _ := authn.FromContext(ctx)
	check := func() error { return checkPartyStage(req, s.today()) }
	h, err := s.takeStep(ctx, byPartyReceiver, req.Id, req.Etag, check, rule(actionPartyTransferRecorded, func(cur *pb.Handover) (string, error) {
		return recordPartyTransfer(p, cur, req)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.RecordPartyTransferResponse{Handover: h}, nil
}

// ReportPartyTransfers implements pb.HandoverServiceServer: admin and
// bureau read every row, a supervisor the transfers of its area's
// streets.
func (s *Server) ReportPartyTransfers(ctx context.Context, req *pb.ReportPartyTransfersRequest) (*pb.ReportPartyTransfersResponse, error) {
	p, err := authn.Require(ctx, partyReportReaders...)
	if err != nil {
		return nil, err
	}
	switch req.GroupBy {
	case pb.ReportPartyTransfersRequest_ENTERPRISE, pb.ReportPartyTransfersRequest_STREET:
	default:
		return nil, s.fail(ctx, fault.Invalid("groupBy", "must be ENTERPRISE or STREET"))
	}
	f := PartyReportFilter{ByStreet: req.GroupBy == pb.ReportPartyTransfersRequest_STREET, Area: p.Area()}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ReportPartyTransfers", req.GroupBy.String(), f.Area))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	rows, last, err := s.store.PartyTransferReport(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ReportPartyTransfersResponse{Rows: rows, NextPageToken: page.Next(last)}, nil
}
