package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// defaultAdminAddrs are the services' admin ports as `make run` lays them
// out (scripts/devrun).
var defaultAdminAddrs = map[string]string{
	"registry": "127.0.0.1:9201",
	"handover": "127.0.0.1:9202",
	"pension":  "127.0.0.1:9203",
	"activity": "127.0.0.1:9204",
}

const (
	// backupTokenTTL bounds the admin token backup mints: it is checked
	// when the download starts, however long the download takes.
	backupTokenTTL = 5 * time.Minute
	// backupSubject names the backup's caller in the service's log.
	backupSubject = "socmgmt-backup"
	// backupHeaderTimeout bounds the wait for the service to start
	// answering; the download itself is bounded by nothing but ctx, since
	// a database may be large.
	backupHeaderTimeout = 30 * time.Second
	// maxRefusalBody bounds what is read of a refusal's body.
	maxRefusalBody = 512
	// maxCheckErrors bounds the problems a failed check lists.
	maxCheckErrors = 5
)

// errBackupInvalid is wrapped by the error of a backup that does not
// verify; nothing is left at --out then.
var errBackupInvalid = errors.New("the backup does not verify")

// backupOptions are the flags of `socmgmt backup`.
type backupOptions struct {
	// service is the service whose database is copied.
	service string
	// out is the file the verified copy is renamed to.
	out string
	// addr is the service's admin host:port; its make-run one when empty.
	addr string
	// keyFile is the signing key an admin token is minted with.
	keyFile string
	// tokenFile holds an admin token to use instead of minting one.
	tokenFile string
}

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

Services: registry, pension, activity, handover. The admin address defaults
to the service's under "make run"; --addr overrides it. The admin port
answers only callers on its own machine, so run this there.

The admin token is minted for five minutes with the signing key (--key,
default $` + envKey + ` or ` + defaultKeyFile + `), or read from --token-file where the
operator has only a token. See deploy/README.md for restoring.`,
		Example: `  socmgmt backup --service registry --out /srv/backup/registry-$(date +%F).db
  socmgmt backup --service pension --addr 127.0.0.1:9203 --token-file /etc/socmgmt/admin.token --out pension.db`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBackup(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.service, "service", "", "`name` of the service to back up: registry, pension, activity or handover (required)")
	f.StringVar(&o.out, "out", "", "`file` to write the verified copy to (required)")
	f.StringVar(&o.addr, "addr", "", "the service's admin `host:port` (default: its make-run address, e.g. 127.0.0.1:9201 for registry)")
	f.StringVar(&o.keyFile, "key", keyFileDefault(e, defaultKeyFile), "PEM `file` of the stack's Ed25519 signing key, to mint an admin token ($"+envKey+" overrides the default)")
	f.StringVar(&o.tokenFile, "token-file", "", "`file` holding an admin token to use instead of minting one with --key")
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
	token, err := o.token()
	if err != nil {
		return err
	}
	body, err := fetchBackup(ctx, addr, token)
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
	return nil
}

// check validates the options and returns the admin address to use.
func (o backupOptions) check() (string, error) {
	known := slices.Sorted(func(yield func(string) bool) {
		for name := range defaultAdminAddrs {
			if !yield(name) {
				return
			}
		}
	})
	if o.service == "" {
		return "", fmt.Errorf("--service is required: one of %s", strings.Join(known, ", "))
	}
	addr, ok := defaultAdminAddrs[o.service]
	if !ok {
		return "", fmt.Errorf("--service %q: want one of %s", o.service, strings.Join(known, ", "))
	}
	if o.out == "" {
		return "", errors.New("--out FILE is required")
	}
	if fi, err := os.Stat(o.out); err == nil && fi.IsDir() {
		return "", fmt.Errorf("--out %s is a directory; name the file to write", o.out)
	}
	if o.addr != "" {
		if _, _, err := net.SplitHostPort(o.addr); err != nil {
			return "", fmt.Errorf("--addr %q: want host:port", o.addr)
		}
		addr = o.addr
	}
	return addr, nil
}

// token returns the admin token to call with: the one in --token-file, or
// one minted with --key.
func (o backupOptions) token() (string, error) {
	if o.tokenFile != "" {
		data, err := os.ReadFile(o.tokenFile)
		if err != nil {
			return "", fmt.Errorf("--token-file: %w", err)
		}
		tok := strings.TrimSpace(string(data))
		if tok == "" || strings.ContainsAny(tok, " \r\n\t") {
			return "", fmt.Errorf("--token-file %s: want one token on one line", o.tokenFile)
		}
		return tok, nil
	}
	_, tok, err := signedToken(o.keyFile, authn.Principal{Subject: backupSubject, Role: authn.RoleAdmin}, backupTokenTTL)
	return tok, err
}

// fetchBackup starts the download of addr's /debug/backup and returns its
// body, or why the service refused.
func fetchBackup(ctx context.Context, addr, token string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/debug/backup", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{Transport: &http.Transport{
		// Never through a proxy: the request carries an admin token.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: backupHeaderTimeout,
	}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w (is the service running, and is this its machine?)", err)
	}
	if resp.StatusCode == http.StatusOK {
		return resp.Body, nil
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxRefusalBody))
	why := strings.TrimSpace(string(msg))
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, fmt.Errorf("refused (HTTP %d: %s): an admin token of the service's key is needed, from the service's own machine", resp.StatusCode, why)
	}
	return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, why)
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
