package pension

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/socmgmt/socmgmt/gateway"
	"github.com/socmgmt/socmgmt/internal/gatewaytest"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func explain(ctx context.Context, h *harness, n int, m string, kind pb.AnomalyKind, text string) (*pb.Anomaly, error) {
	resp, err := h.client.ExplainPaymentAnomaly(ctx, &pb.ExplainPaymentAnomalyRequest{RetireeId: retireeID(n), Month: m, Kind: kind, Explanation: text})
	return resp.GetAnomaly(), err
}

// The sweep signals the anomalies of the current and the previous month
// (the current month's MISSING left out), resolves those that no longer
// hold, and an explanation resolves its anomaly for good.
func TestAnomalySignals(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	h.payOn(t, 0, "2026-05", "2026-05-10", 300000)
	h.payOn(t, 0, "2026-05", "2026-05-20", 300000) // PAID_TWICE
	h.payOn(t, 5, "2026-05", "2026-05-10", 300000) // PAID_AFTER_DEATH (died in February)
	if err := h.store.SweepAnomalies(testNow); err != nil {
		t.Fatal(err)
	}
	a := func(n int, kind pb.AnomalyKind) string { return anomalySignalKey(retireeID(n), "2026-05", kind) }
	want := []string{a(0, pb.AnomalyKind_PAID_TWICE), a(5, pb.AnomalyKind_PAID_AFTER_DEATH)}
	for _, n := range []int{1, 2, 3, 4, 6} {
		want = append(want, a(n, pb.AnomalyKind_MISSING))
	}
	slices.Sort(want)
	open, head := servicetest.FeedOpen(t, h.store.Signals())
	if got := openKeys(t, h.store.Signals()); !slices.Equal(got, want) {
		t.Fatalf("open after the sweep %v, want %v", got, want)
	}
	sig := open[a(6, pb.AnomalyKind_MISSING)]
	if sig.Kind != feedv1.SignalKind_ANOMALY_UNEXPLAINED || sig.SubjectKind != feedv1.SubjectKind_PAYMENT_ANOMALY || sig.CommunityId != communityB || sig.RetireeId != retireeID(6) || !strings.HasPrefix(sig.Summary, "2026-05 ") {
		t.Errorf("signal %v", sig)
	}
	if err := h.store.SweepAnomalies(testNow); err != nil {
		t.Fatal(err)
	}
	if _, again := servicetest.FeedOpen(t, h.store.Signals()); again != head {
		t.Errorf("a second sweep moved the head from %d to %d", head, again)
	}

	// Retiree 1 is paid after all; retiree 0's double payment explained.
	h.payOn(t, 1, "2026-05", "2026-06-01", 300000)
	x, err := explain(h.as(clerkP), h, 0, "2026-05", pb.AnomalyKind_PAID_TWICE, "银行重复代发，已于6月追回")
	if err != nil {
		t.Fatal(err)
	}
	if x.Explanation != "银行重复代发，已于6月追回" || x.ExplainedBy != clerkP.Subject || x.ExplainTime == nil {
		t.Errorf("explained anomaly %v", x)
	}
	if err := h.store.SweepAnomalies(testNow); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		a(1, pb.AnomalyKind_MISSING):    "paid",
		a(0, pb.AnomalyKind_PAID_TWICE): "explained",
		a(2, pb.AnomalyKind_MISSING):    "open",
	} {
		if got := resolutionOf(t, h, key); got != want {
			t.Errorf("%s: %q, want %q", key, got, want)
		}
	}
	list, err := h.client.ListPaymentAnomalies(h.as(clerkP), &pb.ListPaymentAnomaliesRequest{CommunityId: communityA, Month: "2026-05", PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(list.Anomalies, func(x *pb.Anomaly) bool { return x.RetireeId == retireeID(0) && x.Kind == pb.AnomalyKind_PAID_TWICE })
	if i < 0 || list.Anomalies[i].Explanation == "" || list.Anomalies[i].ExplainedBy != clerkP.Subject {
		t.Errorf("the list does not show the explanation: %v", list.Anomalies)
	}

	_, err = explain(h.as(clerkP), h, 2, "2026-05", pb.AnomalyKind_PAID_TWICE, "无")
	wantReason(t, err, codes.FailedPrecondition, ReasonAnomalyNotFound)
	_, err = explain(h.as(clerkP), h, 2, "2026-13", pb.AnomalyKind_ANOMALY_KIND_UNSPECIFIED, strings.Repeat("长", MaxExplanationLen+1))
	servicetest.WantFields(t, err, "explanation", "kind", "month")
}

// ExplainPaymentAnomaly over gRPC and REST: the clerk of the retiree's
// community, the bureau and admin; a clerk gets 403 for another
// community's retiree and for one that does not exist.
func TestExplainAnomalyAuthorisation(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	tcp := servicetest.Serve(t, servicetest.Options{
		Name: "pension", Keys: h.keys, TCP: true,
		Register: func(srv *grpcserver.Server) { pb.RegisterPensionServiceServer(srv.GRPC(), h.svc) },
	})
	rest := gatewaytest.Client(t, func(c *gateway.Config) { c.PensionAddr = tcp.Addr() })
	// Nobody is paid for May: retirees 0 (community A) and 6 (B) miss it.
	retiree := map[servicetest.Target]int{servicetest.Own: 0, servicetest.Other: 6, servicetest.Missing: 99}
	req := func(tg servicetest.Target) *pb.ExplainPaymentAnomalyRequest {
		return &pb.ExplainPaymentAnomalyRequest{RetireeId: retireeID(retiree[tg]), Month: "2026-05", Kind: pb.AnomalyKind_MISSING, Explanation: "老人住院，家属代办中"}
	}
	calls := map[string]func(servicetest.Target) func(context.Context) error{
		"gRPC": func(tg servicetest.Target) func(context.Context) error {
			return func(ctx context.Context) error {
				return servicetest.ErrOf(h.client.ExplainPaymentAnomaly(ctx, req(tg)))
			}
		},
		"REST": func(tg servicetest.Target) func(context.Context) error {
			body, err := protojson.Marshal(req(tg))
			if err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) error {
				return rest(ctx, http.MethodPost, "/v1/paymentAnomalies:explain", string(body))
			}
		},
	}
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ua = codes.Unauthenticated
	)
	row := map[string]servicetest.Cells{
		"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
		"enterprise": {pd, pd, pd}, "service": {pd, pd, pd}, "no token": {ua, ua, ua},
	}
	want := map[string]map[string]servicetest.Cells{"gRPC": row, "REST": row}
	servicetest.WithSupervisors(t, want, nil)
	servicetest.RunMatrix(t, servicetest.Matrix{
		Calls: calls, Want: want,
		Callers: append(append(h.keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP),
			servicetest.Caller{Name: "no token", Ctx: context.Background()}), h.keys.Supervisors(t)...),
	})
}

// An explanation is listed to many: one holding an ID number or a mobile
// number is refused, naming the field and not the number, and changes
// nothing.
func TestExplanationWithoutPersonalNumbers(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	id := idNumber(t, 3).Digits()
	for _, text := range []string{"家属电话13912345678，已联系", "代领人身份证" + id} {
		_, err := explain(h.as(clerkP), h, 0, "2026-05", pb.AnomalyKind_MISSING, text)
		servicetest.WantFields(t, err, "explanation")
		wantStatus(t, err, codes.InvalidArgument, "13912345678", id)
	}
	list, err := h.client.ListPaymentAnomalies(h.as(clerkP), &pb.ListPaymentAnomaliesRequest{CommunityId: communityA, Month: "2026-05", PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range list.Anomalies {
		if x.Explanation != "" {
			t.Errorf("anomaly explained after a refusal: %v", x)
		}
	}
	if _, err := explain(h.as(clerkP), h, 0, "2026-05", pb.AnomalyKind_MISSING, "老人住院，家属代办中"); err != nil {
		t.Fatal(err)
	}
}

// A retiree who moves takes an anomaly's open signal along: the sweep
// emits it again with the new community, and never resolves it while
// the anomaly holds, whichever community is swept first.
func TestAnomalySignalFollowsAMove(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	sweep := func() {
		t.Helper()
		if err := h.store.SweepAnomalies(testNow); err != nil {
			t.Fatal(err)
		}
	}
	key := anomalySignalKey(retireeID(1), "2026-05", pb.AnomalyKind_MISSING)
	community := func() string {
		t.Helper()
		open, _ := servicetest.FeedOpen(t, h.store.Signals())
		return open[key].GetCommunityId()
	}
	move := func(to string) {
		t.Helper()
		st := h.registry.State(retireeID(1))
		st.CommunityId = to
		h.change(st, registryv1.ChangeKind_TRANSFERRED)
	}
	sweep()
	_, before := servicetest.FeedOpen(t, h.store.Signals())
	if got := community(); got != communityA {
		t.Fatalf("open in %q, want %s", got, communityA)
	}
	move(communityB)
	sweep()
	if got := community(); got != communityB {
		t.Errorf("after the move to B open in %q, want %s", got, communityB)
	}
	move(communityA)
	sweep()
	if got := community(); got != communityA {
		t.Errorf("after the move back open in %q, want %s", got, communityA)
	}
	_, head := servicetest.FeedOpen(t, h.store.Signals())
	for _, ev := range servicetest.ReadSignals(t, h.as(serviceP), signalWatch(h.client), before, "", int(head-before)) {
		if ev.Signal.Key == key && ev.Signal.Resolved {
			t.Errorf("resolved %q while the anomaly holds", ev.Signal.Resolution)
		}
	}
	sweep()
	if _, again := servicetest.FeedOpen(t, h.store.Signals()); again != head {
		t.Errorf("a sweep after the moves moved the head from %d to %d", head, again)
	}
}

// A signal of a month older than the previous one is still resolved when
// its anomaly stops holding: March's MISSING, signalled in April and paid
// in May, is resolved by May's sweep; another one still missing stays
// open until it is explained.
func TestOldAnomalySignalsResolve(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	sweep := func(day int, m time.Month) {
		t.Helper()
		if err := h.store.SweepAnomalies(time.Date(2026, m, day, 10, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	paid, missing := anomalySignalKey(retireeID(1), "2026-03", pb.AnomalyKind_MISSING), anomalySignalKey(retireeID(2), "2026-03", pb.AnomalyKind_MISSING)
	sweep(15, time.April)
	if open, _ := servicetest.FeedOpen(t, h.store.Signals()); open[paid] == nil || open[missing] == nil {
		t.Fatalf("March's MISSING not signalled in April: %v", slices.Sorted(maps.Keys(open)))
	}
	h.payOn(t, 1, "2026-03", "2026-05-10", 300000)
	sweep(15, time.May)
	if got := resolutionOf(t, h, paid); got != "paid" {
		t.Errorf("March paid in May: %q, want paid", got)
	}
	if open, _ := servicetest.FeedOpen(t, h.store.Signals()); open[missing] == nil {
		t.Errorf("March still missing is no longer open")
	}
	if _, err := explain(h.as(clerkP), h, 2, "2026-03", pb.AnomalyKind_MISSING, "老人3月住院，家属5月补办"); err != nil {
		t.Fatal(err)
	}
	sweep(15, time.June)
	if got := resolutionOf(t, h, missing); got != "explained" {
		t.Errorf("March explained: %q, want explained", got)
	}
}

// A payment import asks for one anomaly sweep when its stream ends having
// stored payments, not after each durable group (a sweep of every
// community then ran beside a long import); a re-send that stores nothing
// and a certification import ask for none.
func TestImportEndAsksForAnAnomalySweep(t *testing.T) {
	t.Parallel()
	h := importFixture(t, harnessOptions{})
	kicked := func() bool { return tookToken(h.store.sweep) }
	stream, err := h.client.ImportPayments(h.as(bureauP))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*pb.ImportPaymentsRequest{
		paymentFraming.header(header("kick")),
		paymentFraming.record(payment(t, 1, 0, "2026-05", 300000)),
	} {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.Recv()
	if err != nil || resp.GetAck().GetDurableThroughIndex() != 1 {
		t.Fatalf("first answer %v, %v; want the record's ack", resp, err)
	}
	if kicked() {
		t.Error("a durable group asked for a sweep while the stream goes on")
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if resp, err := stream.Recv(); err != nil || resp.GetSummary().GetAccepted() != 1 {
		t.Fatalf("summary %v, %v", resp, err)
	}
	waitfor.True(t, "the anomaly sweep asked for at the stream's end", kicked)

	res := importStream(h.as(bureauP), h.client, header("kick"), []*pb.PaymentRecord{payment(t, 1, 0, "2026-05", 300000)})
	if res.err != nil || res.summary.GetDuplicates() != 1 {
		t.Fatalf("re-send: %v, %v", res.err, res.summary)
	}
	cert := certificationFraming.run(h.as(bureauP), h.client, header("kick-certs"),
		[]*pb.CertificationRecord{certRecord(t, 1, 0, "2026-05-10", pb.CertificationMethod_DATA_MATCH, "")})
	if cert.err != nil || cert.summary.GetAccepted() != 1 {
		t.Fatalf("certification import: %v, %v", cert.err, cert.summary)
	}
	if kicked() {
		t.Error("a re-send that stored nothing, or a certification import, asked for an anomaly sweep")
	}
}
