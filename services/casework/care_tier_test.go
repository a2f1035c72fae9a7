package casework

import (
	"slices"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestDeriveTier is the table of the derivation rules.
func TestDeriveTier(t *testing.T) {
	t.Parallel()
	const (
		alone    = registryv1.RetireeFlag_LIVING_ALONE
		nest     = registryv1.RetireeFlag_EMPTY_NEST
		disabled = registryv1.RetireeFlag_DISABLED
		dementia = registryv1.RetireeFlag_DEMENTIA
		ill      = registryv1.RetireeFlag_SERIOUS_ILLNESS
		bereaved = registryv1.RetireeFlag_BEREAVED_PARENT
		hardship = registryv1.RetireeFlag_HARDSHIP
		model    = registryv1.RetireeFlag_MODEL_WORKER
	)
	young, old := "1960-01-01", "1946-06-15" // 80 on testNow's China date
	tests := []struct {
		name   string
		birth  string
		flags  []registryv1.RetireeFlag
		status registryv1.RetireeStatus
		want   pb.RiskTier
		from   []string
	}{
		{"nobody at risk", young, nil, 0, pb.RiskTier_REGULAR, nil},
		{"model worker only", young, []registryv1.RetireeFlag{model}, 0, pb.RiskTier_REGULAR, nil},
		{"alone", young, []registryv1.RetireeFlag{alone}, 0, pb.RiskTier_KEY, []string{"LIVING_ALONE"}},
		{"hardship", young, []registryv1.RetireeFlag{hardship}, 0, pb.RiskTier_KEY, []string{"HARDSHIP"}},
		{"aged 80 today", old, nil, 0, pb.RiskTier_KEY, []string{"AGED_80_PLUS"}},
		{"79 and a day short", "1946-06-16", nil, 0, pb.RiskTier_REGULAR, nil},
		{"disabled", young, []registryv1.RetireeFlag{disabled}, 0, pb.RiskTier_KEY, []string{"DISABLED"}},
		{"ill alone is high", young, []registryv1.RetireeFlag{ill, alone}, 0, pb.RiskTier_HIGH, []string{"LIVING_ALONE", "SERIOUS_ILLNESS"}},
		{"ill, not alone", young, []registryv1.RetireeFlag{ill}, 0, pb.RiskTier_REGULAR, nil},
		{"empty nest and 80", old, []registryv1.RetireeFlag{nest}, 0, pb.RiskTier_HIGH, []string{"EMPTY_NEST", "AGED_80_PLUS"}},
		{"dementia alone", young, []registryv1.RetireeFlag{dementia, alone}, 0, pb.RiskTier_HIGH, []string{"LIVING_ALONE", "DEMENTIA"}},
		{"bereaved empty nest", young, []registryv1.RetireeFlag{bereaved, nest}, 0, pb.RiskTier_HIGH, []string{"EMPTY_NEST", "BEREAVED_PARENT"}},
		{"hardship alone is key", young, []registryv1.RetireeFlag{hardship, alone}, 0, pb.RiskTier_KEY, []string{"LIVING_ALONE", "HARDSHIP"}},
		{"deceased", old, []registryv1.RetireeFlag{alone}, registryv1.RetireeStatus_DECEASED, pb.RiskTier_RISK_TIER_UNSPECIFIED, nil},
		{"lost contact", young, nil, registryv1.RetireeStatus_LOST_CONTACT, pb.RiskTier_RISK_TIER_UNSPECIFIED, nil},
	}
	for _, tc := range tests {
		st := &registryv1.RetireeState{BirthDate: tc.birth, Flags: tc.flags, Status: tc.status}
		if tc.status == 0 {
			st.Status = registryv1.RetireeStatus_LIVING
		}
		got, from := deriveTier(st, testNow)
		if got != tc.want || !slices.Equal(from, tc.from) {
			t.Errorf("%s: %v %v, want %v %v", tc.name, got, from, tc.want, tc.from)
		}
	}
}

// TestPeriods: HIGH weeks are those whose Monday is in the month, the
// last one due in the next month; KEY the month; REGULAR the quarter in
// its first month only.
func TestPeriods(t *testing.T) {
	t.Parallel()
	june, _ := parseMonth("2026-06")
	weeks := periodsOf(pb.RiskTier_HIGH, june)
	var keys []string
	for _, p := range weeks {
		keys = append(keys, p.key)
		if p.start.Weekday() != time.Monday || p.due.Weekday() != time.Sunday || p.reportMonth != "2026-06" {
			t.Errorf("week %+v", p)
		}
	}
	if want := []string{"2026-W23", "2026-W24", "2026-W25", "2026-W26", "2026-W27"}; !slices.Equal(keys, want) {
		t.Errorf("June's weeks %v, want %v", keys, want)
	}
	last := weeks[len(weeks)-1]
	if want := time.Date(2026, 7, 5, 23, 59, 0, 0, workdays.ChinaTime); !last.due.Equal(want) {
		t.Errorf("the last week is due %v, want %v", last.due, want)
	}
	july, _ := parseMonth("2026-07")
	if w := periodsOf(pb.RiskTier_HIGH, july); w[0].key != "2026-W28" || len(w) != 4 {
		t.Errorf("July's weeks %+v", w)
	}
	if k := periodsOf(pb.RiskTier_KEY, june); len(k) != 1 || k[0].key != "2026-06" || !k[0].due.Equal(time.Date(2026, 6, 30, 23, 59, 0, 0, workdays.ChinaTime)) {
		t.Errorf("KEY June %+v", k)
	}
	q := periodsOf(pb.RiskTier_REGULAR, july)
	if len(q) != 1 || q[0].key != "2026-Q3" || !q[0].due.Equal(time.Date(2026, 9, 30, 23, 59, 0, 0, workdays.ChinaTime)) || q[0].reportMonth != "" {
		t.Errorf("REGULAR July %+v", q)
	}
	if aug, _ := parseMonth("2026-08"); len(periodsOf(pb.RiskTier_REGULAR, aug)) != 0 {
		t.Error("a REGULAR item in the quarter's second month")
	}
	for _, key := range []string{"visit/x/2026-W27", "visit/x/2026-06", "visit/x/2026-Q3"} {
		_, month, ok := periodOfKey(key)
		if want := map[string]string{"visit/x/2026-W27": "2026-06", "visit/x/2026-06": "2026-06", "visit/x/2026-Q3": ""}[key]; !ok || month != want {
			t.Errorf("periodOfKey(%s) = %q %v, want %q", key, month, ok, want)
		}
	}
}
