package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
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

	mu       sync.Mutex
	payments map[string]*pensionv1.PaymentRecord // ID number and month
	certs    map[string]*pensionv1.Certification // retiree, day and method
	roles    map[authn.Role]bool
}

func newFakeSeedPension(reg *fakeRegistry) *fakeSeedPension {
	return &fakeSeedPension{reg: reg, payments: map[string]*pensionv1.PaymentRecord{}, certs: map[string]*pensionv1.Certification{}, roles: map[authn.Role]bool{}}
}

func (f *fakeSeedPension) role(ctx context.Context) {
	p, _ := authn.FromContext(ctx)
	f.mu.Lock()
	f.roles[p.Role] = true
	f.mu.Unlock()
}

func (f *fakeSeedPension) ImportPayments(stream grpc.BidiStreamingServer[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse]) error {
	f.role(stream.Context())
	first, err := stream.Recv()
	if err != nil || first.GetHeader() == nil {
		return status.Error(codes.InvalidArgument, "header first")
	}
	sum := &pensionv1.ImportSummary{BatchId: first.GetHeader().GetBatchId()}
	err = eachRecord(stream, func(r *pensionv1.PaymentRecord) error {
		sum.Received++
		sum.LastIndex = r.Index
		key := r.IdNumber + r.Month
		f.mu.Lock()
		if old, ok := f.payments[key]; ok && proto.Equal(withoutIndex(old), withoutIndex(r)) {
			sum.Duplicates++
		} else {
			sum.Accepted++
		}
		f.payments[key] = r
		f.mu.Unlock()
		if sum.Received%1000 == 0 {
			return stream.Send(&pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Ack{Ack: &pensionv1.ImportAck{DurableThroughIndex: r.Index}}})
		}
		return nil
	})
	if err != nil {
		return err
	}
	return stream.Send(&pensionv1.ImportPaymentsResponse{Message: &pensionv1.ImportPaymentsResponse_Summary{Summary: sum}})
}

func withoutIndex(r *pensionv1.PaymentRecord) *pensionv1.PaymentRecord {
	c := proto.Clone(r).(*pensionv1.PaymentRecord)
	c.Index = 0
	return c
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
	pp := generatePensionPlan(mustGenerate(t, cfg.seed, cfg.retirees), cfg.seed, time.Now())

	var out, progress bytes.Buffer
	if err := runSeed(t.Context(), cfg, &out, &progress); err != nil {
		t.Fatalf("seed: %v\n%s", err, progress.String())
	}
	pension.mu.Lock()
	payments, certs, roles := len(pension.payments), len(pension.certs), pension.roles
	pension.mu.Unlock()
	if payments != len(pp.Payments) || certs != len(pp.Certifications) {
		t.Errorf("pension got %d payments and %d certifications, want %d and %d", payments, certs, len(pp.Payments), len(pp.Certifications))
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
	for _, want := range []string{" 0 new,", "certifications: 0 recorded"} {
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
		again.Certifications[100] != pp.Certifications[100] || !proto.Equal(again.Payments[100].Record, pp.Payments[100].Record) {
		t.Error("the plan changes within a month")
	}
	if pp.Months[0] != "2025-11" || pp.Months[11] != "2026-10" {
		t.Errorf("months %v, want 2025-11 to 2026-10", pp.Months)
	}
	for name, list := range map[string][]int{"paid after death": pp.PaidAfterDeath, "unpaid": pp.Unpaid, "dropped": pp.Dropped, "uncertified": pp.Uncertified} {
		if len(list) == 0 {
			t.Errorf("no %s anomaly planted", name)
		}
	}

	died := map[int]string{}
	for _, d := range city.Deaths {
		died[d.Index] = d.Date
	}
	paid := map[int]map[string]int64{}
	var prevIndex int64
	for _, p := range pp.Payments {
		r := p.Record
		if r.Index != prevIndex+1 {
			t.Fatalf("record index %d after %d", r.Index, prevIndex)
		}
		prevIndex = r.Index
		if paid[p.Index] == nil {
			paid[p.Index] = map[string]int64{}
		}
		paid[p.Index][r.Month] = r.BasicFen + r.PersonalAccountFen + r.TransitionalFen + r.OtherFen
		if r.PaidOn < r.Month+"-01" || r.PaidOn[:7] > r.Month || r.PaidOn > now.Format(dateLayout) {
			t.Errorf("record %d: paid on %s for %s", r.Index, r.PaidOn, r.Month)
		}
		if r.Month <= city.Retirees[p.Index].GetRetirementDate()[:7] {
			t.Errorf("record %d pays %s, before retirement on %s", r.Index, r.Month, city.Retirees[p.Index].GetRetirementDate())
		}
	}
	for _, i := range pp.PaidAfterDeath {
		after := false
		for m := range paid[i] {
			after = after || m > died[i][:7]
		}
		if !after {
			t.Errorf("retiree %d planted as paid after death (%s) has no such payment", i, died[i])
		}
	}
	for _, i := range pp.Dropped {
		if last, prev := paid[i]["2026-10"], paid[i]["2026-09"]; float64(last) >= 0.8*float64(prev) {
			t.Errorf("retiree %d planted as dropped: %d after %d", i, last, prev)
		}
	}
	for _, i := range pp.Unpaid {
		if len(paid[i]) != 11 && !strings.HasPrefix(city.Retirees[i].GetRetirementDate(), "2025") && !strings.HasPrefix(city.Retirees[i].GetRetirementDate(), "2026") {
			t.Errorf("retiree %d planted as unpaid has %d payments", i, len(paid[i]))
		}
	}

	// Certifications: none in the future, before retirement or after
	// death; for the living not planted as uncertified, never more than a
	// year apart, from before the paid months (or retirement) to the last
	// year.
	uncertified := map[int]bool{}
	for _, i := range pp.Uncertified {
		uncertified[i] = true
	}
	byRetiree := map[int][]string{}
	for _, c := range pp.Certifications {
		byRetiree[c.Index] = append(byRetiree[c.Index], c.Date)
		if c.Date >= now.Format(dateLayout) || c.Date < city.Retirees[c.Index].GetRetirementDate() || (died[c.Index] != "" && c.Date > died[c.Index]) {
			t.Errorf("retiree %d certified on %s (retired %s, died %q)", c.Index, c.Date, city.Retirees[c.Index].GetRetirementDate(), died[c.Index])
		}
	}
	for i, r := range city.Retirees {
		days := byRetiree[i]
		if died[i] != "" {
			continue
		}
		if len(days) == 0 {
			t.Errorf("living retiree %d has no certification", i)
			continue
		}
		last, _ := time.Parse(dateLayout, days[len(days)-1])
		if uncertified[i] != last.Before(now.AddDate(-1, 0, 0)) {
			t.Errorf("retiree %d (uncertified %v) last certified on %s", i, uncertified[i], days[len(days)-1])
		}
		first, _ := time.Parse(dateLayout, days[0])
		if first.After(time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)) && days[0] != r.GetRetirementDate() {
			t.Errorf("retiree %d: first certification %s leaves the first paid months uncovered", i, days[0])
		}
		for k := 1; k < len(days); k++ {
			a, _ := time.Parse(dateLayout, days[k-1])
			b, _ := time.Parse(dateLayout, days[k])
			if b.After(a.AddDate(1, 0, 0)) {
				t.Errorf("retiree %d: certifications %s and %s more than a year apart", i, days[k-1], days[k])
			}
		}
	}
}
