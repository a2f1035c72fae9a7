package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// fakeSeedPension keeps what seed sends to the pension service, knows the
// retirees of a fakeRegistry by ID number, and treats a re-sent payment or
// certification as the pension service does: unchanged.
type fakeSeedPension struct {
	pensionv1.UnimplementedPensionServiceServer
	reg *fakeRegistry

	mu        sync.Mutex
	payments  map[string]proto.Message            // ID number, month, kind and day paid
	imported  map[string]proto.Message            // the bureau's certifications: ID number, day and channel
	decisions map[string]proto.Message            // ID number, month and action
	certs     map[string]*pensionv1.Certification // the clerks': retiree, day and method
	roles     map[authn.Role]bool
}

func newFakeSeedPension(reg *fakeRegistry) *fakeSeedPension {
	return &fakeSeedPension{
		reg: reg, payments: map[string]proto.Message{}, imported: map[string]proto.Message{}, decisions: map[string]proto.Message{},
		certs: map[string]*pensionv1.Certification{}, roles: map[authn.Role]bool{},
	}
}

func (f *fakeSeedPension) role(ctx context.Context) {
	p, _ := authn.FromContext(ctx)
	f.mu.Lock()
	f.roles[p.Role] = true
	f.mu.Unlock()
}

// fakeImport serves one import stream as the pension service would, for
// what seed checks: the header first, then records kept in store by key,
// a re-sent equal record a duplicate; an ack every 1,000 records, then the
// summary.
func fakeImport[Req, Resp any, R proto.Message](f *fakeSeedPension, stream grpc.BidiStreamingServer[Req, Resp], store map[string]proto.Message,
	header func(*Req) *pensionv1.ImportHeader, record func(*Req) R, key func(R) string, answer func(*pensionv1.ImportAck, *pensionv1.ImportSummary) *Resp,
) error {
	f.role(stream.Context())
	first, err := stream.Recv()
	if err != nil || header(first) == nil {
		return status.Error(codes.InvalidArgument, "header first")
	}
	sum := &pensionv1.ImportSummary{BatchId: header(first).GetBatchId()}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.Send(answer(nil, sum))
		}
		if err != nil {
			return err
		}
		r := record(req)
		sum.Received++
		k := key(r)
		withoutIndex := proto.Clone(r)
		withoutIndex.ProtoReflect().Clear(withoutIndex.ProtoReflect().Descriptor().Fields().ByName("index"))
		f.mu.Lock()
		if old, ok := store[k]; ok && proto.Equal(old, withoutIndex) {
			sum.Duplicates++
		} else {
			sum.Accepted++
		}
		store[k] = withoutIndex
		f.mu.Unlock()
		if sum.Received%1000 == 0 {
			if err := stream.Send(answer(&pensionv1.ImportAck{DurableThroughIndex: sum.Received}, nil)); err != nil {
				return err
			}
		}
	}
}

func (f *fakeSeedPension) ImportPayments(stream grpc.BidiStreamingServer[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse]) error {
	return fakeImport(f, stream, f.payments, (*pensionv1.ImportPaymentsRequest).GetHeader, (*pensionv1.ImportPaymentsRequest).GetRecord,
		func(r *pensionv1.PaymentRecord) string { return r.IdNumber + r.Month + r.Kind.String() + r.PaidOn },
		func(a *pensionv1.ImportAck, s *pensionv1.ImportSummary) *pensionv1.ImportPaymentsResponse {
			if a != nil {
				return &pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Ack{Ack: a}}
			}
			return &pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Summary{Summary: s}}
		})
}

func (f *fakeSeedPension) ImportCertifications(stream grpc.BidiStreamingServer[pensionv1.ImportCertificationsRequest, pensionv1.ImportCertificationsResponse]) error {
	return fakeImport(f, stream, f.imported, (*pensionv1.ImportCertificationsRequest).GetHeader, (*pensionv1.ImportCertificationsRequest).GetRecord,
		func(r *pensionv1.CertificationRecord) string { return r.IdNumber + r.CertifiedOn + r.Channel.String() },
		func(a *pensionv1.ImportAck, s *pensionv1.ImportSummary) *pensionv1.ImportCertificationsResponse {
			if a != nil {
				return &pensionv1.ImportCertificationsResponse{Message: &pensionv1.ImportCertificationsResponse_Ack{Ack: a}}
			}
			return &pensionv1.ImportCertificationsResponse{Message: &pensionv1.ImportCertificationsResponse_Summary{Summary: s}}
		})
}

func (f *fakeSeedPension) ImportDecisions(stream grpc.BidiStreamingServer[pensionv1.ImportDecisionsRequest, pensionv1.ImportDecisionsResponse]) error {
	return fakeImport(f, stream, f.decisions, (*pensionv1.ImportDecisionsRequest).GetHeader, (*pensionv1.ImportDecisionsRequest).GetRecord,
		func(r *pensionv1.DecisionRecord) string { return r.IdNumber + r.EffectiveMonth + r.Action.String() },
		func(a *pensionv1.ImportAck, s *pensionv1.ImportSummary) *pensionv1.ImportDecisionsResponse {
			if a != nil {
				return &pensionv1.ImportDecisionsResponse{Message: &pensionv1.ImportDecisionsResponse_Ack{Ack: a}}
			}
			return &pensionv1.ImportDecisionsResponse{Message: &pensionv1.ImportDecisionsResponse_Summary{Summary: s}}
		})
}

func (f *fakeSeedPension) QueryPayments(ctx context.Context, req *pensionv1.QueryPaymentsRequest) (*pensionv1.QueryPaymentsResponse, error) {
	f.role(ctx)
	f.reg.mu.Lock()
	id, ok := f.reg.byIDNumber[req.IdNumber]
	f.reg.mu.Unlock()
	if !ok {
		return nil, status.Error(codes.NotFound, "retiree not found")
	}
	return &pensionv1.QueryPaymentsResponse{RetireeId: id}, nil
}

func (f *fakeSeedPension) RecordCertification(ctx context.Context, req *pensionv1.RecordCertificationRequest) (*pensionv1.RecordCertificationResponse, error) {
	f.role(ctx)
	c := req.GetCertification()
	key := req.RetireeId + c.CertifiedOn + c.Method.String()
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.certs[key]; ok {
		return &pensionv1.RecordCertificationResponse{Certification: old}, nil
	}
	rec := &pensionv1.Certification{RetireeId: req.RetireeId, Method: c.Method, CertifiedOn: c.CertifiedOn, RecordedBy: "socmgmt-seed", RecordTime: timestamppb.Now()}
	f.certs[key] = rec
	return &pensionv1.RecordCertificationResponse{Certification: rec}, nil
}

func startFakeSeedPension(t *testing.T, f *fakeSeedPension, pub ed25519.PublicKey) string {
	t.Helper()
	return servicetest.Serve(t, servicetest.Options{
		Name: "pension", Keys: servicetest.Keys{Public: pub}, TCP: true,
		Register: func(srv *grpcserver.Server) { pensionv1.RegisterPensionServiceServer(srv.GRPC(), f) },
	}).Addr()
}

func TestSeedPension(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	regAddr, _ := startFakeRegistry(t, reg, pub)
	pension := newFakeSeedPension(reg)
	cfg := seedConfig{registryAddr: regAddr, keyFile: keyFile, retirees: 1500, seed: 5, concurrency: 8, pensionAddr: startFakeSeedPension(t, pension, pub)}
	city := mustGenerate(t, cfg.seed, cfg.retirees)
	redateRecentDeaths(city, time.Now())
	pp := generatePensionPlan(city, cfg.seed, time.Now())

	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("seed: %v\n%s", err, progress.String())
	}
	pension.mu.Lock()
	payments, imported, certs, decisions, roles := len(pension.payments), len(pension.imported), len(pension.certs), len(pension.decisions), pension.roles
	pension.mu.Unlock()
	byBureau := 0
	for _, c := range pp.Certifications {
		if c.byBureau() {
			byBureau++
		}
	}
	if payments != len(pp.Payments) || imported != byBureau || certs != len(pp.Certifications)-byBureau || decisions != len(pp.Decisions) {
		t.Errorf("pension got %d payments, %d bureau's and %d clerks' certifications and %d decisions, want %d, %d, %d and %d",
			payments, imported, certs, decisions, len(pp.Payments), byBureau, len(pp.Certifications)-byBureau, len(pp.Decisions))
	}
	if len(roles) != 1 || !roles[authn.RoleBureau] {
		t.Errorf("pension called with roles %v, want bureau only", roles)
	}
	if !strings.Contains(out.String(), "planted anomalies") {
		t.Errorf("summary does not report the pension part:\n%s", out.String())
	}

	// Again: everything is there already.
	out.Reset()
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("second seed: %v", err)
	}
	for _, want := range []string{"payments: 0 new,", "certifications: 0 new,", "decisions: 0 new,", "clerks' certifications: 0 recorded"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("second summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestSeedSkipsUnreachablePension(t *testing.T) {
	keyFile, pub := newKeyFile(t)
	reg := newFakeRegistry()
	regAddr, _ := startFakeRegistry(t, reg, pub)
	cfg := seedConfig{registryAddr: regAddr, keyFile: keyFile, retirees: 50, seed: 5, concurrency: 4, pensionAddr: "127.0.0.1:1", reachTimeout: 300 * time.Millisecond}
	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("seed: %v", err)
	}
	if !strings.Contains(progress.String(), "pension not reachable at 127.0.0.1:1") || !strings.Contains(progress.String(), "skipping payments") {
		t.Errorf("no note about the skipped pension service:\n%s", progress.String())
	}
}

func TestGeneratePensionPlan(t *testing.T) {
	now := time.Date(2026, 11, 26, 15, 0, 0, 0, time.UTC)
	city := mustGenerate(t, 3, 6000)
	pp := generatePensionPlan(city, 3, now)
	if again := generatePensionPlan(city, 3, now.AddDate(0, 0, 3)); len(again.Payments) != len(pp.Payments) || len(again.Certifications) != len(pp.Certifications) ||
		again.Certifications[100] != pp.Certifications[100] || !proto.Equal(again.Payments[100].Record, pp.Payments[100].Record) || len(again.Decisions) != len(pp.Decisions) {
		t.Error("the plan changes within a month")
	}
	if pp.Months[0] != "2025-11" || pp.Months[11] != "2026-10" || pp.AdjustmentMonth != "2026-07" {
		t.Errorf("months %v, adjustment %s; want 2025-11 to 2026-10, 2026-07", pp.Months, pp.AdjustmentMonth)
	}
	cases := map[string][]int{
		"paid after death": pp.PaidAfterDeath, "unpaid": pp.Unpaid, "dropped": pp.Dropped, "paid twice": pp.PaidTwice,
		"paid while suspended": pp.PaidWhileSuspended, "overdue": pp.Overdue, "suspended": pp.Suspended, "restored": pp.Restored,
	}
	for name, list := range cases {
		if len(list) == 0 {
			t.Errorf("no %s case planted", name)
		}
	}
	died := map[int]string{}
	for _, d := range city.Deaths {
		died[d.Index] = d.Date
	}
	regular := checkPlannedPayments(t, city, pp, now)
	checkPlannedCases(t, pp, regular, died)
	checkPlannedCertifications(t, city, pp, now, died)
	checkPlannedDecisions(t, pp)
}

// checkPlannedPayments checks every payment's dates and kind, and returns
// the REGULAR totals by retiree, month and payment.
func checkPlannedPayments(t *testing.T, city *cityPlan, pp *pensionPlan, now time.Time) map[int]map[string][]int64 {
	t.Helper()
	restored := setOf(pp.Restored)
	regular := map[int]map[string][]int64{}
	var prevIndex int64
	for _, p := range pp.Payments {
		r := p.Record
		if r.Index != prevIndex+1 {
			t.Fatalf("record index %d after %d", r.Index, prevIndex)
		}
		prevIndex = r.Index
		if r.PaidOn < r.Month+"-01" || r.PaidOn > now.Format(dateLayout) {
			t.Errorf("record %d: paid on %s for %s", r.Index, r.PaidOn, r.Month)
		}
		if r.Month <= city.Retirees[p.Index].GetRetirementDate()[:7] {
			t.Errorf("record %d pays %s, before retirement on %s", r.Index, r.Month, city.Retirees[p.Index].GetRetirementDate())
		}
		switch r.Kind {
		case pensionv1.PaymentKind_REGULAR:
			if r.PaidOn[:7] != r.Month {
				t.Errorf("regular record %d for %s paid on %s", r.Index, r.Month, r.PaidOn)
			}
			if regular[p.Index] == nil {
				regular[p.Index] = map[string][]int64{}
			}
			regular[p.Index][r.Month] = append(regular[p.Index][r.Month], r.BasicFen+r.PersonalAccountFen+r.TransitionalFen+r.OtherFen)
		case pensionv1.PaymentKind_ARREARS:
			if !restored[p.Index] || r.PaidOn[:7] <= r.Month {
				t.Errorf("arrears record %d of retiree %d (restored %v) for %s paid on %s", r.Index, p.Index, restored[p.Index], r.Month, r.PaidOn)
			}
		case pensionv1.PaymentKind_ADJUSTMENT:
			if r.PaidOn[:7] != pp.AdjustmentMonth || r.Month < "2026-01" || r.Month > "2026-06" {
				t.Errorf("adjustment record %d for %s paid on %s", r.Index, r.Month, r.PaidOn)
			}
		default:
			t.Errorf("record %d has kind %v", r.Index, r.Kind)
		}
	}
	return regular
}

// checkPlannedCases checks that the regular payments show each planted
// anomaly.
func checkPlannedCases(t *testing.T, pp *pensionPlan, regular map[int]map[string][]int64, died map[int]string) {
	t.Helper()
	for _, i := range pp.PaidAfterDeath {
		after := false
		for m := range regular[i] {
			after = after || m > died[i][:7]
		}
		if !after {
			t.Errorf("retiree %d planted as paid after death (%s) has no such payment", i, died[i])
		}
	}
	for _, i := range pp.Dropped {
		if last, prev := regular[i]["2026-10"], regular[i]["2026-09"]; len(last) != 1 || len(prev) != 1 || float64(last[0]) >= 0.8*float64(prev[0]) {
			t.Errorf("retiree %d planted as dropped: %v after %v", i, last, prev)
		}
	}
	for _, i := range pp.PaidTwice {
		twice := 0
		for _, totals := range regular[i] {
			if len(totals) == 2 {
				twice++
			}
		}
		if twice != 1 {
			t.Errorf("retiree %d planted as paid twice has %d months paid twice", i, twice)
		}
	}
	for _, i := range pp.Suspended {
		if len(regular[i]) > 7 {
			t.Errorf("retiree %d suspended from one of the first months is paid %d months", i, len(regular[i]))
		}
	}
}

// checkPlannedCertifications checks the certifications' dates: none in the
// future, before the first month of pension or after death; for the living
// in good standing never more than a year apart and the last within a
// year; for the overdue and suspended the last over a year ago.
func checkPlannedCertifications(t *testing.T, city *cityPlan, pp *pensionPlan, now time.Time, died map[int]string) {
	t.Helper()
	lapsed := setOf(append(append(slices.Clone(pp.Overdue), pp.Suspended...), pp.PaidWhileSuspended...))
	restored := setOf(pp.Restored)
	byRetiree := map[int][]string{}
	dataMatch := 0
	for _, c := range pp.Certifications {
		byRetiree[c.Index] = append(byRetiree[c.Index], c.Date)
		if c.Method == pensionv1.CertificationMethod_DATA_MATCH {
			dataMatch++
		}
		if c.Date >= now.Format(dateLayout) || c.Date[:7] <= city.Retirees[c.Index].GetRetirementDate()[:7] || (died[c.Index] != "" && c.Date > died[c.Index]) {
			t.Errorf("retiree %d certified on %s (retired %s, died %q)", c.Index, c.Date, city.Retirees[c.Index].GetRetirementDate(), died[c.Index])
		}
	}
	if share := float64(dataMatch) / float64(len(pp.Certifications)); share < 0.85 || share > 0.95 {
		t.Errorf("%.0f %% of the certifications by data matching, want about 90 %%", 100*share)
	}
	yearAgo := now.AddDate(-1, 0, 0).Format(dateLayout)
	for i := range city.Retirees {
		days := byRetiree[i]
		if died[i] != "" || len(days) == 0 {
			continue // the deceased; or retired within the year, certified by their first month of pension
		}
		if last := days[len(days)-1]; lapsed[i] != (last < yearAgo) {
			t.Errorf("retiree %d (lapsed %v) last certified on %s", i, lapsed[i], last)
		}
		gaps := 0
		for k := 1; k < len(days); k++ {
			a, _ := time.Parse(dateLayout, days[k-1])
			b, _ := time.Parse(dateLayout, days[k])
			if b.After(a.AddDate(1, 0, 0)) {
				gaps++
			}
		}
		if want := map[bool]int{true: 1}[restored[i]]; gaps != want {
			t.Errorf("retiree %d (restored %v): %d gaps of over a year in %v", i, restored[i], gaps, days)
		}
	}
}

// checkPlannedDecisions checks that the bureau suspends every suspension
// case and restores exactly the restored, later.
func checkPlannedDecisions(t *testing.T, pp *pensionPlan) {
	t.Helper()
	suspendedFrom, restoredFrom := map[int]string{}, map[int]string{}
	for k, d := range pp.Decisions {
		if d.Record.Index != int64(k+1) {
			t.Errorf("decision %d has index %d", k, d.Record.Index)
		}
		switch d.Record.Action {
		case pensionv1.DecisionAction_SUSPEND:
			suspendedFrom[d.Index] = d.Record.EffectiveMonth
		case pensionv1.DecisionAction_RESTORE:
			restoredFrom[d.Index] = d.Record.EffectiveMonth
		}
	}
	for _, i := range append(append(slices.Clone(pp.Suspended), pp.PaidWhileSuspended...), pp.Restored...) {
		if suspendedFrom[i] == "" {
			t.Errorf("retiree %d is not suspended by the bureau", i)
		}
	}
	if len(restoredFrom) != len(pp.Restored) {
		t.Errorf("%d restorations for %d restored", len(restoredFrom), len(pp.Restored))
	}
	for _, i := range pp.Restored {
		if restoredFrom[i] <= suspendedFrom[i] {
			t.Errorf("retiree %d suspended from %s, restored from %q", i, suspendedFrom[i], restoredFrom[i])
		}
	}
}

func setOf(list []int) map[int]bool {
	set := make(map[int]bool, len(list))
	for _, i := range list {
		set[i] = true
	}
	return set
}
