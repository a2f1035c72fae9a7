package pension

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestClaimStateMachine tries every action on a claim in every state:
// only the arrows of DRAFT → SUBMITTED → APPROVED | REJECTED; APPROVED →
// PAID, and VOID from an open state, are taken.
func TestClaimStateMachine(t *testing.T) {
	t.Parallel()
	const (
		draft     = pb.DeathBenefitClaimState_DRAFT
		submitted = pb.DeathBenefitClaimState_SUBMITTED
		approved  = pb.DeathBenefitClaimState_APPROVED
		rejected  = pb.DeathBenefitClaimState_REJECTED
		paid      = pb.DeathBenefitClaimState_PAID
		void      = pb.DeathBenefitClaimState_VOID
	)
	states := []ClaimState{draft, submitted, approved, rejected, paid, void}
	allowed := map[claimAction]map[ClaimState]ClaimState{
		actUpdate:   {draft: draft},
		actSubmit:   {draft: submitted},
		actApprove:  {submitted: approved},
		actReject:   {submitted: rejected},
		actMarkPaid: {approved: paid},
		actVoid:     {draft: void, submitted: void, approved: void},
	}
	for a, to := range allowed {
		for _, from := range states {
			t.Run(claimFlow[a].name+"/"+from.String(), func(t *testing.T) {
				got, err := nextState(a, from)
				want, ok := to[from]
				switch {
				case ok && (err != nil || got != want):
					t.Errorf("nextState = %v, %v; want %v", got, err, want)
				case !ok && !isRuleErr(err, "CLAIM_STATE"):
					t.Errorf("nextState = %v, %v; want CLAIM_STATE", got, err)
				}
			})
		}
	}
}

func TestBenefitAmounts(t *testing.T) {
	t.Parallel()
	last := &pb.Payment{Month: "2026-03", TotalFen: 406000}
	tests := []struct {
		name string
		rule *pb.BenefitRule
		last *pb.Payment
		want *pb.BenefitAmounts
	}{
		{
			name: "fixed grant and three months",
			rule: &pb.BenefitRule{Id: "21-20260101", FuneralGrantFixedFen: 500000, SurvivorMonths: 3},
			last: last,
			want: &pb.BenefitAmounts{RuleId: "21-20260101", FuneralGrantFixedFen: 500000, FuneralGrantFen: 500000, SurvivorMonths: 3,
				LastRegularMonth: "2026-03", LastRegularTotalFen: 406000, SurvivorPaymentFen: 1218000, TotalFen: 1718000},
		},
		{
			name: "months of a reference wage",
			rule: &pb.BenefitRule{Id: "2101-20260101", FuneralGrantWageMonths: 2, ReferenceWageFen: 812345, SurvivorMonths: 6},
			last: last,
			want: &pb.BenefitAmounts{RuleId: "2101-20260101", FuneralGrantWageMonths: 2, ReferenceWageFen: 812345, FuneralGrantFen: 1624690,
				SurvivorMonths: 6, LastRegularMonth: "2026-03", LastRegularTotalFen: 406000, SurvivorPaymentFen: 2436000, TotalFen: 4060690},
		},
		{
			name: "no survivor payment, no payment needed",
			rule: &pb.BenefitRule{Id: "21-20260101", FuneralGrantFixedFen: 100},
			want: &pb.BenefitAmounts{RuleId: "21-20260101", FuneralGrantFixedFen: 100, FuneralGrantFen: 100, TotalFen: 100},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, benefitAmounts(tc.rule, tc.last), protocmp.Transform()); diff != "" {
				t.Errorf("amounts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCheckBenefitRule(t *testing.T) {
	t.Parallel()
	ok := func() *pb.BenefitRule {
		return &pb.BenefitRule{RegionPrefix: "2101", EffectiveOn: "2026-01-01", FuneralGrantFixedFen: 500000, SurvivorMonths: 3,
			RequiredDocuments: []DocumentKind{pb.BenefitDocument_DEATH_CERTIFICATE}}
	}
	tests := []struct {
		name   string
		edit   func(r *pb.BenefitRule)
		fields []string
	}{
		{"valid", func(*pb.BenefitRule) {}, nil},
		{"valid by wage", func(r *pb.BenefitRule) {
			r.FuneralGrantFixedFen, r.FuneralGrantWageMonths, r.ReferenceWageFen = 0, 2, 800000
		}, nil},
		{"both forms", func(r *pb.BenefitRule) { r.FuneralGrantWageMonths = 2 }, []string{"funeralGrantFixedFen"}},
		{"neither form", func(r *pb.BenefitRule) { r.FuneralGrantFixedFen = 0 }, []string{"funeralGrantFixedFen"}},
		{"wage without months", func(r *pb.BenefitRule) { r.FuneralGrantFixedFen, r.ReferenceWageFen = 0, 800000 }, []string{"funeralGrantWageMonths"}},
		{"negative sum", func(r *pb.BenefitRule) { r.FuneralGrantFixedFen = -1 }, []string{"funeralGrantFixedFen"}},
		{"too many months", func(r *pb.BenefitRule) { r.SurvivorMonths = 61 }, []string{"survivorMonths"}},
		{"bad region", func(r *pb.BenefitRule) { r.RegionPrefix = "99" }, []string{"regionPrefix"}},
		{"bad day", func(r *pb.BenefitRule) { r.EffectiveOn = "2026-02-30" }, []string{"effectiveOn"}},
		{"repeated document", func(r *pb.BenefitRule) {
			r.RequiredDocuments = append(r.RequiredDocuments, pb.BenefitDocument_DEATH_CERTIFICATE)
		}, []string{"requiredDocuments"}},
		{"unknown document", func(r *pb.BenefitRule) { r.RequiredDocuments = []DocumentKind{99} }, []string{"requiredDocuments"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := ok()
			tc.edit(r)
			var v fault.Violations
			checkBenefitRule(&v, r)
			if diff := cmp.Diff(tc.fields, violationFields(v.Err())); diff != "" {
				t.Errorf("fields (-want +got):\n%s", diff)
			}
		})
	}
}

// isRuleErr reports whether err is a rule error of reason.
func isRuleErr(err error, reason string) bool {
	var re *fault.RuleError
	return errors.As(err, &re) && re.Reason == reason
}

// violationFields lists the fields of a validation error, nil for none.
func violationFields(err error) []string {
	var out []string
	var ve *fault.ValidationError
	if errors.As(err, &ve) {
		for _, f := range ve.Fields {
			out = append(out, f.Field)
		}
	}
	return out
}

func TestMissingDocumentsAndAnswer(t *testing.T) {
	t.Parallel()
	required := []DocumentKind{pb.BenefitDocument_DEATH_CERTIFICATE, pb.BenefitDocument_CLAIMANT_ID, pb.BenefitDocument_BANK_CARD}
	provided := []*pb.BenefitDocument{{Kind: pb.BenefitDocument_CLAIMANT_ID, Reference: "x"}}
	if diff := cmp.Diff([]string{"DEATH_CERTIFICATE", "BANK_CARD"}, missingDocuments(required, provided)); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	c := &pb.DeathBenefitClaim{BankAccount: "6222020200112233445", Claimant: &pb.Claimant{
		Name: "张伟", Relation: registryv1.Carer_CHILD, Phone: "13912345678", IdNumber: idNumber(t, 3).Digits(),
	}}
	for _, show := range []bool{false, true} {
		got := claimAnswer(c, show)
		text := got.String()
		for _, secret := range []string{c.BankAccount, c.Claimant.IdNumber} {
			if strings.Contains(text, secret) {
				t.Errorf("showPhone=%v: the answer repeats a secret: %s", show, text)
			}
		}
		if got.BankAccountMasked != "***************3445" || got.Claimant.PhoneMasked != "139****5678" {
			t.Errorf("masks = %q, %q", got.BankAccountMasked, got.Claimant.PhoneMasked)
		}
		if (got.Claimant.Phone != "") != show {
			t.Errorf("showPhone=%v: phone %q", show, got.Claimant.Phone)
		}
	}
	if c.Claimant.IdNumber == "" || c.BankAccount == "" {
		t.Error("claimAnswer changed the stored claim")
	}
}

// FuzzCheckClaimInput feeds the claim's validation any claimant and
// account: it never panics, and no description repeats the phone, the ID
// number or the account.
func FuzzCheckClaimInput(f *testing.F) {
	f.Add("王秀兰", int32(2), "13912345678", "11010519491231002X", "6222020200112233445", "DC-1")
	f.Add("", int32(99), "12", "110105194912310021", "12ab", "")
	f.Fuzz(func(t *testing.T, name string, relation int32, phone, id, account, ref string) {
		c := &pb.DeathBenefitClaim{
			Claimant:    &pb.Claimant{Name: name, Relation: registryv1.Carer_Relation(relation), Phone: phone, IdNumber: id},
			BankAccount: account, Documents: []*pb.BenefitDocument{{Kind: pb.BenefitDocument_OTHER, Reference: ref}},
		}
		var v fault.Violations
		checkClaimInput(&v, c, true)
		var ve *fault.ValidationError
		if !errors.As(v.Err(), &ve) {
			return
		}
		for _, fv := range ve.Fields {
			for _, secret := range []string{phone, id, account} {
				if len(secret) >= 6 && strings.Contains(fv.Description, secret) {
					t.Errorf("%s: %q repeats the input", fv.Field, fv.Description)
				}
			}
		}
	})
}
