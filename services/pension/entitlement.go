package pension

import (
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// What a retiree is owed, as pure functions of the projected retiree and
// the bureau's decisions, so that the entitlement, the statement, the
// anomaly report and the work lists agree.
//
// Only the social-insurance agency suspends, restores or stops a pension:
// the state for a month is the action of the latest of its decisions in
// effect by that month (SUSPEND: SUSPENDED, RESTORE: ACTIVE, STOP:
// STOPPED), ACTIVE when there is none. A death recorded in registry stops
// the pension from the month after the month of death. socmgmt's own view,
// the certification status, tells a clerk whom to help, and never changes
// the entitlement.

// terms are the months in which a retiree is owed a pension at all, from
// the projected state: after the month of retirement, up to and including
// the month of death.
type terms struct {
	// after is the retirement month; months after it are payable. Without
	// a retirement date every month is.
	after month
	// until is the month of death, or the largest month for the living and
	// for the deceased without a date of death.
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

// living reports whether the retiree is on the rolls: alive and under
// the city's management, so not deceased and not moved out. A retiree
// lost contact with, imprisoned or living abroad is on the rolls: whether
// the pension goes on is the bureau's decision (a decision stops it), and
// such retirees are the ones whose certification the work lists must
// show.
func living(st *registryv1.RetireeState) bool {
	switch st.GetStatus() {
	case registryv1.RetireeStatus_LIVING, registryv1.RetireeStatus_LOST_CONTACT,
		registryv1.RetireeStatus_IMPRISONED, registryv1.RetireeStatus_ABROAD:
		return true
	}
	return false
}

// decision is a bureau's decision with its month parsed.
type decision struct {
	month  month
	action pb.DecisionAction
	reason pb.DecisionReason
}

// entitlementView is a retiree's entitlement as the bureau's decisions and
// registry's death make it.
type entitlementView struct {
	terms terms
	// decisions are in effect order: by effective month, then as recorded.
	decisions []decision
}

// bureauView returns the entitlement view of a retiree with decisions,
// which decisionsOf gives in effect order.
func bureauView(st *registryv1.RetireeState, decisions []*pb.EntitlementDecision) entitlementView {
	v := entitlementView{terms: termsOf(st), decisions: make([]decision, 0, len(decisions))}
	for _, d := range decisions {
		if m, ok := parseMonth(d.EffectiveMonth); ok {
			v.decisions = append(v.decisions, decision{month: m, action: d.Action, reason: d.Reason})
		}
	}
	return v
}

// monthState is the entitlement state of a month, why, and since when it
// holds without a break.
type monthState struct {
	state  pb.EntitlementState
	reason pb.DecisionReason
	// since is the first month of the state's run; valid when hasSince.
	since    month
	hasSince bool
}

// stateOfAction is the state a decision's action puts a pension in.
func stateOfAction(a pb.DecisionAction) pb.EntitlementState {
	switch a {
	case pb.DecisionAction_SUSPEND:
		return pb.EntitlementState_SUSPENDED
	case pb.DecisionAction_STOP:
		return pb.EntitlementState_STOPPED
	}
	return pb.EntitlementState_ACTIVE
}

// stateIn returns the entitlement state for month m.
func (v entitlementView) stateIn(m month) monthState {
	s := monthState{state: pb.EntitlementState_ACTIVE}
	for _, d := range v.decisions {
		if d.month > m {
			break
		}
		next := stateOfAction(d.action)
		if next != s.state || !s.hasSince {
			s.since, s.hasSince = d.month, true
		}
		s.state, s.reason = next, d.reason
		if next == pb.EntitlementState_ACTIVE {
			s.reason = pb.DecisionReason_DECISION_REASON_UNSPECIFIED
		}
	}
	t := v.terms
	switch {
	case t.deceased && t.until == math.MaxInt32:
		// Deceased without a date: stopped, since when is not known.
		return monthState{state: pb.EntitlementState_STOPPED, reason: pb.DecisionReason_DECEASED}
	case !t.deceased || m <= t.until:
		return s
	case s.state == pb.EntitlementState_STOPPED && s.hasSince && s.since <= t.until+1:
		return s
	}
	return monthState{state: pb.EntitlementState_STOPPED, reason: pb.DecisionReason_DECEASED, since: t.until + 1, hasSince: true}
}

// owedMonths returns the months that restorations in effect by month upTo
// owe: for each suspension a RESTORE ended, the months from the SUSPEND's
// effective month to the month before the RESTORE's, within the months of
// pension. A STOP ends a suspension without owing anything.
func (v entitlementView) owedMonths(upTo month) []month {
	var out []month
	suspended := false
	var from month
	for _, d := range v.decisions {
		if d.month > upTo {
			break
		}
		switch d.action {
		case pb.DecisionAction_SUSPEND:
			if !suspended {
				suspended, from = true, d.month
			}
		case pb.DecisionAction_RESTORE:
			for m := from; suspended && m < d.month; m++ {
				if v.terms.payable(m) {
					out = append(out, m)
				}
			}
			suspended = false
		case pb.DecisionAction_STOP:
			suspended = false
		}
	}
	return out
}

// suspendedUnrestored reports whether m is a month the bureau suspended
// and no later RESTORE has ended that suspension (by any decision
// recorded, whatever its month): a payment for it is paid while
// suspended.
func (v entitlementView) suspendedUnrestored(m month) bool {
	if v.stateIn(m).state != pb.EntitlementState_SUSPENDED {
		return false
	}
	for _, d := range v.decisions {
		if d.month <= m {
			continue
		}
		switch d.action {
		case pb.DecisionAction_RESTORE:
			return false
		case pb.DecisionAction_STOP:
			return true
		}
	}
	return true
}

// entitlementAsOf is the entitlement of a retiree on asOf: the bureau's
// state for asOf's month, the months a restoration owes and no REGULAR or
// ARREARS payment paid (paid reports that), and the certification state
// on asOf under rule of a retiree last certified as last.
func entitlementAsOf(st *registryv1.RetireeState, v entitlementView, paid func(month) bool, last lastCert, rule certRule, asOf time.Time) *pb.GetEntitlementResponse {
	m := monthOf(asOf)
	s := v.stateIn(m)
	resp := &pb.GetEntitlementResponse{
		RetireeId:   st.GetId(),
		AsOf:        formatDate(asOf),
		DateOfDeath: v.terms.dateOfDeath,
		State:       s.state,
		Reason:      s.reason,
	}
	if s.hasSince {
		resp.StateSince = s.since.String()
	}
	for _, owed := range v.owedMonths(m) {
		if !paid(owed) {
			resp.BackPayMonths = append(resp.BackPayMonths, owed.String())
		}
	}
	cs := certificationState(last, rule, asOf)
	if !living(st) {
		// Nobody is to certify: the dates stay, for the record.
		cs.Status = pb.CertificationStatus_CERTIFICATION_STATUS_UNSPECIFIED
	}
	resp.Certification = cs
	resp.LastCertifiedOn, resp.NextDueOn = cs.LastCertifiedOn, cs.DueOn
	return resp
}

// Entitlement evaluates a retiree's entitlement as of a day.
func (s *Store) Entitlement(st *registryv1.RetireeState, asOf time.Time) (*pb.GetEntitlementResponse, error) {
	var resp *pb.GetEntitlementResponse
	err := s.DB().View(func(tx *bolt.Tx) error {
		decisions, err := decisionsOf(tx, st.Id)
		if err != nil {
			return err
		}
		day, channel, err := latestRecordedBy(tx, st.Id, formatDate(asOf))
		if err != nil {
			return err
		}
		rule, err := ruleOn(tx, st.CommunityId, asOf)
		if err != nil {
			return err
		}
		paid := func(m month) bool { return monthPaid(tx, st.Id, m) }
		resp = entitlementAsOf(st, bureauView(st, decisions), paid, lastCertOf(st, day, channel), rule, asOf)
		return nil
	})
	return resp, err
}
