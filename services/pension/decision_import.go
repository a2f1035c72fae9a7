package pension

import (
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// maxNoteLen bounds a decision's note, in characters.
const maxNoteLen = 500

// decisionInput is a decision as a caller or a bureau's file states it,
// once checked.
type decisionInput struct {
	action    pb.DecisionAction
	month     month
	reason    pb.DecisionReason
	note      string
	reference string
}

// decisionProblem is one thing wrong with a decision: the field a call
// names, the reason an import rejects the record with, and a message.
type decisionProblem struct{ field, reason, message string }

// checkDecision validates a decision stated on today and returns it, with
// what is wrong with it (nothing when it is valid). RecordDecision reports
// every problem; an import rejects a record with the first.
func checkDecision(action pb.DecisionAction, effectiveMonth string, reason pb.DecisionReason, note, reference string, today time.Time) (*decisionInput, []decisionProblem) {
	d := &decisionInput{action: action, reason: reason, note: note, reference: reference}
	var out []decisionProblem
	add := func(field, reason, message string) { out = append(out, decisionProblem{field, reason, message}) }
	if _, ok := pb.DecisionAction_name[int32(action)]; !ok || action == pb.DecisionAction_DECISION_ACTION_UNSPECIFIED {
		add("action", ReasonActionInvalid, "action must be SUSPEND, RESTORE or STOP")
	}
	m, ok := parseMonth(effectiveMonth)
	switch {
	case effectiveMonth == "":
		add("effectiveMonth", ReasonMonthInvalid, "effectiveMonth is required")
	case !ok:
		add("effectiveMonth", ReasonMonthInvalid, "effectiveMonth must be YYYY-MM, from 1950")
	case m > monthOf(today)+1:
		add("effectiveMonth", ReasonMonthInFuture, "effectiveMonth is after the next month")
	}
	d.month = m
	_, known := pb.DecisionReason_name[int32(reason)]
	unspecified := reason == pb.DecisionReason_DECISION_REASON_UNSPECIFIED
	switch {
	case !known:
		add("reason", ReasonReasonInvalid, "reason must be NOT_CERTIFIED, LOST_CONTACT, IMPRISONED, DECEASED or OTHER")
	case action == pb.DecisionAction_RESTORE && !unspecified:
		add("reason", ReasonReasonInvalid, "a RESTORE has no reason")
	case (action == pb.DecisionAction_SUSPEND || action == pb.DecisionAction_STOP) && unspecified:
		add("reason", ReasonReasonInvalid, "reason is required for SUSPEND and STOP")
	}
	var v fault.Violations
	inputcheck.Text(&v, "note", note, false, maxNoteLen)
	var ve *fault.ValidationError
	if errors.As(v.Err(), &ve) {
		add("note", ReasonNoteInvalid, "note: "+ve.Fields[0].Description)
	}
	if !validReference(reference) {
		add("reference", ReasonReferenceInvalid, "reference must be at most 64 characters of letters, digits, '.', '_', '/' and '-'")
	}
	return d, out
}

// decisionRecord is one decision record on its way through an import.
type decisionRecord struct {
	recordHead
	in decisionInput
	// seq is the record sequence the commit gives the record, in the order
	// the records arrived, whatever order they are written in.
	seq uint64
	// raw is the stored encoding of the decision r corrects.
	raw []byte
}

// decisionKind is the importKind of ImportDecisions: a decision is one
// (retiree, effective month, action). Every new decision and correction
// is audited for its retiree, besides its group's entry: each changes
// what a retiree is owed.
type decisionKind struct{}

var _ importKind[*pb.DecisionRecord, decisionRecord, *pb.EntitlementDecision] = decisionKind{}

func (decisionKind) head(r *decisionRecord) *recordHead { return &r.recordHead }

// check turns a received record into a decisionRecord, rejected or not.
func (decisionKind) check(c *recordChecker, in *pb.DecisionRecord) decisionRecord {
	h, now := c.begin(in.GetIndex(), in.GetIdNumber())
	r := decisionRecord{recordHead: h}
	if r.reason != "" {
		return r
	}
	d, problems := checkDecision(in.GetAction(), in.GetEffectiveMonth(), in.GetReason(), in.GetNote(), in.GetReference(), now)
	if len(problems) > 0 {
		r.reject(problems[0].reason, problems[0].message)
		return r
	}
	r.in = *d
	return r
}

// lookUp needs nothing beyond the retiree's id.
func (decisionKind) lookUp(*bolt.Tx, *decisionRecord) {}

// identify sets r's decisions key and takes its record sequence.
func (decisionKind) identify(g *groupTx, r *decisionRecord) error {
	start := len(g.buf)
	g.buf = decisionKey(g.buf, r.retireeID, r.in.month, r.in.action)
	r.key = g.keep(start)
	var err error
	r.seq, err = nextDecisionSequence(g.tx)
	return err
}

func (decisionKind) load(g *groupTx, r *decisionRecord) (*pb.EntitlementDecision, bool, error) {
	d, raw, err := loadDecision(g.tx, r.key)
	r.raw = raw
	return d, d != nil, err
}

func (decisionKind) same(d *pb.EntitlementDecision, r *decisionRecord) bool {
	return sameDecision(d, &r.in)
}

func (k decisionKind) add(g *groupTx, r *decisionRecord) error { return k.correct(g, r, nil) }

// correct keeps the stored version and writes r as the next.
func (decisionKind) correct(g *groupTx, r *decisionRecord, stored *pb.EntitlementDecision) error {
	w := decisionWrite{key: r.key, in: &r.in, replaced: stored, replacedRaw: r.raw, seq: r.seq, batchID: g.batchID}
	_, err := writeDecision(g.tx, g.signals, r.retireeID, w, g.actor, g.rpc, g.now)
	return err
}
