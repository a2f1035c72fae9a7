package pension

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// CreateCertificationRule implements pb.PensionServiceServer: admin only.
func (s *Server) CreateCertificationRule(ctx context.Context, req *pb.CreateCertificationRuleRequest) (*pb.CreateCertificationRuleResponse, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRule(&v, req.Rule)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	r, err := s.store.CreateRule(proposedRule(req.Rule), audit.ActorOf(ctx, p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	grpcserver.Logger(ctx).Info("certification rule created", zap.String("rule", r.Id), zap.String("kind", r.Kind.String()))
	return &pb.CreateCertificationRuleResponse{Rule: r}, nil
}

// ListCertificationRules implements pb.PensionServiceServer: admin and
// bureau.
func (s *Server) ListCertificationRules(ctx context.Context, req *pb.ListCertificationRulesRequest) (*pb.ListCertificationRulesResponse, error) {
	if _, err := authn.Require(ctx, authn.RoleBureau); err != nil {
		return nil, err
	}
	var v fault.Violations
	if _, ok := digits(req.RegionPrefix); !ok || len(req.RegionPrefix) > 6 {
		v.Add("regionPrefix", "must be up to 6 digits")
	}
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListCertificationRules", req.RegionPrefix))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	rules, last, err := s.store.ListRules(req.RegionPrefix, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListCertificationRulesResponse{Rules: rules, NextPageToken: page.Next(last)}, nil
}

// PreviewCertificationRule implements pb.PensionServiceServer: admin only.
func (s *Server) PreviewCertificationRule(ctx context.Context, req *pb.PreviewCertificationRuleRequest) (*pb.PreviewCertificationRuleResponse, error) {
	if _, err := authn.Require(ctx); err != nil {
		return nil, err
	}
	var v fault.Violations
	asOf := asOfDate(&v, req.AsOf, s.now())
	var r *pb.CertificationRule
	if req.Rule != nil {
		r = proposedRule(req.Rule)
		if r.EffectiveOn == "" && v.Err() == nil {
			// Without a day of its own the rule is previewed as in force
			// on the day counted.
			r.EffectiveOn = formatDate(asOf)
		}
	}
	checkRule(&v, r)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	r.Id = ruleID(r.RegionPrefix, r.EffectiveOn)
	out, err := s.store.PreviewRule(r, asOf)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return out, nil
}

// proposedRule is what a caller sets of a rule: the store assigns the
// rest.
func proposedRule(r *pb.CertificationRule) *pb.CertificationRule {
	return &pb.CertificationRule{
		RegionPrefix: r.RegionPrefix, EffectiveOn: r.EffectiveOn, Kind: r.Kind,
		WindowOpens: r.WindowOpens, WindowDeadline: r.WindowDeadline,
	}
}

// checkRule validates a proposed certification rule: a region of 2, 4 or
// 6 digits under a real province, a day it takes effect, and a kind; a
// WINDOW opens and closes on days of the year (MM-DD, not 29 February),
// the deadline not before the opening, and a ROLLING rule has neither.
func checkRule(v *fault.Violations, r *pb.CertificationRule) {
	if r == nil {
		v.Add("rule", "required")
		return
	}
	checkRegionFrom(v, r.RegionPrefix, r.EffectiveOn)
	switch r.Kind {
	case pb.CertificationRuleKind_ROLLING:
		if r.WindowOpens != "" {
			v.Add("windowOpens", "a ROLLING rule has no window")
		}
		if r.WindowDeadline != "" {
			v.Add("windowDeadline", "a ROLLING rule has no window")
		}
	case pb.CertificationRuleKind_WINDOW:
		checkWindow(v, r.WindowOpens, r.WindowDeadline)
	default:
		v.Add("kind", "must be ROLLING or WINDOW")
	}
}

// checkRegionFrom validates the region and the first day of a rule kept
// per region.
func checkRegionFrom(v *fault.Violations, region, effectiveOn string) {
	switch {
	case region == "":
		v.Add("regionPrefix", "required")
	case !isRegionPrefix(region):
		v.Add("regionPrefix", "must be the first 2, 4 or 6 digits of a community id, beginning with a province code")
	}
	switch _, ok := parseDate(effectiveOn); {
	case effectiveOn == "":
		v.Add("effectiveOn", "required")
	case !ok:
		v.Add("effectiveOn", "must be a date YYYY-MM-DD from 1950")
	}
}

// checkWindow validates a WINDOW rule's days.
func checkWindow(v *fault.Violations, opensS, deadlineS string) {
	opens, ok1 := monthDayField(v, "windowOpens", opensS)
	deadline, ok2 := monthDayField(v, "windowDeadline", deadlineS)
	if ok1 && ok2 && opens.after(deadline) {
		v.Add("windowDeadline", "before windowOpens: the window opens and closes in the same calendar year")
	}
}

// monthDayField parses a required MM-DD field.
func monthDayField(v *fault.Violations, field, s string) (monthDay, bool) {
	if s == "" {
		v.Add(field, "required for a WINDOW rule")
		return monthDay{}, false
	}
	md, ok := parseMonthDay(s)
	if !ok {
		v.Add(field, "must be a day of the year MM-DD other than 02-29")
	}
	return md, ok
}
