package main

import (
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

const (
	// defaultPensionAddr is where `make run` starts the pension service.
	defaultPensionAddr = "127.0.0.1:9103"
	// importTokenTTL outlives the import of a large file.
	importTokenTTL = 4 * time.Hour
	// importMaxAttempts bounds the connections one import makes when the
	// service keeps dropping it.
	importMaxAttempts = 10
	// importWindow bounds the records sent and not yet acknowledged: the
	// rows kept for the rejected-rows file, and what a reconnect re-sends.
	importWindow = 50_000
	// maxBatchIDLen is the server's bound on batch ids.
	maxBatchIDLen = 64
)

// errRowsRejected is returned when the import went through but some rows
// were rejected; the command then exits with status 1.
var errRowsRejected = errors.New("rows were rejected")

// importConfig is the configuration of `socmgmt import payments`.
type importConfig struct {
	// file is the CSV file to import.
	file string
	// pensionAddr is the pension service's gRPC host:port.
	pensionAddr string
	// keyFile is the stack's Ed25519 signing key, used to mint the bureau
	// token the import calls with.
	keyFile string
	// batchID names the batch; derived from the file when empty.
	batchID string
	// retryBase is the first wait before reconnecting; it doubles on each
	// attempt up to retryMax.
	retryBase, retryMax time.Duration
	// reachTimeout bounds the health check made before importing.
	reachTimeout time.Duration
}

func newImportCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import bureau files into a running stack",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newImportPaymentsCmd(e))
	return cmd
}

func newImportPaymentsCmd(e env) *cobra.Command {
	cfg := importConfig{retryBase: 200 * time.Millisecond, retryMax: 5 * time.Second, reachTimeout: defaultReachTimeout}
	cmd := &cobra.Command{
		Use:   "payments FILE.csv",
		Short: "Stream a bureau's pension payment file to the pension service",
		Long: `Stream a bureau's monthly pension payment file to the pension service over
gRPC (ImportPayments), with a progress bar and a summary at the end.

The file is UTF-8 CSV, with or without a byte-order mark, starting with the
header row

  ` + strings.Join(paymentColumns, ",") + `

and one payment per row: the resident ID number, the month (YYYY-MM), the
four components in fen (whole numbers; empty means 0), the payment date
(YYYY-MM-DD, within the month or the next) and the masked bank account.

Rows are numbered from 1 after the header; that number is the record's
index. When the connection drops, the import reconnects and resumes after
the last row the service acknowledged as durable; importing the same file
again (same batch id) changes nothing. Rows rejected by the service or
unreadable here are written, as given and with their reason, to
FILE.rejected.csv beside the input; the command then exits with status 1.
ID numbers are never printed.`,
		Example: `  socmgmt import payments bureau-2026-05.csv
  socmgmt import payments --pension 127.0.0.1:9103 --key var/dev-signing.key --batch-id shenyang-2026-05 payments.csv`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.file = args[0]
			return runImport(cmd.Context(), cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.pensionAddr, "pension", defaultPensionAddr, "pension gRPC `host:port`")
	f.StringVar(&cfg.keyFile, "key", keyFileDefault(e, defaultKeyFile), "PEM `file` of the stack's Ed25519 signing key ($"+envKey+" overrides the default)")
	f.StringVar(&cfg.batchID, "batch-id", "", "batch `id` (1-64 of A-Z a-z 0-9 . _ -); default: from the file's name, size and modification time")
	return cmd
}

// runImport imports cfg.file. The progress bar and notes go to progress,
// the summary to out.
func runImport(ctx context.Context, cfg importConfig, out, progress io.Writer) error {
	cfg, err := withBatchID(cfg)
	if err != nil {
		return err
	}
	_, token, err := signedToken(cfg.keyFile, authn.Principal{Subject: "socmgmt-import", Role: authn.RoleBureau}, importTokenTTL)
	if err != nil {
		return err
	}
	total, err := checkRows(cfg.file)
	if err != nil {
		return err
	}

	conn, err := dialRequired(ctx, "pension", cfg.pensionAddr, authn.BearerCredentials(token), cfg.reachTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()

	rejectedPath := rejectedFileName(cfg.file)
	if err := os.Remove(rejectedPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove the previous rejected-rows file: %w", err)
	}
	im := &paymentImport{
		cfg:          cfg,
		client:       pensionv1.NewPensionServiceClient(conn),
		rejectedPath: rejectedPath,
		progress:     progress,
		bar:          newImportBar(progress, cfg.file, total),
	}
	start := time.Now()
	runErr := im.run(ctx)
	_ = im.bar.Exit()
	fmt.Fprintln(progress)
	closeErr := im.closeRejected()
	im.writeSummary(out, time.Since(start))
	if err := errors.Join(runErr, closeErr); err != nil {
		return err
	}
	if n := im.localRejected + im.serverRejected; n > 0 {
		return fmt.Errorf("%w: %d of %d rows, listed in %s", errRowsRejected, n, im.rows, rejectedPath)
	}
	return nil
}

// withBatchID returns cfg with its batch id checked, or derived from the
// payment file when none is given.
func withBatchID(cfg importConfig) (importConfig, error) {
	fi, err := os.Stat(cfg.file)
	if err != nil {
		return cfg, fmt.Errorf("payment file: %w", err)
	}
	if fi.IsDir() {
		return cfg, fmt.Errorf("payment file %s is a directory", cfg.file)
	}
	if cfg.batchID == "" {
		cfg.batchID = defaultBatchID(cfg.file, fi.Size(), fi.ModTime())
	} else if err := checkBatchID(cfg.batchID); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// checkRows counts the data rows of file, for the progress bar, and
// checks its header, so that a wrong file fails before anything is
// dialled.
func checkRows(file string) (int64, error) {
	total, err := countRows(file)
	if err != nil {
		return 0, err
	}
	if err := withRows(file, 0, func(paymentRow) error { return errStopRows }); err != nil && !errors.Is(err, errStopRows) {
		return 0, err
	}
	return total, nil
}

// newImportBar is the progress bar of importing total rows of file.
func newImportBar(progress io.Writer, file string, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("importing "+filepath.Base(file)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
	)
}

// defaultBatchID derives a batch id from the file: its name, made safe,
// and a hash of the name, size and modification time, so that the same
// file imported again is the same batch and an edited one is another.
func defaultBatchID(path string, size int64, mtime time.Time) string {
	base := filepath.Base(path)
	h := sha256.Sum256([]byte(base + "\x00" + strconv.FormatInt(size, 10) + "\x00" + mtime.UTC().Format(time.RFC3339Nano)))
	var b strings.Builder
	for _, c := range strings.TrimSuffix(base, filepath.Ext(base)) {
		if c < 128 && (c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b.WriteRune(c)
		}
		if b.Len() == maxBatchIDLen-13 {
			break
		}
	}
	if b.Len() == 0 {
		b.WriteString("payments")
	}
	return b.String() + "-" + hex.EncodeToString(h[:6])
}

// checkBatchID validates --batch-id as the server would.
func checkBatchID(id string) error {
	if id == "" || len(id) > maxBatchIDLen {
		return fmt.Errorf("--batch-id must be 1 to %d characters", maxBatchIDLen)
	}
	for _, c := range id {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return errors.New("--batch-id may hold only letters, digits, '.', '_' and '-'")
		}
	}
	return nil
}

// rejectedFileName is where the rejected rows of file go.
func rejectedFileName(file string) string {
	return strings.TrimSuffix(file, filepath.Ext(file)) + ".rejected.csv"
}

// countRows counts the data rows of file for the progress bar.
func countRows(file string) (int64, error) {
	f, err := os.Open(file) //nolint:gosec // G304: the file the user named to import
	if err != nil {
		return 0, err
	}
	n, err := countDataRows(f)
	return n, errors.Join(err, f.Close())
}

// errStopRows ends withRows early without an error of its own.
var errStopRows = errors.New("stop reading rows")

// withRows calls fn for each data row of file after index from.
func withRows(file string, from int64, fn func(paymentRow) error) error {
	f, err := os.Open(file) //nolint:gosec // G304: the file the user named to import
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // opened only for reading: nothing is lost
	pr, err := newPaymentReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	for {
		row, err := pr.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", file, err)
		}
		if row.index <= from {
			continue
		}
		if err := fn(row); err != nil {
			return err
		}
	}
}

// paymentImport is one run of `import payments`: it streams the file,
// reconnecting after drops, and keeps the counts and the rejected rows.
type paymentImport struct {
	cfg          importConfig
	client       pensionv1.PensionServiceClient
	rejectedPath string
	progress     io.Writer
	bar          *progressbar.ProgressBar

	// acked is the highest index the service acknowledged as durable.
	acked int64
	// read is the highest index read from the file so far, so that rows
	// rejected here are listed once however often the file is read.
	read int64
	rows int64
	// localRejected and serverRejected count the rejected rows.
	localRejected, serverRejected int64
	// last is the summary of the last stream; attempts counts streams.
	last     *pensionv1.ImportSummary
	attempts int

	mu       sync.Mutex // guards the rejected-rows file
	rejected *os.File
	rejW     *csv.Writer
}

// run streams the file until the service has acknowledged every row,
// reconnecting with backoff while the connection keeps dropping.
func (im *paymentImport) run(ctx context.Context) error {
	wait := im.cfg.retryBase
	for {
		im.attempts++
		sum, err := im.stream(ctx)
		if err == nil {
			im.last = sum
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("interrupted after row %d: %w", im.acked, context.Cause(ctx))
		}
		if !retryable(err) || im.attempts >= importMaxAttempts {
			return fmt.Errorf("import stopped after row %d was acknowledged: %s", im.acked, describeStatus(err))
		}
		im.bar.Describe(fmt.Sprintf("reconnecting (%d)", im.attempts))
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return fmt.Errorf("interrupted after row %d: %w", im.acked, context.Cause(ctx))
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

// stream makes one ImportPayments stream from the row after im.acked and
// returns its summary.
func (im *paymentImport) stream(ctx context.Context) (*pensionv1.ImportSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := im.client.ImportPayments(ctx)
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
		err := im.send(ctx, stream, from, func(row paymentRow) error { return win.track(ctx, row) })
		if err != nil {
			cancel() // so that Recv returns and the error is seen
		}
		sendErr <- err
	}()
	return im.receive(ctx, stream, win, sendErr)
}

// receive reads the acknowledgements of stream into win, listing the rows
// the service rejects, until the summary; sendErr gives the sender's
// error once it is done.
func (im *paymentImport) receive(ctx context.Context, stream grpc.BidiStreamingClient[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse], win *ackWindow, sendErr <-chan error) (*pensionv1.ImportSummary, error) {
	for {
		resp, err := stream.Recv()
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
		switch m := resp.Message.(type) {
		case *pensionv1.ImportPaymentsResponse_Ack:
			if err := win.ack(m.Ack, im.rejectedByService); err != nil {
				return nil, err
			}
			im.acked = max(im.acked, m.Ack.DurableThroughIndex)
			_ = im.bar.Set64(im.acked)
		case *pensionv1.ImportPaymentsResponse_Summary:
			if err := <-sendErr; err != nil {
				return nil, err
			}
			_ = im.bar.Set64(max(im.acked, im.read))
			return m.Summary, nil
		}
	}
}

// rejectedByService lists row, which the service rejected as rj says.
func (im *paymentImport) rejectedByService(row paymentRow, rj *pensionv1.RecordRejection) error {
	if err := im.reject(row, rj.Index, rj.Reason, rj.Message); err != nil {
		return err
	}
	im.serverRejected++
	return nil
}

// ackWindow keeps the rows sent on one stream and not yet acknowledged,
// for the rejected-rows file, and holds the sender back while more than
// importWindow of them are in flight.
type ackWindow struct {
	mu       sync.Mutex
	inFlight map[int64]paymentRow
	acked    int64
	// moved wakes a held-back sender after an acknowledgement.
	moved chan struct{}
}

// newAckWindow returns the window of a stream resuming after row from.
func newAckWindow(from int64) *ackWindow {
	return &ackWindow{inFlight: map[int64]paymentRow{}, acked: from, moved: make(chan struct{}, 1)}
}

// track keeps row, about to be sent, and waits while the window is full.
func (w *ackWindow) track(ctx context.Context, row paymentRow) error {
	w.mu.Lock()
	w.inFlight[row.index] = row
	for row.index-w.acked > importWindow {
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
func (w *ackWindow) ack(a *pensionv1.ImportAck, reject func(paymentRow, *pensionv1.RecordRejection) error) error {
	w.mu.Lock()
	for _, rj := range a.Rejections {
		if err := reject(w.inFlight[rj.Index], rj); err != nil {
			w.mu.Unlock()
			return err
		}
	}
	for i := w.acked + 1; i <= a.DurableThroughIndex; i++ {
		delete(w.inFlight, i)
	}
	w.acked = max(w.acked, a.DurableThroughIndex)
	w.mu.Unlock()
	select {
	case w.moved <- struct{}{}:
	default:
	}
	return nil
}

// send writes the header and the rows after from, calling track before
// each record is sent, and closes the sending side.
func (im *paymentImport) send(ctx context.Context, stream grpc.BidiStreamingClient[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse], from int64, track func(paymentRow) error) error {
	err := stream.Send(&pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Header{Header: &pensionv1.ImportHeader{
		BatchId: im.cfg.batchID, FormatVersion: 1,
	}}})
	if err != nil {
		return nil // the receiving side sees why
	}
	err = withRows(im.cfg.file, from, func(row paymentRow) error {
		first := row.index > im.read
		if first {
			im.read = row.index
			im.rows = row.index
		}
		if row.record == nil {
			if !first {
				return nil
			}
			im.localRejected++
			return im.reject(row, row.index, row.reason, "")
		}
		if err := track(row); err != nil {
			return err
		}
		if err := stream.Send(&pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: row.record}}); err != nil {
			return errStopRows
		}
		return nil
	})
	if errors.Is(err, errStopRows) || ctx.Err() != nil {
		return nil
	}
	if err != nil {
		return err
	}
	return stream.CloseSend()
}

// reject writes a row to the rejected-rows file: its index, line, reason
// and the fields as given.
func (im *paymentImport) reject(row paymentRow, index int64, reason, message string) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.rejected == nil {
		f, err := os.OpenFile(im.rejectedPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
		if err != nil {
			return fmt.Errorf("rejected-rows file: %w", err)
		}
		im.rejected, im.rejW = f, csv.NewWriter(f)
		header := append([]string{"index", "line", "reason", "message"}, paymentColumns...)
		if err := im.rejW.Write(header); err != nil {
			return err
		}
	}
	line := ""
	if row.line > 0 {
		line = strconv.Itoa(row.line)
	}
	rec := append([]string{strconv.FormatInt(index, 10), line, reason, message}, row.fields...)
	return im.rejW.Write(rec)
}

func (im *paymentImport) closeRejected() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.rejected == nil {
		return nil
	}
	im.rejW.Flush()
	return errors.Join(im.rejW.Error(), im.rejected.Close())
}

// writeSummary prints what the import did; never an ID number.
func (im *paymentImport) writeSummary(w io.Writer, elapsed time.Duration) {
	fmt.Fprintf(w, "Imported %s as batch %s into %s in %v:\n", im.cfg.file, im.cfg.batchID, im.cfg.pensionAddr, elapsed.Round(100*time.Millisecond))
	fmt.Fprintf(w, "  rows read                 %d\n", im.rows)
	fmt.Fprintf(w, "  durable (acknowledged)    through row %d\n", im.acked)
	if s := im.last; s != nil {
		note := ""
		if im.attempts > 1 {
			// Each connection reports its own counts; the earlier ones
			// broke before their summaries.
			note = fmt.Sprintf(" (in the last of %d connections, which sent %d rows)", im.attempts, s.Received)
		}
		fmt.Fprintf(w, "  new payments              %d%s\n", s.Accepted, note)
		fmt.Fprintf(w, "  duplicates (unchanged)    %d\n", s.Duplicates)
		fmt.Fprintf(w, "  corrections               %d\n", s.Corrections)
	}
	fmt.Fprintf(w, "  rejected by the service   %d\n", im.serverRejected)
	fmt.Fprintf(w, "  unreadable rows           %d\n", im.localRejected)
	if im.localRejected+im.serverRejected > 0 {
		fmt.Fprintf(w, "  rejected rows are listed in %s\n", im.rejectedPath)
	}
}
