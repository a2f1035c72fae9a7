package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// pensionProjectionWait bounds how long seed waits for the pension
// service's projection to learn the retirees it just created.
const pensionProjectionWait = 2 * time.Minute

// seedPension loads the payments and certifications of plan into the
// pension service at cfg.pensionAddr, as a bureau would. A service that
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
	sum, rejected, err := ps.importPayments(ctx, fmt.Sprintf("seed-%d-%s", cfg.seed, ps.plan.Months[0]))
	if err != nil {
		return fmt.Errorf("import payments: %w", err)
	}
	sctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	ps.certify(sctx, abort)
	ps.writeSummary(out, cfg.pensionAddr, sum, rejected)
	if err := context.Cause(sctx); err != nil && ctx.Err() == nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if n := ps.certs.failed.Load(); n > 0 || rejected > 0 {
		return fmt.Errorf("%d certifications failed and %d payments were rejected (the first failures are shown above)", n, rejected)
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

// importPayments imports the plan's payments as batch, returning the
// summary and the number of rejected records.
func (ps *pensionSeeder) importPayments(ctx context.Context, batch string) (*pensionv1.ImportSummary, int, error) {
	pp := ps.plan
	ps.logf("importing %d payments of %s to %s as batch %s", len(pp.Payments), pp.Months[0], ps.lastMonth(), batch)
	records := make([]*pensionv1.PaymentRecord, len(pp.Payments))
	for i, p := range pp.Payments {
		records[i] = p.Record
	}
	return importAll(ctx, ps.client, batch, records)
}

// certify records the plan's certifications, retiree by retiree on the
// seeder's workers, counting them in ps.certs; abort cancels ctx when
// carrying on would only fail again.
func (ps *pensionSeeder) certify(ctx context.Context, abort context.CancelCauseFunc) {
	byRetiree := map[int][]plannedCertification{}
	for _, c := range ps.plan.Certifications {
		byRetiree[c.Index] = append(byRetiree[c.Index], c)
	}
	indexes := make([]int, 0, len(byRetiree))
	for i := range ps.city.Retirees {
		if len(byRetiree[i]) > 0 {
			indexes = append(indexes, i)
		}
	}
	ps.logf("recording %d certifications of %d retirees", len(ps.plan.Certifications), len(indexes))
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
func (ps *pensionSeeder) writeSummary(out io.Writer, addr string, sum *pensionv1.ImportSummary, rejected int) {
	pp := ps.plan
	fmt.Fprintf(out, "Seeded the pension service at %s in %v:\n", addr, time.Since(ps.start).Round(100*time.Millisecond))
	fmt.Fprintf(out, "  payments %s to %s: %d new, %d already present, %d corrected, %d rejected\n",
		pp.Months[0], ps.lastMonth(), sum.GetAccepted(), sum.GetDuplicates(), sum.GetCorrections(), rejected)
	fmt.Fprintf(out, "  certifications: %d recorded, %d already present, %d failed\n", ps.certs.created.Load(), ps.certs.present.Load(), ps.certs.failed.Load())
	fmt.Fprintf(out, "  planted anomalies: %d deceased paid after death, %d living not paid for a month, %d amount drops in %s, %d paid though last certified over a year ago\n",
		len(pp.PaidAfterDeath), len(pp.Unpaid), len(pp.Dropped), ps.lastMonth(), len(pp.Uncertified))
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

// importAll streams records in one ImportPayments stream and returns its
// summary and the number of rejected records.
func importAll(ctx context.Context, client pensionv1.PensionServiceClient, batch string, records []*pensionv1.PaymentRecord) (*pensionv1.ImportSummary, int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.ImportPayments(ctx)
	if err != nil {
		return nil, 0, err
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wg.Go(func() {
		if err := stream.Send(&pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{
			BatchId: batch, FormatVersion: 1, ExpectedRecords: int64(len(records)),
		}}}); err != nil {
			return
		}
		for _, r := range records {
			if err := stream.Send(&pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: r}}); err != nil {
				return
			}
		}
		_ = stream.CloseSend()
	})
	var rejected atomic.Int64
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, int(rejected.Load()), errors.New("the stream ended without a summary")
		}
		if err != nil {
			return nil, int(rejected.Load()), err
		}
		switch m := resp.Message.(type) {
		case *pensionv1.ImportPaymentsResponse_Ack:
			rejected.Add(int64(len(m.Ack.Rejections)))
		case *pensionv1.ImportPaymentsResponse_Summary:
			return m.Summary, int(rejected.Load()), nil
		}
	}
}
