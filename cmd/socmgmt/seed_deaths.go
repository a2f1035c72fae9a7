package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// reportSources are the sources of the first deaths of a plan: each is
// filed as a death report from one of them, in this order, and verified
// by a clerk of the community; the rest of the deaths are recorded by
// the bureau in one step.
var reportSources = []registryv1.DeathReportSource{
	registryv1.DeathReportSource_FAMILY,
	registryv1.DeathReportSource_HOSPITAL,
	registryv1.DeathReportSource_CREMATION_RECORD,
	registryv1.DeathReportSource_HOUSEHOLD_CANCELLATION,
	registryv1.DeathReportSource_BUREAU_MATCH,
	registryv1.DeathReportSource_CLERK_VISIT,
}

// reportedDeaths is how many of plan's deaths are filed as reports.
func reportedDeaths(plan *cityPlan) int { return min(len(plan.Deaths), len(reportSources)) }

// redateRecentDeaths moves the dates of plan's first deaths (those of
// caseTargets, which include every reported one) into the months before
// now: a day of the month three to six months ago, within the pension year the
// seed pays, so that the family can be paid a survivor payment from the
// last regular pension and the overpaid months after the death show in
// the payments. The other deaths stay years back, as the bureau records
// them when matching.
func redateRecentDeaths(plan *cityPlan, now time.Time) {
	current := monthOfTime(now)
	for i := range plan.Deaths[:min(len(plan.Deaths), len(caseTargets))] {
		plan.Deaths[i].Date = (current - 3 - yearMonth(i%4)).day(10 + i).Format(dateLayout)
	}
}

// rejectReason is why a clerk rejects the report of a living retiree.
const rejectReason = "入户核实本人健在，系同名误报"

// reportPick is a retiree whose death a clerk reports, and what becomes
// of the report.
type reportPick struct {
	retiree *registryv1.Retiree
	date    string
	source  registryv1.DeathReportSource
	// want is the report's state at the end: VERIFIED, REPORTED (left
	// for the clerk) or REJECTED.
	want registryv1.DeathReportState
	t    *tally
}

// deathReportTallies count the reports of a seed by the state they are
// left in.
type deathReportTallies struct {
	verified, reported, rejected tally
}

// pickReports returns the reports of plan: its first deaths, verified,
// then one report left unverified and one rejected, each of a living
// community-managed retiree whom the plan changes in no other way,
// taken from the end of the plan so as not to meet pickPending's.
// today dates the living retirees' reports.
func pickReports(plan *cityPlan, today time.Time, ts *deathReportTallies) []reportPick {
	var out []reportPick
	for i, d := range plan.Deaths[:reportedDeaths(plan)] {
		out = append(out, reportPick{retiree: plan.Retirees[d.Index], date: d.Date, source: reportSources[i],
			want: registryv1.DeathReportState_VERIFIED, t: &ts.verified})
	}
	taken := map[int]bool{}
	for _, d := range plan.Deaths {
		taken[d.Index] = true
	}
	for _, t := range plan.Transfers {
		taken[t.Index] = true
	}
	for _, c := range plan.StatusChanges {
		taken[c.Index] = true
	}
	for _, m := range plan.MovesOut {
		taken[m.Index] = true
	}
	pending := map[*registryv1.Retiree]bool{}
	for _, p := range pickPending(plan) {
		pending[p.retiree] = true
	}
	alive := []reportPick{
		{date: today.AddDate(0, 0, -3).Format(dateLayout), source: registryv1.DeathReportSource_FAMILY,
			want: registryv1.DeathReportState_REPORTED, t: &ts.reported},
		{date: today.AddDate(0, 0, -12).Format(dateLayout), source: registryv1.DeathReportSource_CLERK_VISIT,
			want: registryv1.DeathReportState_REJECTED, t: &ts.rejected},
	}
	for i := len(plan.Retirees) - 1; i >= 0 && len(alive) > 0; i-- {
		r := plan.Retirees[i]
		if taken[i] || pending[r] || r.GetManagementMode() != registryv1.ManagementMode_COMMUNITY {
			continue
		}
		alive[0].retiree = r
		out = append(out, alive[0])
		alive = alive[1:]
	}
	return out
}

// reportOf is the report a clerk files for p: a family member or the
// clerk's neighbour informant names themselves where a person reports,
// and the documents are those the source holds.
func reportOf(id string, n int, p reportPick) *registryv1.CreateDeathReportRequest {
	req := &registryv1.CreateDeathReportRequest{Id: id, DateOfDeath: p.date, Source: p.source}
	surname := string([]rune(p.retiree.GetName())[:1])
	ref := fmt.Sprintf("%s%06d", "SEED", n)
	switch p.source {
	case registryv1.DeathReportSource_FAMILY:
		req.Reporter = &registryv1.DeathReporter{Name: surname + "建华", Relation: registryv1.Carer_CHILD, Phone: fmt.Sprintf("139%08d", n)}
		req.Documents = []*registryv1.DeathDocument{{Kind: registryv1.DeathDocument_DEATH_CERTIFICATE, Reference: "YX" + ref}}
	case registryv1.DeathReportSource_HOSPITAL:
		req.Documents = []*registryv1.DeathDocument{{Kind: registryv1.DeathDocument_DEATH_CERTIFICATE, Reference: "YX" + ref}}
	case registryv1.DeathReportSource_CREMATION_RECORD:
		req.Documents = []*registryv1.DeathDocument{{Kind: registryv1.DeathDocument_CREMATION_CERTIFICATE, Reference: "HH" + ref}}
	case registryv1.DeathReportSource_HOUSEHOLD_CANCELLATION:
		req.Documents = []*registryv1.DeathDocument{{Kind: registryv1.DeathDocument_HOUSEHOLD_CANCELLATION, Reference: "HZ" + ref}}
	case registryv1.DeathReportSource_CLERK_VISIT:
		req.Reporter = &registryv1.DeathReporter{Name: "王秀兰", Relation: registryv1.Carer_NEIGHBOUR, Phone: fmt.Sprintf("137%08d", n)}
	}
	return req
}

// seedDeathReports files the reports pickReports chooses, each as a clerk
// of the retiree's community, and verifies, rejects or leaves each as the
// pick wants. A retiree with a report already in (or past) that state
// is counted as present, so that a second run changes nothing. s's
// client carries the seed's admin credentials; the clerks' calls go
// over a connection of their own.
func seedDeathReports(ctx context.Context, cfg seedConfig, priv ed25519.PrivateKey, s *seeder, plan *cityPlan, out io.Writer) error {
	conn, err := dialService("registry", cfg.registryAddr, cfg.tls, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	clerks := registryv1.NewRegistryServiceClient(conn)
	signer := authn.NewSigner(priv)
	var ts deathReportTallies
	for n, p := range pickReports(plan, time.Now(), &ts) {
		created, err := fileReport(ctx, s, signer, clerks, n, p)
		switch {
		case err != nil:
			return fmt.Errorf("file death report %d (%s): %w", n, p.source, err)
		case created:
			p.t.created.Add(1)
		default:
			p.t.present.Add(1)
		}
	}
	fmt.Fprintln(out, "Filed death reports, decided by the communities' clerks:")
	tallyRows{{"verified", &ts.verified}, {"left reported", &ts.reported}, {"rejected", &ts.rejected}}.write(out, 18)
	return nil
}

// fileReport brings p's retiree to the report p wants and tells whether
// it had to file one.
func fileReport(ctx context.Context, s *seeder, signer *authn.Signer, clerks registryv1.RegistryServiceClient, n int, p reportPick) (bool, error) {
	var r *registryv1.Retiree
	err := s.call(ctx, func(ctx context.Context) error {
		found, err := s.client.LookupRetiree(ctx, &registryv1.LookupRetireeRequest{IdNumber: p.retiree.GetIdNumber()})
		r = found.GetRetiree()
		return err
	})
	if err != nil {
		return false, err
	}
	clerk := authn.Principal{Subject: "seed-clerk-" + r.GetCommunityId(), Role: authn.RoleClerk, Communities: []string{r.GetCommunityId()}}
	tok, err := signer.Sign(clerk, seedTokenTTL, time.Now())
	if err != nil {
		return false, err
	}
	as := grpc.PerRPCCredentials(authn.BearerCredentials(tok))
	existing, err := existingReport(ctx, s, clerks, r.GetId(), as)
	if err != nil {
		return false, err
	}
	switch existing.GetState() {
	case registryv1.DeathReportState_REPORTED:
		if p.want == registryv1.DeathReportState_REPORTED {
			return false, nil
		}
	case registryv1.DeathReportState_DEATH_REPORT_STATE_UNSPECIFIED:
		err = s.call(ctx, func(ctx context.Context) error {
			resp, err := clerks.CreateDeathReport(ctx, reportOf(r.GetId(), n, p), as)
			existing = resp.GetDeathReport()
			return err
		})
		if err != nil || p.want == registryv1.DeathReportState_REPORTED {
			return err == nil, err
		}
	default:
		// Decided by an earlier run (and perhaps reversed since).
		return false, nil
	}
	return true, s.call(ctx, func(ctx context.Context) error {
		if p.want == registryv1.DeathReportState_REJECTED {
			_, err := clerks.RejectDeathReport(ctx, &registryv1.RejectDeathReportRequest{Id: existing.GetId(), Reason: rejectReason}, as)
			return err
		}
		_, err := clerks.VerifyDeathReport(ctx, &registryv1.VerifyDeathReportRequest{Id: existing.GetId()}, as)
		return err
	})
}

// existingReport returns a REPORTED death report of retiree id if it has
// one, else any of its reports, else nil.
func existingReport(ctx context.Context, s *seeder, clerks registryv1.RegistryServiceClient, id string, as grpc.CallOption) (*registryv1.DeathReport, error) {
	var reports []*registryv1.DeathReport
	err := s.call(ctx, func(ctx context.Context) error {
		resp, err := clerks.ListRetireeDeathReports(ctx, &registryv1.ListRetireeDeathReportsRequest{Id: id, PageSize: 10}, as)
		reports = resp.GetDeathReports()
		return err
	})
	if err != nil || len(reports) == 0 {
		return nil, err
	}
	for _, r := range reports {
		if r.GetState() == registryv1.DeathReportState_REPORTED {
			return r, nil
		}
	}
	return reports[0], nil
}
