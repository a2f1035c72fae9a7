package main

import (
	"testing"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestPlanRoster: the seeded city has every residence kind, carers with
// one emergency contact each, the clerk's special groups, every status a
// clerk sets and moves out of the city, the changed retirees being none
// that the plan buries, moves or leaves with a pending transfer.
func TestPlanRoster(t *testing.T) {
	t.Parallel()
	plan, err := generateCity(1, 20000)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[registryv1.Residence_Kind]int{}
	flags := map[registryv1.RetireeFlag]int{}
	withCarers := 0
	for i, r := range plan.Retirees {
		kinds[r.GetResidence().GetKind()]++
		for _, f := range r.GetFlags() {
			flags[f]++
		}
		emergency := 0
		for _, c := range r.GetCarers() {
			if c.GetEmergencyContact() {
				emergency++
			}
		}
		if len(r.GetCarers()) > 0 {
			withCarers++
			if emergency != 1 {
				t.Errorf("retiree #%d has %d emergency contacts", i, emergency)
			}
		}
	}
	for _, k := range []registryv1.Residence_Kind{registryv1.Residence_LOCAL, registryv1.Residence_OTHER_CITY, registryv1.Residence_OTHER_PROVINCE, registryv1.Residence_ABROAD} {
		if kinds[k] == 0 {
			t.Errorf("no residence %v", k)
		}
	}
	for _, f := range []registryv1.RetireeFlag{registryv1.RetireeFlag_EMPTY_NEST, registryv1.RetireeFlag_DISABLED, registryv1.RetireeFlag_DEMENTIA, registryv1.RetireeFlag_BEREAVED_PARENT, registryv1.RetireeFlag_VETERAN} {
		if flags[f] == 0 {
			t.Errorf("no retiree flagged %v", f)
		}
	}
	if share := float64(withCarers) / float64(len(plan.Retirees)); share < 0.65 || share > 0.75 {
		t.Errorf("%.2f of the retirees have carers, want about 0.70", share)
	}

	taken := takenRetirees(plan)
	for _, p := range pickPending(plan) {
		taken[p.retiree] = true
	}
	statuses := map[registryv1.RetireeStatus]int{}
	for _, c := range plan.StatusChanges {
		r := plan.Retirees[c.Index]
		statuses[c.Status]++
		if taken[r] {
			t.Errorf("retiree #%d changes status and is changed otherwise too", c.Index)
		}
		if c.EffectiveOn < r.GetRetirementDate() || c.EffectiveOn > statusDatesTo || c.Reason == "" {
			t.Errorf("retiree #%d retired %s: status %v on %s (%q)", c.Index, r.GetRetirementDate(), c.Status, c.EffectiveOn, c.Reason)
		}
		taken[r] = true
	}
	for _, st := range []registryv1.RetireeStatus{registryv1.RetireeStatus_LOST_CONTACT, registryv1.RetireeStatus_IMPRISONED, registryv1.RetireeStatus_ABROAD} {
		if statuses[st] == 0 {
			t.Errorf("no retiree is %v", st)
		}
	}
	if len(plan.MovesOut) == 0 {
		t.Error("nobody moves out of the city")
	}
	for _, m := range plan.MovesOut {
		if taken[plan.Retirees[m.Index]] || m.Destination.GetDescription() == "" {
			t.Errorf("move out of retiree #%d: taken or without destination", m.Index)
		}
		taken[plan.Retirees[m.Index]] = true
	}
}
