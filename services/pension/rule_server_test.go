package pension

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// createRule creates a rule as admin, failing the test on error.
func (h *harness) createRule(t *testing.T, r *pb.CertificationRule) *pb.CertificationRule {
	t.Helper()
	resp, err := h.client.CreateCertificationRule(h.as(adminP), &pb.CreateCertificationRuleRequest{Rule: r})
	if err != nil {
		t.Fatalf("create rule %v: %v", r, err)
	}
	return resp.Rule
}

func rolling(region, from string) *pb.CertificationRule {
	return &pb.CertificationRule{RegionPrefix: region, EffectiveOn: from, Kind: pb.CertificationRuleKind_ROLLING}
}

func windowRule(region, from, opens, deadline string) *pb.CertificationRule {
	return &pb.CertificationRule{RegionPrefix: region, EffectiveOn: from, Kind: pb.CertificationRuleKind_WINDOW, WindowOpens: opens, WindowDeadline: deadline}
}

func TestCreateCertificationRule(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	for _, tc := range []struct {
		name   string
		rule   *pb.CertificationRule
		fields []string
	}{
		{"no rule", nil, []string{"rule"}},
		{"empty", &pb.CertificationRule{}, []string{"regionPrefix", "effectiveOn", "kind"}},
		{"three digits", rolling("210", "2026-01-01"), []string{"regionPrefix"}},
		{"seven digits", rolling("2101020", "2026-01-01"), []string{"regionPrefix"}},
		{"a whole community id", rolling("210102001001", "2026-01-01"), []string{"regionPrefix"}},
		{"no such province", rolling("99", "2026-01-01"), []string{"regionPrefix"}},
		{"not digits", rolling("21a1", "2026-01-01"), []string{"regionPrefix"}},
		{"bad day", rolling("21", "2026-02-30"), []string{"effectiveOn"}},
		{"unknown kind", &pb.CertificationRule{RegionPrefix: "21", EffectiveOn: "2026-01-01", Kind: 7}, []string{"kind"}},
		{"rolling with a window", &pb.CertificationRule{RegionPrefix: "21", EffectiveOn: "2026-01-01", Kind: pb.CertificationRuleKind_ROLLING, WindowOpens: "01-01", WindowDeadline: "06-30"}, []string{"windowOpens", "windowDeadline"}},
		{"window without days", windowRule("21", "2026-01-01", "", ""), []string{"windowOpens", "windowDeadline"}},
		{"29 February", windowRule("21", "2026-01-01", "01-01", "02-29"), []string{"windowDeadline"}},
		{"not a day", windowRule("21", "2026-01-01", "1-1", "06-31"), []string{"windowOpens", "windowDeadline"}},
		{"deadline before opening", windowRule("21", "2026-01-01", "10-01", "09-30"), []string{"windowDeadline"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := h.client.CreateCertificationRule(h.as(adminP), &pb.CreateCertificationRuleRequest{Rule: tc.rule})
			wantFields(t, err, tc.fields...)
		})
	}

	in := windowRule("2101", "2026-07-01", "01-01", "09-30")
	in.Id, in.CreatedBy = "mine", "someone else"
	got := h.createRule(t, in)
	want := windowRule("2101", "2026-07-01", "01-01", "09-30")
	want.Id, want.CreatedBy = "2101-20260701", adminP.Subject
	if diff := cmp.Diff(want, got, protocmp.Transform(), protocmp.IgnoreFields(&pb.CertificationRule{}, "create_time")); diff != "" || got.CreateTime == nil {
		t.Errorf("created rule (-want +got):\n%s", diff)
	}
}

func TestCreateCertificationRuleTwice(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.createRule(t, rolling("2101", "2026-07-01"))
	_, err := h.client.CreateCertificationRule(h.as(adminP), &pb.CreateCertificationRuleRequest{Rule: windowRule("2101", "2026-07-01", "01-01", "09-30")})
	wantReason(t, err, codes.AlreadyExists, reasonRuleExists)
	// Another region or another day is another rule.
	h.createRule(t, rolling("210102", "2026-07-01"))
	h.createRule(t, rolling("2101", "2026-07-02"))
}

func TestListCertificationRules(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	for _, r := range []*pb.CertificationRule{
		rolling("210102", "2026-01-01"), windowRule("2101", "2027-01-01", "01-01", "06-30"),
		rolling("2101", "2020-01-01"), rolling("21", "2019-05-01"), rolling("11", "2020-01-01"), rolling("2102", "2020-01-01"),
	} {
		h.createRule(t, r)
	}
	list := func(prefix string, size int32) []string {
		t.Helper()
		return servicetest.AllPages(t, 10, func(token string) ([]string, string, error) {
			resp, err := h.client.ListCertificationRules(h.as(bureauP), &pb.ListCertificationRulesRequest{RegionPrefix: prefix, PageSize: size, PageToken: token})
			var ids []string
			for _, r := range resp.GetRules() {
				ids = append(ids, r.Id)
			}
			return ids, resp.GetNextPageToken(), err
		})
	}
	all := []string{"11-20200101", "21-20190501", "2101-20200101", "2101-20270101", "210102-20260101", "2102-20200101"}
	for _, size := range []int32{1, 4, 50} {
		if diff := cmp.Diff(all, list("", size)); diff != "" {
			t.Errorf("rules in pages of %d (-want +got):\n%s", size, diff)
		}
	}
	if diff := cmp.Diff([]string{"2101-20200101", "2101-20270101", "210102-20260101"}, list("2101", 2)); diff != "" {
		t.Errorf("rules under 2101 (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"21a", "2101020", " 21"} {
		_, err := h.client.ListCertificationRules(h.as(adminP), &pb.ListCertificationRulesRequest{RegionPrefix: bad})
		wantFields(t, err, "regionPrefix")
	}
}

// TestPreviewCertificationRule counts the retirees of a region by status
// under a proposed rule, leaving the communities a more specific rule
// governs to it, and changes nothing.
func TestPreviewCertificationRule(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	// 3 and 4 count as certified when their pension started in 2010; 5
	// is deceased; 6 lives in communityB, in the same district.
	h.certify(t, 0, "2025-09-01")
	h.certify(t, 1, "2025-07-01")
	h.certify(t, 2, "2026-03-01")
	h.certify(t, 6, "2025-06-20")
	preview := func(r *pb.CertificationRule, asOf string) *pb.PreviewCertificationRuleResponse {
		t.Helper()
		resp, err := h.client.PreviewCertificationRule(h.as(adminP), &pb.PreviewCertificationRuleRequest{Rule: r, AsOf: asOf})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	counts := func(asOf string, current, dueSoon, overdue int64) *pb.PreviewCertificationRuleResponse {
		return &pb.PreviewCertificationRuleResponse{AsOf: asOf, Current: current, DueSoon: dueSoon, Overdue: overdue}
	}
	for _, tc := range []struct {
		name string
		rule *pb.CertificationRule
		asOf string
		want *pb.PreviewCertificationRuleResponse
	}{
		// Due 30 June 2026 for everyone certified in 2025: 0, 1 and 6.
		{"a window for the district", windowRule("210102", "2026-01-01", "01-01", "06-30"), "2026-06-15", counts("2026-06-15", 1, 3, 2)},
		// Rolling: 0 due 1 September, 1 on 1 July, 6 on 20 June.
		{"rolling", rolling("21", "2026-01-01"), "2026-06-15", counts("2026-06-15", 2, 2, 2)},
		{"a rule not yet in effect", windowRule("210102", "2026-07-01", "01-01", "06-30"), "2026-06-15", counts("2026-06-15", 2, 2, 2)},
		{"another district", windowRule("210103", "2026-01-01", "01-01", "06-30"), "2026-06-15", counts("2026-06-15", 0, 0, 0)},
		// Without a day of its own, the rule is in force on the day counted.
		{"no effective day", windowRule("210102", "", "01-01", "06-30"), "2026-06-15", counts("2026-06-15", 1, 3, 2)},
		{"no effective day nor as-of day", windowRule("210102", "", "01-01", "06-30"), "", counts("2026-06-15", 1, 3, 2)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, preview(tc.rule, tc.asOf), protocmp.Transform()); diff != "" {
				t.Errorf("preview (-want +got):\n%s", diff)
			}
		})
	}

	t.Run("a more specific rule keeps its communities", func(t *testing.T) {
		h.createRule(t, rolling("210102", "2020-01-01"))
		got := preview(windowRule("2101", "2026-01-01", "01-01", "06-30"), "2026-06-15")
		if diff := cmp.Diff(counts("2026-06-15", 2, 2, 2), got, protocmp.Transform()); diff != "" {
			t.Errorf("preview of the city's window over the district's rolling rule (-want +got):\n%s", diff)
		}
		resp, err := h.client.ListCertificationRules(h.as(adminP), &pb.ListCertificationRulesRequest{})
		if err != nil || len(resp.Rules) != 1 {
			t.Errorf("rules after previews: %v, %v; want the one created", resp.GetRules(), err)
		}
	})
	t.Run("arguments", func(t *testing.T) {
		_, err := h.client.PreviewCertificationRule(h.as(adminP), &pb.PreviewCertificationRuleRequest{Rule: rolling("2", "2026-01-01"), AsOf: "2026-1-1"})
		wantFields(t, err, "regionPrefix", "asOf")
	})
}
