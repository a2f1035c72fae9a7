package pension

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// decisionRecorders may record the bureau's decisions by a call: the
// bureau (and admin, whom authn.Require lets through).
var decisionRecorders = []authn.Role{authn.RoleBureau}

// RecordDecision implements pb.PensionServiceServer.
func (s *Server) RecordDecision(ctx context.Context, req *pb.RecordDecisionRequest) (*pb.RecordDecisionResponse, error) {
	p, err := authn.Require(ctx, decisionRecorders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	var in *decisionInput
	if d := req.Decision; d == nil {
		v.Add("decision", "required")
	} else {
		var problems []decisionProblem
		in, problems = checkDecision(d.Action, d.EffectiveMonth, d.Reason, d.Note, d.Reference, s.now())
		for _, pr := range problems {
			v.Add(pr.field, pr.message)
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	d, err := s.store.RecordDecision(req.RetireeId, in, audit.ActorOf(ctx, p), guard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RecordDecisionResponse{Decision: d}, nil
}

// ListDecisions implements pb.PensionServiceServer.
func (s *Server) ListDecisions(ctx context.Context, req *pb.ListDecisionsRequest) (*pb.ListDecisionsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListDecisions", req.RetireeId))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	return readRetiree(ctx, s, p, "ListDecisions", s.store.Retiree, req.RetireeId, func(st *registryv1.RetireeState) (*pb.ListDecisionsResponse, error) {
		list, last, err := s.store.ListDecisions(st.Id, page.Size, page.After)
		return &pb.ListDecisionsResponse{Decisions: list, NextPageToken: page.Next(last)}, err
	})
}
