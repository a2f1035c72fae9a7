package pension

import (
	"math"
	"sort"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The rules that decide what a retiree is owed, as pure functions of the
// projected retiree, the certification days and the payments, so that the
// statement, the entitlement and the anomaly report agree.
//
// A certification keeps the pension ACTIVE up to and including the day a
// year later (its due date); from the next day it is SUSPENDED until the
// next certification. A month counts as suspended when the pension was
// suspended on its first and on its last day, that is for the whole month:
// a certification within a month makes that month payable. So after a
// certification due on day D the first suspended month is the one after
// D's month, and a re-certification in month R makes R payable again.
// A retiree never certified is SUSPENDED.

// certHistory is a retiree's certification days, oldest first.
type certHistory []time.Time

// upTo returns the certifications made on or before day.
func (h certHistory) upTo(day time.Time) certHistory {
	return h[:sort.Search(len(h), func(i int) bool { return h[i].After(day) })]
}

// lastOn returns the latest certification on or before day.
func (h certHistory) lastOn(day time.Time) (time.Time, bool) {
	h = h.upTo(day)
	if len(h) == 0 {
		return time.Time{}, false
	}
	return h[len(h)-1], true
}

// activeOn reports whether a certification covers day.
func (h certHistory) activeOn(day time.Time) bool {
	last, ok := h.lastOn(day)
	return ok && !day.After(dueAfter(last))
}

// suspendedIn reports whether the pension was suspended for all of m.
func (h certHistory) suspendedIn(m month) bool {
	return !h.activeOn(m.firstDay()) && !h.activeOn(m.lastDay())
}

// lastGap returns the months of the most recent suspension that a
// certification ended: from the month after the due date to the month
// before the re-certification. ok is false when no two certifications are
// more than a year apart; from > to when the gap holds no whole month.
func (h certHistory) lastGap() (from, to month, ok bool) {
	for i := len(h) - 1; i > 0; i-- {
		due := dueAfter(h[i-1])
		if h[i].After(due) {
			return monthOf(due) + 1, monthOf(h[i]) - 1, true
		}
	}
	return 0, 0, false
}

// terms are the months in which a retiree is owed a pension at all, from
// the projected state: after the month of retirement, up to and including
// the month of death.
type terms struct {
	// after is the retirement month; months after it are payable. Without
	// a retirement date every month is.
	after month
	// until is the month of death, or the largest month for the living.
	until    month
	deceased bool
	// dateOfDeath is as projected, for responses.
	dateOfDeath string
}

func termsOf(st *registryv1.RetireeState) terms {
	t := terms{after: math.MinInt32, until: math.MaxInt32, dateOfDeath: st.GetDateOfDeath()}
	if d, ok := parseDate(st.GetRetirementDate()); ok {
		t.after = monthOf(d)
	}
	if st.GetStatus() == registryv1.RetireeStatus_DECEASED {
		t.deceased = true
		if d, ok := parseDate(st.GetDateOfDeath()); ok {
			t.until = monthOf(d)
		}
	}
	return t
}

// payable reports whether m lies between retirement and death.
func (t terms) payable(m month) bool { return m > t.after && m <= t.until }

// living reports whether the retiree is on the rolls: not deceased and not
// moved out of the system.
func living(st *registryv1.RetireeState) bool {
	return st.GetStatus() == registryv1.RetireeStatus_LIVING
}

// entitlementAsOf evaluates a retiree's entitlement on asOf. paid reports
// whether a month has a payment.
func entitlementAsOf(st *registryv1.RetireeState, all certHistory, paid func(month) bool, asOf time.Time) *pb.GetEntitlementResponse {
	t := termsOf(st)
	h := all.upTo(asOf)
	resp := &pb.GetEntitlementResponse{
		RetireeId:   st.GetId(),
		AsOf:        formatDate(asOf),
		DateOfDeath: t.dateOfDeath,
		State:       pb.EntitlementState_SUSPENDED,
	}
	if last, ok := h.lastOn(asOf); ok {
		resp.LastCertifiedOn = formatDate(last)
		resp.NextDueOn = formatDate(dueAfter(last))
		if h.activeOn(asOf) {
			resp.State = pb.EntitlementState_ACTIVE
		}
	}
	if t.deceased {
		resp.State = pb.EntitlementState_STOPPED
	}
	if from, to, ok := h.lastGap(); ok {
		for m := from; m <= to; m++ {
			if t.payable(m) && !paid(m) {
				resp.BackPayMonths = append(resp.BackPayMonths, m.String())
			}
		}
	}
	return resp
}
