package pension

import (
	"context"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Who files a claim (a clerk of the retiree's community, the bureau) and
// who decides it (the bureau); admin may do both.
var (
	claimFilers   = []authn.Role{authn.RoleBureau, authn.RoleClerk}
	claimDeciders = []authn.Role{authn.RoleBureau}
)

// CreateBenefitRule implements pb.PensionServiceServer: admin only.
func (s *Server) CreateBenefitRule(ctx context.Context, req *pb.CreateBenefitRuleRequest) (*pb.CreateBenefitRuleResponse, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkBenefitRule(&v, req.Rule)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	in := req.Rule
	r, err := s.store.CreateBenefitRule(&pb.BenefitRule{
		RegionPrefix: in.RegionPrefix, EffectiveOn: in.EffectiveOn, FuneralGrantFixedFen: in.FuneralGrantFixedFen,
		FuneralGrantWageMonths: in.FuneralGrantWageMonths, ReferenceWageFen: in.ReferenceWageFen,
		SurvivorMonths: in.SurvivorMonths, RequiredDocuments: in.RequiredDocuments,
	}, audit.ActorOf(ctx, p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	grpcserver.Logger(ctx).Info("benefit rule created", zap.String("rule", r.Id))
	return &pb.CreateBenefitRuleResponse{Rule: r}, nil
}

// ListBenefitRules implements pb.PensionServiceServer: admin and bureau.
func (s *Server) ListBenefitRules(ctx context.Context, req *pb.ListBenefitRulesRequest) (*pb.ListBenefitRulesResponse, error) {
	if _, err := authn.Require(ctx, authn.RoleBureau); err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := digits(req.RegionPrefix); !ok || len(req.RegionPrefix) > 6 {
		v.Add("regionPrefix", "must be up to 6 digits")
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListBenefitRules", req.RegionPrefix))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	rules, last, err := s.store.ListBenefitRules(req.RegionPrefix, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListBenefitRulesResponse{Rules: rules, NextPageToken: page.Next(last)}, nil
}

// claimInput is what a filer sets of a claim.
func claimInput(c *pb.DeathBenefitClaim) *pb.DeathBenefitClaim {
	out := &pb.DeathBenefitClaim{Documents: c.Documents, BankAccount: c.BankAccount, ConsentToOffset: c.ConsentToOffset}
	if cl := c.Claimant; cl != nil {
		out.Claimant = &pb.Claimant{Name: cl.Name, Relation: cl.Relation, Phone: cl.Phone, IdNumber: cl.IdNumber}
	}
	return out
}

// CreateDeathBenefitClaim implements pb.PensionServiceServer: a clerk of
// the retiree's community, bureau, admin.
func (s *Server) CreateDeathBenefitClaim(ctx context.Context, req *pb.CreateDeathBenefitClaimRequest) (*pb.CreateDeathBenefitClaimResponse, error) {
	p, err := authn.Require(ctx, claimFilers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkClaimInput(&v, req.Claim, true)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.CreateClaim(req.RetireeId, claimInput(req.Claim), audit.ActorOf(ctx, p), claimGuard(guard(p)))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	grpcserver.Logger(ctx).Info("death-benefit claim filed", zap.String("claim", c.Id), zap.String("retiree", c.RetireeId))
	return &pb.CreateDeathBenefitClaimResponse{Claim: claimAnswer(c, false)}, nil
}

// UpdateDeathBenefitClaim implements pb.PensionServiceServer: as
// CreateDeathBenefitClaim, on a DRAFT. An empty bank account keeps the
// stored one; consent set anew is timed anew.
func (s *Server) UpdateDeathBenefitClaim(ctx context.Context, req *pb.UpdateDeathBenefitClaimRequest) (*pb.UpdateDeathBenefitClaimResponse, error) {
	p, err := authn.Require(ctx, claimFilers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkClaimInput(&v, req.Claim, false)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	in := claimInput(req.Claim)
	c, err := s.store.ChangeClaim(req.Id, claimChange{action: actUpdate, rpc: "UpdateDeathBenefitClaim",
		apply: func(_ *bolt.Tx, c *pb.DeathBenefitClaim, _ *registryv1.RetireeState, now time.Time) error {
			c.Claimant, c.Documents = in.Claimant, in.Documents
			if in.BankAccount != "" {
				c.BankAccount = in.BankAccount
			}
			if in.ConsentToOffset && !c.ConsentToOffset {
				c.ConsentTime = timestamppb.New(now)
			}
			if !in.ConsentToOffset {
				c.ConsentTime = nil
			}
			c.ConsentToOffset = in.ConsentToOffset
			return nil
		}}, audit.ActorOf(ctx, p), claimGuard(guard(p)))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.UpdateDeathBenefitClaimResponse{Claim: claimAnswer(c, false)}, nil
}

// SubmitDeathBenefitClaim implements pb.PensionServiceServer: as
// CreateDeathBenefitClaim.
func (s *Server) SubmitDeathBenefitClaim(ctx context.Context, req *pb.SubmitDeathBenefitClaimRequest) (*pb.SubmitDeathBenefitClaimResponse, error) {
	c, err := s.changeClaim(ctx, req.Id, claimFilers, claimChange{action: actSubmit, rpc: "SubmitDeathBenefitClaim", apply: s.store.submitClaim})
	if err != nil {
		return nil, err
	}
	return &pb.SubmitDeathBenefitClaimResponse{Claim: c}, nil
}

// ApproveDeathBenefitClaim implements pb.PensionServiceServer: bureau,
// admin.
func (s *Server) ApproveDeathBenefitClaim(ctx context.Context, req *pb.ApproveDeathBenefitClaimRequest) (*pb.ApproveDeathBenefitClaimResponse, error) {
	c, err := s.changeClaim(ctx, req.Id, claimDeciders, claimChange{action: actApprove, rpc: "ApproveDeathBenefitClaim", apply: decidedBy(ctx)})
	if err != nil {
		return nil, err
	}
	return &pb.ApproveDeathBenefitClaimResponse{Claim: c}, nil
}

// RejectDeathBenefitClaim implements pb.PensionServiceServer: bureau,
// admin; the reason is required.
func (s *Server) RejectDeathBenefitClaim(ctx context.Context, req *pb.RejectDeathBenefitClaimRequest) (*pb.RejectDeathBenefitClaimResponse, error) {
	var v fault.Violations
	inputcheck.MultilineText(&v, "reason", req.Reason, true, maxRejectReasonLen)
	decided := decidedBy(ctx)
	c, err := s.changeClaimChecked(ctx, req.Id, claimDeciders, &v, claimChange{action: actReject, rpc: "RejectDeathBenefitClaim",
		apply: func(tx *bolt.Tx, c *pb.DeathBenefitClaim, st *registryv1.RetireeState, now time.Time) error {
			c.RejectReason = req.Reason
			return decided(tx, c, st, now)
		}})
	if err != nil {
		return nil, err
	}
	return &pb.RejectDeathBenefitClaimResponse{Claim: c}, nil
}

// MarkDeathBenefitClaimPaid implements pb.PensionServiceServer: bureau,
// admin.
func (s *Server) MarkDeathBenefitClaimPaid(ctx context.Context, req *pb.MarkDeathBenefitClaimPaidRequest) (*pb.MarkDeathBenefitClaimPaidResponse, error) {
	var v fault.Violations
	switch d, ok := parseDate(req.PaidOn); {
	case req.PaidOn == "":
		v.Add("paidOn", "required")
	case !ok:
		v.Add("paidOn", "must be a date YYYY-MM-DD from 1950")
	case d.After(dayOf(s.now().In(workdays.ChinaTime))): // the day it is in China
		v.Add("paidOn", "must not be in the future")
	}
	inputcheck.BatchID(&v, "bankReference", req.BankReference)
	c, err := s.changeClaimChecked(ctx, req.Id, claimDeciders, &v, claimChange{action: actMarkPaid, rpc: "MarkDeathBenefitClaimPaid",
		apply: func(_ *bolt.Tx, c *pb.DeathBenefitClaim, _ *registryv1.RetireeState, _ time.Time) error {
			c.PaidOn, c.BankReference = req.PaidOn, req.BankReference
			return nil
		}})
	if err != nil {
		return nil, err
	}
	return &pb.MarkDeathBenefitClaimPaidResponse{Claim: c}, nil
}

// decidedBy records the caller as the claim's decider.
func decidedBy(ctx context.Context) func(*bolt.Tx, *pb.DeathBenefitClaim, *registryv1.RetireeState, time.Time) error {
	return func(_ *bolt.Tx, c *pb.DeathBenefitClaim, _ *registryv1.RetireeState, _ time.Time) error {
		if p, err := authn.Authenticated(ctx); err == nil {
			c.DecidedBy = p.Subject
		}
		return nil
	}
}

// changeClaim authorises roles, applies ch and answers the claim with the
// phone masked.
func (s *Server) changeClaim(ctx context.Context, id string, roles []authn.Role, ch claimChange) (*pb.DeathBenefitClaim, error) {
	return s.changeClaimChecked(ctx, id, roles, &fault.Violations{}, ch)
}

// changeClaimChecked is changeClaim after the request's own validation v.
func (s *Server) changeClaimChecked(ctx context.Context, id string, roles []authn.Role, v *fault.Violations, ch claimChange) (*pb.DeathBenefitClaim, error) {
	p, err := authn.Require(ctx, roles...)
	if err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.ChangeClaim(id, ch, audit.ActorOf(ctx, p), claimGuard(guard(p)))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	grpcserver.Logger(ctx).Info("death-benefit claim changed", zap.String("claim", c.Id), zap.String("state", c.State.String()))
	return claimAnswer(c, false), nil
}

// GetDeathBenefitClaim implements pb.PensionServiceServer: readers of the
// retiree's pension data; the read is audited. The claimant's phone is
// shown to a clerk, the bureau and admin, masked to supervisors.
func (s *Server) GetDeathBenefitClaim(ctx context.Context, req *pb.GetDeathBenefitClaimRequest) (*pb.GetDeathBenefitClaimResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	c, err := s.store.GetClaim(req.Id, claimGuard(guard(p)))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "GetDeathBenefitClaim", c.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetDeathBenefitClaimResponse{Claim: claimAnswer(c, p.Is(authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk))}, nil
}

// ListDeathBenefitClaims implements pb.PensionServiceServer: a clerk or a
// supervisor names a community of its own; the bureau and admin may list
// all. The retirees listed are audited as read.
func (s *Server) ListDeathBenefitClaims(ctx context.Context, req *pb.ListDeathBenefitClaimsRequest) (*pb.ListDeathBenefitClaimsResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	switch {
	case req.CommunityId == "" && !p.Is(authn.RoleAdmin, authn.RoleBureau):
		v.Add("communityId", "required")
	case req.CommunityId != "":
		inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	}
	if _, ok := pb.DeathBenefitClaimState_name[int32(req.State)]; !ok {
		v.Add("state", "unknown state")
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListDeathBenefitClaims", req.CommunityId, req.State.String()))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := canSeeCommunity(p, req.CommunityId); err != nil {
		return nil, err
	}
	claims, last, err := s.store.ListClaims(req.CommunityId, req.State, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	out := &pb.ListDeathBenefitClaimsResponse{NextPageToken: page.Next(last)}
	ids := make([]string, 0, len(claims))
	for _, c := range claims {
		out.Claims = append(out.Claims, claimAnswer(c, false))
		ids = append(ids, c.RetireeId)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListDeathBenefitClaims", ids...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}
