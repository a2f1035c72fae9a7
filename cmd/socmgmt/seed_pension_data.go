package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// This file plans what `socmgmt seed` loads into the pension service: a
// year as a bureau lives it. Most retirees are certified by the bureau's
// own data matching, a few by face recognition, abroad or by another
// region, the rest by clerks; a handful are overdue; the bureau suspends a
// few for want of certification and restores some of them, paying the
// suspended months back as ARREARS; July brings the yearly adjustment, paid
// back to January as ADJUSTMENT. A few deliberate anomalies are planted for
// the anomaly report to find. Like the city it is pure: the same seed in
// the same calendar month gives the same plan, so a re-run imports
// duplicates and records nothing twice.

// paidMonths is how many months of payments the seed imports: the ones
// before the current month.
const paidMonths = 12

// Shares, in per mille, of the retirees given each case. The anomalies and
// cases are drawn for the living except paidAfterDeathPermille, which is a
// share of the deceased.
const (
	paidAfterDeathPermille = 150
	// unpaidPermille miss one month's payment.
	unpaidPermille = 10
	// dropPermille get 40 % less in the last month.
	dropPermille = 10
	// paidTwicePermille are paid one month twice.
	paidTwicePermille = 3
	// overduePermille were last certified more than a year ago; the bureau
	// has not acted yet.
	overduePermille = 10
	// suspendedPermille were suspended for want of certification and are
	// still suspended; restoredPermille were suspended, certified again and
	// restored with back-pay; paidWhileSuspendedPermille are suspended and
	// yet paid a month.
	suspendedPermille          = 3
	restoredPermille           = 3
	paidWhileSuspendedPermille = 2
)

// Shares, in per mille, of the channels through which retirees are
// certified; the rest are certified by clerks.
const (
	dataMatchPermille   = 900
	faceAppPermille     = 30
	consularPermille    = 10
	otherRegionPermille = 10
)

// adjustmentPercent is the yearly adjustment of the basic pension, decided
// in July and paid back to January.
const adjustmentPercent = 2

// pensionPlan is what seed loads into the pension service.
type pensionPlan struct {
	// Months are the paid months, oldest first (YYYY-MM).
	Months   []string
	Payments []plannedPayment
	// Certifications are ordered by retiree, oldest first: the bureau's
	// channels go in an import, the clerks' are recorded one by one.
	Certifications []plannedCertification
	// Decisions are the bureau's suspensions and restorations, in order.
	Decisions []plannedDecision
	// AdjustmentMonth is the month (YYYY-MM) the yearly adjustment is paid.
	AdjustmentMonth string
	// The retirees given each anomaly or case, by index into
	// cityPlan.Retirees.
	PaidAfterDeath, Unpaid, Dropped, PaidTwice, PaidWhileSuspended []int
	Overdue, Suspended, Restored                                   []int
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

// byBureau tells whether c goes through the bureau's import.
func (c plannedCertification) byBureau() bool { return !clerkChannel(c.Method) }

// clerkChannel tells whether a clerk may record m.
func clerkChannel(m pensionv1.CertificationMethod) bool {
	switch m {
	case pensionv1.CertificationMethod_IN_PERSON, pensionv1.CertificationMethod_HOME_VISIT, pensionv1.CertificationMethod_ACTIVITY:
		return true
	}
	return false
}

// plannedDecision is a decision of the bureau about
// cityPlan.Retirees[Index].
type plannedDecision struct {
	Index  int
	Record *pensionv1.DecisionRecord
}

// yearMonth is a calendar month as a number: year*12 + month - 1.
type yearMonth int

func monthOfTime(t time.Time) yearMonth { return yearMonth(t.Year()*12 + int(t.Month()) - 1) }

func (m yearMonth) String() string { return fmt.Sprintf("%04d-%02d", int(m)/12, int(m)%12+1) }

func (m yearMonth) day(d int) time.Time {
	return time.Date(int(m)/12, time.Month(int(m)%12+1), d, 0, 0, 0, 0, time.UTC)
}

// clerkChannels are drawn from for the retirees certified by clerks.
var clerkChannels = []pensionv1.CertificationMethod{
	pensionv1.CertificationMethod_IN_PERSON, pensionv1.CertificationMethod_HOME_VISIT, pensionv1.CertificationMethod_ACTIVITY,
}

// pensionCase is what sets one retiree's year apart, if anything.
type pensionCase int

const (
	ordinary pensionCase = iota
	paidAfterDeath
	unpaidMonth
	droppedAmount
	paidTwice
	overdue
	suspended
	restored
	paidWhileSuspended
)

// caseShares are the cases of the living, in the order they are drawn.
var caseShares = []struct {
	c        pensionCase
	permille int
}{
	{unpaidMonth, unpaidPermille}, {droppedAmount, dropPermille}, {paidTwice, paidTwicePermille},
	{overdue, overduePermille}, {suspended, suspendedPermille}, {restored, restoredPermille},
	{paidWhileSuspended, paidWhileSuspendedPermille},
}

// lapses tells whether c is a case of a certification more than a year
// old, which needs a retiree retired long enough to have lapsed.
func (c pensionCase) lapses() bool { return c >= overdue }

// suspends tells whether the bureau suspends the retiree of case c.
func (c pensionCase) suspends() bool { return c >= suspended }

// pensionPlanner holds what generatePensionPlan shares between retirees:
// the random source, the months and days that depend on now alone, and the
// plan being built.
type pensionPlanner struct {
	rng *rand.Rand
	now time.Time
	// current is now's month; first is the oldest paid month; july is the
	// month of the yearly adjustment, the July among the paid months.
	current, first, july yearMonth
	// Certification dates depend on the month only, so that a re-run in
	// the same month plans the same days: anchor is the first day of the
	// current month, windowStart that of the first paid month.
	anchor, windowStart time.Time
	pp                  *pensionPlan
	// index numbers the payment records from 1; decisionIndex the
	// decision records.
	index, decisionIndex int64
}

// plannedRetiree is one retiree as the pension plan sees them, with the
// amounts and case drawn for them.
type plannedRetiree struct {
	i       int
	r       *registryv1.Retiree
	retired time.Time
	death   time.Time
	dead    bool

	basic, personal, transitional, other int64
	bank                                 string
	payDay                               int
	channel                              pensionv1.CertificationMethod
	// skipMonth is the unpaid or twice-paid month; extraMonths how long
	// the deceased are paid on.
	skipMonth   yearMonth
	extraMonths int
	// suspendFrom and restoreFrom are the months of the bureau's
	// decisions in the suspension cases.
	suspendFrom, restoreFrom yearMonth
	pensionCase              pensionCase
}

// generatePensionPlan plans the payments, certifications and decisions of
// a city for the paidMonths months before now's month.
func generatePensionPlan(city *cityPlan, seed uint64, now time.Time) *pensionPlan {
	current := monthOfTime(now)
	first := current - paidMonths
	july := first + (yearMonth(6)-first%12+12)%12
	p := &pensionPlanner{
		rng:     rand.New(rand.NewPCG(seed, 0x9e75_10a5)), //nolint:gosec // G404: seeded on purpose, so a seed always plans the same year
		now:     now,
		current: current, first: first, july: july,
		anchor: current.day(1), windowStart: first.day(1),
		pp: &pensionPlan{AdjustmentMonth: july.String()},
	}
	for m := first; m < current; m++ {
		p.pp.Months = append(p.pp.Months, m.String())
	}
	died := make(map[int]time.Time, len(city.Deaths))
	for _, d := range city.Deaths {
		t, _ := time.Parse(dateLayout, d.Date)
		died[d.Index] = t
	}
	// The deaths whose recovery cases seed_recovery.go drives are paid
	// after death whatever the draw, so that their cases open.
	recovered := map[int]bool{}
	for _, d := range city.Deaths[:min(len(city.Deaths), len(caseTargets))] {
		recovered[d.Index] = true
	}
	for i, r := range city.Retirees {
		pr := p.draw(i, r, died)
		if recovered[i] {
			pr.pensionCase = paidAfterDeath
		}
		paidAny := p.planPayments(pr)
		p.planAdjustment(pr)
		p.noteCase(pr, paidAny)
		p.planCertifications(pr)
		p.planDecisions(pr)
	}
	return p.pp
}

// draw makes the random draws of retiree i: amounts, bank account, pay day,
// channel and case. Every draw is made for everyone so that one retiree's
// plan does not shift another's.
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
	pr.channel = p.drawChannel()
	pr.skipMonth = p.first + yearMonth(p.rng.IntN(paidMonths))
	pr.extraMonths = 1 + p.rng.IntN(3)
	pr.suspendFrom = p.first + 2 + yearMonth(p.rng.IntN(4))
	pr.restoreFrom = pr.suspendFrom + 2 + yearMonth(p.rng.IntN(3))
	pr.pensionCase = p.drawCase(pr, p.rng.IntN(1000))
	return pr
}

// drawChannel draws how a retiree is usually certified.
func (p *pensionPlanner) drawChannel() pensionv1.CertificationMethod {
	draw, clerk := p.rng.IntN(1000), clerkChannels[p.rng.IntN(len(clerkChannels))]
	switch {
	case draw < dataMatchPermille:
		return pensionv1.CertificationMethod_DATA_MATCH
	case draw < dataMatchPermille+faceAppPermille:
		return pensionv1.CertificationMethod_FACE_APP
	case draw < dataMatchPermille+faceAppPermille+consularPermille:
		return pensionv1.CertificationMethod_CONSULAR
	case draw < dataMatchPermille+faceAppPermille+consularPermille+otherRegionPermille:
		return pensionv1.CertificationMethod_OTHER_REGION
	}
	return clerk
}

// drawCase turns the draw into pr's case: paidAfterDeath for some of the
// deceased, the shares of caseShares for the living. A lapse needs a
// retiree retired two years or more.
func (p *pensionPlanner) drawCase(pr *plannedRetiree, draw int) pensionCase {
	if pr.dead {
		if draw < paidAfterDeathPermille {
			return paidAfterDeath
		}
		return ordinary
	}
	for _, cs := range caseShares {
		if draw < cs.permille {
			if cs.c.lapses() && !pr.retired.Before(p.anchor.AddDate(-2, 0, 0)) {
				return ordinary
			}
			return cs.c
		}
		draw -= cs.permille
	}
	return ordinary
}

// entitled tells whether pr is owed month m: after the month of
// retirement, up to the month of death.
func (pr *plannedRetiree) entitled(m yearMonth) bool {
	return m > monthOfTime(pr.retired) && (!pr.dead || m <= monthOfTime(pr.death))
}

// suspendedIn tells whether the bureau had pr's pension suspended in m.
func (pr *plannedRetiree) suspendedIn(m yearMonth) bool {
	switch pr.pensionCase {
	case suspended, paidWhileSuspended:
		return m >= pr.suspendFrom
	case restored:
		return m >= pr.suspendFrom && m < pr.restoreFrom
	}
	return false
}

// paidRegularly tells whether pr is paid a REGULAR payment for month m,
// the planted anomalies included.
func (p *pensionPlanner) paidRegularly(pr *plannedRetiree, m yearMonth) bool {
	switch {
	case pr.pensionCase == paidAfterDeath && m > monthOfTime(pr.death) && m <= max(monthOfTime(pr.death), p.first-1)+yearMonth(pr.extraMonths):
		return true
	case pr.pensionCase == unpaidMonth && m == pr.skipMonth:
		return false
	case pr.pensionCase == paidWhileSuspended && m == pr.suspendFrom+1:
		return true
	case pr.suspendedIn(m):
		return false
	}
	return pr.entitled(m)
}

// basicFor is pr's basic pension for month m: raised by the adjustment
// from July on.
func (p *pensionPlanner) basicFor(pr *plannedRetiree, m yearMonth) int64 {
	if m >= p.july {
		return pr.basic * (100 + adjustmentPercent) / 100
	}
	return pr.basic
}

// planPayments adds pr's regular payments of the paid months, a second one
// for the twice paid, and the back-pay of the restored, and tells whether
// there was any regular payment.
func (p *pensionPlanner) planPayments(pr *plannedRetiree) bool {
	paidAny := false
	for m := p.first; m < p.current; m++ {
		if !p.paidRegularly(pr, m) {
			continue
		}
		scale := int64(100)
		if pr.pensionCase == droppedAmount && m == p.current-1 {
			scale = 60
		}
		p.addPayment(pr, m, m.day(pr.payDay), pensionv1.PaymentKind_REGULAR, scale)
		if pr.pensionCase == paidTwice && m == pr.skipMonth {
			p.addPayment(pr, m, m.day(pr.payDay+3), pensionv1.PaymentKind_REGULAR, scale)
		}
		paidAny = true
	}
	if pr.pensionCase == restored {
		for m := pr.suspendFrom; m < pr.restoreFrom; m++ {
			if pr.entitled(m) {
				p.addPayment(pr, m, pr.restoreFrom.day(pr.payDay), pensionv1.PaymentKind_ARREARS, 100)
			}
		}
	}
	return paidAny
}

// addPayment adds one payment record of pr for month m, its amounts scaled
// by scale percent.
func (p *pensionPlanner) addPayment(pr *plannedRetiree, m yearMonth, paid time.Time, kind pensionv1.PaymentKind, scale int64) {
	if paid.After(p.now) {
		paid = m.day(1)
	}
	p.index++
	p.pp.Payments = append(p.pp.Payments, plannedPayment{Index: pr.i, Record: &pensionv1.PaymentRecord{
		Index:              p.index,
		IdNumber:           pr.r.GetIdNumber(),
		Month:              m.String(),
		BasicFen:           p.basicFor(pr, m) * scale / 100,
		PersonalAccountFen: pr.personal * scale / 100,
		TransitionalFen:    pr.transitional * scale / 100,
		OtherFen:           pr.other * scale / 100,
		PaidOn:             paid.Format(dateLayout),
		BankAccountMasked:  pr.bank,
		Kind:               kind,
	}})
}

// planAdjustment adds the retroactive part of the yearly adjustment for
// January to June, paid in July as ADJUSTMENT, to everyone paid in July.
func (p *pensionPlanner) planAdjustment(pr *plannedRetiree) {
	if !p.paidRegularly(pr, p.july) || pr.suspendedIn(p.july) {
		return
	}
	for m := p.july - 6; m < p.july; m++ {
		if !pr.entitled(m) || pr.suspendedIn(m) {
			continue
		}
		p.index++
		p.pp.Payments = append(p.pp.Payments, plannedPayment{Index: pr.i, Record: &pensionv1.PaymentRecord{
			Index:             p.index,
			IdNumber:          pr.r.GetIdNumber(),
			Month:             m.String(),
			BasicFen:          pr.basic * adjustmentPercent / 100,
			PaidOn:            p.july.day(pr.payDay).Format(dateLayout),
			BankAccountMasked: pr.bank,
			Kind:              pensionv1.PaymentKind_ADJUSTMENT,
		}})
	}
}

// noteCase lists pr under their case when the plan shows it.
func (p *pensionPlanner) noteCase(pr *plannedRetiree, paidAny bool) {
	pp := p.pp
	switch pr.pensionCase {
	case paidAfterDeath:
		if paidAny && monthOfTime(pr.death)+1 < p.current {
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
	case paidTwice:
		if pr.entitled(pr.skipMonth) {
			pp.PaidTwice = append(pp.PaidTwice, pr.i)
		}
	case overdue:
		pp.Overdue = append(pp.Overdue, pr.i)
	case suspended:
		pp.Suspended = append(pp.Suspended, pr.i)
	case restored:
		pp.Restored = append(pp.Restored, pr.i)
	case paidWhileSuspended:
		pp.PaidWhileSuspended = append(pp.PaidWhileSuspended, pr.i)
	}
}

// lastCertification is the day of pr's latest certification: within the
// last year for most; over a year ago for the overdue; for the suspended,
// over a year before the suspension (which is why the bureau suspended);
// for the restored, in the month before the restoration.
func (p *pensionPlanner) lastCertification(pr *plannedRetiree) time.Time {
	last := p.anchor.AddDate(0, 0, -(5 + p.rng.IntN(325)))
	switch pr.pensionCase {
	case overdue:
		last = p.anchor.AddDate(0, -(13 + p.rng.IntN(5)), 0)
	case suspended, paidWhileSuspended:
		last = pr.suspendFrom.day(1).AddDate(-1, 0, -(1 + p.rng.IntN(20)))
	case restored:
		last = (pr.restoreFrom - 1).day(3 + p.rng.IntN(20))
	}
	return last
}

// planCertifications adds pr's certifications, a little under a year
// apart, going back from the last one to one before the paid months; none
// before the first month of pension (which counts as a certification) or
// after death. A restored retiree's renewed certification follows a gap
// of over a year.
func (p *pensionPlanner) planCertifications(pr *plannedRetiree) {
	pensionStart := (monthOfTime(pr.retired) + 1).day(1)
	last := p.lastCertification(pr)
	var days []time.Time
	d := last
	if pr.pensionCase == restored {
		days = append(days, last)
		d = pr.suspendFrom.day(1).AddDate(-1, 0, -(1 + p.rng.IntN(20)))
	}
	for ; !d.Before(pensionStart); d = d.AddDate(0, 0, -(350 + p.rng.IntN(14))) {
		if !pr.dead || !d.After(pr.death) {
			days = append(days, d)
		}
		if d.Before(p.windowStart.AddDate(0, -1, 0)) {
			break
		}
	}
	for k := len(days) - 1; k >= 0; k-- {
		method := pr.channel
		if pr.pensionCase == restored && k == 0 {
			// Helped by the community after the suspension.
			method = pensionv1.CertificationMethod_HOME_VISIT
		}
		p.pp.Certifications = append(p.pp.Certifications, plannedCertification{Index: pr.i, Method: method, Date: days[k].Format(dateLayout)})
	}
}

// planDecisions adds the bureau's decisions of the suspension cases.
func (p *pensionPlanner) planDecisions(pr *plannedRetiree) {
	if !pr.pensionCase.suspends() {
		return
	}
	p.addDecision(pr, pensionv1.DecisionAction_SUSPEND, pr.suspendFrom, pensionv1.DecisionReason_NOT_CERTIFIED)
	if pr.pensionCase == restored {
		p.addDecision(pr, pensionv1.DecisionAction_RESTORE, pr.restoreFrom, pensionv1.DecisionReason_DECISION_REASON_UNSPECIFIED)
	}
}

func (p *pensionPlanner) addDecision(pr *plannedRetiree, action pensionv1.DecisionAction, from yearMonth, reason pensionv1.DecisionReason) {
	p.decisionIndex++
	p.pp.Decisions = append(p.pp.Decisions, plannedDecision{Index: pr.i, Record: &pensionv1.DecisionRecord{
		Index:          p.decisionIndex,
		IdNumber:       pr.r.GetIdNumber(),
		Action:         action,
		EffectiveMonth: from.String(),
		Reason:         reason,
		Reference:      fmt.Sprintf("SEED-%s-%d", from, p.decisionIndex),
	}})
}
