package pension

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func mustMonth(t *testing.T, s string) month {
	t.Helper()
	m, ok := parseMonth(s)
	if !ok {
		t.Fatalf("bad month %q", s)
	}
	return m
}

// decisions parses "SUSPEND 2026-03 NOT_CERTIFIED" lines (the reason may
// be left out), in effect order.
func decisions(t *testing.T, lines ...string) []*pb.EntitlementDecision {
	t.Helper()
	var out []*pb.EntitlementDecision
	for _, l := range lines {
		f := strings.Fields(l)
		d := &pb.EntitlementDecision{Action: pb.DecisionAction(pb.DecisionAction_value[f[0]]), EffectiveMonth: f[1]}
		if len(f) > 2 {
			d.Reason = pb.DecisionReason(pb.DecisionReason_value[f[2]])
		}
		if d.Action == 0 {
			t.Fatalf("bad decision %q", l)
		}
		out = append(out, d)
	}
	return out
}

func TestEntitlementState(t *testing.T) {
	t.Parallel()
	living := &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_LIVING, RetirementDate: "2010-01-01"}
	dead := &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_DECEASED, RetirementDate: "2010-01-01", DateOfDeath: "2026-04-20"}
	type want struct {
		state  pb.EntitlementState
		reason pb.DecisionReason
		since  string
	}
	active := want{state: pb.EntitlementState_ACTIVE}
	for _, tc := range []struct {
		name      string
		st        *registryv1.RetireeState
		decisions []string
		months    map[string]want
	}{
		{
			name:   "no decision is active",
			months: map[string]want{"2026-06": active, "1990-01": active},
		},
		{
			name:      "suspended from March, restored from June",
			decisions: []string{"SUSPEND 2026-03 NOT_CERTIFIED", "RESTORE 2026-06"},
			months: map[string]want{
				"2026-02": active,
				"2026-03": {pb.EntitlementState_SUSPENDED, pb.DecisionReason_NOT_CERTIFIED, "2026-03"},
				"2026-05": {pb.EntitlementState_SUSPENDED, pb.DecisionReason_NOT_CERTIFIED, "2026-03"},
				"2026-06": {pb.EntitlementState_ACTIVE, 0, "2026-06"},
			},
		},
		{
			name:      "a second suspension keeps the first month",
			decisions: []string{"SUSPEND 2026-03 NOT_CERTIFIED", "SUSPEND 2026-05 LOST_CONTACT"},
			months: map[string]want{
				"2026-06": {pb.EntitlementState_SUSPENDED, pb.DecisionReason_LOST_CONTACT, "2026-03"},
			},
		},
		{
			name:      "a mistaken suspension corrected by a restoration of the same month",
			decisions: []string{"SUSPEND 2026-03 OTHER", "RESTORE 2026-03"},
			months:    map[string]want{"2026-03": {pb.EntitlementState_ACTIVE, 0, "2026-03"}},
		},
		{
			name:      "stopped",
			decisions: []string{"STOP 2026-02 IMPRISONED"},
			months:    map[string]want{"2026-01": active, "2026-02": {pb.EntitlementState_STOPPED, pb.DecisionReason_IMPRISONED, "2026-02"}},
		},
		{
			name: "a death stops the pension from the month after",
			st:   dead,
			months: map[string]want{
				"2026-04": active,
				"2026-05": {pb.EntitlementState_STOPPED, pb.DecisionReason_DECEASED, "2026-05"},
			},
		},
		{
			name:      "a death while suspended",
			st:        dead,
			decisions: []string{"SUSPEND 2026-01 LOST_CONTACT"},
			months: map[string]want{
				"2026-04": {pb.EntitlementState_SUSPENDED, pb.DecisionReason_LOST_CONTACT, "2026-01"},
				"2026-06": {pb.EntitlementState_STOPPED, pb.DecisionReason_DECEASED, "2026-05"},
			},
		},
		{
			name:      "stopped by the bureau before the death",
			st:        dead,
			decisions: []string{"STOP 2026-03 OTHER"},
			months:    map[string]want{"2026-06": {pb.EntitlementState_STOPPED, pb.DecisionReason_OTHER, "2026-03"}},
		},
		{
			name:   "deceased without a date",
			st:     &registryv1.RetireeState{Status: registryv1.RetireeStatus_DECEASED},
			months: map[string]want{"2026-06": {pb.EntitlementState_STOPPED, pb.DecisionReason_DECEASED, ""}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.st
			if st == nil {
				st = living
			}
			v := bureauView(st, decisions(t, tc.decisions...))
			for m, w := range tc.months {
				s := v.stateIn(mustMonth(t, m))
				got := want{state: s.state, reason: s.reason}
				if s.hasSince {
					got.since = s.since.String()
				}
				if got != w {
					t.Errorf("%s: %+v, want %+v", m, got, w)
				}
			}
		})
	}
}

func TestEntitlementAsOf(t *testing.T) {
	t.Parallel()
	living := &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_LIVING, RetirementDate: "2010-01-01"}
	lastCertified := lastCert{day: "2025-07-01", channel: pb.CertificationMethod_DATA_MATCH}
	certification := &pb.CertificationState{
		Status: pb.CertificationStatus_CURRENT, LastCertifiedOn: "2025-07-01", DueOn: "2026-07-01", LastChannel: pb.CertificationMethod_DATA_MATCH,
	}
	for _, tc := range []struct {
		name      string
		st        *registryv1.RetireeState
		decisions []string
		paid      []string
		asOf      string
		want      *pb.GetEntitlementResponse
	}{
		{
			name: "active without decisions, however long since the certification",
			asOf: "2026-05-15",
			want: &pb.GetEntitlementResponse{State: pb.EntitlementState_ACTIVE},
		},
		{
			name:      "suspended from March and restored from June owes March to May",
			decisions: []string{"SUSPEND 2026-03 NOT_CERTIFIED", "RESTORE 2026-06"},
			asOf:      "2026-06-15",
			want: &pb.GetEntitlementResponse{
				State: pb.EntitlementState_ACTIVE, StateSince: "2026-06",
				BackPayMonths: []string{"2026-03", "2026-04", "2026-05"},
			},
		},
		{
			name:      "months paid regularly or in arrears are not owed",
			decisions: []string{"SUSPEND 2026-03 NOT_CERTIFIED", "RESTORE 2026-06"},
			paid:      []string{"2026-03", "2026-05"},
			asOf:      "2026-06-15",
			want: &pb.GetEntitlementResponse{
				State: pb.EntitlementState_ACTIVE, StateSince: "2026-06", BackPayMonths: []string{"2026-04"},
			},
		},
		{
			name:      "before the restoration nothing is owed yet",
			decisions: []string{"SUSPEND 2026-03 NOT_CERTIFIED", "RESTORE 2026-06"},
			asOf:      "2026-05-31",
			want: &pb.GetEntitlementResponse{
				State: pb.EntitlementState_SUSPENDED, Reason: pb.DecisionReason_NOT_CERTIFIED, StateSince: "2026-03",
			},
		},
		{
			name:      "a stop ends a suspension without back-pay",
			decisions: []string{"SUSPEND 2026-01 LOST_CONTACT", "STOP 2026-03 IMPRISONED", "RESTORE 2026-05"},
			asOf:      "2026-06-15",
			want:      &pb.GetEntitlementResponse{State: pb.EntitlementState_ACTIVE, StateSince: "2026-05"},
		},
		{
			name:      "back-pay only within the months of pension",
			st:        &registryv1.RetireeState{Id: "r", Status: registryv1.RetireeStatus_LIVING, RetirementDate: "2026-03-10"},
			decisions: []string{"SUSPEND 2026-02 OTHER", "RESTORE 2026-06"},
			asOf:      "2026-06-15",
			want: &pb.GetEntitlementResponse{
				State: pb.EntitlementState_ACTIVE, StateSince: "2026-06", BackPayMonths: []string{"2026-04", "2026-05"},
			},
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
			asOf := day(t, tc.asOf)
			got := entitlementAsOf(st, bureauView(st, decisions(t, tc.decisions...)), func(m month) bool { return paid[m] }, lastCertified, nationalDefault, asOf)
			tc.want.RetireeId, tc.want.AsOf = "r", tc.asOf
			tc.want.Certification = certificationState(lastCertified, nationalDefault, asOf)
			tc.want.LastCertifiedOn, tc.want.NextDueOn = certification.LastCertifiedOn, certification.DueOn
			if diff := cmp.Diff(tc.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("entitlement (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSuspendedUnrestored(t *testing.T) {
	t.Parallel()
	st := &registryv1.RetireeState{Status: registryv1.RetireeStatus_LIVING}
	v := bureauView(st, decisions(t, "SUSPEND 2026-01 NOT_CERTIFIED", "RESTORE 2026-03", "SUSPEND 2026-05 LOST_CONTACT"))
	for m, want := range map[string]bool{
		"2025-12": false, "2026-01": false, "2026-02": false, // restored later: back-pay, not an anomaly
		"2026-03": false, "2026-04": false, "2026-05": true, "2026-06": true,
	} {
		if got := v.suspendedUnrestored(mustMonth(t, m)); got != want {
			t.Errorf("suspendedUnrestored(%s) = %v, want %v", m, got, want)
		}
	}
}

func TestTermsPayable(t *testing.T) {
	t.Parallel()
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
