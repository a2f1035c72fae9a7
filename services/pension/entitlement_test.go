package pension

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func days(t *testing.T, ss ...string) certHistory {
	t.Helper()
	var h certHistory
	for _, s := range ss {
		d, ok := parseDate(s)
		if !ok {
			t.Fatalf("bad date %q", s)
		}
		h = append(h, d)
	}
	return h
}

func mustMonth(t *testing.T, s string) month {
	t.Helper()
	m, ok := parseMonth(s)
	if !ok {
		t.Fatalf("bad month %q", s)
	}
	return m
}

func TestEntitlementAsOf(t *testing.T) {
	living := &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_LIVING, RetirementDate: "2010-01-01"}
	for _, tc := range []struct {
		name  string
		st    *registryv1.RetireeState
		certs []string
		paid  []string
		asOf  string
		want  *pb.GetEntitlementResponse
	}{
		{
			name: "never certified is suspended",
			asOf: "2026-06-15",
			want: &pb.GetEntitlementResponse{State: pb.EntitlementState_SUSPENDED},
		},
		{
			name:  "certified within the year",
			certs: []string{"2024-06-01", "2025-07-01"},
			asOf:  "2026-06-15",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_ACTIVE, LastCertifiedOn: "2025-07-01", NextDueOn: "2026-07-01"},
		},
		{
			name:  "the due date itself is still active",
			certs: []string{"2025-06-15"},
			asOf:  "2026-06-15",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_ACTIVE, LastCertifiedOn: "2025-06-15", NextDueOn: "2026-06-15"},
		},
		{
			name:  "the day after the due date is suspended",
			certs: []string{"2025-06-14"},
			asOf:  "2026-06-15",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_SUSPENDED, LastCertifiedOn: "2025-06-14", NextDueOn: "2026-06-14"},
		},
		{
			name:  "29 February is due on 1 March",
			certs: []string{"2024-02-29"},
			asOf:  "2025-03-01",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_ACTIVE, LastCertifiedOn: "2024-02-29", NextDueOn: "2025-03-01"},
		},
		{
			name:  "certifications after the as-of date do not count",
			certs: []string{"2026-07-01"},
			asOf:  "2026-06-15",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_SUSPENDED},
		},
		{
			name:  "deceased is stopped",
			st:    &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_DECEASED, DateOfDeath: "2026-01-20", RetirementDate: "2010-01-01"},
			certs: []string{"2025-07-01"},
			asOf:  "2026-06-15",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_STOPPED, LastCertifiedOn: "2025-07-01", NextDueOn: "2026-07-01", DateOfDeath: "2026-01-20"},
		},
		{
			// Due 2024-03-10: suspended from April 2024; certified again in
			// May 2025, which is paid as usual. April to June 2024 were
			// paid anyway.
			name:  "back pay after a suspension",
			certs: []string{"2022-04-01", "2023-03-10", "2025-05-20"},
			paid:  []string{"2024-04", "2024-05", "2024-06"},
			asOf:  "2026-05-01",
			want: &pb.GetEntitlementResponse{
				State: pb.EntitlementState_ACTIVE, LastCertifiedOn: "2025-05-20", NextDueOn: "2026-05-20",
				BackPayMonths: []string{"2024-07", "2024-08", "2024-09", "2024-10", "2024-11", "2024-12", "2025-01", "2025-02", "2025-03", "2025-04"},
			},
		},
		{
			name:  "back pay starts after retirement",
			st:    &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_LIVING, RetirementDate: "2024-12-01"},
			certs: []string{"2023-03-10", "2025-05-20"},
			asOf:  "2026-05-01",
			want: &pb.GetEntitlementResponse{
				State: pb.EntitlementState_ACTIVE, LastCertifiedOn: "2025-05-20", NextDueOn: "2026-05-20",
				BackPayMonths: []string{"2025-01", "2025-02", "2025-03", "2025-04"},
			},
		},
		{
			name:  "a gap without a whole month owes nothing",
			certs: []string{"2024-03-15", "2025-04-10"},
			asOf:  "2025-06-01",
			want:  &pb.GetEntitlementResponse{State: pb.EntitlementState_ACTIVE, LastCertifiedOn: "2025-04-10", NextDueOn: "2026-04-10"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			if st == nil {
				st = living
			}
			paid := map[month]bool{}
			for _, m := range tc.paid {
				paid[mustMonth(t, m)] = true
			}
			asOf, _ := parseDate(tc.asOf)
			got := entitlementAsOf(st, days(t, tc.certs...), func(m month) bool { return paid[m] }, asOf)
			tc.want.RetireeId, tc.want.AsOf = "r", tc.asOf
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("entitlement (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSuspendedIn(t *testing.T) {
	h := days(t, "2025-03-15", "2026-05-10")
	for _, tc := range []struct {
		month string
		want  bool
	}{
		{"2025-02", true}, // before any certification
		{"2025-03", false},
		{"2026-03", false}, // due 2026-03-15: active on the 1st
		{"2026-04", true},
		{"2026-05", false}, // certified again on the 10th
		{"2027-05", false},
		{"2027-06", true},
	} {
		if got := h.suspendedIn(mustMonth(t, tc.month)); got != tc.want {
			t.Errorf("suspendedIn(%s) = %v, want %v", tc.month, got, tc.want)
		}
	}
}

func TestTermsPayable(t *testing.T) {
	st := &registryv1.RetireeState{Status: registryv1.RetireeStatus_DECEASED, RetirementDate: "2020-03-01", DateOfDeath: "2026-02-10"}
	tm := termsOf(st)
	for m, want := range map[string]bool{"2020-03": false, "2020-04": true, "2026-02": true, "2026-03": false} {
		if got := tm.payable(mustMonth(t, m)); got != want {
			t.Errorf("payable(%s) = %v, want %v", m, got, want)
		}
	}
	if got := termsOf(&registryv1.RetireeState{Status: registryv1.RetireeStatus_LIVING}).payable(mustMonth(t, "1990-01")); !got {
		t.Error("without a retirement date every month should be payable")
	}
}
