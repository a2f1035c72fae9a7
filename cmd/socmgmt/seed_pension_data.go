package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
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

// certificationMethods are the ways a retiree's entitlement is certified,
// drawn from at random.
var certificationMethods = []pensionv1.CertificationMethod{
	pensionv1.CertificationMethod_IN_PERSON, pensionv1.CertificationMethod_HOME_VISIT,
	pensionv1.CertificationMethod_REMOTE_FACE, pensionv1.CertificationMethod_DATA_MATCH,
}

// anomaly is the deliberate irregularity planted in one retiree's plan.
type anomaly int

const (
	noAnomaly anomaly = iota
	paidAfterDeath
	unpaidMonth
	droppedAmount
	uncertified
)

// pensionPlanner holds what generatePensionPlan shares between retirees:
// the random source, the months and days that depend on now alone, and the
// plan being built.
type pensionPlanner struct {
	rng *rand.Rand
	now time.Time
	// current is now's month; first is the oldest paid month.
	current, first yearMonth
	// Certification dates depend on the month only, so that a re-run in
	// the same month plans the same days: anchor is the first day of the
	// current month, windowStart that of the first paid month.
	anchor, windowStart time.Time
	pp                  *pensionPlan
	// index numbers the payment records from 1.
	index int64
}

// plannedRetiree is one retiree as the pension plan sees them, with the
// amounts and anomaly drawn for them.
type plannedRetiree struct {
	i       int
	r       *registryv1.Retiree
	retired time.Time
	death   time.Time
	dead    bool

	basic, personal, transitional, other int64
	bank                                 string
	payDay                               int
	skipMonth                            yearMonth
	extraMonths                          int
	anomaly                              anomaly
}

// generatePensionPlan plans the payments and certifications of a city for
// the paidMonths months before now's month.
func generatePensionPlan(city *cityPlan, seed uint64, now time.Time) *pensionPlan {
	current := monthOfTime(now)
	first := current - paidMonths
	p := &pensionPlanner{
		rng:     rand.New(rand.NewPCG(seed, 0x9e75_10a5)), //nolint:gosec // G404: seeded on purpose, so a seed always plans the same payments
		now:     now,
		current: current, first: first,
		anchor: current.day(1), windowStart: first.day(1),
		pp: &pensionPlan{},
	}
	for m := first; m < current; m++ {
		p.pp.Months = append(p.pp.Months, m.String())
	}
	died := make(map[int]time.Time, len(city.Deaths))
	for _, d := range city.Deaths {
		t, _ := time.Parse(dateLayout, d.Date)
		died[d.Index] = t
	}
	for i, r := range city.Retirees {
		pr := p.draw(i, r, died)
		paidAny := p.planPayments(pr)
		p.noteAnomaly(pr, paidAny)
		p.planCertifications(pr)
	}
	return p.pp
}

// draw makes the random draws of retiree i: amounts, bank account, pay day
// and anomaly. The anomaly's draws are made for everyone so that one
// retiree's plan does not shift another's.
func (p *pensionPlanner) draw(i int, r *registryv1.Retiree, died map[int]time.Time) *plannedRetiree {
	pr := &plannedRetiree{i: i, r: r}
	pr.retired, _ = time.Parse(dateLayout, r.GetRetirementDate())
	pr.death, pr.dead = died[i]
	pr.basic = int64(200_000 + 100*p.rng.IntN(2500))
	pr.personal = pr.basic * int64(15+p.rng.IntN(16)) / 100
	if pr.retired.Year() < 2006 {
		pr.transitional = pr.basic / 10
	}
	if len(r.GetFlags()) > 0 {
		pr.other = 5000
	}
	pr.bank = fmt.Sprintf("6222************%04d", p.rng.IntN(10000))
	pr.payDay = 10 + p.rng.IntN(11)

	draw := p.rng.IntN(1000)
	pr.skipMonth = p.first + yearMonth(p.rng.IntN(paidMonths))
	pr.extraMonths = 1 + p.rng.IntN(3)
	switch {
	case pr.dead && draw < paidAfterDeathPermille:
		pr.anomaly = paidAfterDeath
	case pr.dead:
	case draw < unpaidPermille:
		pr.anomaly = unpaidMonth
	case draw < unpaidPermille+dropPermille:
		pr.anomaly = droppedAmount
	case draw < unpaidPermille+dropPermille+uncertifiedPermille && pr.retired.Before(p.anchor.AddDate(-2, 0, 0)):
		// Only someone retired long enough to have lapsed.
		pr.anomaly = uncertified
	}
	return pr
}

// payable tells whether pr is paid for month m, anomalies included.
func (p *pensionPlanner) payable(pr *plannedRetiree, m yearMonth) bool {
	if pr.anomaly == paidAfterDeath && m > monthOfTime(pr.death) && m < p.first+yearMonth(pr.extraMonths) {
		return true
	}
	if pr.anomaly == unpaidMonth && m == pr.skipMonth {
		return false
	}
	return m > monthOfTime(pr.retired) && (!pr.dead || m <= monthOfTime(pr.death))
}

// planPayments adds pr's payments of the paid months and tells whether
// there was any.
func (p *pensionPlanner) planPayments(pr *plannedRetiree) bool {
	paidAny := false
	for m := p.first; m < p.current; m++ {
		if !p.payable(pr, m) {
			continue
		}
		scale := int64(100)
		if pr.anomaly == droppedAmount && m == p.current-1 {
			scale = 60
		}
		paid := m.day(pr.payDay)
		if paid.After(p.now) {
			paid = m.day(1)
		}
		p.index++
		p.pp.Payments = append(p.pp.Payments, plannedPayment{Index: pr.i, Record: &pensionv1.PaymentRecord{
			Index:              p.index,
			IdNumber:           pr.r.GetIdNumber(),
			Month:              m.String(),
			BasicFen:           pr.basic * scale / 100,
			PersonalAccountFen: pr.personal * scale / 100,
			TransitionalFen:    pr.transitional * scale / 100,
			OtherFen:           pr.other * scale / 100,
			PaidOn:             paid.Format(dateLayout),
			BankAccountMasked:  pr.bank,
		}})
		paidAny = true
	}
	return paidAny
}

// noteAnomaly lists pr under their anomaly when the payments show it.
func (p *pensionPlanner) noteAnomaly(pr *plannedRetiree, paidAny bool) {
	pp := p.pp
	switch pr.anomaly {
	case paidAfterDeath:
		if paidAny && monthOfTime(pr.death) < p.first {
			pp.PaidAfterDeath = append(pp.PaidAfterDeath, pr.i)
		}
	case unpaidMonth:
		if pr.skipMonth > monthOfTime(pr.retired) {
			pp.Unpaid = append(pp.Unpaid, pr.i)
		}
	case droppedAmount:
		if p.current-1 > monthOfTime(pr.retired)+1 {
			pp.Dropped = append(pp.Dropped, pr.i)
		}
	case uncertified:
		pp.Uncertified = append(pp.Uncertified, pr.i)
	}
}

// planCertifications adds pr's certifications, a little under a year
// apart, going back from one in the last year to one before the paid
// months, so that the pension stays active throughout; none before
// retirement (which is certified itself when recent) or after death.
func (p *pensionPlanner) planCertifications(pr *plannedRetiree) {
	last := p.anchor.AddDate(0, 0, -(5 + p.rng.IntN(325)))
	if pr.anomaly == uncertified {
		last = p.anchor.AddDate(0, -(14 + p.rng.IntN(6)), 0)
	}
	var days []time.Time
	for d := last; ; d = d.AddDate(0, 0, -(350 + p.rng.IntN(14))) {
		if d.Before(pr.retired) {
			if pr.retired.After(p.windowStart.AddDate(-1, 0, 0)) && pr.retired.Before(p.anchor) {
				days = append(days, pr.retired)
			}
			break
		}
		if !pr.dead || !d.After(pr.death) {
			days = append(days, d)
		}
		if d.Before(p.windowStart.AddDate(0, -1, 0)) {
			break
		}
	}
	for k := len(days) - 1; k >= 0; k-- {
		p.pp.Certifications = append(p.pp.Certifications, plannedCertification{
			Index: pr.i, Method: certificationMethods[p.rng.IntN(len(certificationMethods))], Date: days[k].Format(dateLayout),
		})
	}
}
