package pension

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// ListPayments implements pb.PensionServiceServer.
func (s *Server) ListPayments(ctx context.Context, req *pb.ListPaymentsRequest) (*pb.ListPaymentsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	from, to := monthRange(&v, req.FromMonth, req.ToMonth, s.now())
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "ListPayments", s.store.Retiree, req.RetireeId, func(st *registryv1.RetireeState) (*pb.ListPaymentsResponse, error) {
		payments, err := s.store.Payments(st.Id, from, to)
		return &pb.ListPaymentsResponse{Payments: payments}, err
	})
}

// QueryPayments implements pb.PensionServiceServer: ListPayments by ID
// number, which travels in the body, never in a URL.
func (s *Server) QueryPayments(ctx context.Context, req *pb.QueryPaymentsRequest) (*pb.QueryPaymentsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	var id idnumber.ID
	if req.IdNumber == "" {
		v.Add("idNumber", "required")
	} else {
		id, _ = idnumber.CheckAt(&v, "idNumber", req.IdNumber, s.now())
	}
	from, to := monthRange(&v, req.FromMonth, req.ToMonth, s.now())
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "QueryPayments", s.store.LookupRetiree, id, func(st *registryv1.RetireeState) (*pb.QueryPaymentsResponse, error) {
		payments, err := s.store.Payments(st.Id, from, to)
		return &pb.QueryPaymentsResponse{RetireeId: st.Id, Payments: payments}, err
	})
}

// ListPaymentVersions implements pb.PensionServiceServer.
func (s *Server) ListPaymentVersions(ctx context.Context, req *pb.ListPaymentVersionsRequest) (*pb.ListPaymentVersionsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	m, _ := checkMonth(&v, "month", req.Month)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "ListPaymentVersions", s.store.Retiree, req.RetireeId, func(st *registryv1.RetireeState) (*pb.ListPaymentVersionsResponse, error) {
		versions, err := s.store.PaymentVersions(st.Id, m)
		return &pb.ListPaymentVersionsResponse{Versions: versions}, err
	})
}

// GetStatement implements pb.PensionServiceServer.
func (s *Server) GetStatement(ctx context.Context, req *pb.GetStatementRequest) (*pb.GetStatementResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	if req.Year < minYear || int(req.Year) > now.Year() {
		v.Addf("year", "must be between %d and the current year", minYear)
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "GetStatement", s.store.Retiree, req.RetireeId, func(st *registryv1.RetireeState) (*pb.GetStatementResponse, error) {
		return s.store.Statement(st, int(req.Year), now)
	})
}

// ListCertifications implements pb.PensionServiceServer.
func (s *Server) ListCertifications(ctx context.Context, req *pb.ListCertificationsRequest) (*pb.ListCertificationsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListCertifications", req.RetireeId))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "ListCertifications", s.store.Retiree, req.RetireeId, func(st *registryv1.RetireeState) (*pb.ListCertificationsResponse, error) {
		list, last, err := s.store.ListCertifications(st.Id, page.Size, page.After)
		return &pb.ListCertificationsResponse{Certifications: list, NextPageToken: page.Next(last)}, err
	})
}

// GetEntitlement implements pb.PensionServiceServer.
func (s *Server) GetEntitlement(ctx context.Context, req *pb.GetEntitlementRequest) (*pb.GetEntitlementResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	asOf := asOfDate(&v, req.AsOf, s.now())
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "GetEntitlement", s.store.Retiree, req.RetireeId, func(st *registryv1.RetireeState) (*pb.GetEntitlementResponse, error) {
		return s.store.Entitlement(st, asOf)
	})
}

// ListPaymentAnomalies implements pb.PensionServiceServer.
func (s *Server) ListPaymentAnomalies(ctx context.Context, req *pb.ListPaymentAnomaliesRequest) (*pb.ListPaymentAnomaliesResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	m := requiredMonth(&v, "month", req.Month, s.now())
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListPaymentAnomalies", req.CommunityId, req.Month))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := canSeeCommunity(p, req.CommunityId); err != nil {
		return nil, err
	}
	list, last, err := s.store.ListAnomalies(AnomalyFilter{CommunityID: req.CommunityId, Month: m, DropShare: s.dropShare}, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListPaymentAnomalies", listedRetirees(list)...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListPaymentAnomaliesResponse{Anomalies: list, NextPageToken: page.Next(last)}, nil
}

// listedRetirees returns the ids of the retirees whose data a page of a
// list discloses, for the audit of the read: each once, as a list names a
// retiree's entries one after another.
func listedRetirees[T interface{ GetRetireeId() string }](list []T) []string {
	var ids []string
	for i, e := range list {
		if i == 0 || list[i-1].GetRetireeId() != e.GetRetireeId() {
			ids = append(ids, e.GetRetireeId())
		}
	}
	return ids
}
