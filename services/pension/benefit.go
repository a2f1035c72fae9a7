package pension

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The death benefits as pure functions: a benefit rule's validation, the
// claim's state machine, the checklist, the amounts and what an answer
// shows of a claim.

// Bounds of a benefit rule and a claim.
const (
	maxBenefitMonths   = 60
	maxBenefitFen      = 100_000_000 // one million yuan
	maxClaimDocuments  = 20
	maxDocumentRefLen  = 64
	maxRejectReasonLen = 500
	maxClaimantNameLen = 64
)

// ClaimState is a death-benefit claim's state.
type ClaimState = pb.DeathBenefitClaimState

// DocumentKind is the kind of a claim's document.
type DocumentKind = pb.BenefitDocument_Kind

// claimAction is what a request does to a claim.
type claimAction int

const (
	actUpdate claimAction = iota
	actSubmit
	actApprove
	actReject
	actMarkPaid
	actVoid
)

// claimFlow is the state machine: the states an action applies to, and
// the state it leaves. A reversed death voids every open claim.
var claimFlow = map[claimAction]struct {
	name string
	from []ClaimState
	to   ClaimState
}{
	actUpdate:   {"updated", []ClaimState{pb.DeathBenefitClaimState_DRAFT}, pb.DeathBenefitClaimState_DRAFT},
	actSubmit:   {"submitted", []ClaimState{pb.DeathBenefitClaimState_DRAFT}, pb.DeathBenefitClaimState_SUBMITTED},
	actApprove:  {"approved", []ClaimState{pb.DeathBenefitClaimState_SUBMITTED}, pb.DeathBenefitClaimState_APPROVED},
	actReject:   {"rejected", []ClaimState{pb.DeathBenefitClaimState_SUBMITTED}, pb.DeathBenefitClaimState_REJECTED},
	actMarkPaid: {"marked paid", []ClaimState{pb.DeathBenefitClaimState_APPROVED}, pb.DeathBenefitClaimState_PAID},
	actVoid:     {"voided", openClaimStates, pb.DeathBenefitClaimState_VOID},
}

// openClaimStates are the states of a claim not yet settled: a retiree has
// at most one claim in them.
var openClaimStates = []ClaimState{
	pb.DeathBenefitClaimState_DRAFT, pb.DeathBenefitClaimState_SUBMITTED, pb.DeathBenefitClaimState_APPROVED,
}

// isOpenClaim reports whether a claim in state s is open.
func isOpenClaim(s ClaimState) bool { return slices.Contains(openClaimStates, s) }

// nextState is the state a claim in from reaches by a, or a
// FAILED_PRECONDITION naming the state.
func nextState(a claimAction, from ClaimState) (ClaimState, error) {
	f := claimFlow[a]
	if !slices.Contains(f.from, from) {
		return from, fault.Rule("CLAIM_STATE", "a "+from.String()+" claim cannot be "+f.name, "state", from.String())
	}
	return f.to, nil
}

// checkBenefitRule validates a proposed benefit rule: region and day as a
// certification rule's; the funeral grant either fixed or months of a
// reference wage; the survivor months; a checklist of known kinds without
// repeats.
func checkBenefitRule(v *fault.Violations, r *pb.BenefitRule) {
	if r == nil {
		v.Add("rule", "required")
		return
	}
	checkRegionFrom(v, r.RegionPrefix, r.EffectiveOn)
	fixed := r.FuneralGrantFixedFen != 0
	byWage := r.FuneralGrantWageMonths != 0 || r.ReferenceWageFen != 0
	switch {
	case fixed && byWage:
		v.Add("funeralGrantFixedFen", "give either a fixed sum or months of a reference wage, not both")
	case fixed:
		checkFen(v, "funeralGrantFixedFen", r.FuneralGrantFixedFen)
	case byWage:
		checkMonths(v, "funeralGrantWageMonths", r.FuneralGrantWageMonths, 1)
		checkFen(v, "referenceWageFen", r.ReferenceWageFen)
	default:
		v.Add("funeralGrantFixedFen", "required: a fixed sum, or funeralGrantWageMonths and referenceWageFen")
	}
	checkMonths(v, "survivorMonths", r.SurvivorMonths, 0)
	seen := map[DocumentKind]bool{}
	for _, k := range r.RequiredDocuments {
		switch {
		case pb.BenefitDocument_Kind_name[int32(k)] == "" || k == pb.BenefitDocument_KIND_UNSPECIFIED:
			v.Add("requiredDocuments", "unknown document kind")
		case seen[k]:
			v.Add("requiredDocuments", k.String()+" is listed twice")
		}
		seen[k] = true
	}
}

// checkFen validates a positive sum of fen.
func checkFen(v *fault.Violations, field string, fen int64) {
	if fen <= 0 || fen > maxBenefitFen {
		v.Add(field, "must be 1 to 100000000 fen")
	}
}

// checkMonths validates a number of months from low to maxBenefitMonths.
func checkMonths(v *fault.Violations, field string, n int32, low int32) {
	if n < low || n > maxBenefitMonths {
		v.Add(field, "must be a number of months up to 60")
	}
}

// missingDocuments lists the kinds required that provided lacks, in the
// checklist's order.
func missingDocuments(required []DocumentKind, provided []*pb.BenefitDocument) []string {
	var out []string
	for _, k := range required {
		if !slices.ContainsFunc(provided, func(d *pb.BenefitDocument) bool { return d.Kind == k }) {
			out = append(out, k.String())
		}
	}
	return out
}

// checkChecklist is the checklist as a 400 naming the missing documents.
func checkChecklist(required []DocumentKind, provided []*pb.BenefitDocument) error {
	if missing := missingDocuments(required, provided); len(missing) > 0 {
		return fault.Invalid("documents", "missing "+strings.Join(missing, ", "))
	}
	return nil
}

// benefitAmounts computes a claim's amounts under rule r from the last
// REGULAR payment before the death (nil when none is recorded).
func benefitAmounts(r *pb.BenefitRule, last *pb.Payment) *pb.BenefitAmounts {
	out := &pb.BenefitAmounts{
		RuleId:                 r.Id,
		FuneralGrantFixedFen:   r.FuneralGrantFixedFen,
		FuneralGrantWageMonths: r.FuneralGrantWageMonths,
		ReferenceWageFen:       r.ReferenceWageFen,
		FuneralGrantFen:        r.FuneralGrantFixedFen,
		SurvivorMonths:         r.SurvivorMonths,
	}
	if r.FuneralGrantFixedFen == 0 {
		out.FuneralGrantFen = int64(r.FuneralGrantWageMonths) * r.ReferenceWageFen
	}
	if last != nil {
		out.LastRegularMonth = last.Month
		out.LastRegularTotalFen = last.TotalFen
		out.SurvivorPaymentFen = int64(r.SurvivorMonths) * last.TotalFen
	}
	out.TotalFen = out.FuneralGrantFen + out.SurvivorPaymentFen
	return out
}

// checkClaimInput validates what a filer sets of a claim. The
// descriptions never repeat the phone, ID or account number.
func checkClaimInput(v *fault.Violations, c *pb.DeathBenefitClaim, creating bool) {
	if c == nil {
		v.Add("claim", "required")
		return
	}
	checkClaimant(v, c.Claimant)
	if len(c.Documents) > maxClaimDocuments {
		v.Add("documents", "at most 20")
	}
	for _, d := range c.Documents {
		if d.Kind == pb.BenefitDocument_KIND_UNSPECIFIED || pb.BenefitDocument_Kind_name[int32(d.Kind)] == "" {
			v.Add("documents.kind", "unknown document kind")
		}
		inputcheck.Text(v, "documents.reference", d.Reference, true, maxDocumentRefLen)
	}
	if c.BankAccount != "" || creating {
		if _, ok := digits(c.BankAccount); !ok || len(c.BankAccount) < 8 || len(c.BankAccount) > 32 {
			v.Add("bankAccount", "must be 8 to 32 digits")
		}
	}
}

// checkClaimant validates a claim's claimant.
func checkClaimant(v *fault.Violations, cl *pb.Claimant) {
	if cl == nil {
		v.Add("claimant", "required")
		return
	}
	inputcheck.Text(v, "claimant.name", cl.Name, true, maxClaimantNameLen)
	if cl.Relation == 0 || registryv1.Carer_Relation_name[int32(cl.Relation)] == "" {
		v.Add("claimant.relation", "required: one of the carers' relations")
	}
	inputcheck.Phone(v, "claimant.phone", cl.Phone)
	if cl.IdNumber != "" {
		if _, err := idnumber.Parse(cl.IdNumber); err != nil {
			v.Add("claimant.idNumber", "must be a valid resident ID number")
		}
	}
}

// maskBankAccount keeps the last four digits of an account.
func maskBankAccount(s string) string {
	if len(s) <= 4 {
		return strings.Repeat("*", len(s))
	}
	return strings.Repeat("*", len(s)-4) + s[len(s)-4:]
}

// claimAnswer is what a caller sees of a stored claim: the phone masked
// unless showPhone, the ID and account numbers always masked.
func claimAnswer(c *pb.DeathBenefitClaim, showPhone bool) *pb.DeathBenefitClaim {
	out := proto.CloneOf(c)
	out.NetPayableFen = netPayable(c)
	out.BankAccountMasked = maskBankAccount(c.BankAccount)
	out.BankAccount = ""
	if cl := out.Claimant; cl != nil {
		cl.PhoneMasked = inputcheck.MaskPhone(cl.Phone)
		cl.IdNumberMasked = idnumber.Mask(cl.IdNumber)
		cl.IdNumber = ""
		if !showPhone {
			cl.Phone = ""
		}
	}
	return out
}
