package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// recoveryCase is a RecoveryCase as a REST client reads it.
type recoveryCase struct {
	ID           string   `json:"id"`
	RetireeID    string   `json:"retireeId"`
	State        string   `json:"state"`
	Months       []string `json:"months"`
	PrincipalFen int64    `json:"principalFen,string"`
	BalanceFen   int64    `json:"balanceFen,string"`
	RepaidFen    int64    `json:"repaidFen,string"`
	Order        struct {
		DueOn string `json:"dueOn"`
	} `json:"order"`
}

// TestRecoveryOfPaymentsAfterDeath: regular payments January to May, a
// death on 15 March recorded by the bureau; the recovery case opens by
// itself for exactly April and May, and goes through an order and a
// repayment to REPAID, through the real binaries and the gateway.
func TestRecoveryOfPaymentsAfterDeath(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	var r1 retiree
	must(t, "a retiree", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "retirementDate": "2004-12-01",
		}}, http.StatusOK, &r1)
		waitfor.NoError(t, "the pension service to know the retiree", func(context.Context) error {
			r := api.do(t, call{method: http.MethodPost, path: "/v1/pension:query", token: tk.admin, body: map[string]any{"idNumber": idNumber1}})
			if r.code != http.StatusOK {
				return fmt.Errorf("pension:query: %d", r.code)
			}
			return nil
		})
	})
	must(t, "payments January to May", func(t *testing.T) { importJanuaryToMay(t, s, tk) })
	var c recoveryCase
	must(t, "the death opens a case for April and May", func(t *testing.T) {
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees/" + r1.ID + ":recordDeath", token: tk.bureau, body: map[string]any{"dateOfDeath": "2026-03-15"}}, http.StatusOK, nil)
		waitfor.NoError(t, "the recovery case to open", func(context.Context) error {
			var list struct {
				Cases []recoveryCase `json:"cases"`
			}
			api.send(t, call{method: http.MethodGet, path: "/v1/recoveryCases?communityId=" + communityA, token: tk.clerkA}, http.StatusOK, &list)
			if len(list.Cases) != 1 {
				return fmt.Errorf("%d cases", len(list.Cases))
			}
			c = list.Cases[0]
			return nil
		})
		if want := int64(300004 + 300005); c.PrincipalFen != want || c.BalanceFen != want || c.State != "RECOVERY_OPEN" || !slices.Equal(c.Months, []string{"2026-04", "2026-05"}) || c.RetireeID != r1.ID {
			t.Fatalf("case %+v, want principal %d for 2026-04 and 2026-05", c, want)
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/recoveryCases/" + c.ID, token: tk.clerkB}, http.StatusForbidden, nil)
	})
	must(t, "order and repayment", func(t *testing.T) {
		var got recoveryCase
		api.send(t, call{method: http.MethodPost, path: "/v1/recoveryCases/" + c.ID + ":issueOrder", token: tk.clerkA, body: map[string]any{"debtorName": "王芳", "debtorRelation": "daughter"}}, http.StatusOK, &got)
		if got.State != "RECOVERY_ORDERED" || got.Order.DueOn == "" {
			t.Errorf("after the order: %+v", got)
		}
		// A fresh value: the zero balance is absent from the JSON.
		got = recoveryCase{}
		api.send(t, call{method: http.MethodPost, path: "/v1/recoveryCases/" + c.ID + ":recordRepayment", token: tk.clerkA, body: map[string]any{
			"amountFen": c.BalanceFen, "paidOn": "2026-06-20", "bankReference": "BOC-E2E-1",
		}}, http.StatusOK, &got)
		if got.State != "RECOVERY_REPAID" || got.BalanceFen != 0 || got.RepaidFen != c.PrincipalFen {
			t.Errorf("after the repayment: %+v", got)
		}
	})
}

// importJanuaryToMay imports REGULAR payments of 300,000 fen plus the
// month's number for January to May 2026 for idNumber1, as the bureau.
func importJanuaryToMay(t *testing.T, s *stack, tk tokens) {
	t.Helper()
	conn := s.dialGRPC(t, s.pensionAddr, grpc.WithPerRPCCredentials(authn.BearerCredentials(tk.bureau)))
	stream, err := pensionv1.NewPensionServiceClient(conn).ImportPayments(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	msgs := []*pensionv1.ImportPaymentsRequest{{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "e2e-recovery", FormatVersion: 1}}}}
	for m := 1; m <= 5; m++ {
		month := fmt.Sprintf("2026-%02d", m)
		msgs = append(msgs, &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: &pensionv1.PaymentRecord{
			Index: int64(m), IdNumber: idNumber1, Month: month, BasicFen: 300000 + int64(m), PaidOn: month + "-15", BankAccountMasked: "6222************1234",
		}}})
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if sm := resp.GetSummary(); sm != nil && sm.Accepted != 5 {
			t.Fatalf("summary %v", sm)
		}
	}
}

// TestRecoveryVoidedByReversedDeath: a death reported by the family and
// verified by the clerk opens the case; the bureau reverses the death and
// the case is VOID with the reason.
func TestRecoveryVoidedByReversedDeath(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	var r1 retiree
	must(t, "a retiree paid January to May", func(t *testing.T) {
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
	})
	var report struct {
		ID string `json:"id"`
	}
	var c recoveryCase
	must(t, "reported, verified: the case opens", func(t *testing.T) {
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees/" + r1.ID + "/deathReports", token: tk.clerkA, body: map[string]any{
			"dateOfDeath": "2026-03-15", "source": "FAMILY",
			"reporter":  map[string]any{"name": "王小红", "relation": "CHILD", "phone": "13700002222"},
			"documents": []map[string]any{{"kind": "DEATH_CERTIFICATE", "reference": "医证-0315"}},
		}}, http.StatusOK, &report)
		api.send(t, call{method: http.MethodPost, path: "/v1/deathReports/" + report.ID + ":verify", token: tk.clerkA, body: map[string]any{}}, http.StatusOK, nil)
		c = waitCase(t, api, tk.clerkA, "RECOVERY_OPEN")
		if c.PrincipalFen != 300004+300005 {
			t.Errorf("principal %d", c.PrincipalFen)
		}
	})
	must(t, "reversed: the case is VOID", func(t *testing.T) {
		api.send(t, call{method: http.MethodPost, path: "/v1/deathReports/" + report.ID + ":reverse", token: tk.bureau, body: map[string]any{"reason": "同名误报"}}, http.StatusOK, nil)
		void := waitCase(t, api, tk.clerkA, "RECOVERY_VOID")
		var got struct {
			ClosingReason string `json:"closingReason"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/recoveryCases/" + void.ID, token: tk.bureau}, http.StatusOK, &got)
		if void.ID != c.ID || got.ClosingReason != "death reversed" {
			t.Errorf("void case %s (%q), want %s closed as death reversed", void.ID, got.ClosingReason, c.ID)
		}
	})
}

// waitCase waits until community A's only recovery case is in state and
// returns it.
func waitCase(t *testing.T, api *restClient, token, state string) recoveryCase {
	t.Helper()
	var c recoveryCase
	waitfor.NoError(t, "the recovery case to be "+state, func(context.Context) error {
		var list struct {
			Cases []recoveryCase `json:"cases"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/recoveryCases?communityId=" + communityA, token: token}, http.StatusOK, &list)
		if len(list.Cases) != 1 || list.Cases[0].State != state {
			return fmt.Errorf("cases %+v", list.Cases)
		}
		c = list.Cases[0]
		return nil
	})
	return c
}
