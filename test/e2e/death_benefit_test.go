package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Personal data of the claim: no log may show it, and only the claim's
// own GET the phone.
const (
	claimantPhone = "13700002222"
	claimAccount  = "6222020200112233445"
)

// deathClaim is a DeathBenefitClaim as a REST client reads it.
type deathClaim struct {
	ID                string `json:"id"`
	State             string `json:"state"`
	BankAccountMasked string `json:"bankAccountMasked"`
	DateOfDeath       string `json:"dateOfDeath"`
	Claimant          struct {
		Phone       string `json:"phone"`
		PhoneMasked string `json:"phoneMasked"`
	} `json:"claimant"`
	Amounts struct {
		RuleID              string `json:"ruleId"`
		FuneralGrantFen     int64  `json:"funeralGrantFen,string"`
		LastRegularMonth    string `json:"lastRegularMonth"`
		LastRegularTotalFen int64  `json:"lastRegularTotalFen,string"`
		SurvivorPaymentFen  int64  `json:"survivorPaymentFen,string"`
		TotalFen            int64  `json:"totalFen,string"`
	} `json:"amounts"`
	PaidOn string `json:"paidOn"`
}

// TestDeathBenefitClaim follows one family's claim through the real
// binaries: the admin sets the region's rule, the bureau records the
// death, the community's clerk files the claim with the checklist's
// documents and submits it, the bureau approves it and marks it paid.
func TestDeathBenefitClaim(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	s.secret(claimantPhone, claimAccount)
	var r1 retiree
	must(t, "a retiree with pension payments", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "retirementDate": "2004-12-01",
		}}, http.StatusOK, &r1)
		conn := s.dialGRPC(t, s.pensionAddr, grpc.WithPerRPCCredentials(authn.BearerCredentials(tk.bureau)))
		pension := pensionv1.NewPensionServiceClient(conn)
		waitfor.NoError(t, "the pension service to know the retiree", func(ctx context.Context) error {
			_, err := pension.ListPayments(ctx, &pensionv1.ListPaymentsRequest{RetireeId: r1.ID})
			return err
		})
		stream, err := pension.ImportPayments(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		reqs := []*pensionv1.ImportPaymentsRequest{{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "e2e-death", FormatVersion: 1}}}}
		for k, m := range []string{"2026-01", "2026-02", "2026-03", "2026-04"} {
			reqs = append(reqs, &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: &pensionv1.PaymentRecord{
				Index: int64(k + 1), IdNumber: idNumber1, Month: m, BasicFen: 300000, PersonalAccountFen: 60000, OtherFen: 1000,
				PaidOn: m + "-15", BankAccountMasked: "6222************0001",
			}}})
		}
		if sum := runImport(t, stream, reqs); sum.GetAccepted() != 4 {
			t.Fatalf("import summary %v", sum)
		}
	})
	must(t, "the admin sets the rule and the bureau records the death", func(t *testing.T) {
		api.send(t, call{method: http.MethodPost, path: "/v1/benefitRules", token: tk.admin, body: map[string]any{
			"regionPrefix": communityA[:4], "effectiveOn": "2025-01-01", "funeralGrantWageMonths": 2, "referenceWageFen": "812345",
			"survivorMonths": 3, "requiredDocuments": []string{"DEATH_CERTIFICATE", "HOUSEHOLD_CANCELLATION", "CLAIMANT_ID", "BANK_CARD"},
		}}, http.StatusOK, nil)
		api.send(t, call{method: http.MethodGet, path: "/v1/benefitRules", token: tk.clerkA}, http.StatusForbidden, nil)
		api.send(t, call{method: http.MethodPost, path: retireePath(r1.ID) + ":recordDeath", token: tk.bureau,
			body: map[string]any{"dateOfDeath": "2026-03-15"}}, http.StatusOK, nil)
	})

	var claim deathClaim
	must(t, "the clerk files and submits the claim", func(t *testing.T) {
		body := map[string]any{
			"claimant":    map[string]any{"name": "王秀兰", "relation": "CHILD", "phone": claimantPhone},
			"bankAccount": claimAccount, "consentToOffset": true,
			"documents": []map[string]any{
				{"kind": "DEATH_CERTIFICATE", "reference": "DC-2026-0315"}, {"kind": "HOUSEHOLD_CANCELLATION", "reference": "HC-88"},
				{"kind": "CLAIMANT_ID", "reference": "seen"}, {"kind": "BANK_CARD", "reference": "seen"},
			},
		}
		// The first draft lacks the household cancellation.
		docs := body["documents"]
		body["documents"] = []map[string]any{{"kind": "DEATH_CERTIFICATE", "reference": "DC-2026-0315"}, {"kind": "CLAIMANT_ID", "reference": "seen"}, {"kind": "BANK_CARD", "reference": "seen"}}
		// The pension service learns of the death from registry's feed.
		waitfor.NoError(t, "the pension service to know of the death", func(context.Context) error {
			r := api.do(t, call{method: http.MethodPost, path: retireePath(r1.ID) + "/deathBenefitClaims", token: tk.clerkA, body: body})
			switch {
			case r.code == http.StatusOK:
				r.decode(t, &claim)
				return nil
			case bytes.Contains(r.body, []byte("RETIREE_NOT_DECEASED")):
				return errors.New("not yet deceased in pension")
			}
			return waitfor.Permanent(fmt.Errorf("file a claim: %d %s", r.code, r.body))
		})
		if claim.State != "DRAFT" || claim.BankAccountMasked != "***************3445" || claim.Claimant.Phone != "" {
			t.Errorf("filed claim %+v", claim)
		}
		submit := call{method: http.MethodPost, path: "/v1/deathBenefitClaims/" + claim.ID + ":submit", token: tk.clerkA, body: map[string]any{}}
		if r := api.send(t, submit, http.StatusBadRequest, nil); !bytes.Contains(r.body, []byte("missing HOUSEHOLD_CANCELLATION")) {
			t.Errorf("the refusal does not name the missing document: %s", r.body)
		}
		body["documents"] = docs
		delete(body, "bankAccount") // kept as filed
		api.send(t, call{method: http.MethodPatch, path: "/v1/deathBenefitClaims/" + claim.ID, token: tk.clerkA, body: body}, http.StatusOK, &claim)
		if claim.BankAccountMasked != "***************3445" {
			t.Errorf("the account after the update: %q", claim.BankAccountMasked)
		}
		api.send(t, submit, http.StatusOK, &claim)
		a := claim.Amounts
		// 2 × 8123.45 yuan, and 3 × March's 3610.00 yuan.
		if claim.State != "SUBMITTED" || a.RuleID != "2101-20250101" || a.FuneralGrantFen != 1624690 || a.LastRegularMonth != "2026-03" ||
			a.LastRegularTotalFen != 361000 || a.SurvivorPaymentFen != 1083000 || a.TotalFen != 2707690 {
			t.Errorf("submitted claim %+v", claim)
		}
	})
	must(t, "the bureau approves and pays", func(t *testing.T) {
		path := "/v1/deathBenefitClaims/" + claim.ID
		api.send(t, call{method: http.MethodPost, path: path + ":approve", token: tk.clerkA, body: map[string]any{}}, http.StatusForbidden, nil)
		api.send(t, call{method: http.MethodPost, path: path + ":approve", token: tk.bureau, body: map[string]any{}}, http.StatusOK, &claim)
		api.send(t, call{method: http.MethodPost, path: path + ":markPaid", token: tk.bureau,
			body: map[string]any{"paidOn": "2026-04-20", "bankReference": "ICBC-20260420-7"}}, http.StatusOK, &claim)
		if claim.State != "PAID" || claim.PaidOn != "2026-04-20" {
			t.Errorf("paid claim %+v", claim)
		}
		var got deathClaim
		api.send(t, call{method: http.MethodGet, path: path, token: tk.clerkA}, http.StatusOK, &got)
		if got.Claimant.Phone != claimantPhone || got.Amounts.TotalFen != 2707690 {
			t.Errorf("the clerk's GET %+v", got)
		}
		r := api.send(t, call{method: http.MethodGet, path: "/v1/deathBenefitClaims?communityId=" + communityA + "&state=PAID", token: tk.clerkA}, http.StatusOK, nil)
		if bytes.Contains(r.body, []byte(claimantPhone)) || bytes.Contains(r.body, []byte(claimAccount)) || !bytes.Contains(r.body, []byte(claim.ID)) {
			t.Errorf("the list: %s", r.body)
		}
	})
}
