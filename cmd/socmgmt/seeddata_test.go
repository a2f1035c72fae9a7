package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// testRetirees is large enough for the shares to be meaningful and small
// enough to keep the package fast under -race.
const testRetirees = 20000

func TestGenerateCityCommunities(t *testing.T) {
	plan := mustGenerate(t, 1, 0)

	if n := len(plan.Communities); n < 55 || n > 65 {
		t.Errorf("got %d communities, want about 60", n)
	}
	districtCodes := map[string]string{}
	for _, d := range districts() {
		districtCodes[d.name] = d.code
	}
	ids := map[string]bool{}
	names := map[string]bool{}
	kinds := map[registryv1.CommunityKind]int{}
	for _, c := range plan.Communities {
		if !inputcheck.IsCommunityID(c.GetId()) {
			t.Errorf("community id %q is not 12 digits", c.GetId())
		}
		if ids[c.GetId()] {
			t.Errorf("community id %s twice", c.GetId())
		}
		ids[c.GetId()] = true
		if names[c.GetName()] {
			t.Errorf("community name %s twice", c.GetName())
		}
		names[c.GetName()] = true
		if !strings.HasSuffix(c.GetName(), "社区") {
			t.Errorf("community name %q does not end in 社区", c.GetName())
		}
		code, ok := districtCodes[c.GetDistrict()]
		if !ok || !strings.HasPrefix(c.GetId(), code) {
			t.Errorf("community %s: district %q does not match its code", c.GetId(), c.GetDistrict())
		}
		if c.GetStreet() == "" || c.GetHouseholds() < 100 || c.GetHouseholds() > 10000 {
			t.Errorf("community %s: street %q, households %d", c.GetId(), c.GetStreet(), c.GetHouseholds())
		}
		kinds[c.GetKind()]++
	}
	for _, k := range []registryv1.CommunityKind{
		registryv1.CommunityKind_BLOCK, registryv1.CommunityKind_COMPOUND,
		registryv1.CommunityKind_WORK_UNIT, registryv1.CommunityKind_FUNCTIONAL,
	} {
		if kinds[k] == 0 {
			t.Errorf("no community of kind %s", k)
		}
	}
	if kinds[registryv1.CommunityKind_COMMUNITY_KIND_UNSPECIFIED] != 0 {
		t.Error("community with unspecified kind")
	}
}

func TestGenerateCityEnterprises(t *testing.T) {
	plan := mustGenerate(t, 1, 0)

	if len(plan.Enterprises) != enterpriseCount {
		t.Fatalf("got %d enterprises, want %d", len(plan.Enterprises), enterpriseCount)
	}
	codes := map[string]bool{}
	ownerships := map[registryv1.Ownership]bool{}
	statuses := map[registryv1.EnterpriseStatus]bool{}
	for _, e := range plan.Enterprises {
		code, err := creditcode.Parse(e.GetCreditCode())
		if err != nil {
			t.Errorf("enterprise %s: credit code %s: %v", e.GetName(), e.GetCreditCode(), err)
		} else if code.String() != e.GetCreditCode() {
			t.Errorf("credit code %s is not canonical (%s)", e.GetCreditCode(), code)
		}
		if codes[e.GetCreditCode()] {
			t.Errorf("credit code %s twice", e.GetCreditCode())
		}
		codes[e.GetCreditCode()] = true
		if area := e.GetCreditCode()[2:8]; !strings.HasPrefix(area, "2101") {
			t.Errorf("credit code %s: area %s is not in the city", e.GetCreditCode(), area)
		}
		ownerships[e.GetOwnership()] = true
		statuses[e.GetStatus()] = true
	}
	if len(ownerships) != 4 || ownerships[registryv1.Ownership_OWNERSHIP_UNSPECIFIED] {
		t.Errorf("ownerships %v, want all four", ownerships)
	}
	if len(statuses) != 3 || statuses[registryv1.EnterpriseStatus_ENTERPRISE_STATUS_UNSPECIFIED] {
		t.Errorf("statuses %v, want all three", statuses)
	}
}

func TestGenerateCityRetirees(t *testing.T) {
	plan := mustGenerate(t, 1, testRetirees)

	if len(plan.Retirees) != testRetirees {
		t.Fatalf("got %d retirees, want %d", len(plan.Retirees), testRetirees)
	}
	communities := map[string]bool{}
	for _, c := range plan.Communities {
		communities[c.GetId()] = true
	}
	enterprises := map[string]*registryv1.Enterprise{}
	for _, e := range plan.Enterprises {
		enterprises[e.GetCreditCode()] = e
	}

	seen := make(map[idnumber.ID]bool, len(plan.Retirees))
	modes := map[registryv1.ManagementMode]int{}
	var aged, men, elsewhere int
	years := map[int]bool{}
	for i, r := range plan.Retirees {
		id, err := idnumber.Parse(r.GetIdNumber())
		if err != nil {
			t.Fatalf("retiree #%d: ID number does not parse: %v", i, err)
		}
		if seen[id] {
			t.Fatalf("retiree #%d: ID number %v twice", i, id)
		}
		seen[id] = true

		wantSex := registryv1.Sex_FEMALE
		retireAt := []int{50, 55}
		if id.Sex() == idnumber.SexMale {
			wantSex = registryv1.Sex_MALE
			retireAt = []int{60}
			men++
		}
		if r.GetSex() != wantSex {
			t.Errorf("retiree #%d: sex %s, ID number says %s", i, r.GetSex(), id.Sex())
		}
		birth := id.BirthDate()
		years[birth.Year()] = true
		if birth.Year() < 1935 || birth.Year() > 1966 {
			t.Errorf("retiree #%d: born %d, want 1935-1966", i, birth.Year())
		}
		if !strings.HasPrefix(r.GetIdNumber(), "2101") {
			elsewhere++
		}

		retired, err := time.Parse(dateLayout, r.GetRetirementDate())
		if err != nil {
			t.Fatalf("retiree #%d: retirement date %q: %v", i, r.GetRetirementDate(), err)
		}
		age := retired.Year() - birth.Year()
		if retired.Month() == time.January && birth.Month() == time.December {
			age-- // retired the January after a December birthday
		}
		if !slices.Contains(retireAt, age) || !retired.After(birth) || retired.Day() != 1 {
			t.Errorf("retiree #%d (%s): born %s, retired %s", i, r.GetSex(), birth.Format(dateLayout), r.GetRetirementDate())
		}
		if retired.After(time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("retiree #%d retires in the future: %s", i, r.GetRetirementDate())
		}

		if slices.Contains(r.GetFlags(), registryv1.RetireeFlag_AGED_80_PLUS) {
			t.Errorf("retiree #%d: sets AGED_80_PLUS, which registry computes and refuses", i)
		}
		if birth.Before(aged80Before) {
			aged++
		}
		if !slices.IsSorted(r.GetFlags()) || len(slices.Compact(slices.Clone(r.GetFlags()))) != len(r.GetFlags()) {
			t.Errorf("retiree #%d: flags %v not sorted and distinct", i, r.GetFlags())
		}

		if !communities[r.GetCommunityId()] {
			t.Errorf("retiree #%d: unknown community %s", i, r.GetCommunityId())
		}
		e, ok := enterprises[r.GetEnterpriseCreditCode()]
		if !ok {
			t.Errorf("retiree #%d: unknown enterprise %s", i, r.GetEnterpriseCreditCode())
		}
		modes[r.GetManagementMode()]++
		if r.GetManagementMode() == registryv1.ManagementMode_ENTERPRISE && e.GetStatus() != registryv1.EnterpriseStatus_OPERATING {
			t.Errorf("retiree #%d is managed by %s enterprise %s", i, e.GetStatus(), e.GetName())
		}

		if p := r.GetPhone(); len(p) != 11 || !slices.Contains([]string{"13", "15", "18"}, p[:2]) || strings.Trim(p, "0123456789") != "" {
			t.Errorf("retiree #%d: bad phone number", i)
		}
		if n := []rune(r.GetName()); len(n) < 2 || len(n) > 4 {
			t.Errorf("retiree #%d: name %q", i, r.GetName())
		}
		if res := r.GetResidence(); res.GetAddress() != r.GetResidenceAddress() ||
			(res.GetKind() == registryv1.Residence_LOCAL) != strings.HasPrefix(r.GetResidenceAddress(), "辽宁省沈阳市") {
			t.Errorf("retiree #%d: residence %v, address %q", i, res.GetKind(), r.GetResidenceAddress())
		}
	}

	share := func(n int) float64 { return float64(n) / float64(len(plan.Retirees)) }
	for _, c := range []struct {
		what   string
		got    float64
		lo, hi float64
	}{
		{"COMMUNITY managed", share(modes[registryv1.ManagementMode_COMMUNITY]), 0.65, 0.75},
		{"ENTERPRISE managed", share(modes[registryv1.ManagementMode_ENTERPRISE]), 0.12, 0.18},
		{"BUREAU managed", share(modes[registryv1.ManagementMode_BUREAU]), 0.12, 0.18},
		{"men", share(men), 0.40, 0.55},
		{"aged 80+", share(aged), 0.05, 0.40},
		{"born outside the city", share(elsewhere), 0.05, 0.15},
	} {
		if c.got < c.lo || c.got > c.hi {
			t.Errorf("%s: share %.3f, want %.2f-%.2f", c.what, c.got, c.lo, c.hi)
		}
	}
	if len(years) < 30 {
		t.Errorf("birth years cover only %d distinct years", len(years))
	}
}

func TestGenerateCityHistory(t *testing.T) {
	plan := mustGenerate(t, 1, testRetirees)

	if got, want := len(plan.Deaths), testRetirees*deathPercent/100; got != want {
		t.Errorf("got %d deaths, want %d", got, want)
	}
	if got, want := len(plan.Transfers), testRetirees*transferPercent/100; got != want {
		t.Errorf("got %d transfers, want %d", got, want)
	}
	communities := map[string]bool{}
	for _, c := range plan.Communities {
		communities[c.GetId()] = true
	}
	touched := map[int]bool{}
	for _, d := range plan.Deaths {
		if touched[d.Index] {
			t.Errorf("retiree #%d dies twice", d.Index)
		}
		touched[d.Index] = true
		r := plan.Retirees[d.Index]
		if d.Date <= r.GetRetirementDate() || d.Date > deathTo.Format(dateLayout) {
			t.Errorf("retiree #%d retired %s, dies %s", d.Index, r.GetRetirementDate(), d.Date)
		}
		if _, err := time.Parse(dateLayout, d.Date); err != nil {
			t.Errorf("death date %q: %v", d.Date, err)
		}
	}
	for _, tr := range plan.Transfers {
		if touched[tr.Index] {
			t.Errorf("retiree #%d is transferred and also dies or moves twice", tr.Index)
		}
		touched[tr.Index] = true
		if tr.ToCommunity == plan.Retirees[tr.Index].GetCommunityId() || !communities[tr.ToCommunity] {
			t.Errorf("retiree #%d in %s moves to %s", tr.Index, plan.Retirees[tr.Index].GetCommunityId(), tr.ToCommunity)
		}
		if tr.Reason == "" {
			t.Errorf("transfer of #%d has no reason", tr.Index)
		}
	}
}

func TestGenerateCityDeterministic(t *testing.T) {
	opts := []cmp.Option{protocmp.Transform()}
	a := mustGenerate(t, 7, 2000)
	b := mustGenerate(t, 7, 2000)
	if diff := cmp.Diff(a, b, opts...); diff != "" {
		t.Errorf("same seed, different cities (-first +second):\n%s", diff)
	}
	c := mustGenerate(t, 8, 2000)
	if cmp.Equal(a.Retirees, c.Retirees, opts...) {
		t.Error("seeds 7 and 8 give the same retirees")
	}
	// A larger city starts with the smaller one's communities,
	// enterprises and retirees, so that seeding more later adds to the
	// same city.
	d := mustGenerate(t, 7, 3000)
	if diff := cmp.Diff(a.Communities, d.Communities, opts...); diff != "" {
		t.Errorf("communities depend on the retiree count (-2000 +3000):\n%s", diff)
	}
	if diff := cmp.Diff(a.Enterprises, d.Enterprises, opts...); diff != "" {
		t.Errorf("enterprises depend on the retiree count (-2000 +3000):\n%s", diff)
	}
	if diff := cmp.Diff(a.Retirees, d.Retirees[:len(a.Retirees)], opts...); diff != "" {
		t.Errorf("the first 2000 retirees depend on the retiree count (-2000 +3000):\n%s", diff)
	}
}

func mustGenerate(t *testing.T, seed uint64, retirees int) *cityPlan {
	t.Helper()
	plan, err := generateCity(seed, retirees)
	if err != nil {
		t.Fatalf("generateCity(%d, %d): %v", seed, retirees, err)
	}
	return plan
}
