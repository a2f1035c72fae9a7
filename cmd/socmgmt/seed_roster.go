package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The roster as a community keeps it: where retirees actually live, who
// looks after them, the special groups a clerk marks, and statuses other
// than living or deceased. It is drawn from a random stream of its own, so
// that the rest of the city (ids, names, deaths, transfers) is the same
// as before this part existed.

// Shares, in tenths of a percent, of the retirees the seed gives each
// roster feature.
const (
	otherCityPerMille     = 30
	otherProvincePerMille = 10
	abroadPerMille        = 5
	// carersPerMille have at least one family member or carer on file.
	carersPerMille       = 700
	lostContactPerMille  = 4
	imprisonedPerMille   = 1
	settledAbroadPerMill = 3
	movedOutPerMille     = 3
)

// rosterStream is the second word of the roster's PCG stream.
const rosterStream = 0x7e51de

// statusPlan changes Retirees[Index]'s status on EffectiveOn.
type statusPlan struct {
	Index       int
	Status      registryv1.RetireeStatus
	EffectiveOn string
	Reason      string
}

// moveOutPlan moves Retirees[Index] out of the city's management.
type moveOutPlan struct {
	Index       int
	Destination *registryv1.TransferDestination
	Reason      string
}

// Destinations outside the city, with their division codes.
var (
	otherCities = []struct{ code, name string }{
		{"210200", "辽宁省大连市"}, {"210300", "辽宁省鞍山市"}, {"210400", "辽宁省抚顺市"},
	}
	otherProvinces = []struct{ code, name string }{
		{"110105", "北京市朝阳区"}, {"310115", "上海市浦东新区"}, {"440305", "广东省深圳市南山区"}, {"370202", "山东省青岛市市南区"},
	}
	abroadCountries = []struct{ code, city string }{
		{"CA", "加拿大多伦多"}, {"AU", "澳大利亚悉尼"}, {"US", "美国洛杉矶"}, {"JP", "日本东京"},
	}
	childGiven = []string{"伟", "静", "磊", "丽", "强", "敏", "军", "燕", "杰", "娟"}
)

// planRoster gives the plan's retirees a residence and carers, more of the
// special groups a clerk marks, and picks the retirees whose status
// changes and who move out of the city (none of them dying, moving or
// left with a pending transfer).
func planRoster(seed uint64, plan *cityPlan) {
	rng := rand.New(rand.NewPCG(seed, rosterStream)) //nolint:gosec // G404: seeded on purpose, as generateCity
	for _, r := range plan.Retirees {
		r.Residence = drawResidence(rng, r.ResidenceAddress)
		// The two are one address: registry refuses them different.
		r.ResidenceAddress = r.Residence.Address
		r.Carers = drawCarers(rng, r)
		r.Flags = append(r.Flags, drawClerkFlags(rng)...)
		slices.Sort(r.Flags)
	}
	planStatuses(rng, plan)
}

// drawResidence is where a retiree lives: mostly at the roster's address,
// some with children in another city or province, a few abroad.
func drawResidence(rng *rand.Rand, local string) *registryv1.Residence {
	road := 1 + rng.IntN(200)
	switch p := rng.IntN(1000); {
	case p < abroadPerMille:
		c := abroadCountries[rng.IntN(len(abroadCountries))]
		return &registryv1.Residence{Kind: registryv1.Residence_ABROAD, Country: c.code, Address: fmt.Sprintf("%s随子女居住（门牌%d号）", c.city, road)}
	case p < abroadPerMille+otherProvincePerMille:
		c := otherProvinces[rng.IntN(len(otherProvinces))]
		return &registryv1.Residence{Kind: registryv1.Residence_OTHER_PROVINCE, DivisionCode: c.code, Address: fmt.Sprintf("%s建设路%d号", c.name, road)}
	case p < abroadPerMille+otherProvincePerMille+otherCityPerMille:
		c := otherCities[rng.IntN(len(otherCities))]
		return &registryv1.Residence{Kind: registryv1.Residence_OTHER_CITY, DivisionCode: c.code, Address: fmt.Sprintf("%s中山路%d号", c.name, road)}
	}
	return &registryv1.Residence{Kind: registryv1.Residence_LOCAL, Address: local}
}

// drawCarers gives most retirees a child as the emergency contact, and
// some a spouse or a neighbour besides.
func drawCarers(rng *rand.Rand, r *registryv1.Retiree) []*registryv1.Carer {
	if rng.IntN(1000) >= carersPerMille {
		return nil
	}
	surname := []rune(r.Name)[:1]
	carers := []*registryv1.Carer{{
		Name:               string(surname) + childGiven[rng.IntN(len(childGiven))],
		Relation:           registryv1.Carer_CHILD,
		Phone:              drawPhone(rng),
		LegallyResponsible: true,
		EmergencyContact:   true,
	}}
	if rng.IntN(3) == 0 {
		carers = append(carers, &registryv1.Carer{
			Name: "张" + childGiven[rng.IntN(len(childGiven))], Relation: registryv1.Carer_NEIGHBOUR, Phone: drawPhone(rng),
		})
	}
	return carers
}

// drawPhone draws an 11-digit mobile number.
func drawPhone(rng *rand.Rand) string {
	g := generator{rng: rng}
	return g.phone()
}

// drawClerkFlags draws the special groups the earlier generator does not:
// empty nest, disability, dementia, bereaved parents and veterans.
func drawClerkFlags(rng *rand.Rand) []registryv1.RetireeFlag {
	var f []registryv1.RetireeFlag
	for _, c := range []struct {
		flag     registryv1.RetireeFlag
		perMille int
	}{
		{registryv1.RetireeFlag_EMPTY_NEST, 120},
		{registryv1.RetireeFlag_DISABLED, 40},
		{registryv1.RetireeFlag_DEMENTIA, 15},
		{registryv1.RetireeFlag_BEREAVED_PARENT, 5},
		{registryv1.RetireeFlag_VETERAN, 20},
	} {
		if rng.IntN(1000) < c.perMille {
			f = append(f, c.flag)
		}
	}
	return f
}

// planStatuses picks, among living retirees the plan leaves alone, those
// lost contact with, in prison, settled abroad, and moved out of the
// city, each with a date in 2025 or 2026 after their retirement.
func planStatuses(rng *rand.Rand, plan *cityPlan) {
	taken := takenRetirees(plan)
	for _, p := range pickPending(plan) {
		taken[p.retiree] = true
	}
	n := len(plan.Retirees)
	want := map[registryv1.RetireeStatus]int{
		registryv1.RetireeStatus_LOST_CONTACT: n * lostContactPerMille / 1000,
		registryv1.RetireeStatus_IMPRISONED:   n * imprisonedPerMille / 1000,
		registryv1.RetireeStatus_ABROAD:       n * settledAbroadPerMill / 1000,
	}
	wantMoves := n * movedOutPerMille / 1000
	for _, i := range rng.Perm(n) {
		r := plan.Retirees[i]
		if taken[r] || r.RetirementDate > statusDatesTo {
			continue
		}
		if st := nextStatus(want); st != registryv1.RetireeStatus_RETIREE_STATUS_UNSPECIFIED {
			want[st]--
			plan.StatusChanges = append(plan.StatusChanges, statusPlan{
				Index: i, Status: st, EffectiveOn: statusDate(rng, r), Reason: statusReasons[st][rng.IntN(len(statusReasons[st]))],
			})
			continue
		}
		if len(plan.MovesOut) == wantMoves {
			return
		}
		c := otherProvinces[rng.IntN(len(otherProvinces))]
		plan.MovesOut = append(plan.MovesOut, moveOutPlan{
			Index:       i,
			Destination: &registryv1.TransferDestination{Description: c.name + "社会保险事业管理局", DivisionCode: c.code},
			Reason:      "养老保险关系转出，随子女异地定居",
		})
	}
}

// takenRetirees are the retirees the plan already changes.
func takenRetirees(plan *cityPlan) map[*registryv1.Retiree]bool {
	taken := map[*registryv1.Retiree]bool{}
	for _, d := range plan.Deaths {
		taken[plan.Retirees[d.Index]] = true
	}
	for _, t := range plan.Transfers {
		taken[plan.Retirees[t.Index]] = true
	}
	return taken
}

// nextStatus is a status still wanted, in a fixed order, or unspecified.
func nextStatus(want map[registryv1.RetireeStatus]int) registryv1.RetireeStatus {
	for _, st := range []registryv1.RetireeStatus{registryv1.RetireeStatus_LOST_CONTACT, registryv1.RetireeStatus_IMPRISONED, registryv1.RetireeStatus_ABROAD} {
		if want[st] > 0 {
			return st
		}
	}
	return registryv1.RetireeStatus_RETIREE_STATUS_UNSPECIFIED
}

// statusReasons are the reasons a clerk gives, by status.
var statusReasons = map[registryv1.RetireeStatus][]string{
	registryv1.RetireeStatus_LOST_CONTACT: {"电话停机，多次上门无人", "原址拆迁，去向不明", "家属拒绝提供联系方式"},
	registryv1.RetireeStatus_IMPRISONED:   {"经公安机关通报，服刑期间"},
	registryv1.RetireeStatus_ABROAD:       {"随子女出国定居", "经核实已定居国外"},
}

// statusDatesTo is the last day a planned status change takes effect;
// retirees who retire later keep their status.
const statusDatesTo = "2026-06-30"

// statusDate is a day in 2025 or the first half of 2026, and after the
// retiree's retirement.
func statusDate(rng *rand.Rand, r *registryv1.Retiree) string {
	from := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if retired, err := time.Parse(dateLayout, r.RetirementDate); err == nil && retired.After(from) {
		from = retired.AddDate(0, 0, 1)
	}
	to, _ := time.Parse(dateLayout, statusDatesTo)
	days := max(int(to.Sub(from).Hours()/24), 0)
	return from.AddDate(0, 0, rng.IntN(days+1)).Format(dateLayout)
}

// seedRoster records the plan's status changes and moves out of the city,
// counting them in sum; ids are the retirees this run created.
func (s *seeder) seedRoster(ctx context.Context, abort context.CancelCauseFunc, plan *cityPlan, ids []string, sum *seedSummary) {
	s.logf("recording %d status changes and %d moves out of the city", len(plan.StatusChanges), len(plan.MovesOut))
	s.forEach(ctx, len(plan.StatusChanges), func(ctx context.Context, i int) {
		c := plan.StatusChanges[i]
		s.followUp(ctx, abort, &sum.statuses, plan.Retirees[c.Index], ids[c.Index], fmt.Sprintf("change the status of retiree #%d", c.Index),
			func(r *registryv1.Retiree) bool { return r.GetStatus() == c.Status },
			func(ctx context.Context, id string) error {
				_, err := s.client.ChangeRetireeStatus(ctx, &registryv1.ChangeRetireeStatusRequest{
					Id: id, Status: c.Status, EffectiveOn: c.EffectiveOn, Reason: c.Reason,
				})
				return err
			})
	})
	s.forEach(ctx, len(plan.MovesOut), func(ctx context.Context, i int) {
		m := plan.MovesOut[i]
		s.followUp(ctx, abort, &sum.movesOut, plan.Retirees[m.Index], ids[m.Index], fmt.Sprintf("move retiree #%d out of the city", m.Index),
			func(r *registryv1.Retiree) bool { return r.GetStatus() == registryv1.RetireeStatus_MOVED_OUT },
			func(ctx context.Context, id string) error {
				_, err := s.client.TransferRetiree(ctx, &registryv1.TransferRetireeRequest{
					Id: id, OutOfCity: true, Destination: m.Destination, Reason: m.Reason,
				})
				return err
			})
	})
}
