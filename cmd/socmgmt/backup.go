package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"
)

// defaultAdminAddrs are the services' admin ports as `make run` lays them
// out (scripts/devrun).
var defaultAdminAddrs = map[string]string{
	"registry": "127.0.0.1:9201",
	"handover": "127.0.0.1:9202",
	"pension":  "127.0.0.1:9203",
	"activity": "127.0.0.1:9204",
	"casework": "127.0.0.1:9205",
}

const (
	// backupSubject names the backup's caller in the service's log.
	backupSubject = "socmgmt-backup"
	// backupHeaderTimeout bounds the wait for the service to start
	// answering; the download itself is bounded by nothing but ctx, since
	// a database may be large.
	backupHeaderTimeout = 30 * time.Second
	// maxCheckErrors bounds the problems a failed check lists.
	maxCheckErrors = 5
)

// errBackupInvalid is wrapped by the error of a backup that does not
// verify; nothing is left at --out then.
var errBackupInvalid = errors.New("the backup does not verify")

// backupOptions are the flags of `socmgmt backup`.
type backupOptions struct {
	adminTarget
	// out is the file the verified copy is renamed to.
	out string
	// outDir, instead of out, is the directory the copy goes to, named
	// <service>-<UTC time>.db, for a job that cannot compute a name.
	outDir string
	// keep, with outDir, is how many of the service's copies in outDir
	// are kept: after a verified copy the oldest beyond it are removed.
	keep int
}

// backupTimeLayout names a copy in --out-dir; its names sort as its times.
const backupTimeLayout = "20060102T150405Z"

func newBackupCmd(e env) *cobra.Command {
	o := backupOptions{}
	cmd := &cobra.Command{
		Use:   "backup --service NAME --out FILE",
		Short: "Copy a running service's database, verified, to a file",
		Long: `Fetch a consistent copy of a running service's bbolt database from its admin
port (/debug/backup), with an admin token, and write it to FILE only once it
verifies: the copy goes to a temporary file beside FILE, is opened read-only
and checked page by page (bbolt's tx.Check), synced to disk and renamed into
place. A copy that does not verify leaves no FILE. The file has mode 0600: it
holds every retiree's personal data.

Services: registry, pension, activity, handover, casework. The admin address defaults
to the service's under "make run"; --addr overrides it. The admin port
answers only callers on its own machine, so run this there; or, where the
service serves its admin port over TLS (--admin-tls, as on Kubernetes),
from anywhere with --tls-ca, --tls-cert and --tls-key: a client
certificate of the service's client CA.

The admin token is minted for five minutes with the signing key (--key,
default $` + envKey + ` or ` + defaultKeyFile + `), or read from --token-file where the
operator has only a token. See deploy/README.md for restoring.`,
		Example: `  socmgmt backup --service registry --out /srv/backup/registry-$(date +%F).db
  socmgmt backup --service pension --addr 127.0.0.1:9203 --token-file /etc/socmgmt/admin.token --out pension.db
  socmgmt backup --service registry --addr registry:9201 --tls-ca ca.crt --tls-cert backup.crt --tls-key backup.key \
    --token-file admin.token --out /backup/registry.db`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBackup(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.flags(f, e, "back up", defaultAdminAddrs)
	f.StringVar(&o.out, "out", "", "`file` to write the verified copy to (this or --out-dir required)")
	f.StringVar(&o.outDir, "out-dir", "", "`directory` to write the verified copy to as SERVICE-YYYYMMDDTHHMMSSZ.db (for a scheduled job)")
	f.IntVar(&o.keep, "keep", 0, "with --out-dir: keep only this many of the service's newest copies there, removing older ones once the new one is verified (0: keep all)")
	cmd.MarkFlagsMutuallyExclusive("out", "out-dir")
	return cmd
}

// backupResult is what a finished backup reports.
type backupResult struct {
	bytes   int64
	buckets int
	sha256  string
}

// runBackup fetches, verifies and installs the backup o describes, and
// says so on out.
func runBackup(ctx context.Context, o backupOptions, out io.Writer) error {
	addr, err := o.check()
	if err != nil {
		return err
	}
	token, err := o.token(backupSubject)
	if err != nil {
		return err
	}
	if o.outDir != "" {
		o.out = filepath.Join(o.outDir, o.service+"-"+time.Now().UTC().Format(backupTimeLayout)+".db")
	}
	body, err := fetchBackup(ctx, o.adminTarget, addr, token)
	if err != nil {
		return fmt.Errorf("backup of %s at %s: %w", o.service, addr, err)
	}
	defer body.Close()
	res, err := installBackup(ctx, body, o.out)
	if err != nil {
		return fmt.Errorf("backup of %s: %w", o.service, err)
	}
	fmt.Fprintf(out, "backup of %s written to %s: %d bytes, %d buckets checked, sha256 %s\n",
		o.service, o.out, res.bytes, res.buckets, res.sha256)
	if o.outDir == "" || o.keep == 0 {
		return nil
	}
	removed, err := pruneBackups(o.outDir, o.service, o.keep)
	for _, name := range removed {
		fmt.Fprintf(out, "removed %s (keeping the %d newest)\n", name, o.keep)
	}
	return err
}

// pruneBackups removes from dir the copies of service that --out-dir
// named, all but the keep newest, and returns the names removed. Other
// files, and other services' copies, are not touched.
func pruneBackups(dir, service string, keep int) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var copies []string // sorted by name, so oldest first
	for _, e := range entries {
		stamp, ok := strings.CutPrefix(e.Name(), service+"-")
		stamp, isDB := strings.CutSuffix(stamp, ".db")
		if !ok || !isDB || !e.Type().IsRegular() {
			continue
		}
		if _, err := time.Parse(backupTimeLayout, stamp); err == nil {
			copies = append(copies, e.Name())
		}
	}
	var removed []string
	for _, name := range copies[:max(len(copies)-keep, 0)] {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			return removed, err
		}
		removed = append(removed, name)
	}
	return removed, nil
}

// check validates the options and returns the admin address to use.
func (o backupOptions) check() (string, error) {
	addr, err := o.address(defaultAdminAddrs)
	if err != nil {
		return "", err
	}
	switch {
	case o.out == "" && o.outDir == "":
		return "", errors.New("--out FILE or --out-dir DIR is required")
	case o.keep < 0:
		return "", errors.New("--keep must not be negative")
	case o.keep > 0 && o.outDir == "":
		return "", errors.New("--keep needs --out-dir: only copies it named are pruned")
	}
	if fi, err := os.Stat(o.out); err == nil && fi.IsDir() {
		return "", fmt.Errorf("--out %s is a directory; name the file to write", o.out)
	}
	return addr, nil
}

// fetchBackup starts the download of addr's /debug/backup and returns its
// body, or why the service refused.
func fetchBackup(ctx context.Context, a adminTarget, addr, token string) (io.ReadCloser, error) {
	resp, err := a.request(ctx, http.MethodGet, addr, "/debug/backup", token, backupHeaderTimeout)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	return nil, refusal(resp)
}

// installBackup writes body to a temporary file beside out, verifies it,
// syncs it and renames it to out. On any failure the temporary file is
// removed and out is left as it was.
func installBackup(ctx context.Context, body io.Reader, out string) (res backupResult, err error) {
	dir := filepath.Dir(out)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(out)+".*.partial")
	if err != nil {
		return res, err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()           // already closed on most paths
			_ = os.Remove(tmp.Name()) // nothing at --out unless verified
		}
	}()
	h := sha256.New()
	if res.bytes, err = io.Copy(io.MultiWriter(tmp, h), body); err != nil {
		return res, fmt.Errorf("download cut short after %d bytes: %w", res.bytes, err)
	}
	if err = tmp.Sync(); err != nil {
		return res, err
	}
	if err = tmp.Close(); err != nil {
		return res, err
	}
	if res.buckets, err = verifyInChild(ctx, tmp.Name()); err != nil {
		return res, err
	}
	if err = os.Rename(tmp.Name(), out); err != nil {
		return res, err
	}
	res.sha256 = hex.EncodeToString(h.Sum(nil))
	return res, syncDir(dir)
}

// childEnv is added to the environment of the verifying child process;
// the tests set it so that their binary runs main.
var childEnv []string

// verifyInChild runs `socmgmt verify-backup path` and returns the number
// of top-level buckets it checked. A child process, because bbolt stops
// the process that reads a page it cannot make sense of (an assertion
// panics in bbolt's own goroutine, where no recover reaches): a child
// that dies so is a backup that does not verify, and this command still
// removes the copy and says why.
func verifyInChild(ctx context.Context, path string) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("cannot run the check: %w", err)
	}
	cmd := exec.CommandContext(ctx, self, "verify-backup", path) //nolint:gosec // G204: this program itself, on the file it just wrote
	cmd.Env = append(os.Environ(), childEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("%w: %s", errBackupInvalid, childReason(stderr.String()))
	}
	line := strings.TrimSpace(stdout.String())
	var buckets int
	if i := strings.LastIndex(line, ": "); i < 0 || !strings.HasSuffix(line, verifiedSuffix) {
		return 0, fmt.Errorf("%w: the check said %q", errBackupInvalid, firstLines(line, 1))
	} else if _, err := fmt.Sscanf(line[i+2:], "%d", &buckets); err != nil {
		return 0, fmt.Errorf("%w: the check said %q", errBackupInvalid, firstLines(line, 1))
	}
	return buckets, nil
}

// verifiedSuffix ends the line verify-backup prints for a sound file.
const verifiedSuffix = " buckets checked, every page sound"

// childReason is why verify-backup failed, from what it wrote to stderr:
// its error without the repeated prefixes, or the first line of bbolt's
// panic.
func childReason(stderr string) string {
	line := firstLines(stderr, 1)
	line = strings.TrimPrefix(line, "socmgmt: ")
	line = strings.TrimPrefix(line, errBackupInvalid.Error()+": ")
	if line == "" {
		return "the check stopped without saying why"
	}
	return line
}

// firstLines returns the first n lines of s that are not blank, for a
// message.
func firstLines(s string, n int) string {
	var lines []string
	for l := range strings.Lines(s) {
		if l = strings.TrimSpace(l); l == "" {
			continue
		}
		if len(lines) == n {
			lines = append(lines, "…")
			break
		}
		lines = append(lines, l)
	}
	return strings.Join(lines, " / ")
}

func newVerifyBackupCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify-backup FILE",
		Short: "Check every page of a backup file before restoring it",
		Long: `Open FILE read-only as a bbolt database and check every page of it (bbolt's
tx.Check), as socmgmt backup does before it keeps a copy; print the number
of top-level buckets checked. Run it on a backup before restoring it. The
file is not changed.`,
		Example:               `  socmgmt verify-backup /srv/backup/registry-2026-05-01.db`,
		Args:                  cobra.ExactArgs(1),
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			buckets, err := verifyBackup(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d%s\n", args[0], buckets, verifiedSuffix)
			return nil
		},
	}
}

// verifyBackup opens the file at path read-only as a bbolt database and
// checks every page of it; it returns the number of top-level buckets.
// bbolt may stop the process on a page it cannot make sense of; see
// verifyInChild.
func verifyBackup(path string) (buckets int, err error) {
	if _, err := os.Stat(path); err != nil {
		return 0, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return 0, fmt.Errorf("%w: %w", errBackupInvalid, err)
	}
	defer func() {
		if cerr := db.Close(); err == nil {
			err = cerr
		}
	}()
	err = db.View(func(tx *bolt.Tx) error {
		var problems []string
		for err := range tx.Check() {
			if len(problems) == maxCheckErrors {
				problems = append(problems, "…")
				break
			}
			problems = append(problems, err.Error())
		}
		if len(problems) > 0 {
			return fmt.Errorf("%w: %s", errBackupInvalid, strings.Join(problems, "; "))
		}
		return tx.ForEach(func([]byte, *bolt.Bucket) error { buckets++; return nil })
	})
	return buckets, err
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: the directory of the operator's --out
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
