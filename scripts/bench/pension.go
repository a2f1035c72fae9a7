package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// DESIGN.md's goals for the payment import; issue 9 sets the same for the
// certification import.
const (
	goalImportRate  = 50_000 // records/s, durable at acknowledgement
	goalImportShare = 0.50   // of raw bbolt inserts of the same records
)

const (
	// importRecords is how many records the import scenario streams.
	importRecords = 1_000_000
	// importGroup is the pension service's group size (maxGroup): the
	// raw reference commits the same number of records per transaction.
	importGroup = 4096
	// importBatch is the scenario's batch id.
	importBatch = "bench-import"
	// certificationsBatch is the batch id of the certification import.
	certificationsBatch = "bench-certifications"
	// projectionDeadline bounds the wait for pension's projection to take
	// in the loaded retirees.
	projectionDeadline = 5 * time.Minute
)

// pensionScenario measures ImportPayments and then ImportCertifications
// of importRecords records each over one stream into the pension program,
// durable at acknowledgement, each beside raw bbolt inserts of the same
// keys and values in groups of the same size into a fresh file on the same
// disk, and reports the pension's heap after the imports. The payments
// are month after month for every retiree, as a bureau's monthly files
// would be sent one after another; the certifications day after day, as
// its data-matching runs would.
func pensionScenario(ctx context.Context, h *harness) ([]row, error) {
	if p := h.missingProgram("pension", "pension"); p != "" {
		return skippedRows("pension ImportPayments", p), nil
	}
	reg, err := h.startLoadedRegistry(ctx)
	if err != nil {
		return nil, err
	}
	defer reg.close()
	rows := []row{reg.loadRow}

	p, err := h.startPension(ctx, filepath.Join(h.cfg.Bin, "pension"), reg.grpcAddr)
	if err != nil {
		return rows, err
	}
	defer h.release(p.child)
	pconns, err := h.dial(p.grpcAddr, 1)
	if err != nil {
		return rows, err
	}
	defer closeAll(pconns)
	client := pensionv1.NewPensionServiceClient(pconns[0])

	idNumbers, err := h.awaitProjection(ctx, client, reg.ids)
	if err != nil {
		return rows, err
	}
	// The retirees' arrival set pension's certification sweep going; the
	// import is measured after it, with their signals open.
	if err := h.awaitQuiet(ctx, "the payment import", p.adminAddr, reg.adminAddr); err != nil {
		return rows, err
	}
	importRows, err := h.measureImport(ctx, client, reg.ids, idNumbers)
	if err != nil {
		return rows, err
	}
	rows = append(rows, importRows...)
	if err := h.awaitQuiet(ctx, "the certification import", p.adminAddr, reg.adminAddr); err != nil {
		return rows, err
	}
	certRows, err := h.measureCertificationImport(ctx, client, reg.ids, idNumbers)
	if err != nil {
		return rows, err
	}
	rows = append(rows, certRows...)

	for _, svc := range []struct{ name, admin string }{{"pension", p.adminAddr}, {"registry", reg.adminAddr}} {
		heap, err := h.heapRow(ctx, svc.name, svc.admin, "the imports")
		if err != nil {
			return rows, err
		}
		rows = append(rows, heap)
	}
	return rows, nil
}

// awaitQuiet waits, before what it names, until the services with admin
// ports admins have finished what the load set going (pension's
// certification sweep over the retirees it has just learnt of, the
// anomaly sweep after a payment import), so that an import is measured on
// its own, as its raw bbolt reference is; it logs how long that took.
func (h *harness) awaitQuiet(ctx context.Context, before string, admins ...string) error {
	waited, quiet, err := awaitQuiet(ctx, admins...)
	if err != nil {
		return err
	}
	if !quiet {
		h.log.Printf("before %s: the services were still busy after %v; measuring anyway", before, waited.Round(time.Second))
		return nil
	}
	h.log.Printf("before %s: the services were quiet after %v", before, waited.Round(time.Second))
	return nil
}

// awaitProjection waits until pension's projection has taken in the
// retirees loaded into registry, with ids, and returns their ID numbers.
func (h *harness) awaitProjection(ctx context.Context, client pensionv1.PensionServiceClient, ids []string) ([]string, error) {
	idNumbers, err := benchIDNumbers(len(ids))
	if err != nil {
		return nil, err
	}
	// The projection starts with a snapshot in registry's id order, so the
	// retiree with the greatest id arrives last; it arrives with its ID
	// number, in one transaction.
	start := time.Now()
	if err := waitProjection(ctx, client, slices.Max(ids)); err != nil {
		return nil, err
	}
	h.log.Printf("pension's projection caught up with %s retirees in %v", formatCount(int64(len(ids))), time.Since(start).Round(time.Millisecond))
	return idNumbers, nil
}

// measureImport streams importRecords payments of the retirees with ids
// and idNumbers into pension and inserts the same records into a raw
// bbolt file, and returns the rows of both.
func (h *harness) measureImport(ctx context.Context, client pensionv1.PensionServiceClient, ids, idNumbers []string) ([]row, error) {
	months := lastMonths(time.Now(), (importRecords+len(ids)-1)/len(ids))
	// The generator shares the machine with the service: its strings are
	// made once, not per record.
	banks := benchBankAccounts()
	record := func(i int) *pensionv1.PaymentRecord {
		n := i % len(ids)
		return benchPayment(int64(i+1), idNumbers[n], months[i/len(ids)], banks, n)
	}

	h.log.Printf("streaming %s payment records", formatCount(importRecords))
	rate, err := streamImport(ctx, paymentStream(client, record), importBatch, importRecords)
	if err != nil {
		return nil, err
	}

	h.log.Printf("raw bbolt inserts of the same records")
	ts := timestamppb.Now()
	rawRate, err := rawInserts(filepath.Join(h.dir, "raw-import.db"), "payments", func(i int) ([]byte, []byte, error) {
		n := i % len(ids)
		m := months[i/len(ids)]
		r := benchPayment(int64(i+1), "", m, banks, n)
		v, err := proto.Marshal(&pensionv1.Payment{
			RetireeId: ids[n], Month: m.month, BasicFen: r.BasicFen, PersonalAccountFen: r.PersonalAccountFen,
			TransitionalFen: r.TransitionalFen, OtherFen: r.OtherFen,
			TotalFen: r.BasicFen + r.PersonalAccountFen + r.TransitionalFen + r.OtherFen,
			PaidOn:   r.PaidOn, BankAccountMasked: r.BankAccountMasked, BatchId: importBatch, Version: 1, ImportTime: ts,
			Kind: pensionv1.PaymentKind_REGULAR,
		})
		// The service's key: retiree id, 0, month, 0, paid_on, 0, kind.
		k := []byte(ids[n] + "\x00" + m.month + "\x00" + m.paidOn + "\x00\x01")
		return k, v, err
	})
	if err != nil {
		return nil, err
	}
	share := rate / rawRate
	return []row{
		{
			What:  fmt.Sprintf("raw bbolt: insert the same %s records, %d per transaction, keys sorted (reference)", formatCount(importRecords), importGroup),
			Value: formatRate(rawRate, "records"),
		},
		{
			What:     fmt.Sprintf("pension ImportPayments: %s records on one stream, durable at ack", formatCount(importRecords)),
			Value:    formatRate(rate, "records"),
			Compared: percentOf(rate, rawRate, "raw bbolt"),
			Goal:     fmt.Sprintf("≥ %s records/s and ≥ %.0f %% of raw", formatCount(goalImportRate), 100*goalImportShare),
			Result:   verdict(rate >= goalImportRate && share >= goalImportShare),
		},
	}, nil
}

// startPension starts the pension program against the registry at
// registryAddr, minting its service tokens from the harness's key.
func (h *harness) startPension(ctx context.Context, bin, registryAddr string) (*serviceProc, error) {
	return h.startService(ctx, "pension", bin, "--id-key", h.idKey, "--registry-addr", registryAddr)
}

// benchIDNumbers returns the ID numbers of the first n retirees of
// benchRetiree.
func benchIDNumbers(n int) ([]string, error) { return benchIDNumbersFrom(0, n) }

// waitProjection waits until pension knows the retiree with the id
// registry gave him.
func waitProjection(ctx context.Context, client pensionv1.PensionServiceClient, id string) error {
	ctx, cancel := context.WithTimeout(ctx, projectionDeadline)
	defer cancel()
	for {
		_, err := client.ListCertifications(ctx, &pensionv1.ListCertificationsRequest{RetireeId: id, PageSize: 1})
		if err == nil {
			return nil
		}
		if status.Code(err) != codes.NotFound {
			return fmt.Errorf("waiting for pension's projection: %w", err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pension's projection did not catch up within %v", projectionDeadline)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// benchMonth is a paid month and the day it was paid.
type benchMonth struct{ month, paidOn string }

// lastMonths returns the n months before now's, oldest first.
func lastMonths(now time.Time, n int) []benchMonth {
	out := make([]benchMonth, n)
	first := time.Date(now.Year(), now.Month()-time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	for i := range out {
		m := first.AddDate(0, i, 0)
		out[i] = benchMonth{month: m.Format("2006-01"), paidOn: m.AddDate(0, 0, 14).Format(time.DateOnly)}
	}
	return out
}

// benchBankAccounts returns the masked accounts benchPayment uses.
func benchBankAccounts() []string {
	out := make([]string, 10_000)
	for i := range out {
		out[i] = fmt.Sprintf("6222************%04d", i)
	}
	return out
}

// benchPayment is the record of retiree n for a month.
func benchPayment(index int64, idNumber string, month benchMonth, banks []string, n int) *pensionv1.PaymentRecord {
	basic := int64(250_000 + n%200_000)
	return &pensionv1.PaymentRecord{
		Index: index, IdNumber: idNumber, Month: month.month,
		BasicFen: basic, PersonalAccountFen: basic / 5, TransitionalFen: basic / 10, OtherFen: 5000,
		PaidOn: month.paidOn, BankAccountMasked: banks[n%len(banks)],
	}
}

// importStream is one import RPC as the bench drives it, whatever its
// record type: open starts a stream, which sends a header and then
// records, and whose answers are acknowledgements or a summary.
type importStream struct {
	open func(ctx context.Context) (importClient, error)
}

// importClient is one open import stream.
type importClient interface {
	// sendHeader sends the header of batch, which holds records records.
	sendHeader(batch string, records int) error
	// send sends record i, from 0.
	send(i int) error
	closeSend() error
	// recv returns the next acknowledgement or the summary.
	recv() (*pensionv1.ImportAck, *pensionv1.ImportSummary, error)
}

// grpcImport adapts a generated import stream to importClient.
type grpcImport[Req, Resp any] struct {
	stream grpc.BidiStreamingClient[Req, Resp]
	header func(*pensionv1.ImportHeader) *Req
	record func(i int) *Req
	answer func(*Resp) (*pensionv1.ImportAck, *pensionv1.ImportSummary)
}

func (g grpcImport[Req, Resp]) sendHeader(batch string, records int) error {
	return g.stream.Send(g.header(&pensionv1.ImportHeader{BatchId: batch, FormatVersion: 1, ExpectedRecords: int64(records)}))
}

func (g grpcImport[Req, Resp]) send(i int) error { return g.stream.Send(g.record(i)) }

func (g grpcImport[Req, Resp]) closeSend() error { return g.stream.CloseSend() }

func (g grpcImport[Req, Resp]) recv() (*pensionv1.ImportAck, *pensionv1.ImportSummary, error) {
	resp, err := g.stream.Recv()
	if err != nil {
		return nil, nil, err
	}
	ack, sum := g.answer(resp)
	return ack, sum, nil
}

// paymentStream is ImportPayments of the records record returns.
func paymentStream(client pensionv1.PensionServiceClient, record func(i int) *pensionv1.PaymentRecord) importStream {
	return importStream{open: func(ctx context.Context) (importClient, error) {
		stream, err := client.ImportPayments(ctx)
		return grpcImport[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse]{
			stream: stream,
			header: func(h *pensionv1.ImportHeader) *pensionv1.ImportPaymentsRequest {
				return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Header{Header: h}}
			},
			record: func(i int) *pensionv1.ImportPaymentsRequest {
				return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: record(i)}}
			},
			answer: func(r *pensionv1.ImportPaymentsResponse) (*pensionv1.ImportAck, *pensionv1.ImportSummary) {
				return r.GetAck(), r.GetSummary()
			},
		}, err
	}}
}

// certificationStream is ImportCertifications of the records record
// returns.
func certificationStream(client pensionv1.PensionServiceClient, record func(i int) *pensionv1.CertificationRecord) importStream {
	return importStream{open: func(ctx context.Context) (importClient, error) {
		stream, err := client.ImportCertifications(ctx)
		return grpcImport[pensionv1.ImportCertificationsRequest, pensionv1.ImportCertificationsResponse]{
			stream: stream,
			header: func(h *pensionv1.ImportHeader) *pensionv1.ImportCertificationsRequest {
				return &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Header{Header: h}}
			},
			record: func(i int) *pensionv1.ImportCertificationsRequest {
				return &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Record{Record: record(i)}}
			},
			answer: func(r *pensionv1.ImportCertificationsResponse) (*pensionv1.ImportAck, *pensionv1.ImportSummary) {
				return r.GetAck(), r.GetSummary()
			},
		}, err
	}}
}

// streamImport sends records records, 0 to records-1, as batch on one
// stream and returns the rate from the first send to the summary, which
// follows the last commit.
func streamImport(ctx context.Context, s importStream, batch string, records int) (float64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := s.open(ctx)
	if err != nil {
		return 0, err
	}
	start := time.Now()
	sendErr := make(chan error, 1)
	go func() {
		err := stream.sendHeader(batch, records)
		for i := 0; i < records && err == nil; i++ {
			err = stream.send(i)
		}
		if err == nil {
			err = stream.closeSend()
		}
		sendErr <- err
	}()
	for {
		ack, sum, err := stream.recv()
		if errors.Is(err, io.EOF) {
			return 0, errors.New("import stream ended without a summary")
		}
		if err != nil {
			return 0, fmt.Errorf("import: %w", err)
		}
		if len(ack.GetRejections()) > 0 {
			return 0, fmt.Errorf("import: record %d rejected: %s", ack.Rejections[0].Index, ack.Rejections[0].Reason)
		}
		if sum != nil {
			elapsed := time.Since(start)
			if err := <-sendErr; err != nil {
				return 0, err
			}
			if sum.Accepted != int64(records) {
				return 0, fmt.Errorf("import: %d of %d records accepted", sum.Accepted, records)
			}
			return float64(records) / elapsed.Seconds(), nil
		}
	}
}

// rawInserts writes what an import wrote — importRecords records, the
// same keys and values as record returns them, in groups of importGroup,
// sorted within the group, one transaction each — into bucket of a fresh
// bbolt file opened as the services open theirs, and returns the rate.
func rawInserts(path, bucket string, record func(i int) (k, v []byte, err error)) (rate float64, err error) {
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, db.Close(), os.Remove(path)) }()
	name := []byte(bucket)
	if err := boltstore.CreateBuckets(db, name); err != nil {
		return 0, err
	}
	type kv struct{ k, v []byte }
	group := make([]kv, 0, importGroup)
	var elapsed time.Duration
	flush := func() error {
		// Building the values is not part of the reference: only bbolt is.
		slices.SortFunc(group, func(a, b kv) int { return bytes.Compare(a.k, b.k) })
		t0 := time.Now()
		err := db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(name)
			for _, e := range group {
				if err := b.Put(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
		elapsed += time.Since(t0)
		group = group[:0]
		return err
	}
	for i := range importRecords {
		k, v, err := record(i)
		if err != nil {
			return 0, err
		}
		group = append(group, kv{k: k, v: v})
		if len(group) == importGroup {
			if err := flush(); err != nil {
				return 0, err
			}
		}
	}
	if len(group) > 0 {
		if err := flush(); err != nil {
			return 0, err
		}
	}
	return float64(importRecords) / elapsed.Seconds(), nil
}

// measureCertificationImport streams importRecords certifications of the
// retirees with ids and idNumbers into pension — each retiree certified by
// data matching on one day after another, ending yesterday — and inserts
// the same certifications into a raw bbolt file, and returns the rows of
// both. The service does more per record than the reference: it finds
// the retiree, looks the certification up and moves the retiree's due
// date, as RecordCertification does; it audits each group it commits.
func (h *harness) measureCertificationImport(ctx context.Context, client pensionv1.PensionServiceClient, ids, idNumbers []string) ([]row, error) {
	days := lastDays(time.Now(), (importRecords+len(ids)-1)/len(ids))
	record := func(i int) *pensionv1.CertificationRecord {
		return &pensionv1.CertificationRecord{
			Index: int64(i + 1), IdNumber: idNumbers[i%len(ids)], CertifiedOn: days[i/len(ids)],
			Channel: pensionv1.CertificationMethod_DATA_MATCH,
		}
	}
	h.log.Printf("streaming %s certification records", formatCount(importRecords))
	rate, err := streamImport(ctx, certificationStream(client, record), certificationsBatch, importRecords)
	if err != nil {
		return nil, err
	}

	h.log.Printf("raw bbolt inserts of the same certifications")
	ts := timestamppb.Now()
	rawRate, err := rawInserts(filepath.Join(h.dir, "raw-certifications.db"), "certifications", func(i int) ([]byte, []byte, error) {
		id, day := ids[i%len(ids)], days[i/len(ids)]
		v, err := proto.Marshal(&pensionv1.Certification{
			RetireeId: id, Method: pensionv1.CertificationMethod_DATA_MATCH, CertifiedOn: day,
			RecordedBy: "bench", RecordTime: ts, BatchId: certificationsBatch,
		})
		// The service's key: retiree id, 0, certified_on, 0, sequence.
		k := boltstore.AppendU64(boltstore.Prefix(id, day), uint64(i+1)) //nolint:gosec // G115: i counts from 0
		return k, v, err
	})
	if err != nil {
		return nil, err
	}
	share := rate / rawRate
	return []row{
		{
			What:  fmt.Sprintf("raw bbolt: insert the same %s certifications, %d per transaction, keys sorted (reference)", formatCount(importRecords), importGroup),
			Value: formatRate(rawRate, "records"),
		},
		{
			What:     fmt.Sprintf("pension ImportCertifications: %s records on one stream, durable at ack", formatCount(importRecords)),
			Value:    formatRate(rate, "records"),
			Compared: percentOf(rate, rawRate, "raw bbolt"),
			Goal:     fmt.Sprintf("≥ %s records/s and ≥ %.0f %% of raw", formatCount(goalImportRate), 100*goalImportShare),
			Result:   verdict(rate >= goalImportRate && share >= goalImportShare),
		},
	}, nil
}

// lastDays returns the n days before now's, oldest first, as YYYY-MM-DD.
func lastDays(now time.Time, n int) []string {
	out := make([]string, n)
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	for i := range out {
		out[i] = today.AddDate(0, 0, i-n).Format(time.DateOnly)
	}
	return out
}
