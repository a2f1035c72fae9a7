package casework

import (
	"fmt"
	"slices"
	"time"

	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The care rules (DOMAIN.md "Care"; issue 16). National policy asks for
// monthly visits to elders at risk; local rules add weekly visits for the
// highest risk and quarterly ones for everyone else.
//
// The derived tier of a living retiree comes from the projection's stored
// flags and the age on the day asked (AGED_80_PLUS is computed from the
// birth date, never stored):
//
//   - HIGH (weekly): living alone or empty nest, and at the same time
//     aged 80+, disabled, dementia, seriously ill or a bereaved parent;
//     or dementia while living alone.
//   - KEY (monthly): any one of living alone, empty nest, disabled,
//     dementia, bereaved parent, hardship, aged 80+.
//   - REGULAR (quarterly): every other living retiree.
//
// A clerk of the retiree's community may override the derived tier with
// a reason (SetCareTier); RISK_TIER_UNSPECIFIED removes the override. A
// tier change applies from the next period: a period that began before
// the change gets no new item (one made already stays).

// Names of what a derived tier came from (CareProfile.derived_from).
const (
	fromAged80 = "AGED_80_PLUS"
)

// alone are the flags of an elder without a household to notice trouble.
var alone = []registryv1.RetireeFlag{registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_EMPTY_NEST}

// frail are the conditions that, with living alone or an empty nest,
// make the tier HIGH.
var frail = []registryv1.RetireeFlag{
	registryv1.RetireeFlag_DISABLED, registryv1.RetireeFlag_DEMENTIA,
	registryv1.RetireeFlag_SERIOUS_ILLNESS, registryv1.RetireeFlag_BEREAVED_PARENT,
}

// keyFlags are the flags of which any one makes the tier KEY.
var keyFlags = []registryv1.RetireeFlag{
	registryv1.RetireeFlag_LIVING_ALONE, registryv1.RetireeFlag_EMPTY_NEST, registryv1.RetireeFlag_DISABLED,
	registryv1.RetireeFlag_DEMENTIA, registryv1.RetireeFlag_BEREAVED_PARENT, registryv1.RetireeFlag_HARDSHIP,
}

// deriveTier is the tier a retiree's flags and age give on the China
// date of now, with the flags (and AGED_80_PLUS) that made it, in a fixed
// order. A retiree who is not LIVING has no tier.
func deriveTier(st *registryv1.RetireeState, now time.Time) (pb.RiskTier, []string) {
	if st.Status != registryv1.RetireeStatus_LIVING {
		return pb.RiskTier_RISK_TIER_UNSPECIFIED, nil
	}
	has := func(f registryv1.RetireeFlag) bool { return slices.Contains(st.Flags, f) }
	aged := aged80(st.BirthDate, now)
	var alones, frails, keys []string
	for _, f := range alone {
		if has(f) {
			alones = append(alones, f.String())
		}
	}
	if aged {
		frails = append(frails, fromAged80)
	}
	for _, f := range frail {
		if has(f) {
			frails = append(frails, f.String())
		}
	}
	if len(alones) > 0 && len(frails) > 0 {
		return pb.RiskTier_HIGH, append(alones, frails...)
	}
	for _, f := range keyFlags {
		if has(f) {
			keys = append(keys, f.String())
		}
	}
	if aged {
		keys = append(keys, fromAged80)
	}
	if len(keys) > 0 {
		return pb.RiskTier_KEY, keys
	}
	return pb.RiskTier_REGULAR, nil
}

// aged80 reports whether someone born on birth (YYYY-MM-DD) is 80 or
// older on the China date of now; an unreadable date is not.
func aged80(birth string, now time.Time) bool {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return false
	}
	return !workdays.Today(now).Before(b.AddDate(80, 0, 0))
}

// period is one visit period of a tier: its key (part of the item's
// source key), when it starts and when its visit is due, and the month
// its visit counts in for the visit report ("" for REGULAR, which the
// report does not count).
type period struct {
	key         string
	start, due  time.Time
	reportMonth string
}

// endOfDay is 23:59 China time of the China date d.
func endOfDay(d time.Time) time.Time {
	return time.Date(d.Year(), d.Month(), d.Day(), 23, 59, 0, 0, workdays.ChinaTime)
}

// periodsOf are the periods a tier has in month (its first day, China
// time): HIGH one per ISO week whose Monday falls in the month (started
// that Monday, due its Sunday 23:59); KEY the month (due its last day);
// REGULAR the quarter, in the quarter's first month only (due its last
// day).
func periodsOf(tier pb.RiskTier, month time.Time) []period {
	month = time.Date(month.Year(), month.Month(), 1, 0, 0, 0, 0, workdays.ChinaTime)
	next := month.AddDate(0, 1, 0)
	ym := month.Format("2006-01")
	switch tier {
	case pb.RiskTier_HIGH:
		var out []period
		d := month.AddDate(0, 0, (8-int(month.Weekday()))%7)
		for ; d.Before(next); d = d.AddDate(0, 0, 7) {
			y, w := d.ISOWeek()
			out = append(out, period{fmt.Sprintf("%04d-W%02d", y, w), d, endOfDay(d.AddDate(0, 0, 6)), ym})
		}
		return out
	case pb.RiskTier_KEY:
		return []period{{ym, month, endOfDay(next.AddDate(0, 0, -1)), ym}}
	case pb.RiskTier_REGULAR:
		if (month.Month()-1)%3 != 0 {
			return nil
		}
		q := fmt.Sprintf("%04d-Q%d", month.Year(), (month.Month()-1)/3+1)
		return []period{{q, month, endOfDay(month.AddDate(0, 3, -1)), ""}}
	}
	return nil
}

// parseMonth reads a YYYY-MM month as its first day, China time.
func parseMonth(s string) (time.Time, bool) {
	t, err := time.ParseInLocation("2006-01", s, workdays.ChinaTime)
	return t, err == nil && t.Year() >= 2000 && t.Year() < 2100
}

// monthOf is the China month of t as its first day.
func monthOf(t time.Time) time.Time {
	c := t.In(workdays.ChinaTime)
	return time.Date(c.Year(), c.Month(), 1, 0, 0, 0, 0, workdays.ChinaTime)
}
