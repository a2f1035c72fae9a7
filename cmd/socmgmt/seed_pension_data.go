package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// This file plans what `socmgmt seed` loads into the pension service: a
// year of monthly payments for the demo city's retirees and the
// certifications that keep them entitled, with a few deliberate anomalies
// for the anomaly report to find. Like the city it is pure: the same seed
// in the same calendar month gives the same plan, so a re-run imports
// duplicates and records no certification twice.

// paidMonths is how many months of payments the seed imports: the ones
// before the current month.
const paidMonths = 12

// Shares, in per mille, of the retirees given each anomaly.
const (
	// paidAfterDeathPermille of the deceased are still paid in the first
	// months of the year.
	paidAfterDeathPermille = 150
	// unpaidPermille of the living miss one month's payment.
	unpaidPermille = 10
	// dropPermille of the living get 40 % less in the last month.
	dropPermille = 10
	// uncertifiedPermille of the living were last certified more than a
	// year ago, yet are paid.
	uncertifiedPermille = 10
)

// pensionPlan is what seed loads into the pension service.
type pensionPlan struct {
	// Months are the paid months, oldest first (YYYY-MM).
	Months   []string
	Payments []plannedPayment
	// Certifications are ordered by retiree, oldest first.
	Certifications []plannedCertification
	// The retirees given each anomaly, by index into cityPlan.Retirees.
	PaidAfterDeath, Unpaid, Dropped, Uncertified []int
}

// plannedPayment is one payment record, of cityPlan.Retirees[Index].
type plannedPayment struct {
	Index  int
	Record *pensionv1.PaymentRecord
}

// plannedCertification is a certification of cityPlan.Retirees[Index].
type plannedCertification struct {
	Index  int
	Method pensionv1.CertificationMethod
	Date   string
}

// yearMonth is a calendar month as a number: year*12 + month - 1.
type yearMonth int

func monthOfTime(t time.Time) yearMonth { return yearMonth(t.Year()*12 + int(t.Month()) - 1) }

func (m yearMonth) String() string { return fmt.Sprintf("%04d-%02d", int(m)/12, int(m)%12+1) }

func (m yearMonth) day(d int) time.Time {
	return time.Date(int(m)/12, time.Month(int(m)%12+1), d, 0, 0, 0, 0, time.UTC)
}

// generatePensionPlan plans the payments and certifications of a city for
// the paidMonths months before now's month.
func generatePensionPlan(city *cityPlan, seed uint64, now time.Time) *pensionPlan {
	rng := rand.New(rand.NewPCG(seed, 0x9e75_10a5)) //nolint:gosec // G404: seeded on purpose, so a seed always plans the same payments
	current := monthOfTime(now)
	first := current - paidMonths
	// Certification dates depend on the month only, so that a re-run in
	// the same month plans the same days.
	anchor := current.day(1)
	windowStart := first.day(1)
	pp := &pensionPlan{}
	for m := first; m < current; m++ {
		pp.Months = append(pp.Months, m.String())
	}
	died := make(map[int]time.Time, len(city.Deaths))
	for _, d := range city.Deaths {
		t, _ := time.Parse(dateLayout, d.Date)
		died[d.Index] = t
	}
	methods := []pensionv1.CertificationMethod{
		pensionv1.CertificationMethod_IN_PERSON, pensionv1.CertificationMethod_HOME_VISIT,
		pensionv1.CertificationMethod_REMOTE_FACE, pensionv1.CertificationMethod_DATA_MATCH,
	}
	var index int64
	for i, r := range city.Retirees {
		retired, _ := time.Parse(dateLayout, r.GetRetirementDate())
		death, dead := died[i]
		basic := int64(200_000 + 100*rng.IntN(2500))
		personal := basic * int64(15+rng.IntN(16)) / 100
		transitional := int64(0)
		if retired.Year() < 2006 {
			transitional = basic / 10
		}
		other := int64(0)
		if len(r.GetFlags()) > 0 {
			other = 5000
		}
		bank := fmt.Sprintf("6222************%04d", rng.IntN(10000))
		payDay := 10 + rng.IntN(11)

		// The retiree's anomaly, if any; the draws are made for everyone so
		// that one retiree's plan does not shift another's.
		draw := rng.IntN(1000)
		skipMonth := first + yearMonth(rng.IntN(paidMonths))
		extraMonths := 1 + rng.IntN(3)
		const (
			none = iota
			afterDeath
			unpaid
			dropped
			uncertified
		)
		anomaly := none
		switch {
		case dead && draw < paidAfterDeathPermille:
			anomaly = afterDeath
		case dead:
		case draw < unpaidPermille:
			anomaly = unpaid
		case draw < unpaidPermille+dropPermille:
			anomaly = dropped
		case draw < unpaidPermille+dropPermille+uncertifiedPermille && retired.Before(anchor.AddDate(-2, 0, 0)):
			// Only someone retired long enough to have lapsed.
			anomaly = uncertified
		}

		paidAny := false
		for m := first; m < current; m++ {
			payable := m > monthOfTime(retired) && (!dead || m <= monthOfTime(death))
			if anomaly == afterDeath && m > monthOfTime(death) && m < first+yearMonth(extraMonths) {
				payable = true
			}
			if !payable || (anomaly == unpaid && m == skipMonth) {
				continue
			}
			scale := int64(100)
			if anomaly == dropped && m == current-1 {
				scale = 60
			}
			paid := m.day(payDay)
			if paid.After(now) {
				paid = m.day(1)
			}
			index++
			pp.Payments = append(pp.Payments, plannedPayment{Index: i, Record: &pensionv1.PaymentRecord{
				Index:              index,
				IdNumber:           r.GetIdNumber(),
				Month:              m.String(),
				BasicFen:           basic * scale / 100,
				PersonalAccountFen: personal * scale / 100,
				TransitionalFen:    transitional * scale / 100,
				OtherFen:           other * scale / 100,
				PaidOn:             paid.Format(dateLayout),
				BankAccountMasked:  bank,
			}})
			paidAny = true
		}
		switch anomaly {
		case afterDeath:
			if paidAny && monthOfTime(death) < first {
				pp.PaidAfterDeath = append(pp.PaidAfterDeath, i)
			}
		case unpaid:
			if skipMonth > monthOfTime(retired) {
				pp.Unpaid = append(pp.Unpaid, i)
			}
		case dropped:
			if current-1 > monthOfTime(retired)+1 {
				pp.Dropped = append(pp.Dropped, i)
			}
		case uncertified:
			pp.Uncertified = append(pp.Uncertified, i)
		}

		// Certifications a little under a year apart, going back from one
		// in the last year to one before the paid months, so that the
		// pension stays active throughout; none before retirement (which
		// is certified itself when recent) or after death.
		last := anchor.AddDate(0, 0, -(5 + rng.IntN(325)))
		if anomaly == uncertified {
			last = anchor.AddDate(0, -(14 + rng.IntN(6)), 0)
		}
		var days []time.Time
		for d := last; ; d = d.AddDate(0, 0, -(350 + rng.IntN(14))) {
			if d.Before(retired) {
				if retired.After(windowStart.AddDate(-1, 0, 0)) && retired.Before(anchor) {
					days = append(days, retired)
				}
				break
			}
			if !dead || !d.After(death) {
				days = append(days, d)
			}
			if d.Before(windowStart.AddDate(0, -1, 0)) {
				break
			}
		}
		for k := len(days) - 1; k >= 0; k-- {
			pp.Certifications = append(pp.Certifications, plannedCertification{
				Index: i, Method: methods[rng.IntN(len(methods))], Date: days[k].Format(dateLayout),
			})
		}
	}
	return pp
}
