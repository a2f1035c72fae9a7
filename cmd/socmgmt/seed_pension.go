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
	client := pensionv1.NewPensionServiceClient(conn)
	start := time.Now()
	pp := generatePensionPlan(city, cfg.seed, start)
	s := newSeeder(nil, cfg.concurrency, progress)

	s.logf("waiting for the pension service to learn the retirees")
	last := city.Retirees[len(city.Retirees)-1].GetIdNumber()
	if err := waitProjected(ctx, client, last, pensionProjectionWait); err != nil {
		return err
	}

	batch := fmt.Sprintf("seed-%d-%s", cfg.seed, pp.Months[0])
	s.logf("importing %d payments of %s to %s as batch %s", len(pp.Payments), pp.Months[0], pp.Months[len(pp.Months)-1], batch)
	records := make([]*pensionv1.PaymentRecord, len(pp.Payments))
	for i, p := range pp.Payments {
		records[i] = p.Record
	}
	sum, rejected, err := importAll(ctx, client, batch, records)
	if err != nil {
		return fmt.Errorf("import payments: %w", err)
	}

	// Certifications name retirees by id, which the pension service
	// tells for an ID number.
	need := map[int]bool{}
	for _, c := range pp.Certifications {
		need[c.Index] = true
	}
	indexes := make([]int, 0, len(need))
	for i := range city.Retirees {
		if need[i] {
			indexes = append(indexes, i)
		}
	}
	s.logf("recording %d certifications of %d retirees", len(pp.Certifications), len(indexes))
	ids := make([]string, len(city.Retirees))
	var certs tally
	byRetiree := map[int][]plannedCertification{}
	for _, c := range pp.Certifications {
		byRetiree[c.Index] = append(byRetiree[c.Index], c)
	}
	sctx, abort := context.WithCancelCause(ctx)
	defer abort(nil)
	s.forEach(sctx, len(indexes), func(ctx context.Context, k int) {
		i := indexes[k]
		err := s.call(ctx, func(ctx context.Context) error {
			resp, err := client.QueryPayments(ctx, &pensionv1.QueryPaymentsRequest{IdNumber: city.Retirees[i].GetIdNumber(), FromMonth: pp.Months[len(pp.Months)-1], ToMonth: pp.Months[len(pp.Months)-1]})
			if err == nil {
				ids[i] = resp.GetRetireeId()
			}
			return err
		})
		if err != nil {
			s.count(ctx, abort, &certs, err, fmt.Sprintf("look up retiree #%d", i))
			return
		}
		for _, c := range byRetiree[i] {
			var resp *pensionv1.RecordCertificationResponse
			err := s.call(ctx, func(ctx context.Context) error {
				var err error
				resp, err = client.RecordCertification(ctx, &pensionv1.RecordCertificationRequest{
					RetireeId: ids[i], Certification: &pensionv1.Certification{Method: c.Method, CertifiedOn: c.Date},
				})
				return err
			})
			if err == nil && resp.GetCertification().GetRecordTime().AsTime().Before(start) {
				certs.present.Add(1) // an earlier run recorded it
				continue
			}
			s.count(ctx, abort, &certs, err, fmt.Sprintf("certify retiree #%d", i))
		}
	})
	fmt.Fprintf(out, "Seeded the pension service at %s in %v:\n", cfg.pensionAddr, time.Since(start).Round(100*time.Millisecond))
	fmt.Fprintf(out, "  payments %s to %s: %d new, %d already present, %d corrected, %d rejected\n",
		pp.Months[0], pp.Months[len(pp.Months)-1], sum.GetAccepted(), sum.GetDuplicates(), sum.GetCorrections(), rejected)
	fmt.Fprintf(out, "  certifications: %d recorded, %d already present, %d failed\n", certs.created.Load(), certs.present.Load(), certs.failed.Load())
	fmt.Fprintf(out, "  planted anomalies: %d deceased paid after death, %d living not paid for a month, %d amount drops in %s, %d paid though last certified over a year ago\n",
		len(pp.PaidAfterDeath), len(pp.Unpaid), len(pp.Dropped), pp.Months[len(pp.Months)-1], len(pp.Uncertified))
	if err := context.Cause(sctx); err != nil && ctx.Err() == nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if n := certs.failed.Load(); n > 0 || rejected > 0 {
		return fmt.Errorf("%d certifications failed and %d payments were rejected (the first failures are shown above)", n, rejected)
	}
	return nil
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
