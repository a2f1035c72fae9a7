package pension

import (
	"context"
	"slices"
	"strconv"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// clerkChannels are the channels a clerk records, for the retirees of his
// communities: what a community sees itself. The others are the bureau's.
var clerkChannels = []pb.CertificationMethod{
	pb.CertificationMethod_IN_PERSON, pb.CertificationMethod_HOME_VISIT, pb.CertificationMethod_ACTIVITY,
}

// mayRecordChannel checks that p may record a certification through
// channel: bureau and admin any, a clerk only the community's channels.
func mayRecordChannel(p *authn.Principal, channel pb.CertificationMethod) error {
	if p.Role == authn.RoleClerk && !slices.Contains(clerkChannels, channel) {
		return authn.ErrPermissionDenied
	}
	return nil
}

// RecordCertification implements pb.PensionServiceServer.
func (s *Server) RecordCertification(ctx context.Context, req *pb.RecordCertificationRequest) (*pb.RecordCertificationResponse, error) {
	p, err := authn.Require(ctx, certifiers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	checkCertification(&v, req.Certification, s.now().In(workdays.ChinaTime))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	in := req.Certification
	if err := mayRecordChannel(p, in.Method); err != nil {
		return nil, err
	}
	// Only what a caller may set: the rest is the store's.
	c := &pb.Certification{Method: in.Method, CertifiedOn: in.CertifiedOn, Reference: in.Reference}
	out, err := s.store.RecordCertification(req.RetireeId, c, audit.ActorOf(ctx, p), guard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RecordCertificationResponse{Certification: out}, nil
}

// ListOverdueCertifications implements pb.PensionServiceServer.
func (s *Server) ListOverdueCertifications(ctx context.Context, req *pb.ListOverdueCertificationsRequest) (*pb.ListOverdueCertificationsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	asOf := asOfDate(&v, req.AsOf, s.now())
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListOverdueCertifications", req.CommunityId, req.AsOf))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	list, next, err := s.listDue(ctx, p, "ListOverdueCertifications", OverdueOn(req.CommunityId, asOf), page)
	if err != nil {
		return nil, err
	}
	return &pb.ListOverdueCertificationsResponse{Overdue: list, NextPageToken: next}, nil
}

// ListDueSoonCertifications implements pb.PensionServiceServer.
func (s *Server) ListDueSoonCertifications(ctx context.Context, req *pb.ListDueSoonCertificationsRequest) (*pb.ListDueSoonCertificationsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	asOf := asOfDate(&v, req.AsOf, s.now())
	within := int(req.WithinDays)
	switch {
	case within == 0:
		within = defaultDueSoonDays
	case within < 1 || within > maxDueSoonDays:
		v.Addf("withinDays", "must be between 1 and %d", maxDueSoonDays)
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListDueSoonCertifications", req.CommunityId, req.AsOf, strconv.Itoa(within)))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	list, next, err := s.listDue(ctx, p, "ListDueSoonCertifications", DueWithin(req.CommunityId, asOf, within), page)
	if err != nil {
		return nil, err
	}
	return &pb.ListDueSoonCertificationsResponse{DueSoon: list, NextPageToken: next}, nil
}

// listDue answers a page of a work list for p, a clerk only for his
// communities, and records the read of every retiree it shows under
// action. Its errors are translated for the client.
func (s *Server) listDue(ctx context.Context, p *authn.Principal, action string, l DueList, page boltstore.Page) ([]*pb.OverdueCertification, string, error) {
	if err := canSeeCommunity(p, l.CommunityID); err != nil {
		return nil, "", err
	}
	list, last, err := s.store.ListDue(l, page.Size, page.After)
	if err != nil {
		return nil, "", s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), action, listedRetirees(list)...); err != nil {
		return nil, "", s.fail(ctx, err)
	}
	return list, page.Next(last), nil
}
