package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// certYear is the population of TestCertificationYear: 1,000 retirees of
// two communities, long retired, with their ids and ID numbers.
type certYear struct {
	ids, idNumbers, communities []string
	// today is the test's day; months are the twelve before its month.
	today  time.Time
	months []string
	// suspendedYear is the year whose March to May the bureau suspends:
	// the latest whose July has passed.
	suspendedYear int
}

const certYearRetirees = 1000

// TestCertificationYear runs a year as a bureau runs it, through the real
// binaries: 1,000 retirees loaded, the bureau's data matching certifies
// 900 of them, clerks certify 50 at the counter; each community's overdue
// list is exactly the other 50; a year of payments shows no
// PAID_WHILE_SUSPENDED; then the bureau suspends one retiree from March
// and restores him in June, and his back-pay, paid as ARREARS in July,
// clears what the restoration owed.
func TestCertificationYear(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	y := newCertYear(time.Now().UTC())
	must(t, "registry: communities and 1,000 retirees", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		y.create(t, s, tk.admin)
	})
	pension := dialPension(t, s, tk.bureau)
	must(t, "the pension service learns the retirees", func(t *testing.T) {
		waitfor.NoError(t, "the pension service to know the last retiree", func(ctx context.Context) error {
			_, err := pension.QueryPayments(ctx, &pensionv1.QueryPaymentsRequest{IdNumber: y.idNumbers[certYearRetirees-1]})
			if status.Code(err) == codes.NotFound {
				return err
			}
			return waitfor.Permanent(err)
		})
	})

	uncertified := map[string][]string{} // by community
	must(t, "the bureau certifies 900, clerks 50", func(t *testing.T) {
		y.importBureauCertifications(t, pension, 0, 450)
		y.importCertificationFile(t, s, 450, 900)
		for i := 900; i < 950; i++ {
			token := map[string]string{communityA: tk.clerkA, communityB: tk.clerkB}[y.communities[i]]
			api.send(t, call{method: http.MethodPost, path: "/v1/retirees/" + y.ids[i] + "/certifications", token: token,
				body: map[string]any{"method": "IN_PERSON", "certifiedOn": y.today.AddDate(0, -2, 0).Format(time.DateOnly)}}, http.StatusOK, nil)
		}
		for i := 950; i < certYearRetirees; i++ {
			uncertified[y.communities[i]] = append(uncertified[y.communities[i]], y.ids[i])
		}
	})
	t.Run("the bureau's channels are the bureau's", func(t *testing.T) {
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees/" + y.ids[960] + "/certifications", token: tk.clerkA,
			body: map[string]any{"method": "DATA_MATCH", "certifiedOn": y.today.Format(time.DateOnly)}}, http.StatusForbidden, nil)
		clerk := dialPension(t, s, tk.clerkA)
		stream, err := clerk.ImportCertifications(t.Context())
		if err == nil {
			err = stream.Send(&pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "clerk", FormatVersion: 1}}})
		}
		// Send answers io.EOF once the server has ended the stream (it may
		// refuse before the header is sent); Recv then gives the status.
		if err == nil || errors.Is(err, io.EOF) {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.PermissionDenied {
			t.Errorf("a clerk's certification import: %v, want PermissionDenied", err)
		}
	})
	t.Run("each community's overdue list is exactly the uncertified", func(t *testing.T) {
		for community, token := range map[string]string{communityA: tk.clerkA, communityB: tk.clerkB} {
			got := overdueList(t, api, community, token)
			want := slices.Sorted(slices.Values(uncertified[community]))
			if !slices.Equal(got, want) {
				t.Errorf("overdue list of %s: %d retirees, want %d: got %v, want %v", community, len(got), len(want), got, want)
			}
		}
	})

	suspended := y.ids[7]
	must(t, "a year of payments, none while suspended", func(t *testing.T) {
		y.importPayments(t, pension, suspended)
		for _, m := range y.months {
			for community, token := range map[string]string{communityA: tk.clerkA, communityB: tk.clerkB} {
				for _, a := range anomalies(t, api, m, community, token) {
					if a.Kind == "PAID_WHILE_SUSPENDED" {
						t.Errorf("%s %s: %+v", m, community, a)
					}
				}
			}
		}
	})
	t.Run("suspended from March, restored in June, back-pay in July", func(t *testing.T) {
		y.suspendAndRestore(t, api, tk.bureau, suspended)
		march, may := fmt.Sprintf("%d-03", y.suspendedYear), fmt.Sprintf("%d-05", y.suspendedYear)
		if got := backPay(t, api, tk.bureau, suspended); !slices.Equal(got, []string{march, fmt.Sprintf("%d-04", y.suspendedYear), may}) {
			t.Fatalf("back-pay months %v, want March to May %d", got, y.suspendedYear)
		}
		sum := importArrears(t, pension, y.idNumbers[7], y.suspendedYear)
		if sum.GetAccepted() != 3 || sum.GetRejected() != 0 {
			t.Fatalf("arrears import: %v, want 3 accepted", sum)
		}
		if got := backPay(t, api, tk.bureau, suspended); len(got) != 0 {
			t.Errorf("back-pay months after the arrears: %v, want none", got)
		}
		for _, a := range anomalies(t, api, march, y.communities[7], tk.bureau) {
			if a.RetireeID == suspended {
				t.Errorf("%s: anomaly %+v of the restored retiree", march, a)
			}
		}
	})
}

func newCertYear(now time.Time) *certYear {
	y := &certYear{today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)}
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, -12, 0)
	for k := range 12 {
		y.months = append(y.months, first.AddDate(0, k, 0).Format("2006-01"))
	}
	y.suspendedYear = now.Year()
	if now.Month() <= time.July {
		y.suspendedYear--
	}
	return y
}

// create makes the retirees through registry's gRPC API, as a bureau's
// integration would, eight at a time.
func (y *certYear) create(t *testing.T, s *stack, token string) {
	t.Helper()
	conn := s.dial(t, s.registryAddr, token)
	reg := registryv1.NewRegistryServiceClient(conn)
	y.ids = make([]string, certYearRetirees)
	y.idNumbers = make([]string, certYearRetirees)
	y.communities = make([]string, certYearRetirees)
	for i := range certYearRetirees {
		id, err := idnumber.Build("210102", time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i), 100+i%800)
		if err != nil {
			t.Fatal(err)
		}
		y.idNumbers[i] = id.Digits()
		y.communities[i] = []string{communityA, communityB}[i%2]
	}
	s.secret(y.idNumbers...)
	var wg sync.WaitGroup
	errs := make(chan error, certYearRetirees)
	work := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range work {
				resp, err := reg.CreateRetiree(t.Context(), &registryv1.CreateRetireeRequest{Retiree: &registryv1.Retiree{
					IdNumber: y.idNumbers[i], Name: fmt.Sprintf("退休人员%d", i), CommunityId: y.communities[i],
					ManagementMode: registryv1.ManagementMode_COMMUNITY, RetirementDate: "2010-03-01",
				}})
				if err != nil {
					errs <- fmt.Errorf("retiree %d: %w", i, err)
					continue
				}
				y.ids[i] = resp.GetRetiree().GetId()
			}
		})
	}
	for i := range certYearRetirees {
		work <- i
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// dial connects to the service at addr over the stack's TLS, calling with
// token.
func (s *stack) dial(t *testing.T, addr, token string) *grpc.ClientConn {
	t.Helper()
	return s.dialGRPC(t, addr, grpc.WithPerRPCCredentials(authn.BearerCredentials(token)))
}

func dialPension(t *testing.T, s *stack, token string) pensionv1.PensionServiceClient {
	return pensionv1.NewPensionServiceClient(s.dial(t, s.pensionAddr, token))
}

// bureauCertification is the bureau's certification of retiree i: by data
// matching, a few by face recognition, within the last nine months.
func (y *certYear) bureauCertification(i int) *pensionv1.CertificationRecord {
	channel := pensionv1.CertificationMethod_DATA_MATCH
	if i%50 == 0 {
		channel = pensionv1.CertificationMethod_FACE_APP
	}
	return &pensionv1.CertificationRecord{
		IdNumber: y.idNumbers[i], CertifiedOn: y.today.AddDate(0, -1-i%9, 0).Format(time.DateOnly), Channel: channel,
		Reference: fmt.Sprintf("DM-%04d", i),
	}
}

// importBureauCertifications imports the bureau's certifications of
// retirees from to to-1 over gRPC, as an integration would.
func (y *certYear) importBureauCertifications(t *testing.T, pension pensionv1.PensionServiceClient, from, to int) {
	t.Helper()
	stream, err := pension.ImportCertifications(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*pensionv1.ImportCertificationsRequest{{Message: &pensionv1.ImportCertificationsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "e2e-data-match", FormatVersion: 1}}}}
	for i := from; i < to; i++ {
		r := y.bureauCertification(i)
		r.Index = int64(i - from + 1)
		reqs = append(reqs, &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Record{Record: r}})
	}
	sum := runImport(t, stream, reqs)
	if sum.GetAccepted() != int64(to-from) || sum.GetRejected() != 0 {
		t.Fatalf("certification import: %v, want %d accepted", sum, to-from)
	}
}

// importCertificationFile imports the bureau's certifications of retirees
// from to to-1 as a bureau's clerk would: a spreadsheet export with
// Chinese headers, through socmgmt import certifications.
func (y *certYear) importCertificationFile(t *testing.T, s *stack, from, to int) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "认证数据.csv")
	body := "\uFEFF身份证号,认证日期,认证方式,业务编号\r\n"
	for i := from; i < to; i++ {
		r := y.bureauCertification(i)
		body += fmt.Sprintf("%s,%s,%s,%s\r\n", r.IdNumber, r.CertifiedOn, r.Channel, r.Reference)
	}
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(binDir, "socmgmt"), append([]string{"import", "certifications", file, "--pension", s.pensionAddr, "--key", s.signKey}, s.cliTLSArgs()...)...)
	cmd.Env = programEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("socmgmt import certifications: %v\n%s", err, out)
	}
	if v := containsAny(out, y.idNumbers...); v != "" {
		t.Errorf("the CLI printed an ID number:\n%s", out)
	}
}

// importPayments imports a REGULAR payment of every retiree for each of
// the twelve months, except for the one who is to be suspended: the
// bureau did not pay him from March to May of the suspended year.
func (y *certYear) importPayments(t *testing.T, pension pensionv1.PensionServiceClient, suspended string) {
	t.Helper()
	stream, err := pension.ImportPayments(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*pensionv1.ImportPaymentsRequest{{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "e2e-year", FormatVersion: 1}}}}
	var n int64
	for i := range certYearRetirees {
		for _, m := range y.months {
			if y.ids[i] == suspended && m >= fmt.Sprintf("%d-03", y.suspendedYear) && m <= fmt.Sprintf("%d-05", y.suspendedYear) {
				continue
			}
			n++
			reqs = append(reqs, &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: &pensionv1.PaymentRecord{
				Index: n, IdNumber: y.idNumbers[i], Month: m, BasicFen: 300000, PersonalAccountFen: 60000, PaidOn: m + "-15",
				BankAccountMasked: "6222************0001", Kind: pensionv1.PaymentKind_REGULAR,
			}}})
		}
	}
	if sum := runImport(t, stream, reqs); sum.GetAccepted() != n {
		t.Fatalf("payment import: %v, want %d accepted", sum, n)
	}
}

// suspendAndRestore records, as the bureau's corrections call would, a
// suspension from March and a restoration from June.
func (y *certYear) suspendAndRestore(t *testing.T, api *restClient, token, id string) {
	t.Helper()
	path := "/v1/retirees/" + id + "/entitlementDecisions"
	api.send(t, call{method: http.MethodPost, path: path, token: token, body: map[string]any{
		"action": "SUSPEND", "effectiveMonth": fmt.Sprintf("%d-03", y.suspendedYear), "reason": "NOT_CERTIFIED",
	}}, http.StatusOK, nil)
	api.send(t, call{method: http.MethodPost, path: path, token: token, body: map[string]any{
		"action": "RESTORE", "effectiveMonth": fmt.Sprintf("%d-06", y.suspendedYear), "note": "certified again at home",
	}}, http.StatusOK, nil)
	var ent struct {
		State string `json:"state"`
	}
	api.send(t, call{method: http.MethodGet, path: "/v1/retirees/" + id + fmt.Sprintf("/entitlement?asOf=%d-04-15", y.suspendedYear), token: token}, http.StatusOK, &ent)
	if ent.State != "SUSPENDED" {
		t.Errorf("entitlement in April: %s, want SUSPENDED", ent.State)
	}
}

// importArrears pays March to May of year back, as ARREARS in July.
func importArrears(t *testing.T, pension pensionv1.PensionServiceClient, idNumber string, year int) *pensionv1.ImportSummary {
	t.Helper()
	stream, err := pension.ImportPayments(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*pensionv1.ImportPaymentsRequest{{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{BatchId: "e2e-arrears", FormatVersion: 1}}}}
	for k, m := range []string{"03", "04", "05"} {
		reqs = append(reqs, &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: &pensionv1.PaymentRecord{
			Index: int64(k + 1), IdNumber: idNumber, Month: fmt.Sprintf("%d-%s", year, m), BasicFen: 300000, PersonalAccountFen: 60000,
			PaidOn: fmt.Sprintf("%d-07-15", year), BankAccountMasked: "6222************0001", Kind: pensionv1.PaymentKind_ARREARS,
		}}})
	}
	return runImport(t, stream, reqs)
}

// importStream is the client side of any of pension's import streams.
type importStream[Req, Resp any] interface {
	Send(*Req) error
	Recv() (*Resp, error)
	CloseSend() error
}

// runImport sends reqs on stream and returns the summary, failing t on a
// rejection or a stream error.
func runImport[Req, Resp any, S importStream[Req, Resp]](t *testing.T, stream S, reqs []*Req) *pensionv1.ImportSummary {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		for _, r := range reqs {
			if err := stream.Send(r); err != nil {
				errc <- err
				return
			}
		}
		errc <- stream.CloseSend()
	}()
	var sum *pensionv1.ImportSummary
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("import: %v", err)
		}
		msg, _ := any(resp).(interface {
			GetAck() *pensionv1.ImportAck
			GetSummary() *pensionv1.ImportSummary
		})
		for _, rj := range msg.GetAck().GetRejections() {
			t.Errorf("record %d rejected: %s %s", rj.Index, rj.Reason, rj.Message)
		}
		if s := msg.GetSummary(); s != nil {
			sum = s
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("import: sending: %v", err)
	}
	return sum
}

// overdueList pages through a community's overdue list and returns the
// retiree ids, sorted.
func overdueList(t *testing.T, api *restClient, community, token string) []string {
	t.Helper()
	var ids []string
	for page := ""; ; {
		var resp struct {
			Overdue []struct {
				RetireeID      string `json:"retireeId"`
				Status         string `json:"status"`
				IDNumberMasked string `json:"idNumberMasked"`
			} `json:"overdue"`
			NextPageToken string `json:"nextPageToken"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/certifications:overdue?pageSize=20&communityId=" + community + "&pageToken=" + page, token: token}, http.StatusOK, &resp)
		for _, o := range resp.Overdue {
			if o.Status != "OVERDUE" || o.IDNumberMasked == "" {
				t.Errorf("overdue entry %+v", o)
			}
			ids = append(ids, o.RetireeID)
		}
		if page = resp.NextPageToken; page == "" {
			return slices.Sorted(slices.Values(ids))
		}
	}
}

// anomaly is an Anomaly as a REST client reads it.
type anomaly struct {
	Kind      string `json:"kind"`
	RetireeID string `json:"retireeId"`
	Month     string `json:"month"`
}

// anomalies pages through a month's anomaly report of a community.
func anomalies(t *testing.T, api *restClient, month, community, token string) []anomaly {
	t.Helper()
	var out []anomaly
	for page := ""; ; {
		var resp struct {
			Anomalies     []anomaly `json:"anomalies"`
			NextPageToken string    `json:"nextPageToken"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/payments:anomalies?pageSize=100&month=" + month + "&communityId=" + community + "&pageToken=" + page, token: token}, http.StatusOK, &resp)
		out = append(out, resp.Anomalies...)
		if page = resp.NextPageToken; page == "" {
			return out
		}
	}
}

// backPay reads the back-pay months of a retiree's entitlement.
func backPay(t *testing.T, api *restClient, token, id string) []string {
	t.Helper()
	var ent struct {
		State         string   `json:"state"`
		BackPayMonths []string `json:"backPayMonths"`
	}
	api.send(t, call{method: http.MethodGet, path: "/v1/retirees/" + id + "/entitlement", token: token}, http.StatusOK, &ent)
	if ent.State != "ACTIVE" {
		t.Errorf("entitlement state %s after the restoration, want ACTIVE", ent.State)
	}
	return ent.BackPayMonths
}
