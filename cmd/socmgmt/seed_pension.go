package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// pensionProjectionWait bounds how long seed waits for the pension
// service's projection to learn the retirees it just created.
const pensionProjectionWait = 2 * time.Minute

// seedPension loads the year of plan into the pension service at
// cfg.pensionAddr, as a bureau and its clerks would: the bureau imports
// payments, its certifications and its decisions; the clerks' own
// certifications are recorded one by one. A service that
// does not answer is skipped with a note: the registry part stands alone.
func seedPension(ctx context.Context, cfg seedConfig, city *cityPlan, priv ed25519.PrivateKey, out, progress io.Writer) error {
	if cfg.pensionAddr == "" {
		return nil
	}
	token, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "socmgmt-seed", Role: authn.RoleBureau}, seedTokenTTL, time.Now())
	if err != nil {
		return err
	}
	conn, err := dialOptional(ctx, cfg, "pension", cfg.pensionAddr, authn.BearerCredentials(token), progress, "payments and certifications")
	if conn == nil {
		return err
	}
	defer conn.Close()
	if len(city.Retirees) == 0 {
		return nil
	}
	ps := &pensionSeeder{
		seeder: newSeeder(nil, cfg.concurrency, progress),
		client: pensionv1.NewPensionServiceClient(conn),
		city:   city,
		start:  time.Now(),
	}
	ps.plan = generatePensionPlan(city, cfg.seed, ps.start)

	ps.logf("waiting for the pension service to learn the retirees")
	last := city.Retirees[len(city.Retirees)-1].GetIdNumber()
	if err := waitProjected(ctx, ps.client, last, pensionProjectionWait); err != nil {
		return err
	}
	imports, err := ps.importAll(ctx, fmt.Sprintf("seed-%d-%s", cfg.seed, ps.plan.Months[0]))
	if err != nil {
		return err
	}
	sctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	ps.certify(sctx, abort)
	ps.writeSummary(out, cfg.pensionAddr, imports)
	if err := context.Cause(sctx); err != nil && ctx.Err() == nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if n, rejected := ps.certs.failed.Load(), imports.rejected(); n > 0 || rejected > 0 {
		return fmt.Errorf("%d certifications failed and %d imported records were rejected (the first failures are shown above)", n, rejected)
	}
	return nil
}

// pensionSeeder loads a pensionPlan into the pension service; the embedded
// seeder gives it workers, retries and progress lines.
type pensionSeeder struct {
	*seeder
	client pensionv1.PensionServiceClient
	city   *cityPlan
	plan   *pensionPlan
	// start is when the seed began: a certification recorded before it
	// was recorded by an earlier run.
	start time.Time
	certs tally
}

// lastMonth is the newest paid month of the plan.
func (ps *pensionSeeder) lastMonth() string { return ps.plan.Months[len(ps.plan.Months)-1] }

// importResult is the outcome of one of the bureau's imports.
type importResult struct {
	what     string
	summary  *pensionv1.ImportSummary
	rejected int
}

// importResults are the bureau's imports of a seed, in order.
type importResults []importResult

func (rs importResults) rejected() int {
	n := 0
	for _, r := range rs {
		n += r.rejected
	}
	return n
}

// importAll imports the plan's payments, the bureau's certifications and
// its decisions, each as a batch named after batch.
func (ps *pensionSeeder) importAll(ctx context.Context, batch string) (importResults, error) {
	pp := ps.plan
	payments := make([]*pensionv1.PaymentRecord, len(pp.Payments))
	for i, p := range pp.Payments {
		payments[i] = p.Record
	}
	var certs []*pensionv1.CertificationRecord
	for _, c := range pp.Certifications {
		if c.byBureau() {
			certs = append(certs, &pensionv1.CertificationRecord{
				Index: int64(len(certs) + 1), IdNumber: ps.city.Retirees[c.Index].GetIdNumber(), CertifiedOn: c.Date, Channel: c.Method,
			})
		}
	}
	decisions := make([]*pensionv1.DecisionRecord, len(pp.Decisions))
	for i, d := range pp.Decisions {
		decisions[i] = d.Record
	}
	steps := []struct {
		what string
		n    int
		run  func(context.Context, string) (*pensionv1.ImportSummary, int, error)
	}{
		{"payments", len(payments), func(ctx context.Context, b string) (*pensionv1.ImportSummary, int, error) {
			return importStream(ctx, ps.client.ImportPayments, b, payments, paymentRequest)
		}},
		{"certifications", len(certs), func(ctx context.Context, b string) (*pensionv1.ImportSummary, int, error) {
			return importStream(ctx, ps.client.ImportCertifications, b, certs, certificationRequest)
		}},
		{"decisions", len(decisions), func(ctx context.Context, b string) (*pensionv1.ImportSummary, int, error) {
			return importStream(ctx, ps.client.ImportDecisions, b, decisions, decisionRequest)
		}},
	}
	var out importResults
	for _, st := range steps {
		b := batch + "-" + st.what
		ps.logf("importing %d %s as batch %s", st.n, st.what, b)
		sum, rejected, err := st.run(ctx, b)
		if err != nil {
			return out, fmt.Errorf("import %s: %w", st.what, err)
		}
		out = append(out, importResult{what: st.what, summary: sum, rejected: rejected})
	}
	return out, nil
}

// certify records the clerks' certifications of the plan, retiree by
// retiree on the seeder's workers, counting them in ps.certs; abort
// cancels ctx when carrying on would only fail again.
func (ps *pensionSeeder) certify(ctx context.Context, abort context.CancelCauseFunc) {
	byRetiree := map[int][]plannedCertification{}
	for _, c := range ps.plan.Certifications {
		if !c.byBureau() {
			byRetiree[c.Index] = append(byRetiree[c.Index], c)
		}
	}
	indexes := make([]int, 0, len(byRetiree))
	for i := range ps.city.Retirees {
		if len(byRetiree[i]) > 0 {
			indexes = append(indexes, i)
		}
	}
	ps.logf("recording the clerks' certifications of %d retirees", len(indexes))
	ps.forEach(ctx, len(indexes), func(ctx context.Context, k int) {
		i := indexes[k]
		id, err := ps.retireeID(ctx, i)
		if err != nil {
			ps.count(ctx, abort, &ps.certs, err, fmt.Sprintf("look up retiree #%d", i))
			return
		}
		for _, c := range byRetiree[i] {
			ps.recordCertification(ctx, abort, i, id, c)
		}
	})
}

// retireeID asks the pension service for the id of retiree i of the city,
// which certifications name them by.
func (ps *pensionSeeder) retireeID(ctx context.Context, i int) (string, error) {
	var id string
	err := ps.call(ctx, func(ctx context.Context) error {
		resp, err := ps.client.QueryPayments(ctx, &pensionv1.QueryPaymentsRequest{IdNumber: ps.city.Retirees[i].GetIdNumber(), FromMonth: ps.lastMonth(), ToMonth: ps.lastMonth()})
		if err == nil {
			id = resp.GetRetireeId()
		}
		return err
	})
	return id, err
}

// recordCertification records c of retiree i, whose pension id is id.
func (ps *pensionSeeder) recordCertification(ctx context.Context, abort context.CancelCauseFunc, i int, id string, c plannedCertification) {
	var resp *pensionv1.RecordCertificationResponse
	err := ps.call(ctx, func(ctx context.Context) error {
		var err error
		resp, err = ps.client.RecordCertification(ctx, &pensionv1.RecordCertificationRequest{
			RetireeId: id, Certification: &pensionv1.Certification{Method: c.Method, CertifiedOn: c.Date},
		})
		return err
	})
	if err == nil && resp.GetCertification().GetRecordTime().AsTime().Before(ps.start) {
		ps.certs.present.Add(1) // an earlier run recorded it
		return
	}
	ps.count(ctx, abort, &ps.certs, err, fmt.Sprintf("certify retiree #%d", i))
}

// writeSummary prints what the pension part of the seed did.
func (ps *pensionSeeder) writeSummary(out io.Writer, addr string, imports importResults) {
	pp := ps.plan
	fmt.Fprintf(out, "Seeded the pension service at %s in %v (%s to %s):\n", addr, time.Since(ps.start).Round(100*time.Millisecond), pp.Months[0], ps.lastMonth())
	for _, r := range imports {
		fmt.Fprintf(out, "  bureau's %s: %d new, %d already present, %d corrected, %d rejected\n",
			r.what, r.summary.GetAccepted(), r.summary.GetDuplicates(), r.summary.GetCorrections(), r.rejected)
	}
	fmt.Fprintf(out, "  clerks' certifications: %d recorded, %d already present, %d failed\n", ps.certs.created.Load(), ps.certs.present.Load(), ps.certs.failed.Load())
	fmt.Fprintf(out, "  the bureau suspended %d retirees for want of certification and restored %d of them with back-pay; %d more are overdue; the adjustment of %s was paid back to January\n",
		len(pp.Suspended)+len(pp.PaidWhileSuspended)+len(pp.Restored), len(pp.Restored), len(pp.Overdue), pp.AdjustmentMonth)
	fmt.Fprintf(out, "  planted anomalies: %d deceased paid after death, %d living not paid for a month, %d amount drops in %s, %d paid twice for a month, %d paid while suspended\n",
		len(pp.PaidAfterDeath), len(pp.Unpaid), len(pp.Dropped), ps.lastMonth(), len(pp.PaidTwice), len(pp.PaidWhileSuspended))
}

// waitProjected waits until the pension service knows the retiree with
// the given ID number.
func waitProjected(ctx context.Context, client pensionv1.PensionServiceClient, idNumber string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		_, err := client.QueryPayments(ctx, &pensionv1.QueryPaymentsRequest{IdNumber: idNumber})
		switch status.Code(err) {
		case codes.OK:
			return nil
		case codes.NotFound, codes.Unavailable:
		default:
			return fmt.Errorf("pension service: %s", status.Convert(err).Message())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the pension service did not learn the new retirees within %v: is it connected to this registry?", timeout)
		}
		select {
		case <-time.After(200 * time.Millisecond):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// importResponse is what every import stream answers: acknowledgements,
// then a summary.
type importResponse interface {
	GetAck() *pensionv1.ImportAck
	GetSummary() *pensionv1.ImportSummary
}

// importStream streams records in one import stream opened by open, with a
// header naming batch first; wrap makes a record or the header into the
// stream's request. It returns the summary and the number of rejected
// records.
func importStream[Req, Resp any, R any, PResp interface {
	*Resp
	importResponse
}](ctx context.Context, open func(context.Context, ...grpc.CallOption) (grpc.BidiStreamingClient[Req, Resp], error),
	batch string, records []R, wrap func(*pensionv1.ImportHeader, R) *Req,
) (*pensionv1.ImportSummary, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := open(ctx)
	if err != nil {
		return nil, 0, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		var none R
		if err := stream.Send(wrap(&pensionv1.ImportHeader{BatchId: batch, FormatVersion: 1, ExpectedRecords: int64(len(records))}, none)); err != nil {
			return
		}
		for _, r := range records {
			if err := stream.Send(wrap(nil, r)); err != nil {
				return
			}
		}
		_ = stream.CloseSend()
	})
	rejected := 0
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, rejected, errors.New("the stream ended without a summary")
		}
		if err != nil {
			return nil, rejected, err
		}
		if sum := PResp(resp).GetSummary(); sum != nil {
			return sum, rejected, nil
		}
		rejected += len(PResp(resp).GetAck().GetRejections())
	}
}

// paymentRequest, certificationRequest and decisionRequest make the header
// (when h is set) or a record into their stream's request.
func paymentRequest(h *pensionv1.ImportHeader, r *pensionv1.PaymentRecord) *pensionv1.ImportPaymentsRequest {
	if h != nil {
		return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Header{Header: h}}
	}
	return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: r}}
}

func certificationRequest(h *pensionv1.ImportHeader, r *pensionv1.CertificationRecord) *pensionv1.ImportCertificationsRequest {
	if h != nil {
		return &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Header{Header: h}}
	}
	return &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Record{Record: r}}
}

func decisionRequest(h *pensionv1.ImportHeader, r *pensionv1.DecisionRecord) *pensionv1.ImportDecisionsRequest {
	if h != nil {
		return &pensionv1.ImportDecisionsRequest{Message: &pensionv1.ImportDecisionsRequest_Header{Header: h}}
	}
	return &pensionv1.ImportDecisionsRequest{Message: &pensionv1.ImportDecisionsRequest_Record{Record: r}}
}
