package pension

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Outcomes of an imported repayment.
const (
	outcomeRecorded  = "RECORDED"
	outcomeDuplicate = "DUPLICATE"
	outcomeRejected  = "REJECTED"
)

// ImportRecoveryRepayments records repayments from the bank in one
// transaction, each on its own: one refused leaves the others. A bank
// reference already recorded for the same case is a DUPLICATE.
func (s *Store) ImportRecoveryRepayments(in []*pb.RecoveryRepayment, actor Actor, rpc string) ([]*pb.RecoveryRepaymentResult, error) {
	out := make([]*pb.RecoveryRepaymentResult, len(in))
	err := s.Update(func(tx *bolt.Tx) error {
		refs := tx.Bucket(bucketRecoveryRefs)
		for i, r := range in {
			res := &pb.RecoveryRepaymentResult{BankReference: r.BankReference}
			out[i] = res
			dup := refs.Get([]byte(r.BankReference)) != nil
			c, err := s.changeCase(tx, r.CaseId, RecoveryAction{
				Actor: actor.Subject, Audit: actor, RPC: rpc, BankReference: r.BankReference,
				Allowed: func(*pb.RecoveryCase) error { return nil },
				Apply: func(c *pb.RecoveryCase, at step) error {
					return repay(c, at, r.AmountFen, r.PaidOn, r.BankReference)
				},
			})
			var rule *fault.RuleError
			switch {
			case errors.As(err, &rule):
				res.Outcome, res.Reason = outcomeRejected, rule.Reason
			case errors.Is(err, fault.ErrNotFound):
				res.Outcome, res.Reason = outcomeRejected, "CASE_NOT_FOUND"
			case err != nil:
				return err
			case dup:
				res.Outcome, res.BalanceFen = outcomeDuplicate, c.BalanceFen
			default:
				res.Outcome, res.BalanceFen = outcomeRecorded, c.BalanceFen
			}
		}
		return nil
	})
	return out, err
}

// ImportRecoveryRepayments implements pb.PensionServiceServer.
func (s *Server) ImportRecoveryRepayments(ctx context.Context, req *pb.ImportRecoveryRepaymentsRequest) (*pb.ImportRecoveryRepaymentsResponse, error) {
	p, err := authn.Require(ctx, importers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	if n := len(req.Repayments); n == 0 || n > maxRepaymentsIn {
		v.Add("repayments", "must have 1 to 1000 repayments")
	}
	today := s.today()
	seen := make(map[string]bool, len(req.Repayments))
	for i, r := range req.Repayments {
		var iv fault.Violations
		checkCaseID(&iv, r.GetCaseId())
		checkRepayment(&iv, r.GetAmountFen(), r.GetPaidOn(), r.GetBankReference(), true, today)
		if seen[r.GetBankReference()] {
			iv.Add("bankReference", "repeated in the request")
		}
		seen[r.GetBankReference()] = true
		if iv.Err() != nil {
			v.Add("repayments["+strconv.Itoa(i)+"]", "invalid: a case id, a positive amountFen, paidOn up to today and a unique bankReference")
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	res, err := s.store.ImportRecoveryRepayments(req.Repayments, audit.ActorOf(ctx, p), "ImportRecoveryRepayments")
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ImportRecoveryRepaymentsResponse{Results: res}, nil
}

// ageBucket names how long ago a case opened on opened was, on day.
func ageBucket(opened string, day time.Time) string {
	d, ok := parseDate(opened)
	days := 0
	if ok {
		days = daysBetween(d, day)
	}
	switch {
	case days <= 30:
		return "0-30"
	case days <= 90:
		return "31-90"
	case days <= 365:
		return "91-365"
	}
	return ">365"
}

// GetRecoveryReport implements pb.PensionServiceServer: cases of the
// caller's area only.
func (s *Server) GetRecoveryReport(ctx context.Context, req *pb.GetRecoveryReportRequest) (*pb.GetRecoveryReportResponse, error) {
	p, err := authn.Require(ctx, pensionReaders...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	width := map[string]int{"street": 9, "district": 6}[req.GroupBy]
	if width == 0 {
		v.Add("groupBy", "must be street or district")
	}
	asOf := asOfDate(&v, req.AsOf, s.today())
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	visible := caseGuard(p)
	groups := map[string]*reportGroup{}
	err = s.store.ForEachRecoveryCase(func(c *pb.RecoveryCase) {
		if visible(c) != nil || len(c.CommunityId) < width {
			return
		}
		area := c.CommunityId[:width]
		g := groups[area]
		if g == nil {
			g = &reportGroup{out: &pb.RecoveryReportGroup{Area: area}, counts: map[reportCell]int64{}}
			groups[area] = g
		}
		g.add(c, asOf)
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &pb.GetRecoveryReportResponse{}
	for _, g := range groups {
		resp.Groups = append(resp.Groups, g.finish())
	}
	sort.Slice(resp.Groups, func(i, j int) bool { return resp.Groups[i].Area < resp.Groups[j].Area })
	return resp, nil
}

// reportCell is a state and an age bucket.
type reportCell struct {
	state pb.RecoveryState
	age   string
}

// reportGroup gathers one area's cases.
type reportGroup struct {
	out    *pb.RecoveryReportGroup
	counts map[reportCell]int64
}

func (g *reportGroup) add(c *pb.RecoveryCase, asOf time.Time) {
	g.counts[reportCell{c.State, ageBucket(c.OpenedOn, asOf)}]++
	if c.State == pb.RecoveryState_RECOVERY_VOID {
		// A void case was never owed: it counts, but not in the rate.
		return
	}
	g.out.PrincipalFen += c.PrincipalFen
	g.out.RepaidFen += c.RepaidFen
	g.out.OffsetFen += c.OffsetFen
}

func (g *reportGroup) finish() *pb.RecoveryReportGroup {
	for cell, n := range g.counts {
		g.out.Counts = append(g.out.Counts, &pb.RecoveryReportCount{State: cell.state, Age: cell.age, Cases: n})
	}
	sort.Slice(g.out.Counts, func(i, j int) bool {
		a, b := g.out.Counts[i], g.out.Counts[j]
		return a.State < b.State || a.State == b.State && a.Age < b.Age
	})
	if g.out.PrincipalFen > 0 {
		g.out.RecoveryRate = float64(g.out.RepaidFen+g.out.OffsetFen) / float64(g.out.PrincipalFen)
	}
	return g.out
}
