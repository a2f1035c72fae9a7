package handover

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// The actions of the timeline (Event.action).
const (
	actionCreated           = "CREATED"
	actionUpdated           = "UPDATED"
	actionSubmitted         = "SUBMITTED"
	actionReturned          = "RETURNED"
	actionWithdrawn         = "WITHDRAWN"
	actionFundsReceived     = "FUNDS_RECEIVED"
	actionArchivesReceived  = "ARCHIVES_RECEIVED"
	actionPremisesInspected = "PREMISES_INSPECTED"
	actionCompleted         = "COMPLETED"
	actionAllocated         = "ALLOCATED"
	actionRosterVerified    = "ROSTER_VERIFIED"
	actionDelivered         = "DELIVERED"
	actionDeliveryFailed    = "DELIVERY_FAILED"
)

// Rule-failure reasons the handover service returns in ErrorInfo; clients
// match on them.
const (
	// ReasonWrongState: the step is not possible in the handover's state.
	ReasonWrongState = "HANDOVER_WRONG_STATE"
	// ReasonChecksFailed: submit found retirees, dossiers, funds or the
	// community wanting; the BadRequest detail lists every one.
	ReasonChecksFailed = "HANDOVER_CHECKS_FAILED"
	// ReasonIncomplete: complete found funds, archives or premises not yet
	// settled; the BadRequest detail lists them.
	ReasonIncomplete = "HANDOVER_INCOMPLETE"
	// ReasonOverReceived: a receipt would take the funds received past the
	// amount of the package.
	ReasonOverReceived = "FUNDS_OVER_RECEIVED"
	// ReasonBelowReceived: an edit would make the amount less than what
	// was already received.
	ReasonBelowReceived = "FUNDS_BELOW_RECEIVED"
	// ReasonDuplicateVoucher: the voucher was already recorded.
	ReasonDuplicateVoucher = "VOUCHER_ALREADY_RECORDED"
	// ReasonTooManyReceipts: the package has maxReceipts receipts already.
	ReasonTooManyReceipts = "TOO_MANY_RECEIPTS"
)

// dateIn is t's date in China, YYYY-MM-DD.
func dateIn(t time.Time) string { return t.In(workdays.ChinaTime).Format(time.DateOnly) }

// requireState fails with ReasonWrongState unless h is in one of states.
func requireState(h *pb.Handover, what string, states ...pb.Handover_State) error {
	if slices.Contains(states, h.State) {
		return nil
	}
	names := make([]string, len(states))
	for i, s := range states {
		names[i] = s.String()
	}
	return fault.Rule(ReasonWrongState,
		fmt.Sprintf("the handover is %s; %s needs it %s", h.State, what, strings.Join(names, " or ")),
		"state", h.State.String())
}

// checkMessageItems is how many violations the message repeats for
// clients that read only the message.
const checkMessageItems = 3

// newCheckError returns the workflow rule reason broken by items of the
// package: a *fault.RuleError naming every offending item, not just the
// first, or nil when fields is empty.
func newCheckError(reason, summary string, fields []fault.FieldViolation) error {
	if len(fields) == 0 {
		return nil
	}
	return &fault.RuleError{Reason: reason, Message: checkMessage(summary, fields), Fields: fields}
}

// checkMessage is the summary, the count and the first few problems.
func checkMessage(summary string, fields []fault.FieldViolation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d problem", summary, len(fields))
	if len(fields) != 1 {
		b.WriteString("s")
	}
	for i, f := range fields[:min(len(fields), checkMessageItems)] {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field + ": " + f.Description)
	}
	if n := len(fields) - checkMessageItems; n > 0 {
		fmt.Fprintf(&b, "; and %d more", n)
	}
	return b.String()
}

// newDraft prepares a validated package for storage as a DRAFT: every
// output-only field is cleared or set to its start value, and premises get
// their ids.
func newDraft(in *pb.Handover) *pb.Handover {
	h := proto.Clone(in).(*pb.Handover)
	h.Id, h.Etag, h.ReturnReason = "", "", ""
	h.State = pb.Handover_DRAFT
	h.Delivery = nil
	if h.Kind == pb.Handover_KIND_UNSPECIFIED {
		h.Kind = pb.Handover_AGREEMENT
	}
	h.ReceiverCode = receiverOf(h)
	h.Allocations, h.RosterVerification = nil, nil
	h.CreateTime, h.UpdateTime, h.SubmitTime, h.CompleteTime = nil, nil, nil, nil
	if h.Funds == nil {
		h.Funds = &pb.Funds{}
	}
	h.Funds.ReceivedFen, h.Funds.Receipts = 0, nil
	// Party members are declared with SetPartyMembers, checked there.
	h.PartyTransfers, h.PartyWithheld = nil, false
	for _, d := range h.Dossiers {
		clearReceipt(d)
	}
	for i, pr := range h.Premises {
		pr.Id = premisesID(i + 1)
		pr.Inspection, pr.InspectionNotes, pr.VenueId = pb.Premises_NOT_INSPECTED, "", ""
		pr.GroupApprovalRef, pr.CommunityId = "", ""
	}
	refreshTracks(h, "", nil)
	return h
}

func premisesID(n int) string { return "P" + strconv.Itoa(n) }

// premisesNumber reads n back from a premises id "Pn"; 0 when it is not one.
func premisesNumber(id string) int {
	rest, ok := strings.CutPrefix(id, "P")
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n <= 0 || premisesID(n) != id {
		return 0
	}
	return n
}

// draftSummary describes a new package for its CREATED event.
func draftSummary(h *pb.Handover) string {
	return fmt.Sprintf("%s package for %s: %d retirees, %d dossiers, %d premises, %d obligations, %d fen",
		h.Kind, receiverName(h), len(h.RetireeIds), len(h.Dossiers), len(h.Premises), len(h.Obligations), h.GetFunds().GetAmountFen())
}

// Patch is a validated edit of a DRAFT or RETURNED package.
type Patch struct {
	// Paths are the normalised field paths to copy from Values: proto
	// names, with funds' two fields addressed separately.
	Paths  []string
	Values *pb.Handover
}

// The paths a Patch may carry.
const (
	pathCommunity   = "community_id"
	pathRetirees    = "retiree_ids"
	pathAmount      = "funds.amount_fen"
	pathStandard    = "funds.per_retiree_standard_fen"
	pathDossiers    = "dossiers"
	pathPremises    = "premises"
	pathObligations = "obligations"
	pathFundsItems  = "funds.items"
	pathPlan        = "plan"
)

// jsonPath names a patch path as clients write it.
var jsonPath = map[string]string{
	pathCommunity: "communityId", pathRetirees: "retireeIds", pathAmount: "funds.amountFen",
	pathStandard: "funds.perRetireeStandardFen", pathDossiers: "dossiers", pathPremises: "premises",
	pathObligations: "obligations", pathFundsItems: "funds.items", pathPlan: "plan",
}

// applyPatch edits h. Dossiers keep what the clerk recorded about them
// while retiree and dossier number stay the same; premises given with
// their id keep their inspection while they are unchanged; new premises
// get new ids. It returns the retirees that left the package, whose
// claims the caller releases, and the event's detail.
func applyPatch(h *pb.Handover, p Patch) (removed []string, detail string, err error) {
	if err := requireState(h, "editing", pb.Handover_DRAFT, pb.Handover_RETURNED); err != nil {
		return nil, "", err
	}
	if h.Funds == nil {
		h.Funds = &pb.Funds{}
	}
	changed := make([]string, 0, len(p.Paths))
	for _, path := range p.Paths {
		changed = append(changed, jsonPath[path])
		gone, err := applyField(h, path, p.Values)
		if err != nil {
			return nil, "", err
		}
		removed = append(removed, gone...)
	}
	if h.Funds.AmountFen < h.Funds.ReceivedFen {
		return nil, "", fault.Rule(ReasonBelowReceived,
			fmt.Sprintf("funds.amountFen would be less than the %d fen already received", h.Funds.ReceivedFen))
	}
	var v fault.Violations
	checkKind(&v, h)
	if err := v.Err(); err != nil {
		return nil, "", err
	}
	return removed, "changed " + strings.Join(changed, ", "), nil
}

// applyField copies the field at path from v to h. For the retirees it
// returns those that left the package.
func applyField(h *pb.Handover, path string, v *pb.Handover) (removed []string, err error) {
	switch path {
	case pathCommunity:
		// Once submitted, the package has been seen and worked on by the
		// receiving community; moving it would hand another community
		// those receipts and that history. Withdraw and start anew.
		if h.SubmitTime != nil && v.CommunityId != h.CommunityId {
			return nil, fault.Rule(ReasonWrongState,
				"the receiving community cannot change after submission; withdraw the package and create a new one")
		}
		if !withinReceiver(h, v.CommunityId) {
			return nil, fault.Invalid("communityId", "not a community of the receiving unit "+h.ReceiverCode+"; create a new package for another unit")
		}
		h.CommunityId = v.CommunityId
	case pathRetirees:
		removed = leaving(h.RetireeIds, v.RetireeIds)
		h.RetireeIds = slices.Clone(v.RetireeIds)
	case pathAmount:
		h.Funds.AmountFen = v.GetFunds().GetAmountFen()
	case pathStandard:
		h.Funds.PerRetireeStandardFen = v.GetFunds().GetPerRetireeStandardFen()
	case pathDossiers:
		h.Dossiers = mergeDossiers(h.Dossiers, v.Dossiers)
	case pathPremises:
		h.Premises = mergePremises(h.Premises, v.Premises)
	case pathObligations:
		h.Obligations = cloneAll(v.Obligations)
	case pathFundsItems:
		h.Funds.Items = cloneAll(v.GetFunds().GetItems())
	case pathPlan:
		h.Plan = proto.CloneOf(v.Plan)
	default:
		return nil, fmt.Errorf("patch of %q not handled", path)
	}
	return removed, nil
}

// leaving returns the ids of from that are not in to, in from's order.
func leaving(from, to []string) []string {
	keep := make(map[string]bool, len(to))
	for _, id := range to {
		keep[id] = true
	}
	var gone []string
	for _, id := range from {
		if !keep[id] {
			gone = append(gone, id)
		}
	}
	return gone
}

func cloneAll[M proto.Message](in []M) []M {
	out := make([]M, len(in))
	for i, m := range in {
		out[i] = proto.Clone(m).(M)
	}
	return out
}

// mergeDossiers returns the new dossiers with the state of the old ones
// for the same retiree and dossier number.
func mergeDossiers(old, in []*pb.Dossier) []*pb.Dossier {
	byRetiree := make(map[string]*pb.Dossier, len(old))
	for _, d := range old {
		byRetiree[d.RetireeId] = d
	}
	out := cloneAll(in)
	for _, d := range out {
		clearReceipt(d)
		if o := byRetiree[d.RetireeId]; o != nil && o.DossierNo == d.DossierNo {
			keepReceipt(d, o)
		}
	}
	return out
}

// mergePremises returns the new premises: one given with the id of an old
// one keeps the id, and its inspection if nothing about it changed; the
// others get ids after the highest in use.
func mergePremises(old, in []*pb.Premises) []*pb.Premises {
	byID := make(map[string]*pb.Premises, len(old))
	next := 0
	for _, pr := range old {
		byID[pr.Id] = pr
		next = max(next, premisesNumber(pr.Id))
	}
	out := cloneAll(in)
	taken := map[string]bool{}
	for _, pr := range out {
		o := byID[pr.Id]
		if o == nil || taken[pr.Id] {
			pr.Id = ""
			continue
		}
		taken[pr.Id] = true
		pr.Inspection, pr.InspectionNotes, pr.VenueId = pb.Premises_NOT_INSPECTED, "", ""
		if o.Name == pr.Name && o.Address == pr.Address && o.AreaSqm == pr.AreaSqm && o.Capacity == pr.Capacity && o.Use == pr.Use {
			pr.Inspection, pr.InspectionNotes = o.Inspection, o.InspectionNotes
		}
	}
	for _, pr := range out {
		if pr.Id == "" {
			next++
			pr.Id = premisesID(next)
			pr.Inspection, pr.InspectionNotes, pr.VenueId = pb.Premises_NOT_INSPECTED, "", ""
		}
	}
	return out
}

// localSubmitViolations are the submit checks that need nothing but the
// package: retirees listed, a dossier for each and for no one else, funds
// that add up.
func localSubmitViolations(h *pb.Handover, funds FundsRule) []fault.FieldViolation {
	var v []fault.FieldViolation
	add := func(field, desc string) { v = append(v, fault.FieldViolation{Field: field, Description: desc}) }
	if len(h.RetireeIds) == 0 {
		add("retireeIds", "the package lists no retirees")
	}
	listed := make(map[string]bool, len(h.RetireeIds))
	for _, id := range h.RetireeIds {
		listed[id] = true
	}
	has := make(map[string]bool, len(h.Dossiers))
	for j, d := range h.Dossiers {
		has[d.RetireeId] = true
		if !listed[d.RetireeId] {
			add(fmt.Sprintf("dossiers[%d]", j), "the retiree is not in retireeIds")
		}
	}
	for i, id := range h.RetireeIds {
		if !has[id] {
			add("dossiers", fmt.Sprintf("no dossier for retireeIds[%d]", i))
		}
	}
	if pl := h.GetPlan(); pl.GetRetirees() > 0 && int(pl.GetRetirees()) != len(h.RetireeIds) {
		add("plan.retirees", fmt.Sprintf("the plan says %d retirees, the package lists %d", pl.GetRetirees(), len(h.RetireeIds)))
	}
	// Counts only: who the members are is for the PARTY track's receivers.
	if pl := h.GetPlan(); pl.GetPartyMembers() > 0 && int(pl.GetPartyMembers()) != len(h.PartyTransfers) {
		add("plan.partyMembers", fmt.Sprintf("the plan says %d party members, %d are declared", pl.GetPartyMembers(), len(h.PartyTransfers)))
	}
	return append(v, fundsViolations(h, funds)...)
}

// fundsViolations are the submit checks of the funds: more than zero
// where the region's rule requires funds, and adding up.
func fundsViolations(h *pb.Handover, rule FundsRule) []fault.FieldViolation {
	var v []fault.FieldViolation
	add := func(field, desc string) { v = append(v, fault.FieldViolation{Field: field, Description: desc}) }
	f := h.GetFunds()
	switch {
	case f.GetAmountFen() <= 0 && h.Kind != pb.Handover_MONTHLY_NEW_RETIREES && rule.Requires(h.ReceiverCode):
		add("funds.amountFen", "must be more than 0: the region's rule requires funds with a handover")
	case f.GetPerRetireeStandardFen() > 0 && f.GetAmountFen() != f.GetPerRetireeStandardFen()*int64(len(h.RetireeIds)):
		add("funds.amountFen", fmt.Sprintf("must equal perRetireeStandardFen × %d retirees = %d",
			len(h.RetireeIds), f.GetPerRetireeStandardFen()*int64(len(h.RetireeIds))))
	}
	if items := f.GetItems(); len(items) > 0 {
		var sum int64
		for _, it := range items {
			sum += it.AmountFen
		}
		if sum != f.GetAmountFen() {
			add("funds.items", fmt.Sprintf("add up to %d fen, not the %d of funds.amountFen", sum, f.GetAmountFen()))
		}
	}
	return v
}

// claimViolations names the retirees that other open handovers hold.
func claimViolations(h *pb.Handover, others map[string]string) []fault.FieldViolation {
	var v []fault.FieldViolation
	for i, id := range h.RetireeIds {
		if other, ok := others[id]; ok {
			v = append(v, fault.FieldViolation{Field: fmt.Sprintf("retireeIds[%d]", i), Description: "in handover " + other})
		}
	}
	return v
}

// sortViolations orders the violations of a submit as the package's
// fields: the community, then the retirees by index, then the rest.
func sortViolations(v []fault.FieldViolation) []fault.FieldViolation {
	rank := func(field string) int {
		if field == "communityId" {
			return -1
		}
		if rest, ok := strings.CutPrefix(field, "retireeIds["); ok {
			if n, err := strconv.Atoi(strings.TrimSuffix(rest, "]")); err == nil {
				return n
			}
		}
		return math.MaxInt
	}
	slices.SortStableFunc(v, func(a, b fault.FieldViolation) int { return cmp.Compare(rank(a.Field), rank(b.Field)) })
	return v
}

// markSubmitted moves h to SUBMITTED.
func markSubmitted(h *pb.Handover, now time.Time) string {
	h.State = pb.Handover_SUBMITTED
	h.SubmitTime = timestamppb.New(now)
	settleAllocations(h)
	return fmt.Sprintf("submitted to %s: %d retirees, %d fen", receiverName(h), len(h.RetireeIds), h.GetFunds().GetAmountFen())
}

// receiverName names the receiver of h for its timeline.
func receiverName(h *pb.Handover) string {
	if h.CommunityId != "" {
		return "community " + h.CommunityId
	}
	if len(h.ReceiverCode) == inputcheck.DistrictCodeLen {
		return "district " + h.ReceiverCode
	}
	return "street office " + h.ReceiverCode
}

// withdraw ends h before completion.
func withdraw(h *pb.Handover, reason string) (string, error) {
	if err := requireState(h, "withdrawing", pb.Handover_DRAFT, pb.Handover_SUBMITTED, pb.Handover_RETURNED); err != nil {
		return "", err
	}
	h.State = pb.Handover_WITHDRAWN
	if reason == "" {
		return "withdrawn", nil
	}
	return "withdrawn: " + reason, nil
}

// returnToEnterprise sends a submitted h back with the clerk's reason.
func returnToEnterprise(h *pb.Handover, reason string) (string, error) {
	if err := requireState(h, "returning", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	h.State = pb.Handover_RETURNED
	h.ReturnReason = reason
	// The enterprise may change the roster now: the bureau verifies the
	// one it submits next.
	h.RosterVerification = nil
	return "returned: " + reason, nil
}

// maxReceipts bounds the receipts of one package.
const maxReceipts = 100

// receiveFunds adds a receipt. Partial receipts add up to the amount of
// the package and no further; a voucher counts once.
func receiveFunds(h *pb.Handover, r *pb.FundsReceipt) (string, error) {
	if err := requireState(h, "receiving funds", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	if h.Funds == nil {
		h.Funds = &pb.Funds{}
	}
	f := h.Funds
	for _, old := range f.Receipts {
		if old.VoucherNo == r.VoucherNo {
			return "", fault.Conflict(ReasonDuplicateVoucher, "this voucher is already recorded", "voucherNo", r.VoucherNo)
		}
	}
	if len(f.Receipts) >= maxReceipts {
		return "", fault.Rule(ReasonTooManyReceipts, fmt.Sprintf("a package takes at most %d receipts", maxReceipts))
	}
	if r.AmountFen > f.AmountFen-f.ReceivedFen {
		return "", fault.Rule(ReasonOverReceived,
			fmt.Sprintf("%d fen would exceed the package: %d of %d fen received, %d outstanding",
				r.AmountFen, f.ReceivedFen, f.AmountFen, f.AmountFen-f.ReceivedFen),
			"outstandingFen", strconv.FormatInt(f.AmountFen-f.ReceivedFen, 10))
	}
	f.Receipts = append(f.Receipts, proto.Clone(r).(*pb.FundsReceipt))
	f.ReceivedFen += r.AmountFen
	return fmt.Sprintf("received %d fen (voucher %s, %s): %d of %d fen",
		r.AmountFen, r.VoucherNo, r.ReceivedOn, f.ReceivedFen, f.AmountFen), nil
}

// inspectPremises records the verdict on one premises. Premises of an
// agreement not addressed to one community are accepted only with the
// group company's approval, into a community of the receiving unit.
func inspectPremises(h *pb.Handover, req *pb.InspectPremisesRequest) (string, error) {
	if err := requireState(h, "inspecting premises", pb.Handover_SUBMITTED); err != nil {
		return "", err
	}
	i := slices.IndexFunc(h.Premises, func(pr *pb.Premises) bool { return pr.Id == req.PremisesId })
	if i < 0 {
		return "", fault.Invalid("premisesId", "no premises with this id in the handover")
	}
	var v fault.Violations
	if req.Accepted && h.CommunityId == "" {
		inputcheck.Text(&v, "groupApprovalRef", req.GroupApprovalRef, true, maxRefLen)
		if req.CommunityId == "" {
			v.Add("communityId", "required: the community whose venue the premises become")
		}
	}
	if req.CommunityId != "" && !withinReceiver(h, req.CommunityId) {
		v.Add("communityId", "not a community of the receiving unit "+h.ReceiverCode)
	}
	if err := v.Err(); err != nil {
		return "", err
	}
	pr := h.Premises[i]
	pr.Inspection, pr.InspectionNotes, pr.GroupApprovalRef, pr.CommunityId = pb.Premises_DECLINED, req.Notes, "", ""
	verdict := "declined"
	if req.Accepted {
		pr.Inspection, verdict = pb.Premises_ACCEPTED, "accepted"
		pr.GroupApprovalRef, pr.CommunityId = req.GroupApprovalRef, cmp.Or(req.CommunityId, h.CommunityId)
	}
	detail := fmt.Sprintf("premises %s %s", pr.Id, verdict)
	if req.Accepted {
		detail += " for community " + pr.CommunityId
	}
	if pr.GroupApprovalRef != "" {
		detail += " (group approval " + pr.GroupApprovalRef + ")"
	}
	if req.Notes != "" {
		detail += ": " + req.Notes
	}
	return detail, nil
}

// completeViolations lists what still stands between h and completion:
// funds not received in full, dossiers neither received nor explained,
// premises not inspected.
func completeViolations(h *pb.Handover) []fault.FieldViolation {
	var v []fault.FieldViolation
	if h.RosterVerification == nil {
		v = append(v, fault.FieldViolation{Field: "rosterVerification", Description: "the bureau has not verified the roster"})
	}
	if n := unallocated(h); n > 0 {
		v = append(v, fault.FieldViolation{Field: "allocations", Description: fmt.Sprintf("%d retirees not allocated to a community", n)})
	}
	for _, t := range openTracks(h) {
		if !detailedTracks[t.Kind] {
			v = append(v, fault.FieldViolation{Field: "tracks." + t.Kind.String(), Description: fmt.Sprintf("%d of %d settled", t.Settled, t.Items)})
		}
	}
	if f := h.GetFunds(); f.GetReceivedFen() != f.GetAmountFen() {
		v = append(v, fault.FieldViolation{Field: "funds.receivedFen",
			Description: fmt.Sprintf("%d of %d fen received", f.GetReceivedFen(), f.GetAmountFen())})
	}
	for i, d := range h.Dossiers {
		if !dossierSettled(d) {
			v = append(v, fault.FieldViolation{Field: fmt.Sprintf("dossiers[%d]", i), Description: unsettledDossier(d)})
		}
	}
	for i, o := range h.Obligations {
		if o.RetireeId != "" && !slices.Contains(h.RetireeIds, o.RetireeId) {
			v = append(v, fault.FieldViolation{Field: fmt.Sprintf("obligations[%d].retireeId", i), Description: "not one of the handover's retirees"})
		}
	}
	for i, pr := range h.Premises {
		if pr.Inspection != pb.Premises_ACCEPTED && pr.Inspection != pb.Premises_DECLINED {
			v = append(v, fault.FieldViolation{Field: fmt.Sprintf("premises[%d]", i), Description: "not inspected"})
		}
	}
	return v
}

// detailedTracks are the tracks completeViolations names item by item;
// of the others it names the track.
var detailedTracks = map[pb.Track_Kind]bool{
	pb.Track_SOCIAL_INSURANCE: true, pb.Track_ARCHIVES: true, pb.Track_PREMISES: true, pb.Track_FUNDS: true,
}

// complete moves h to COMPLETED and returns the commands its completion
// queues; the caller writes them to the outbox in the same transaction.
func complete(h *pb.Handover, now time.Time) ([]*command, string, error) {
	if err := requireState(h, "completing", pb.Handover_SUBMITTED); err != nil {
		return nil, "", err
	}
	if err := newCheckError(ReasonIncomplete, "the handover cannot be completed yet", completeViolations(h)); err != nil {
		return nil, "", err
	}
	h.State = pb.Handover_COMPLETED
	h.CompleteTime = timestamppb.New(now)
	cmds, err := completionCommands(h)
	if err != nil {
		return nil, "", err
	}
	n := int32(len(cmds)) //nolint:gosec // G115: at most MaxRetirees/assignBatch+len(Allocations)+MaxPremises (validated)
	h.Delivery = &pb.Delivery{State: pb.Delivery_PENDING, Commands: n}
	venues := 0
	for _, c := range cmds {
		if c.kind == kindCreateVenue {
			venues++
		}
	}
	return cmds, fmt.Sprintf("completed: %d retirees to become COMMUNITY-managed in %d communities, %d premises to become venues; %d commands queued",
		len(h.RetireeIds), len(h.Allocations), venues, len(cmds)), nil
}
