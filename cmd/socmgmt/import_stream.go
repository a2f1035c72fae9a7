package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// importKind is what one kind of file adds to the importer: its
// columns, how a row becomes a record, the service and the stream the
// records go to. Everything else (the header, the acknowledgement window,
// reconnecting and resuming, the rejected-rows file, the progress bar) is
// shared.
type importKind[R any] struct {
	// name is the subcommand and the noun of the summary: "payments".
	name string
	// service is the service the records go to.
	service *importService
	columns []column
	// parse builds the record of a data row from its values, in the order
	// of columns, or says why the row cannot be sent. It checks what the
	// file decides (what Excel did to a cell, numbers, the names of enum
	// values); the service validates the rest.
	parse func(index int64, v []string) (R, *rejection)
	// open opens the import stream on a connection to the service.
	open func(context.Context, grpc.ClientConnInterface) (recordStream[R], error)
	// changed is the summary's word for stored records that a record
	// changed; "corrections" when empty.
	changed string
}

// changedLabel is the summary's label of the changed records.
func (k *importKind[R]) changedLabel() string {
	if k.changed == "" {
		return "corrections"
	}
	return k.changed
}

// importService is a service that takes import streams.
type importService struct {
	// name is the service's name, and its address flag: "pension".
	name string
	// defaultAddr is where `make run` starts it.
	defaultAddr string
}

// The services that take imports.
var (
	pensionService  = &importService{name: "pension", defaultAddr: defaultPensionAddr}
	registryService = &importService{name: "registry", defaultAddr: defaultRegistryAddr}
)

// recordStream is one import stream of records R, as every import RPC
// has it: a header, records, acknowledgements and a summary. The RPCs of
// pension and registry frame it in messages of their own, of the same
// shape; streamAck and streamSummary are what the importer reads of them.
type recordStream[R any] interface {
	sendHeader(batchID string, expectedRecords int64) error
	send(R) error
	closeSend() error
	// recv returns an acknowledgement or the summary.
	recv() (*streamAck, *streamSummary, error)
}

// streamAck is an acknowledgement: every record up to durableThrough is
// committed or rejected.
type streamAck struct {
	durableThrough int64
	rejections     []streamRejection
}

// streamRejection says why the service rejected one record.
type streamRejection struct {
	index           int64
	reason, message string
}

// streamSummary is the counts of one stream.
type streamSummary struct {
	received, accepted, duplicates, corrections int64
}

// pensionReply is what every pension import stream answers.
type pensionReply interface {
	GetAck() *pensionv1.ImportAck
	GetSummary() *pensionv1.ImportSummary
}

var (
	_ pensionReply = (*pensionv1.ImportPaymentsResponse)(nil)
	_ pensionReply = (*pensionv1.ImportCertificationsResponse)(nil)
	_ pensionReply = (*pensionv1.ImportDecisionsResponse)(nil)
)

// fromPension reads a pension import stream's reply.
func fromPension[Resp any, PR interface {
	*Resp
	pensionReply
}](resp *Resp) (*streamAck, *streamSummary) {
	reply := PR(resp)
	var ack *streamAck
	if a := reply.GetAck(); a != nil {
		ack = &streamAck{durableThrough: a.DurableThroughIndex}
		for _, rj := range a.Rejections {
			ack.rejections = append(ack.rejections, streamRejection{index: rj.Index, reason: rj.Reason, message: rj.Message})
		}
	}
	var sum *streamSummary
	if s := reply.GetSummary(); s != nil {
		sum = &streamSummary{received: s.Received, accepted: s.Accepted, duplicates: s.Duplicates, corrections: s.Corrections}
	}
	return ack, sum
}

// grpcImportStream is a generated import stream with requests Req and
// responses Resp as a recordStream of R.
type grpcImportStream[Req, Resp, R any] struct {
	stream grpc.BidiStreamingClient[Req, Resp]
	header func(batchID string, expectedRecords int64) *Req
	record func(R) *Req
	reply  func(*Resp) (*streamAck, *streamSummary)
}

func (s grpcImportStream[Req, Resp, R]) sendHeader(batchID string, expectedRecords int64) error {
	return s.stream.Send(s.header(batchID, expectedRecords))
}

func (s grpcImportStream[Req, Resp, R]) send(r R) error { return s.stream.Send(s.record(r)) }

func (s grpcImportStream[Req, Resp, R]) closeSend() error { return s.stream.CloseSend() }

func (s grpcImportStream[Req, Resp, R]) recv() (*streamAck, *streamSummary, error) {
	resp, err := s.stream.Recv()
	if err != nil {
		return nil, nil, err
	}
	ack, sum := s.reply(resp)
	return ack, sum, nil
}

// importer is one run of an import: it streams the file, reconnecting
// after drops, and keeps the counts and the rejected rows.
type importer[R any] struct {
	kind     *importKind[R]
	cfg      importConfig
	file     bureauFile
	total    int64
	conn     grpc.ClientConnInterface
	rejected *rejectedRows
	bar      *progressbar.ProgressBar

	// acked is the highest index the service acknowledged as durable.
	acked int64
	// read is the highest index read from the file so far, so that rows
	// rejected here are listed once however often the file is read.
	read int64
	rows int64
	// localRejected and serverRejected count the rejected rows.
	localRejected, serverRejected int64
	// last is the summary of the last stream; attempts counts streams.
	last     *streamSummary
	attempts int
}

// run streams the file until the service has acknowledged every record,
// reconnecting with backoff while the connection keeps dropping.
func (im *importer[R]) run(ctx context.Context) error {
	wait := im.cfg.retryBase
	for {
		im.attempts++
		sum, err := im.stream(ctx)
		if err == nil {
			im.last = sum
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after record %d: %w", im.acked, context.Cause(ctx))
		}
		if !retryable(err) || im.attempts >= importMaxAttempts {
			return fmt.Errorf("import stopped after record %d was acknowledged: %s", im.acked, describeStatus(err))
		}
		im.bar.Describe(fmt.Sprintf("reconnecting (%d)", im.attempts))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("interrupted after record %d: %w", im.acked, context.Cause(ctx))
		}
		wait = min(2*wait, im.cfg.retryMax)
	}
}

// retryable reports whether a reconnect can help: the service went away
// or asked to try again. Everything else (a refused token, a batch over the
// service's bound) would fail the same way again.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.DeadlineExceeded:
		return true
	}
	return false
}

func describeStatus(err error) string {
	st, ok := status.FromError(err)
	if !ok {
		return err.Error()
	}
	return fmt.Sprintf("%s: %s", st.Code(), st.Message())
}

// stream makes one import stream from the record after im.acked and
// returns its summary.
func (im *importer[R]) stream(ctx context.Context) (*streamSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := im.kind.open(ctx, im.conn)
	if err != nil {
		return nil, err
	}
	from := im.acked
	win := newAckWindow(from)
	sendErr := make(chan error, 1)
	senderDone := make(chan struct{})
	// The sender must be gone before another stream starts: both read the
	// file position and the counts.
	defer func() {
		cancel()
		<-senderDone
	}()
	go func() {
		defer close(senderDone)
		err := im.send(ctx, stream, from, func(rec fileRecord) error { return win.track(ctx, rec) })
		if err != nil {
			cancel() // so that recv returns and the error is seen
		}
		sendErr <- err
	}()
	return im.receive(ctx, stream, win, sendErr)
}

// receive reads the acknowledgements of stream into win, listing the rows
// the service rejects, until the summary; sendErr gives the sender's
// error once it is done.
func (im *importer[R]) receive(ctx context.Context, stream recordStream[R], win *ackWindow, sendErr <-chan error) (*streamSummary, error) {
	for {
		ack, sum, err := stream.recv()
		if errors.Is(err, io.EOF) {
			return nil, status.Error(codes.Unavailable, "the stream ended without a summary")
		}
		if err != nil {
			if ctx.Err() != nil {
				// Cancelled here: by the sender failing, or by the caller.
				if serr := <-sendErr; serr != nil {
					return nil, serr
				}
			}
			return nil, err
		}
		if ack != nil {
			if err := win.ack(ack, im.rejectedByService); err != nil {
				return nil, err
			}
			im.acked = max(im.acked, ack.durableThrough)
			_ = im.bar.Set64(im.acked)
		}
		if sum != nil {
			if err := <-sendErr; err != nil {
				return nil, err
			}
			_ = im.bar.Set64(max(im.acked, im.read))
			return sum, nil
		}
	}
}

// rejectedByService lists rec, which the service rejected as rj says.
func (im *importer[R]) rejectedByService(rec fileRecord, rj streamRejection) error {
	message := rj.message
	if message == "" {
		message = "rejected by the service"
	}
	if err := im.rejected.add(rec, rj.index, rj.reason, message); err != nil {
		return err
	}
	im.serverRejected++
	return nil
}

// send writes the header and the records after from, calling track before
// each record is sent, and closes the sending side. A row that cannot be
// sent is listed as rejected the first time it is read.
func (im *importer[R]) send(ctx context.Context, stream recordStream[R], from int64, track func(fileRecord) error) error {
	err := stream.sendHeader(im.cfg.batchID, im.total)
	if err != nil {
		return nil // the receiving side sees why
	}
	err = im.file.eachRecord(from, func(rec fileRecord) error {
		first := rec.index > im.read
		if first {
			im.read = rec.index
			im.rows = rec.index
		}
		var r R
		if rec.problem == nil {
			r, rec.problem = im.kind.parse(rec.index, rec.values)
		}
		if rec.problem != nil {
			if !first {
				return nil
			}
			im.localRejected++
			return im.rejected.add(rec, rec.index, rec.problem.code, rec.problem.message)
		}
		rec.values = nil // the window keeps the row as given, not its values
		if err := track(rec); err != nil {
			return err
		}
		if err := stream.send(r); err != nil {
			return errStopRecords
		}
		return nil
	})
	if errors.Is(err, errStopRecords) || ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return err
	}
	return stream.closeSend()
}

// ackWindow keeps the rows sent on one stream and not yet acknowledged,
// for the rejected-rows file, and holds the sender back while more than
// importWindow of them are in flight.
type ackWindow struct {
	mu       sync.Mutex
	inFlight map[int64]fileRecord
	acked    int64
	// moved wakes a held-back sender after an acknowledgement.
	moved chan struct{}
}

// newAckWindow returns the window of a stream resuming after record from.
func newAckWindow(from int64) *ackWindow {
	return &ackWindow{inFlight: map[int64]fileRecord{}, acked: from, moved: make(chan struct{}, 1)}
}

// track keeps rec, about to be sent, and waits while the window is full.
func (w *ackWindow) track(ctx context.Context, rec fileRecord) error {
	w.mu.Lock()
	w.inFlight[rec.index] = rec
	for rec.index-w.acked > importWindow {
		w.mu.Unlock()
		select {
		case <-w.moved:
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	w.mu.Unlock()
	return nil
}

// ack applies an acknowledgement: reject is called with each rejected row
// as it was sent, and the rows now durable leave the window.
func (w *ackWindow) ack(a *streamAck, reject func(fileRecord, streamRejection) error) error {
	w.mu.Lock()
	for _, rj := range a.rejections {
		if err := reject(w.inFlight[rj.index], rj); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	for i := w.acked + 1; i <= a.durableThrough; i++ {
		delete(w.inFlight, i)
	}
	w.acked = max(w.acked, a.durableThrough)
	w.mu.Unlock()
	select {
	case w.moved <- struct{}{}:
	default:
	}
	return nil
}

// rejectedRows is the rejected-rows file of an import: a CSV file in
// UTF-8 with the columns index, line, reason (a code), message, and then
// the rejected row's cells as given under the input's own header. It is
// created at the first rejection, so that a clean import leaves none.
type rejectedRows struct {
	path   string
	header []string

	mu sync.Mutex
	f  *os.File
	w  *csv.Writer
}

// newRejectedRows removes the rejected-rows file of an earlier import of
// the same file: what it listed may since have been fixed.
func newRejectedRows(path string, header []string) (*rejectedRows, error) {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove the previous rejected-rows file: %w", err)
	}
	return &rejectedRows{path: path, header: header}, nil
}

// add lists rec as rejected under index for reason with message.
func (r *rejectedRows) add(rec fileRecord, index int64, reason, message string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		f, err := os.OpenFile(r.path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("rejected-rows file: %w", err)
		}
		r.f, r.w = f, csv.NewWriter(f)
		if err := r.w.Write(append([]string{"index", "line", "reason", "message"}, r.header...)); err != nil {
			return err
		}
	}
	line := ""
	if rec.line > 0 {
		line = strconv.Itoa(rec.line)
	}
	return r.w.Write(append([]string{strconv.FormatInt(index, 10), line, reason, message}, rec.fields...))
}

// close flushes and closes the file, if there is one.
func (r *rejectedRows) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	r.w.Flush()
	return errors.Join(r.w.Error(), r.f.Close())
}
