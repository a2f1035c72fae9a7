package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// payment is a Payment as a REST client reads it; int64 fields are JSON
// strings in protojson.
type payment struct {
	RetireeID string `json:"retireeId"`
	Month     string `json:"month"`
	BasicFen  int64  `json:"basicFen,string"`
	TotalFen  int64  `json:"totalFen,string"`
	PaidOn    string `json:"paidOn"`
	Version   int    `json:"version"`
	BatchID   string `json:"batchId"`
}

// TestPensionService imports payments over gRPC as a bureau does, with
// the CLI and with a client of its own, then reads them through the
// gateway as clerks of two communities and the bureau would: by retiree,
// by ID number, the statement, certification and entitlement, with the
// access rules and a bad month on the way.
func TestPensionService(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	// send is api.send that also fails t when a reading or an error
	// reply repeats personal data.
	send := func(t *testing.T, c call, want int, v any) reply {
		t.Helper()
		r := api.send(t, c, want, v)
		if v := containsAny(r.body, personalData...); v != "" && (r.code >= 400 || c.method == http.MethodGet) {
			t.Errorf("%s %s: reply repeats personal data %q", c.method, c.path, v)
		}
		return r
	}

	var r1, r2 retiree
	must(t, "registry: communities and retirees", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "retirementDate": "2004-12-01",
		}}, http.StatusOK, &r1)
		send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkB, body: map[string]any{
			"idNumber": idNumber2, "name": "李建国", "communityId": communityB, "managementMode": "COMMUNITY", "retirementDate": "2018-02-01",
		}}, http.StatusOK, &r2)
	})

	must(t, "the pension service learns the retirees", func(t *testing.T) {
		waitfor.NoError(t, "the pension service to know the new retiree", func(context.Context) error {
			r := api.do(t, call{method: http.MethodPost, path: "/v1/pension:query", token: tk.admin, body: map[string]any{"idNumber": idNumber2}})
			switch r.code {
			case http.StatusOK:
				return nil
			case http.StatusNotFound:
				return errors.New("pension:query: 404")
			}
			return waitfor.Permanent(fmt.Errorf("pension:query for a new retiree: %d %s", r.code, r.body))
		})
	})

	must(t, "import over gRPC as the bureau", func(t *testing.T) {
		conn := s.dialGRPC(t, s.pensionAddr, grpc.WithPerRPCCredentials(authn.BearerCredentials(tk.bureau)))
		stream, err := pensionv1.NewPensionServiceClient(conn).ImportPayments(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		msgs := []*pensionv1.ImportPaymentsRequest{{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "e2e-2025q1", FormatVersion: 1}}}}
		rec := func(i int64, id, month string, basic int64) *pensionv1.ImportPaymentsRequest {
			return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: &pensionv1.PaymentRecord{
				Index: i, IdNumber: id, Month: month, BasicFen: basic, PersonalAccountFen: 80000, OtherFen: 1000,
				PaidOn: month + "-15", BankAccountMasked: "6222************1234",
			}}}
		}
		msgs = append(msgs,
			rec(1, idNumber1, "2025-01", 320000), rec(2, idNumber1, "2025-02", 320000), rec(3, idNumber1, "2025-03", 320000),
			rec(4, idNumber2, "2025-01", 410000), rec(5, idNumber2, "2025-13", 410000), rec(6, unusedIDNumber, "2025-01", 1))
		for _, m := range msgs {
			if err := stream.Send(m); err != nil {
				t.Fatal(err)
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		var summary *pensionv1.ImportSummary
		rejections := map[int64]string{}
		var durable int64
		for {
			resp, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("import: %v", err)
			}
			if a := resp.GetAck(); a != nil {
				durable = max(durable, a.DurableThroughIndex)
				for _, rj := range a.Rejections {
					rejections[rj.Index] = rj.Reason
					if v := containsAny([]byte(rj.Message), personalData...); v != "" {
						t.Errorf("rejection message repeats %q", v)
					}
				}
			}
			if sm := resp.GetSummary(); sm != nil {
				summary = sm
			}
		}
		if durable != 6 || summary.GetAccepted() != 4 || summary.GetRejected() != 2 {
			t.Errorf("durable through %d, summary %v; want 6, 4 accepted, 2 rejected", durable, summary)
		}
		if rejections[5] != "MONTH_INVALID" || rejections[6] != "UNKNOWN_RETIREE" {
			t.Errorf("rejections %v", rejections)
		}
	})

	t.Run("import a file with the CLI", func(t *testing.T) {
		dir := t.TempDir()
		file := filepath.Join(dir, "bureau-2025-04.csv")
		body := "\uFEFFid_number,month,basic_fen,personal_account_fen,transitional_fen,other_fen,paid_on,bank_account_masked\r\n" +
			idNumber1 + ",2025-04,320000,80000,0,1000,2025-04-15,6222************1234\r\n" +
			unusedIDNumber + ",2025-04,1,0,0,0,2025-04-15,6222************9999\r\n"
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(binDir, "socmgmt"), append([]string{"import", "payments", file, "--pension", s.pensionAddr, "--key", s.signKey}, s.cliTLSArgs()...)...)
		cmd.Env = programEnv()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("socmgmt import payments: %v, want exit status 1 for the rejected row\n%s\n%s", err, stdout.String(), stderr.String())
		}
		if v := containsAny(append(stdout.Bytes(), stderr.Bytes()...), personalData...); v != "" {
			t.Errorf("the CLI printed personal data %q:\n%s\n%s", v, stdout.String(), stderr.String())
		}
		rejected, err := os.ReadFile(filepath.Join(dir, "bureau-2025-04.rejected.csv"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(rejected), "2,3,UNKNOWN_RETIREE") {
			t.Errorf("rejected rows file:\n%s", rejected)
		}
		if !strings.Contains(stdout.String(), "new payments              1") {
			t.Errorf("summary:\n%s", stdout.String())
		}
	})

	paymentsPath := func(id string) string { return "/v1/retirees/" + id + "/payments" }
	t.Run("payments of a retiree", func(t *testing.T) {
		var resp struct {
			Payments []payment `json:"payments"`
		}
		send(t, call{method: http.MethodGet, path: paymentsPath(r1.ID) + "?fromMonth=2025-01&toMonth=2025-12", token: tk.clerkA}, http.StatusOK, &resp)
		var got []string
		for _, p := range resp.Payments {
			got = append(got, fmt.Sprintf("%s %d %d", p.Month, p.BasicFen, p.TotalFen))
		}
		want := "[2025-01 320000 401000 2025-02 320000 401000 2025-03 320000 401000"
		if !strings.HasPrefix(fmt.Sprint(got), want) {
			t.Errorf("payments %v, want %s…", got, want)
		}
	})
	t.Run("pension:query by ID number in the body", func(t *testing.T) {
		var resp struct {
			RetireeID string    `json:"retireeId"`
			Payments  []payment `json:"payments"`
		}
		send(t, call{method: http.MethodPost, path: "/v1/pension:query", token: tk.clerkB,
			body: map[string]any{"idNumber": idNumber2, "fromMonth": "2025-01", "toMonth": "2025-06"}}, http.StatusOK, &resp)
		if resp.RetireeID != r2.ID || len(resp.Payments) != 1 || resp.Payments[0].BasicFen != 410000 {
			t.Errorf("pension:query = %+v", resp)
		}
	})
	t.Run("403 across communities, whether or not the retiree exists", func(t *testing.T) {
		for _, c := range []struct {
			c    call
			want int
		}{
			{call{method: http.MethodGet, path: paymentsPath(r1.ID), token: tk.clerkB}, http.StatusForbidden},
			{call{method: http.MethodGet, path: paymentsPath(r2.ID), token: tk.clerkA}, http.StatusForbidden},
			{call{method: http.MethodGet, path: paymentsPath(missingID), token: tk.clerkA}, http.StatusForbidden},
			{call{method: http.MethodPost, path: "/v1/pension:query", token: tk.clerkA, body: map[string]any{"idNumber": idNumber2}}, http.StatusForbidden},
			{call{method: http.MethodPost, path: "/v1/pension:query", token: tk.clerkA, body: map[string]any{"idNumber": unusedIDNumber}}, http.StatusForbidden},
			{call{method: http.MethodGet, path: "/v1/retirees/" + r1.ID + "/statements/2025", token: tk.clerkB}, http.StatusForbidden},
			{call{method: http.MethodGet, path: paymentsPath(r1.ID), token: tk.enterprise}, http.StatusForbidden},
			{call{method: http.MethodGet, path: "/v1/payments:anomalies?month=2025-03&communityId=" + communityA, token: tk.clerkB}, http.StatusForbidden},
			{call{method: http.MethodGet, path: paymentsPath(missingID), token: tk.admin}, http.StatusNotFound},
			{call{method: http.MethodGet, path: paymentsPath(r1.ID)}, http.StatusUnauthorized},
		} {
			send(t, c.c, c.want, nil)
		}
	})
	t.Run("400 for a bad month", func(t *testing.T) {
		c := call{method: http.MethodGet, path: paymentsPath(r1.ID) + "?fromMonth=2025-13", token: tk.clerkA}
		st := send(t, c, http.StatusBadRequest, nil).status(t)
		if fields := st.violatedFields(); len(fields) != 1 || fields[0] != "fromMonth" {
			t.Errorf("violations %v, want fromMonth", fields)
		}
		send(t, call{method: http.MethodGet, path: "/v1/payments:anomalies?month=2025-3&communityId=" + communityA, token: tk.bureau}, http.StatusBadRequest, nil)
	})
	t.Run("certification, entitlement, statement, lists", func(t *testing.T) {
		var cert struct {
			Method      string `json:"method"`
			CertifiedOn string `json:"certifiedOn"`
			RecordedBy  string `json:"recordedBy"`
		}
		send(t, call{method: http.MethodPost, path: "/v1/retirees/" + r1.ID + "/certifications", token: tk.clerkA,
			body: map[string]any{"method": "HOME_VISIT", "certifiedOn": "2024-12-20"}}, http.StatusOK, &cert)
		if cert.Method != "HOME_VISIT" || cert.RecordedBy != subjectClerkA {
			t.Errorf("certification %+v", cert)
		}
		var ent struct {
			State           string `json:"state"`
			LastCertifiedOn string `json:"lastCertifiedOn"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/retirees/" + r1.ID + "/entitlement?asOf=2025-06-30", token: tk.bureau}, http.StatusOK, &ent)
		if ent.State != "ACTIVE" || ent.LastCertifiedOn != "2024-12-20" {
			t.Errorf("entitlement %+v", ent)
		}
		var st struct {
			MonthsPaid int   `json:"monthsPaid"`
			TotalFen   int64 `json:"totalFen,string"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/retirees/" + r1.ID + "/statements/2025", token: tk.clerkA}, http.StatusOK, &st)
		if st.MonthsPaid != 4 || st.TotalFen != 4*401000 {
			t.Errorf("statement %+v, want 4 months of 401000", st)
		}
		var anomalies struct {
			Anomalies []struct {
				Kind      string `json:"kind"`
				RetireeID string `json:"retireeId"`
			} `json:"anomalies"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/payments:anomalies?month=2025-05&communityId=" + communityA, token: tk.clerkA}, http.StatusOK, &anomalies)
		if len(anomalies.Anomalies) != 1 || anomalies.Anomalies[0].Kind != "MISSING" || anomalies.Anomalies[0].RetireeID != r1.ID {
			t.Errorf("anomalies of 2025-05 = %+v, want r1 MISSING", anomalies)
		}
		send(t, call{method: http.MethodGet, path: "/v1/certifications:overdue?communityId=" + communityB, token: tk.clerkB}, http.StatusOK, nil)
		send(t, call{method: http.MethodGet, path: "/v1/retirees/" + r1.ID + "/certifications", token: tk.admin}, http.StatusOK, nil)
	})
}
