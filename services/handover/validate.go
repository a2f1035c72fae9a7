package handover

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Bounds on the inputs.
const (
	// MaxRetirees is the most retirees one package may hand over.
	MaxRetirees = 10_000
	// MaxPremises is the most premises one package may hand over.
	MaxPremises = 50
	// MaxObligations is the most obligations one package may list.
	MaxObligations = 20

	maxNameLen        = 64
	maxAddressLen     = 200
	maxReasonLen      = 500
	maxDescriptionLen = 200
	maxDossierNoLen   = 32
	maxVoucherLen     = 64
	maxVolumes        = 100
	// maxChecklist is the ten categories of a personnel dossier.
	maxChecklist = 10
	maxCapacity  = 10_000
	maxAreaSqm   = 1_000_000
	// maxAmountFen is a trillion yuan: more than any package, and far from
	// overflowing when multiplied by the number of retirees.
	maxAmountFen     = 100_000_000_000_000
	maxPremisesIDLen = 8
)

var fieldNameRE = regexp.MustCompile(`^[a-z][a-zA-Z_.]{0,63}$`)

// parseDate validates a YYYY-MM-DD date; it returns the zero time (and
// adds a violation) when s is not one.
func parseDate(v *fault.Violations, field, s string) time.Time {
	t, err := time.ParseInLocation(time.DateOnly, s, workdays.ChinaTime)
	if err != nil {
		v.Add(field, "must be a date YYYY-MM-DD")
		return time.Time{}
	}
	return t
}

// checkAmount validates an amount in fen.
func checkAmount(v *fault.Violations, field string, n int64, positive bool) {
	switch {
	case n < 0 || n > maxAmountFen:
		v.Addf(field, "must be between 0 and %d fen", int64(maxAmountFen))
	case positive && n == 0:
		v.Add(field, "must be more than 0")
	}
}

// checkCreditCode validates and normalises an enterprise credit code.
func checkCreditCode(v *fault.Violations, field string, s *string) {
	if *s == "" {
		v.Add(field, "required")
		return
	}
	code, err := creditcode.Parse(*s)
	if err != nil {
		v.Add(field, err.Error())
		return
	}
	*s = string(code)
}

// checkNewHandover validates and normalises a package to create.
func checkNewHandover(h *pb.Handover) error {
	if h == nil {
		return fault.Invalid("handover", "required")
	}
	var v fault.Violations
	checkCreditCode(&v, "enterpriseCreditCode", &h.EnterpriseCreditCode)
	checkReceiver(&v, h)
	checkKind(&v, h)
	checkPlan(&v, h.Plan)
	checkRetireeIDs(&v, h.RetireeIds)
	checkFunds(&v, h.GetFunds())
	h.Dossiers = checkDossiers(&v, h.Dossiers)
	checkPremises(&v, h.Premises)
	checkObligations(&v, h.Obligations)
	return v.Err()
}

// checkKind validates the kind of a new package: the month's new retirees
// come without premises and funds.
func checkKind(v *fault.Violations, h *pb.Handover) {
	switch h.Kind {
	case pb.Handover_KIND_UNSPECIFIED, pb.Handover_AGREEMENT:
	case pb.Handover_MONTHLY_NEW_RETIREES:
		if len(h.Premises) > 0 {
			v.Add("premises", "a handover of the month's new retirees has no premises")
		}
		if h.GetFunds().GetAmountFen() != 0 || len(h.GetFunds().GetItems()) > 0 {
			v.Add("funds", "a handover of the month's new retirees has no funds")
		}
	default:
		v.Add("kind", "must be AGREEMENT or MONTHLY_NEW_RETIREES")
	}
}

// Bounds of a plan.
const (
	maxPlanVolumes = 100 * MaxRetirees
	maxAssetsLen   = 500
	maxRefLen      = 64
)

// checkPlan validates the enterprise's plan, which may be left out.
func checkPlan(v *fault.Violations, pl *pb.HandoverPlan) {
	if pl == nil {
		return
	}
	if pl.Retirees < 0 || pl.Retirees > MaxRetirees {
		v.Addf("plan.retirees", "must be between 0 and %d", MaxRetirees)
	}
	if pl.PartyMembers < 0 || pl.PartyMembers > pl.Retirees {
		v.Add("plan.partyMembers", "must be between 0 and plan.retirees")
	}
	if pl.ArchiveVolumes < 0 || pl.ArchiveVolumes > maxPlanVolumes {
		v.Addf("plan.archiveVolumes", "must be between 0 and %d", maxPlanVolumes)
	}
	inputcheck.MultilineText(v, "plan.assets", pl.Assets, false, maxAssetsLen)
	inputcheck.Text(v, "plan.emergencyPlanRef", pl.EmergencyPlanRef, false, maxRefLen)
	inputcheck.Text(v, "plan.agreementNo", pl.AgreementNo, false, maxRefLen)
	var start, finish time.Time
	if pl.StartOn != "" {
		start = parseDate(v, "plan.startOn", pl.StartOn)
	}
	if pl.FinishBy != "" {
		finish = parseDate(v, "plan.finishBy", pl.FinishBy)
	}
	if !start.IsZero() && !finish.IsZero() && finish.Before(start) {
		v.Add("plan.finishBy", "before plan.startOn")
	}
}

func checkRetireeIDs(v *fault.Violations, ids []string) {
	if len(ids) > MaxRetirees {
		v.Addf("retireeIds", "at most %d retirees per package", MaxRetirees)
		return
	}
	seen := make(retireeSet, len(ids))
	for i, id := range ids {
		seen.check(v, fmt.Sprintf("retireeIds[%d]", i), id, "listed twice")
	}
}

// retireeSet holds the retirees a request named so far, so that each is
// named once.
type retireeSet map[string]bool

// check adds id, named at field, to the set: it must be a retiree id not
// named before, or field gets "not a retiree id" or twice.
func (seen retireeSet) check(v *fault.Violations, field, id, twice string) {
	switch {
	case !inputcheck.IsOpaqueID(id):
		v.Add(field, "not a retiree id")
	case seen[id]:
		v.Add(field, twice)
	}
	seen[id] = true
}

func checkFunds(v *fault.Violations, f *pb.Funds) {
	checkAmount(v, "funds.amountFen", f.GetAmountFen(), false)
	checkAmount(v, "funds.perRetireeStandardFen", f.GetPerRetireeStandardFen(), false)
	checkFundsItems(v, f.GetItems())
}

// maxFundsItems bounds the typed items of a package's funds.
const maxFundsItems = 20

// checkFundsItems validates the funds by kind; that they add up to the
// amount is a submit check, so that a draft can be filled in any order.
func checkFundsItems(v *fault.Violations, items []*pb.FundsItem) {
	checkEach(v, "funds.items", items, maxFundsItems, func(field string, it *pb.FundsItem) {
		if _, ok := pb.FundsItem_Kind_name[int32(it.Kind)]; !ok || it.Kind == pb.FundsItem_KIND_UNSPECIFIED {
			v.Add(field+".kind", "must be one of SERVICE_FEES, PENSION_OUTSIDE_POOLING, OTHER")
		}
		checkAmount(v, field+".amountFen", it.AmountFen, true)
		inputcheck.Text(v, field+".description", it.Description, it.Kind == pb.FundsItem_OTHER, maxDescriptionLen)
	})
}

// checkDossiers validates dossiers and returns them with their checklists
// sorted and without duplicates.
func checkDossiers(v *fault.Violations, ds []*pb.Dossier) []*pb.Dossier {
	seen := make(retireeSet, min(len(ds), MaxRetirees))
	checkEach(v, "dossiers", ds, MaxRetirees, func(field string, d *pb.Dossier) {
		seen.check(v, field+".retireeId", d.RetireeId, "a second dossier for this retiree")
		checkDossier(v, field, d)
	})
	return ds
}

// checkDossier validates the fields of dossier d, named at field, but its
// retiree id, and sorts its checklist without duplicates.
func checkDossier(v *fault.Violations, field string, d *pb.Dossier) {
	inputcheck.Text(v, field+".dossierNo", d.DossierNo, true, maxDossierNoLen)
	if d.Volumes < 1 || d.Volumes > maxVolumes {
		v.Addf(field+".volumes", "must be between 1 and %d", maxVolumes)
	}
	if len(d.Checklist) > maxChecklist {
		v.Addf(field+".checklist", "at most %d categories", maxChecklist)
		return
	}
	for j, c := range d.Checklist {
		if _, ok := pb.ArchiveCategory_name[int32(c)]; !ok || c == pb.ArchiveCategory_ARCHIVE_CATEGORY_UNSPECIFIED {
			v.Add(fmt.Sprintf("%s.checklist[%d]", field, j), "unknown archive category")
		}
	}
	d.Checklist = slices.Compact(slices.Sorted(slices.Values(d.Checklist)))
}

// checkEach validates the list field name of a package: at most most
// items (when there are more, only that is said), each present and
// checked by check under its path name[i].
func checkEach[T any](v *fault.Violations, name string, items []*T, most int, check func(field string, item *T)) {
	if len(items) > most {
		v.Addf(name, "at most %d %s per package", most, name)
		return
	}
	for i, item := range items {
		field := fmt.Sprintf("%s[%d]", name, i)
		if item == nil {
			v.Add(field, "required")
			continue
		}
		check(field, item)
	}
}

func checkPremises(v *fault.Violations, ps []*pb.Premises) {
	checkEach(v, "premises", ps, MaxPremises, func(field string, pr *pb.Premises) {
		if pr.Id != "" && (len(pr.Id) > maxPremisesIDLen || premisesNumber(pr.Id) == 0) {
			v.Add(field+".id", "not a premises id")
		}
		inputcheck.Text(v, field+".name", pr.Name, true, maxNameLen)
		inputcheck.Text(v, field+".address", pr.Address, true, maxAddressLen)
		inputcheck.Text(v, field+".use", pr.Use, false, maxNameLen)
		if math.IsNaN(pr.AreaSqm) || pr.AreaSqm <= 0 || pr.AreaSqm > maxAreaSqm {
			v.Addf(field+".areaSqm", "must be more than 0 and at most %d", maxAreaSqm)
		}
		if pr.Capacity < 1 || pr.Capacity > maxCapacity {
			v.Addf(field+".capacity", "must be between 1 and %d", maxCapacity)
		}
	})
}

func checkObligations(v *fault.Violations, os []*pb.Obligation) {
	checkEach(v, "obligations", os, MaxObligations, func(field string, o *pb.Obligation) {
		if _, ok := pb.Obligation_Kind_name[int32(o.Kind)]; !ok || o.Kind == pb.Obligation_KIND_UNSPECIFIED {
			v.Add(field+".kind", "must be one of PENSION_OUTSIDE_POOLING, MEDICAL_UNINSURED, OTHER")
		}
		inputcheck.Text(v, field+".description", o.Description, o.Kind == pb.Obligation_OTHER, maxDescriptionLen)
		checkAmount(v, field+".monthlyAmountFen", o.MonthlyAmountFen, true)
		if o.Until != "" {
			parseDate(v, field+".until", o.Until)
		}
		if o.RetireeId != "" && !inputcheck.IsOpaqueID(o.RetireeId) {
			v.Add(field+".retireeId", "not a retiree id")
		}
	})
}

// maskPaths maps the update-mask paths a client may send (proto or JSON
// names, "funds" whole or its two fields) to Patch paths.
var maskPaths = map[string][]string{
	"community_id": {pathCommunity}, "communityId": {pathCommunity},
	"retiree_ids": {pathRetirees}, "retireeIds": {pathRetirees},
	"funds":            {pathAmount, pathStandard, pathFundsItems},
	"funds.amount_fen": {pathAmount}, "funds.amountFen": {pathAmount},
	"funds.per_retiree_standard_fen": {pathStandard}, "funds.perRetireeStandardFen": {pathStandard},
	"funds.items": {pathFundsItems},
	"dossiers":    {pathDossiers}, "premises": {pathPremises}, "obligations": {pathObligations},
	"plan": {pathPlan},
}

// ignoredMaskPaths come with the body when REST infers the mask from it
// (the etag the client read, the id from the URL) and are not edits.
var ignoredMaskPaths = map[string]bool{"id": true, "etag": true}

// normaliseMask turns update-mask paths into Patch paths, reporting those
// that cannot be edited.
func normaliseMask(paths []string) ([]string, error) {
	var v fault.Violations
	var out []string
	fields := (&pb.Handover{}).ProtoReflect().Descriptor().Fields()
	for _, p := range paths {
		if ignoredMaskPaths[p] {
			continue
		}
		if mapped, ok := maskPaths[p]; ok {
			for _, m := range mapped {
				if !slices.Contains(out, m) {
					out = append(out, m)
				}
			}
			continue
		}
		top, _, _ := strings.Cut(p, ".")
		fd := fields.ByName(protoreflect.Name(top))
		if fd == nil {
			fd = fields.ByJSONName(top)
		}
		switch {
		case fd != nil && fieldNameRE.MatchString(p):
			v.Addf("updateMask", "field %q cannot be changed here (output only, or fixed at creation)", p)
		case fd != nil:
			v.Addf("updateMask", "field %q cannot be changed here (output only, or fixed at creation)", fd.JSONName())
		case fieldNameRE.MatchString(p):
			// Echoed only when it looks like a field name: a client must
			// not get back whatever it put there.
			v.Addf("updateMask", "unknown field %q", p)
		default:
			v.Add("updateMask", "unknown field")
		}
	}
	if len(out) == 0 && v.Err() == nil {
		v.Add("updateMask", "names no field to change")
	}
	return out, v.Err()
}

// checkPatch validates the new values of the fields a patch changes and
// normalises them as checkNewHandover does.
func checkPatch(paths []string, h *pb.Handover) error {
	var v fault.Violations
	for _, p := range paths {
		switch p {
		case pathCommunity:
			inputcheck.CommunityID(&v, "communityId", h.CommunityId)
		case pathRetirees:
			checkRetireeIDs(&v, h.RetireeIds)
		case pathAmount:
			checkAmount(&v, "funds.amountFen", h.GetFunds().GetAmountFen(), false)
		case pathStandard:
			checkAmount(&v, "funds.perRetireeStandardFen", h.GetFunds().GetPerRetireeStandardFen(), false)
		case pathDossiers:
			h.Dossiers = checkDossiers(&v, h.Dossiers)
		case pathPremises:
			checkPremises(&v, h.Premises)
		case pathObligations:
			checkObligations(&v, h.Obligations)
		case pathFundsItems:
			checkFundsItems(&v, h.GetFunds().GetItems())
		case pathPlan:
			checkPlan(&v, h.Plan)
		}
	}
	return v.Err()
}

// checkUpdate validates an update of h at the update-mask paths and
// returns it as a Patch, its values normalised as checkNewHandover does.
func checkUpdate(h *pb.Handover, mask []string) (Patch, error) {
	if h == nil {
		return Patch{}, fault.Invalid("handover", "required")
	}
	paths, err := normaliseMask(mask)
	if err != nil {
		return Patch{}, err
	}
	if h.Etag == "" {
		return Patch{}, fault.Invalid("etag", "required: send the etag of the handover you read")
	}
	if err := checkPatch(paths, h); err != nil {
		return Patch{}, err
	}
	return Patch{Paths: paths, Values: h}, nil
}

// checkReason validates the reason given for withdrawing or returning a
// package.
func checkReason(reason string, required bool) error {
	var v fault.Violations
	inputcheck.Text(&v, "reason", reason, required, maxReasonLen)
	return v.Err()
}

// checkReceipt validates a receipt of funds; received on must not be
// after today.
func checkReceipt(r *pb.FundsReceipt, today string) error {
	var v fault.Violations
	checkAmount(&v, "amountFen", r.AmountFen, true)
	inputcheck.Text(&v, "voucherNo", r.VoucherNo, true, maxVoucherLen)
	if r.ReceivedOn == "" {
		v.Add("receivedOn", "required")
	} else if !parseDate(&v, "receivedOn", r.ReceivedOn).IsZero() && r.ReceivedOn > today {
		v.Add("receivedOn", "in the future")
	}
	return v.Err()
}

// checkInspection validates an inspection: a declined premises needs its
// notes.
func checkInspection(req *pb.InspectPremisesRequest) error {
	var v fault.Violations
	if req.PremisesId == "" {
		v.Add("premisesId", "required")
	} else if len(req.PremisesId) > maxPremisesIDLen || premisesNumber(req.PremisesId) == 0 {
		v.Add("premisesId", "not a premises id")
	}
	inputcheck.Text(&v, "notes", req.Notes, !req.Accepted, maxReasonLen)
	inputcheck.Text(&v, "groupApprovalRef", req.GroupApprovalRef, false, maxRefLen)
	if req.CommunityId != "" {
		inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	}
	return v.Err()
}

// maxAllocation bounds the retirees of one AllocateRetirees call.
const maxAllocation = 1_000

// checkAllocation validates an allocation of retirees to a community.
func checkAllocation(community string, ids []string) error {
	var v fault.Violations
	inputcheck.CommunityID(&v, "communityId", community)
	switch {
	case len(ids) == 0:
		v.Add("retireeIds", "name at least one retiree")
	case len(ids) > maxAllocation:
		v.Addf("retireeIds", "at most %d retirees per call", maxAllocation)
	default:
		seen := make(retireeSet, len(ids))
		for i, id := range ids {
			seen.check(&v, fmt.Sprintf("retireeIds[%d]", i), id, "named twice")
		}
	}
	return v.Err()
}

// checkVerification validates the bureau's verification of a roster: the
// SHA-256 of the signed and stamped document, in hex.
func checkVerification(sha, note string) error {
	var v fault.Violations
	if len(sha) != 64 || strings.Trim(strings.ToLower(sha), "0123456789abcdef") != "" {
		v.Add("documentSha256", "must be the 64 hex digits of the document's SHA-256")
	}
	inputcheck.Text(&v, "note", note, false, maxReasonLen)
	return v.Err()
}
