package pension

import (
	"context"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Offsets of a recovery case against a death-benefit claim. The bureau
// pays the claims, so the bureau (and admin) alone offsets: a clerk of the
// community records repayments, not what the bureau keeps from its own
// payment. The claimant's consent is recorded on the claim while it is a
// DRAFT (the family agrees when filing) and cannot be withdrawn after
// submission, so an APPROVED claim's consent is final.

// Reasons of refused offsets.
const (
	ReasonNoConsentToOffset = "NO_CONSENT_TO_OFFSET"
	ReasonClaimNotApproved  = "CLAIM_NOT_APPROVED"
	ReasonClaimOtherRetiree = "CLAIM_OF_ANOTHER_RETIREE"
	ReasonClaimOffset       = "CLAIM_ALREADY_OFFSET"
	ReasonOverNetPayable    = "AMOUNT_OVER_NET_PAYABLE"
)

// offsetters may offset a case against a claim; admin may too.
var offsetters = []authn.Role{authn.RoleBureau}

// netPayable is what claim c still pays: its total less what was offset.
func netPayable(c *pb.DeathBenefitClaim) int64 {
	if c.GetAmounts() == nil {
		return 0
	}
	return c.Amounts.TotalFen - c.OffsetFen
}

// checkOffsettable reports why claim cl cannot be offset against case c,
// nil when it can; done is true when cl was already offset against c.
func checkOffsettable(c *pb.RecoveryCase, cl *pb.DeathBenefitClaim) (done bool, err error) {
	switch {
	case cl.RetireeId != c.RetireeId:
		return false, fault.Rule(ReasonClaimOtherRetiree, "the claim is of another retiree than the case", "claimId", cl.Id)
	case cl.OffsetCaseId == c.Id:
		return true, nil
	case cl.OffsetCaseId != "":
		return false, fault.Rule(ReasonClaimOffset, "the claim was offset against another case", "claimId", cl.Id)
	case cl.State != pb.DeathBenefitClaimState_APPROVED:
		return false, fault.Rule(ReasonClaimNotApproved, "only an APPROVED claim is offset, not a "+cl.State.String()+" one", "claimId", cl.Id)
	case !cl.ConsentToOffset:
		return false, fault.Rule(ReasonNoConsentToOffset, "the claimant has not consented to an offset", "claimId", cl.Id)
	}
	return false, nil
}

// offsetAmount is the amount to offset: the one asked, or when 0 the
// smaller of the case's balance and the claim's net payable.
func offsetAmount(asked int64, c *pb.RecoveryCase, cl *pb.DeathBenefitClaim) (int64, error) {
	net := netPayable(cl)
	if asked == 0 {
		asked = min(c.BalanceFen, net)
	}
	if asked > net {
		return 0, fault.Rule(ReasonOverNetPayable, "amountFen must not exceed the claim's net payable", "claimId", cl.Id)
	}
	return asked, nil
}

// OffsetRequest is one offset of a case against a claim by a caller.
type OffsetRequest struct {
	CaseID, ClaimID string
	// AmountFen 0 offsets as much as both allow.
	AmountFen int64
	// Actor is the subject the ledger names, Audit the audit log's.
	Actor string
	Audit Actor
	// Allowed is the object check of the case.
	Allowed func(*pb.RecoveryCase) error
}

// OffsetRecoveryCase offsets the case against the claim in one
// transaction: the case's OFFSET entry and the claim's offset are written
// together, with their audit entries. A claim already offset against the
// case answers both as they stand.
func (s *Store) OffsetRecoveryCase(r OffsetRequest) (*pb.RecoveryCase, *pb.DeathBenefitClaim, error) {
	var c *pb.RecoveryCase
	var cl *pb.DeathBenefitClaim
	err := s.Update(func(tx *bolt.Tx) error {
		var err error
		if c, err = s.offsetCase(tx, r); err != nil {
			return err
		}
		if cl, err = s.getClaim(tx, r.ClaimID); err != nil {
			return err
		}
		done, err := checkOffsettable(c, cl)
		if done || err != nil {
			return err
		}
		amount, err := offsetAmount(r.AmountFen, c, cl)
		if err != nil {
			return err
		}
		now := s.now()
		if err := offset(c, step{actor: r.Actor, time: now}, amount, cl.Id); err != nil {
			return err
		}
		return s.putOffset(tx, c, cl, amount, r.Audit, now)
	})
	if err != nil {
		return nil, nil, err
	}
	return c, cl, nil
}

// offsetCase reads the case of r after its object check.
func (s *Store) offsetCase(tx *bolt.Tx, r OffsetRequest) (*pb.RecoveryCase, error) {
	c, err := getCase(tx, &s.Base, r.CaseID)
	if errors.Is(err, errCaseNotFound) {
		return nil, cmpErr(r.Allowed(nil), err)
	}
	if err != nil {
		return nil, err
	}
	return c, r.Allowed(c)
}

// putOffset records amount on the claim and writes it and the case, in
// tx; putClaim's audit entry names the retiree of both.
func (s *Store) putOffset(tx *bolt.Tx, c *pb.RecoveryCase, cl *pb.DeathBenefitClaim, amount int64, actor Actor, now time.Time) error {
	cl.OffsetFen += amount
	cl.OffsetCaseId = c.Id
	cl.UpdateTime = timestamppb.New(now)
	if err := s.putClaim(tx, cl, cl.State, actor, "OffsetRecoveryCase", now); err != nil {
		return err
	}
	return putCase(tx, &s.Base, s.signals, c)
}

// OffsetRecoveryCase implements pb.PensionServiceServer: bureau, admin.
func (s *Server) OffsetRecoveryCase(ctx context.Context, req *pb.OffsetRecoveryCaseRequest) (*pb.OffsetRecoveryCaseResponse, error) {
	p, err := authn.Require(ctx, offsetters...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkCaseID(&v, req.Id)
	if !inputcheck.IsOpaqueID(req.ClaimId) {
		v.Add("claimId", "must be a death-benefit claim id")
	}
	if req.AmountFen < 0 {
		v.Add("amountFen", "must be positive, or 0 for as much as the case and the claim allow")
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, cl, err := s.store.OffsetRecoveryCase(OffsetRequest{
		CaseID: req.Id, ClaimID: req.ClaimId, AmountFen: req.AmountFen,
		Actor: p.Subject, Audit: audit.ActorOf(ctx, p), Allowed: caseGuard(p),
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	grpcserver.Logger(ctx).Info("recovery case offset", zap.String("case", c.Id), zap.String("claim", cl.Id), zap.String("state", c.State.String()))
	return &pb.OffsetRecoveryCaseResponse{Case: c, Claim: claimAnswer(cl, false)}, nil
}
