package pension

import (
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Recovery cases, as pure functions of a case: each step checks what it
// needs, and either changes the case and appends its ledger entry or
// returns an error and leaves the case as it was. The ledger invariant
// holds after every step: principal = repaid + offset + written off +
// balance.

// Bounds of a recovery case.
const (
	// maxRecoveryEntries bounds a case's ledger, which is stored and
	// answered with the case.
	maxRecoveryEntries = 1000
	// maxInstalments bounds an instalment plan.
	maxInstalments = 60
	// orderWorkingDays is how long the family has to repay an order.
	orderWorkingDays = 30
	// voidReasonReversed is the reason of a case voided by a reversal.
	voidReasonReversed = "death reversed"
)

// Reasons of refused recovery steps.
const (
	ReasonCaseClosed          = "RECOVERY_CASE_CLOSED"
	ReasonAmountOverBalance   = "AMOUNT_OVER_BALANCE"
	ReasonWrongState          = "RECOVERY_STATE"
	ReasonPlanSum             = "PLAN_SUM_NOT_BALANCE"
	ReasonWriteOffPending     = "WRITE_OFF_PENDING"
	ReasonNoWriteOff          = "NO_WRITE_OFF_PENDING"
	ReasonWriteOffSamePerson  = "WRITE_OFF_SAME_PERSON"
	ReasonNotEscalable        = "NOT_ESCALABLE"
	ReasonLedgerFull          = "LEDGER_FULL"
	ReasonBankReferenceReused = "BANK_REFERENCE_REUSED"
)

// step is who makes a ledger entry, and when.
type step struct {
	actor string
	time  time.Time
}

// closed reports whether no action but a principal change applies to c.
func closed(c *pb.RecoveryCase) bool {
	switch c.State {
	case pb.RecoveryState_RECOVERY_VOID, pb.RecoveryState_RECOVERY_REPAID, pb.RecoveryState_RECOVERY_WRITTEN_OFF:
		return true
	}
	return false
}

// invariantHolds reports whether c's ledger figures agree.
func invariantHolds(c *pb.RecoveryCase) bool {
	return c.BalanceFen >= 0 && c.PrincipalFen == c.RepaidFen+c.OffsetFen+c.WrittenOffFen+c.BalanceFen
}

// appendEntry numbers e, stamps it and appends it to c's ledger.
func appendEntry(c *pb.RecoveryCase, s step, e *pb.RecoveryEntry) error {
	if len(c.Entries) >= maxRecoveryEntries {
		return fault.Limit(ReasonLedgerFull, "the case's ledger is full")
	}
	e.Seq = int64(len(c.Entries)) + 1
	e.Actor = s.actor
	e.Time = timestamppb.New(s.time)
	e.BalanceFen = c.BalanceFen
	c.Entries = append(c.Entries, e)
	return nil
}

// settle moves a case whose balance reached 0 to REPAID or WRITTEN_OFF,
// and one whose balance grew again out of them back to where it was.
func settle(c *pb.RecoveryCase) {
	switch {
	case c.State == pb.RecoveryState_RECOVERY_VOID:
	case c.BalanceFen == 0 && c.WrittenOffFen > 0:
		c.State = pb.RecoveryState_RECOVERY_WRITTEN_OFF
	case c.BalanceFen == 0:
		c.State = pb.RecoveryState_RECOVERY_REPAID
	case c.State == pb.RecoveryState_RECOVERY_REPAID || c.State == pb.RecoveryState_RECOVERY_WRITTEN_OFF:
		c.State = pb.RecoveryState_RECOVERY_OPEN
		if c.Order != nil {
			c.State = pb.RecoveryState_RECOVERY_ORDERED
		}
	}
}

// addPrincipal changes the principal by e.AmountFen (a payment after the
// death, or its correction). A reduction beyond the balance reduces it to
// 0: what the family repaid beyond the new principal is the bureau's to
// refund, and the entry says so.
func addPrincipal(c *pb.RecoveryCase, s step, e *pb.RecoveryEntry) error {
	if c.State == pb.RecoveryState_RECOVERY_VOID {
		return fault.Rule(ReasonCaseClosed, "the case is void")
	}
	if e.AmountFen < -c.BalanceFen {
		e.Note = "the principal fell below what was recovered: the bureau refunds the difference"
		e.AmountFen = -c.BalanceFen
	}
	before := len(c.Entries)
	c.PrincipalFen += e.AmountFen
	c.BalanceFen += e.AmountFen
	if err := appendEntry(c, s, e); err != nil {
		c.PrincipalFen -= e.AmountFen
		c.BalanceFen -= e.AmountFen
		c.Entries = c.Entries[:before]
		return err
	}
	if e.Month != "" && !slices.Contains(c.Months, e.Month) {
		c.Months = append(c.Months, e.Month)
		slices.Sort(c.Months)
	}
	settle(c)
	return nil
}

// repay records a repayment of amount.
func repay(c *pb.RecoveryCase, s step, amount int64, paidOn, ref string) error {
	switch {
	case c.State == pb.RecoveryState_RECOVERY_VOID:
		return fault.Rule(ReasonCaseClosed, "the case is void")
	case amount <= 0 || amount > c.BalanceFen:
		return fault.Rule(ReasonAmountOverBalance, "amountFen must be between 1 and the balance")
	}
	c.RepaidFen += amount
	c.BalanceFen -= amount
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_REPAYMENT, AmountFen: amount, PaidOn: paidOn, BankReference: ref}); err != nil {
		c.RepaidFen -= amount
		c.BalanceFen += amount
		return err
	}
	settle(c)
	return nil
}

// active reports an error unless c is still being recovered.
func active(c *pb.RecoveryCase) error {
	if closed(c) {
		return fault.Rule(ReasonCaseClosed, "the case is "+c.State.String())
	}
	return nil
}

// proposeWriteOff records a write-off of amount waiting for a second
// person.
func proposeWriteOff(c *pb.RecoveryCase, s step, amount int64, reason string) error {
	if err := active(c); err != nil {
		return err
	}
	switch {
	case c.WriteOffProposal != nil:
		return fault.Rule(ReasonWriteOffPending, "a write-off is already waiting for approval")
	case amount <= 0 || amount > c.BalanceFen:
		return fault.Rule(ReasonAmountOverBalance, "amountFen must be between 1 and the balance")
	}
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_WRITE_OFF_PROPOSED, Note: reason}); err != nil {
		return err
	}
	c.WriteOffProposal = &pb.RecoveryWriteOffProposal{AmountFen: amount, Reason: reason, ProposedBy: s.actor, ProposedTime: timestamppb.New(s.time)}
	return nil
}

// approveWriteOff writes off the pending proposal's amount; its proposer
// may not approve it.
func approveWriteOff(c *pb.RecoveryCase, s step) error {
	if err := active(c); err != nil {
		return err
	}
	w := c.WriteOffProposal
	switch {
	case w == nil:
		return fault.Rule(ReasonNoWriteOff, "no write-off is waiting for approval")
	case w.ProposedBy == s.actor:
		return fault.Rule(ReasonWriteOffSamePerson, "a write-off needs a second person: its proposer cannot approve it")
	case w.AmountFen > c.BalanceFen:
		return fault.Rule(ReasonAmountOverBalance, "the proposed amount is now over the balance: reject it and propose again")
	}
	c.WrittenOffFen += w.AmountFen
	c.BalanceFen -= w.AmountFen
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_WRITE_OFF, AmountFen: w.AmountFen, Note: w.Reason}); err != nil {
		c.WrittenOffFen -= w.AmountFen
		c.BalanceFen += w.AmountFen
		return err
	}
	c.WriteOffProposal = nil
	settle(c)
	return nil
}

// rejectWriteOff drops the pending proposal.
func rejectWriteOff(c *pb.RecoveryCase, s step, reason string) error {
	if c.WriteOffProposal == nil {
		return fault.Rule(ReasonNoWriteOff, "no write-off is waiting for approval")
	}
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_WRITE_OFF_REJECTED, Note: reason}); err != nil {
		return err
	}
	c.WriteOffProposal = nil
	return nil
}

// issueOrder issues (or issues again) the repayment order.
func issueOrder(c *pb.RecoveryCase, s step, o *pb.RecoveryOrder) error {
	if err := active(c); err != nil {
		return err
	}
	if c.State != pb.RecoveryState_RECOVERY_OPEN && c.State != pb.RecoveryState_RECOVERY_ORDERED {
		return fault.Rule(ReasonWrongState, "an order is issued to a case OPEN or ORDERED, not "+c.State.String())
	}
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_ORDER_ISSUED, Note: "due " + o.DueOn}); err != nil {
		return err
	}
	c.Order = o
	c.State = pb.RecoveryState_RECOVERY_ORDERED
	return nil
}

// setPlan agrees an instalment plan; the server has checked the dates.
func setPlan(c *pb.RecoveryCase, s step, plan []*pb.RecoveryInstalment) error {
	if err := active(c); err != nil {
		return err
	}
	if c.State != pb.RecoveryState_RECOVERY_ORDERED && c.State != pb.RecoveryState_RECOVERY_INSTALMENTS {
		return fault.Rule(ReasonWrongState, "a plan follows an order: the case is "+c.State.String())
	}
	var sum int64
	for _, in := range plan {
		sum += in.AmountFen
	}
	if sum != c.BalanceFen {
		return fault.Rule(ReasonPlanSum, "the instalments must sum to the balance")
	}
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_INSTALMENT_PLAN_SET}); err != nil {
		return err
	}
	c.Instalments = plan
	c.State = pb.RecoveryState_RECOVERY_INSTALMENTS
	return nil
}

// recordRefusal records the debtor's refusal on day.
func recordRefusal(c *pb.RecoveryCase, s step, day, note string) error {
	if err := active(c); err != nil {
		return err
	}
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_REFUSAL_RECORDED, Note: note}); err != nil {
		return err
	}
	c.RefusedOn = day
	return nil
}

// finalDue is the last day the family had: the last instalment's due
// date, or the order's; empty without either.
func finalDue(c *pb.RecoveryCase) string {
	if n := len(c.Instalments); n > 0 {
		return c.Instalments[n-1].DueOn
	}
	return c.GetOrder().GetDueOn()
}

// escalate passes c to enforcement after a refusal or once its final due
// date (before today, YYYY-MM-DD) has passed.
func escalate(c *pb.RecoveryCase, s step, today, reason string) error {
	if err := active(c); err != nil {
		return err
	}
	if c.State == pb.RecoveryState_RECOVERY_ENFORCEMENT {
		return fault.Rule(ReasonWrongState, "the case is already in enforcement")
	}
	due := finalDue(c)
	if c.RefusedOn == "" && (due == "" || due >= today) {
		return fault.Rule(ReasonNotEscalable, "escalation needs a recorded refusal or a final due date passed")
	}
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_ESCALATED, Note: reason}); err != nil {
		return err
	}
	c.State = pb.RecoveryState_RECOVERY_ENFORCEMENT
	c.ClosingReason = reason
	return nil
}

// voidCase closes c as void, whatever its state: its ledger stays.
func voidCase(c *pb.RecoveryCase, s step, reason string) {
	if c.State == pb.RecoveryState_RECOVERY_VOID {
		return
	}
	// The void entry is written even on a full ledger: a reversal must
	// not fail.
	c.Entries = append(c.Entries, &pb.RecoveryEntry{
		Seq: int64(len(c.Entries)) + 1, Kind: pb.RecoveryEntryKind_CASE_VOIDED, Note: reason,
		Actor: s.actor, Time: timestamppb.New(s.time), BalanceFen: c.BalanceFen,
	})
	c.State = pb.RecoveryState_RECOVERY_VOID
	c.ClosingReason = reason
	c.WriteOffProposal = nil
}

// offset records an offset of amount against the death-benefit claim
// claimID: a case being recovered, in enforcement too, takes one; a
// closed one does not.
func offset(c *pb.RecoveryCase, s step, amount int64, claimID string) error {
	if err := active(c); err != nil {
		return err
	}
	if amount <= 0 || amount > c.BalanceFen {
		return fault.Rule(ReasonAmountOverBalance, "amountFen must be between 1 and the balance")
	}
	c.OffsetFen += amount
	c.BalanceFen -= amount
	if err := appendEntry(c, s, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_OFFSET, AmountFen: amount, ClaimId: claimID}); err != nil {
		c.OffsetFen -= amount
		c.BalanceFen += amount
		return err
	}
	settle(c)
	return nil
}
