package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/socmgmt/socmgmt/internal/authn"
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

// importConfig is the configuration of an `socmgmt import` command.
type importConfig struct {
	// file is the CSV file or workbook to import.
	file string
	// addr is the gRPC host:port of the service the records go to.
	addr string
	// keyFile is the stack's Ed25519 signing key, used to mint the bureau
	// (or enterprise) token the import calls with.
	keyFile string
	// enterprise, when set, is the credit code of the enterprise the
	// import calls as, instead of a bureau: an enterprise imports its own
	// retirees.
	enterprise string
	// batchID names the batch; derived from the file when empty.
	batchID string
	// encoding of a CSV file: auto, utf-8 or gb18030.
	encoding string
	// sheet of a workbook to read; the first when empty.
	sheet string
	// retryBase is the first wait before reconnecting; it doubles on each
	// attempt up to retryMax.
	retryBase, retryMax time.Duration
	// reachTimeout bounds the health check made before importing.
	reachTimeout time.Duration
	// tls is how the service is dialled.
	tls tlsFlags
}

func newImportCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Import bureau files into a running stack",
		Long: `Import a bureau's file into the pension service (payments, certifications or
entitlement decisions) or a roster into the registry (retirees), from a CSV
file or an Excel workbook. The service is called over mutual TLS with make run's development CA and client
certificate (var/tls) unless --tls-ca, --tls-cert and --tls-key name
others, or --plaintext turns TLS off.` + importFormatsHelp,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(
		newImportKindCmd(e, paymentsImport, "Stream a bureau's pension payment file to the pension service",
			`Stream a bureau's monthly pension payment file to the pension service over
gRPC (ImportPayments), with a progress bar and a summary at the end.

One payment per row: the resident ID number, the month (YYYY-MM), the four
components in whole fen (empty means 0), the payment date (YYYY-MM-DD, from
the first day of the month up to today), the masked bank account and,
optionally, the kind: REGULAR, ARREARS or ADJUSTMENT (正常发放, 补发,
调整补发); empty lets the service decide from the payment date.`,
			`  socmgmt import payments bureau-2026-05.csv
  socmgmt import payments --pension 127.0.0.1:9103 --key var/dev-signing.key --batch-id shenyang-2026-05 payments.xlsx`),
		newImportKindCmd(e, certificationsImport, "Stream the bureau's certifications to the pension service",
			`Stream the bureau's certification feed to the pension service over gRPC
(ImportCertifications), with a progress bar and a summary at the end.

One certification per row: the resident ID number, the date (YYYY-MM-DD, not
in the future), the channel and, optionally, the bureau's reference of its
record. Channels: DATA_MATCH (数据比对), FACE_APP (人脸识别; REMOTE_FACE is
the old name), CONSULAR (使领馆认证), OTHER_REGION (异地协助认证),
IN_PERSON (现场认证), HOME_VISIT (上门认证), ACTIVITY (社区活动).`,
			`  socmgmt import certifications 认证数据-2026-06.xlsx
  socmgmt import certifications --encoding gb18030 data-match-2026-06.csv`),
		newImportKindCmd(e, decisionsImport, "Stream the bureau's entitlement decisions to the pension service",
			`Stream the bureau's entitlement decisions (suspensions, restorations,
stoppages) to the pension service over gRPC (ImportDecisions), with a
progress bar and a summary at the end.

One decision per row: the resident ID number, the action (SUSPEND 暂停,
RESTORE 恢复, STOP 终止), the effective month (YYYY-MM), the reason
(NOT_CERTIFIED 未认证, LOST_CONTACT 失联, IMPRISONED 服刑, DECEASED 死亡,
OTHER 其他; required for SUSPEND and STOP, empty for RESTORE), a note of up
to 500 characters and the bureau's reference.`,
			`  socmgmt import decisions decisions-2026-06.csv
  socmgmt import decisions --sheet 暂停恢复 待遇决定.xlsx`),
		newImportRetireesCmd(e),
	)
	return cmd
}

// newImportRetireesCmd is `socmgmt import retirees FILE`.
func newImportRetireesCmd(e env) *cobra.Command {
	return newImportKindCmd(e, retireesImport, "Stream a roster of retirees to the registry",
		`Stream a roster of retirees to the registry over gRPC (ImportRetirees), with
a progress bar and a summary at the end. A bureau's roster may name any
community and enterprise; with --enterprise the import calls as that
enterprise, which registers the retirees it manages itself (management
mode ENTERPRISE, its own credit code).

One retiree per row, as CreateRetiree takes them: the resident ID number,
the name, optionally the sex (MALE/FEMALE, 男/女; it must agree with the
ID number), the retirement date (YYYY-MM-DD), the enterprise's credit code,
the community's 12-digit code, the management mode (ENTERPRISE 企业管理,
COMMUNITY 社区管理, BUREAU 经办机构管理), optionally the phone number, the
address where the retiree lives, and flags (LIVING_ALONE 独居, EMPTY_NEST
空巢, HARDSHIP 困难, SERIOUS_ILLNESS 大病, DISABLED 残疾, DEMENTIA 失智,
BEREAVED_PARENT 失独, MODEL_WORKER 劳模, VETERAN 退役军人; several
separated by 、 , ; or spaces; aged 80+ and 90+ are computed). A retiree
already on file is updated when the row differs (a new history entry; an
empty optional cell keeps what is on file) and left alone when it is the
same; a retiree on file in another community is rejected: moves are
transfers.`,
		`  socmgmt import retirees 花名册-2026.xlsx
  socmgmt import retirees --registry 127.0.0.1:9101 --enterprise 91210102MA0XXXXXX0 roster.csv`)
}

// importFormatsHelp is what every import command says about its file.
const importFormatsHelp = `

The file is an Excel workbook (.xlsx; the first sheet unless --sheet names
another, read as Excel shows it) or a CSV file in UTF-8, with or without a
byte-order mark, or in GB18030/GBK as Excel saves "CSV (逗号分隔)" on a
Chinese Windows (detected; --encoding to say which), with CR, LF or CRLF
line ends. Its header row names the columns, in English or in Chinese, in
any order; up to 10 title rows above it and columns it does not name (such
as 序号) are skipped, and blank rows are not records.

Records are numbered from 1 after the header; that number is the record's
index. When the connection drops, the import reconnects and resumes after
the last record the service acknowledged as durable; importing the same
file again (same batch id) changes nothing. A row is rejected, and the
valid rows after it still imported, when the service refuses it or when
it cannot be read here: bytes that are not text in the file's encoding,
broken CSV, or a cell Excel changed (an ID number turned into 1.10105E+17,
a date shown as 2026/7/15 or as its day number, an amount with a
thousands separator), each with a message saying how to fix the file.
Rejected rows are written, as given, with their index, line, a reason code
and a message, to FILE.rejected.csv beside the input; the command then
exits with status 1. ID numbers are never printed.`

// newImportKindCmd is the `socmgmt import NAME FILE` command of kind k.
func newImportKindCmd[R any](e env, k *importKind[R], short, long, example string) *cobra.Command {
	cfg := importConfig{retryBase: 200 * time.Millisecond, retryMax: 5 * time.Second, reachTimeout: defaultReachTimeout}
	cmd := &cobra.Command{
		Use:     k.name + " FILE",
		Short:   short,
		Long:    long + "\n\nColumns (English or Chinese header):\n\n" + columnsHelp(k.columns) + strings.TrimPrefix(importFormatsHelp, "\n"),
		Example: example,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg.file = args[0]
			return runImport(cmd.Context(), k, cfg, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.addr, k.service.name, k.service.defaultAddr, k.service.name+" gRPC `host:port`")
	f.StringVar(&cfg.keyFile, "key", keyFileDefault(e, defaultKeyFile), "PEM `file` of the stack's Ed25519 signing key ($"+envKey+" overrides the default)")
	f.StringVar(&cfg.batchID, "batch-id", "", "batch `id` (1-64 of A-Z a-z 0-9 . _ -); default: from the file's name, size and modification time")
	f.StringVar(&cfg.encoding, "encoding", encodingAuto, "`encoding` of a CSV file: auto, utf-8 or gb18030 (also for GBK)")
	f.StringVar(&cfg.sheet, "sheet", "", "`name` of the sheet of a workbook to read (default: the first)")
	if k.service == registryService {
		f.StringVar(&cfg.enterprise, "enterprise", "", "call as the enterprise with this credit `code` instead of as a bureau")
	}
	cfg.tls.register(cmd, e)
	return cmd
}

// runImport imports cfg.file as records of kind k. The progress bar and
// notes go to progress, the summary to out.
func runImport[R any](ctx context.Context, k *importKind[R], cfg importConfig, out, progress io.Writer) error {
	cfg, err := withBatchID(cfg)
	if err != nil {
		return err
	}
	bf, total, err := prepareFile(k, cfg, progress)
	if err != nil {
		return err
	}
	caller := authn.Principal{Subject: "socmgmt-import", Role: authn.RoleBureau}
	if cfg.enterprise != "" {
		caller = authn.Principal{Subject: "socmgmt-import", Role: authn.RoleEnterprise, Enterprise: cfg.enterprise}
	}
	_, token, err := signedToken(cfg.keyFile, caller, importTokenTTL)
	if err != nil {
		return err
	}
	conn, err := dialRequired(ctx, k.service.name, cfg.addr, cfg.tls, authn.BearerCredentials(token), cfg.reachTimeout)
	if err != nil {
		return err
	}
	defer conn.Close()

	rejected, err := newRejectedRows(rejectedFileName(cfg.file), bf.header)
	if err != nil {
		return err
	}
	im := &importer[R]{
		kind:     k,
		cfg:      cfg,
		file:     bf.bureauFile,
		total:    total,
		conn:     conn,
		rejected: rejected,
		bar:      newImportBar(progress, cfg.file, total),
	}
	start := time.Now()
	runErr := im.run(ctx)
	_ = im.bar.Exit()
	fmt.Fprintln(progress)
	closeErr := rejected.close()
	im.writeSummary(out, time.Since(start))
	if err := errors.Join(runErr, closeErr); err != nil {
		return err
	}
	if n := im.localRejected + im.serverRejected; n > 0 {
		return fmt.Errorf("%w: %d of %d rows, listed in %s", errRowsRejected, n, im.rows, rejected.path)
	}
	return nil
}

// scannedFile is a bureau file read once through: how to read it again,
// and its header row as given.
type scannedFile struct {
	bureauFile
	header []string
}

// prepareFile works out how to read cfg.file and reads it through once,
// so that a wrong file fails before anything is dialled, and returns the
// number of records for the progress bar. It notes on progress how the
// file is read and which columns are not imported.
func prepareFile[R any](k *importKind[R], cfg importConfig, progress io.Writer) (scannedFile, int64, error) {
	enc, err := parseEncoding(cfg.encoding)
	if err != nil {
		return scannedFile{}, 0, err
	}
	bf, err := openBureauFile(cfg.file, k.columns, sourceOptions{encoding: enc, sheet: cfg.sheet})
	if err != nil {
		return scannedFile{}, 0, err
	}
	total, lay, err := bf.scan()
	if err != nil {
		return scannedFile{}, 0, err
	}
	switch {
	case bf.kind == fileXLSX:
		sheet := "the first sheet"
		if cfg.sheet != "" {
			sheet = "sheet " + strconv.Quote(cfg.sheet)
		}
		fmt.Fprintf(progress, "reading %s: %s of an Excel workbook, %d records\n", filepath.Base(cfg.file), sheet, total)
	case bf.opts.detected:
		fmt.Fprintf(progress, "reading %s: CSV in %s (detected; --encoding to override), %d records\n", filepath.Base(cfg.file), bf.opts.encoding, total)
	default:
		fmt.Fprintf(progress, "reading %s: CSV in %s, %d records\n", filepath.Base(cfg.file), bf.opts.encoding, total)
	}
	if len(lay.ignored) > 0 {
		fmt.Fprintf(progress, "not imported: the columns %s\n", strings.Join(lay.ignored, ", "))
	}
	return scannedFile{bureauFile: bf, header: lay.header}, total, nil
}

// withBatchID returns cfg with its batch id checked, or derived from the
// file when none is given.
func withBatchID(cfg importConfig) (importConfig, error) {
	fi, err := os.Stat(cfg.file)
	if err != nil {
		return cfg, fmt.Errorf("import file: %w", err)
	}
	if fi.IsDir() {
		return cfg, fmt.Errorf("import file %s is a directory", cfg.file)
	}
	if cfg.batchID == "" {
		cfg.batchID = defaultBatchID(cfg.file, fi.Size(), fi.ModTime())
	} else if err := checkBatchID(cfg.batchID); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// newImportBar is the progress bar of importing total records of file.
func newImportBar(progress io.Writer, file string, total int64) *progressbar.ProgressBar {
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(progress),
		progressbar.OptionSetDescription("importing "+filepath.Base(file)),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("records"),
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
		b.WriteString("import")
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

// writeSummary prints what the import did; never an ID number.
func (im *importer[R]) writeSummary(w io.Writer, elapsed time.Duration) {
	fmt.Fprintf(w, "Imported %s as batch %s into %s in %v:\n", im.cfg.file, im.cfg.batchID, im.cfg.addr, elapsed.Round(100*time.Millisecond))
	line := func(label string, format string, args ...any) {
		fmt.Fprintf(w, "  %-26s"+format+"\n", append([]any{label}, args...)...)
	}
	line("records read", "%d of %d", im.rows, im.total)
	line("durable (acknowledged)", "through record %d", im.acked)
	if s := im.last; s != nil {
		note := ""
		if im.attempts > 1 {
			// Each connection reports its own counts; the earlier ones
			// broke before their summaries.
			note = fmt.Sprintf(" (in the last of %d connections, which sent %d records)", im.attempts, s.received)
		}
		line("new "+im.kind.name, "%d%s", s.accepted, note)
		line("duplicates (unchanged)", "%d", s.duplicates)
		line(im.kind.changedLabel(), "%d", s.corrections)
	}
	line("rejected by the service", "%d", im.serverRejected)
	line("rejected before sending", "%d", im.localRejected)
	if im.localRejected+im.serverRejected > 0 {
		fmt.Fprintf(w, "  rejected rows are listed in %s\n", im.rejected.path)
	}
}
