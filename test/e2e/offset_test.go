package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// TestRecoveryOffsetAgainstClaim: a death on 15 March with payments
// through May opens a case for April and May; the family's claim, filed
// with consent to an offset and approved, absorbs it: the bureau offsets
// the case, which is REPAID, and the claim is paid its total less exactly
// the principal, through the real binaries and the gateway.
func TestRecoveryOffsetAgainstClaim(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	s.secret(claimantPhone, claimAccount)
	var r1 retiree
	must(t, "a retiree paid January to May, the region's rule", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "retirementDate": "2004-12-01",
		}}, http.StatusOK, &r1)
		waitfor.NoError(t, "the pension service to know the retiree", func(context.Context) error {
			if r := api.do(t, call{method: http.MethodPost, path: "/v1/pension:query", token: tk.admin, body: map[string]any{"idNumber": idNumber1}}); r.code != http.StatusOK {
				return fmt.Errorf("pension:query: %d", r.code)
			}
			return nil
		})
		importJanuaryToMay(t, s, tk)
		api.send(t, call{method: http.MethodPost, path: "/v1/benefitRules", token: tk.admin, body: map[string]any{
			"regionPrefix": communityA[:4], "effectiveOn": "2025-01-01", "funeralGrantFixedFen": "500000",
			"survivorMonths": 3, "requiredDocuments": []string{"DEATH_CERTIFICATE"},
		}}, http.StatusOK, nil)
	})
	var c recoveryCase
	must(t, "the death opens the case", func(t *testing.T) {
		api.send(t, call{method: http.MethodPost, path: retireePath(r1.ID) + ":recordDeath", token: tk.bureau, body: map[string]any{"dateOfDeath": "2026-03-15"}}, http.StatusOK, nil)
		c = waitCase(t, api, tk.clerkA, "RECOVERY_OPEN")
	})
	var claim offsetClaim
	must(t, "the clerk files the claim with consent, the bureau approves it", func(t *testing.T) {
		body := map[string]any{
			"claimant":    map[string]any{"name": "王秀兰", "relation": "CHILD", "phone": claimantPhone},
			"bankAccount": claimAccount, "consentToOffset": true,
			"documents": []map[string]any{{"kind": "DEATH_CERTIFICATE", "reference": "DC-2026-0315"}},
		}
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
		path := "/v1/deathBenefitClaims/" + claim.ID
		api.send(t, call{method: http.MethodPost, path: path + ":submit", token: tk.clerkA, body: map[string]any{}}, http.StatusOK, nil)
		api.send(t, call{method: http.MethodPost, path: path + ":approve", token: tk.bureau, body: map[string]any{}}, http.StatusOK, &claim)
		// 5000 yuan, and 3 × March's 3000.03 yuan.
		if claim.State != "APPROVED" || claim.NetPayableFen != 500000+3*300003 {
			t.Fatalf("approved claim %+v", claim)
		}
	})
	must(t, "the bureau offsets the case against the claim, and pays the rest", func(t *testing.T) {
		offset := call{method: http.MethodPost, path: "/v1/recoveryCases/" + c.ID + ":offset", token: tk.clerkA, body: map[string]any{"claimId": claim.ID}}
		api.send(t, offset, http.StatusForbidden, nil)
		offset.token = tk.bureau
		var got struct {
			Case struct {
				recoveryCase
				OffsetFen int64 `json:"offsetFen,string"`
			} `json:"case"`
			Claim offsetClaim `json:"claim"`
		}
		r := api.send(t, offset, http.StatusOK, &got)
		principal := c.PrincipalFen
		if got.Case.State != "RECOVERY_REPAID" || got.Case.OffsetFen != principal || got.Case.BalanceFen != 0 {
			t.Errorf("case after the offset %+v", got.Case)
		}
		if got.Claim.OffsetFen != principal || got.Claim.OffsetCaseID != c.ID || got.Claim.NetPayableFen != claim.NetPayableFen-principal {
			t.Errorf("claim after the offset %+v", got.Claim)
		}
		if bytes.Contains(r.body, []byte(claimantPhone)) || bytes.Contains(r.body, []byte(claimAccount)) {
			t.Errorf("the offset's answer shows personal data: %s", r.body)
		}
		// Repeated: nothing more is offset.
		api.send(t, offset, http.StatusOK, &got)
		if got.Claim.OffsetFen != principal {
			t.Errorf("repeated offset: %+v", got.Claim)
		}
		var paid offsetClaim
		api.send(t, call{method: http.MethodPost, path: "/v1/deathBenefitClaims/" + claim.ID + ":markPaid", token: tk.bureau,
			body: map[string]any{"paidOn": "2026-06-01", "bankReference": "ICBC-20260601-1"}}, http.StatusOK, &paid)
		if paid.State != "PAID" || paid.NetPayableFen != claim.NetPayableFen-principal {
			t.Errorf("paid claim %+v", paid)
		}
	})
}

// offsetClaim is what the offset test reads of a DeathBenefitClaim.
type offsetClaim struct {
	ID            string `json:"id"`
	State         string `json:"state"`
	OffsetFen     int64  `json:"offsetFen,string"`
	OffsetCaseID  string `json:"offsetCaseId"`
	NetPayableFen int64  `json:"netPayableFen,string"`
}
