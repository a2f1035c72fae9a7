package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
)

// auditedAdminAddrs are the services that keep an audit log, by their
// make-run admin addresses.
var auditedAdminAddrs = map[string]string{
	"registry": defaultAdminAddrs["registry"],
	"pension":  defaultAdminAddrs["pension"],
	"activity": defaultAdminAddrs["activity"],
	"casework": defaultAdminAddrs["casework"],
}

// auditVerifySubject names audit verify's caller in the service's log.
const auditVerifySubject = "socmgmt-audit-verify"

// errAuditInvalid is wrapped by the error of a log that does not verify.
var errAuditInvalid = errors.New("the audit log does not verify")

func newAuditCmd(e env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Check a service's audit log",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newAuditVerifyCmd(e))
	return cmd
}

// auditVerifyOptions are the flags of `socmgmt audit verify`.
type auditVerifyOptions struct {
	adminTarget
	// file is a backup to verify; empty takes a fresh one.
	file string
	// keys are the files of the audit public keys.
	keys []string
}

func newAuditVerifyCmd(e env) *cobra.Command {
	o := auditVerifyOptions{}
	cmd := &cobra.Command{
		Use:   "verify --service NAME [--file BACKUP] [--audit-key FILE]...",
		Short: "Walk a service's audit log and its signed checkpoints",
		Long: `Verify that a service's audit log has not been edited: walk the hash chain
of its entries, and check each signed checkpoint with the service's audit
public key. The first entry or checkpoint that does not verify is named, and
the command fails.

The log is read from a backup: --file names one (checked page by page
first, as socmgmt backup does), otherwise a fresh one is taken from the
service's admin port as socmgmt backup would (with --addr, --key or
--token-file) and removed afterwards. Nothing is changed.

--audit-key is the public half of the service's --audit-key (a PEM public
key, or the private key file itself, whose public half is taken); give it
more than once while checkpoints signed by an older key remain. Default:
make run's var/dev-audit-SERVICE.key.

A checkpoint proves the entries up to it as the service wrote them, to
whoever holds the public key. Entries after the last checkpoint are only
chained: someone able to write the file could have rewritten them. See
deploy/README.md.`,
		Example: `  socmgmt audit verify --service registry
  socmgmt audit verify --service pension --file /srv/backup/pension-2026-05-01.db --audit-key /etc/socmgmt/pension-audit.pub`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAuditVerify(cmd.Context(), o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.flags(f, e, "verify", auditedAdminAddrs)
	f.StringVar(&o.file, "file", "", "backup `file` to verify (default: take a fresh backup from the admin port)")
	f.StringArrayVar(&o.keys, "audit-key", nil, "PEM `file` of the service's audit public key, or its private key (default: make run's var/dev-audit-SERVICE.key); repeat for older keys")
	return cmd
}

// runAuditVerify verifies the log o names and says what it found on out.
func runAuditVerify(ctx context.Context, o auditVerifyOptions, out io.Writer) error {
	addr, err := o.address(auditedAdminAddrs)
	if err != nil {
		return err
	}
	keys, err := o.publicKeys()
	if err != nil {
		return err
	}
	path := o.file
	if path == "" {
		tmp, err := o.freshBackup(ctx, addr)
		if err != nil {
			return err
		}
		defer os.RemoveAll(filepath.Dir(tmp)) //nolint:errcheck // a temporary directory; a leftover is only a name
		path = tmp
	} else if _, err := verifyInChild(ctx, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	r, err := verifyAuditFile(path, o.service, keys)
	if err != nil {
		return fmt.Errorf("%s audit log: %w", o.service, err)
	}
	fmt.Fprintln(out, describeReport(o.service, r))
	return nil
}

// publicKeys loads the --audit-key files, or make run's key of the
// service.
func (o auditVerifyOptions) publicKeys() ([]ed25519.PublicKey, error) {
	files := o.keys
	if len(files) == 0 {
		files = []string{filepath.Join("var", "dev-audit-"+o.service+".key")}
	}
	keys := make([]ed25519.PublicKey, 0, len(files))
	for _, f := range files {
		k, err := authn.LoadPublicKey(f)
		if err != nil {
			return nil, fmt.Errorf("--audit-key: %w", err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// freshBackup takes a backup of the service at addr into a new temporary
// directory, verified page by page, and returns its path.
func (o auditVerifyOptions) freshBackup(ctx context.Context, addr string) (string, error) {
	token, err := o.token(auditVerifySubject)
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "socmgmt-audit-")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, o.service+".db")
	body, err := fetchBackup(ctx, o.adminTarget, addr, token)
	if err == nil {
		defer body.Close()
		_, err = installBackup(ctx, body, path)
	}
	if err != nil {
		return "", errors.Join(fmt.Errorf("backup of %s at %s: %w", o.service, addr, err), os.RemoveAll(dir))
	}
	return path, nil
}

// verifyAuditFile opens the bbolt file at path read-only and verifies the
// audit log of service in it.
func verifyAuditFile(path, service string, keys []ed25519.PublicKey) (r audit.Report, err error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return r, err
	}
	defer func() { err = errors.Join(err, db.Close()) }()
	err = db.View(func(tx *bolt.Tx) error {
		var verr error
		r, verr = audit.Verify(tx, service, keys)
		return verr
	})
	var bad *audit.VerifyError
	if errors.As(err, &bad) {
		return r, fmt.Errorf("%w: %w", errAuditInvalid, err)
	}
	return r, err
}

// describeReport says what a verified log holds, for the operator.
func describeReport(service string, r audit.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s audit log verifies: %d entries, %d checkpoints", service, r.Entries, r.Checkpoints)
	if r.Checkpoints > 0 {
		fmt.Fprintf(&b, "; the last signs entry %d (%s)", r.Signed, r.SignedAt.UTC().Format(time.RFC3339))
	}
	switch {
	case r.Entries == 0:
	case r.Unsigned() == r.Entries:
		b.WriteString("; no entry is signed yet: the log proves nothing but its own consistency")
	case r.Unsigned() > 0:
		fmt.Fprintf(&b, "; %d entries after it are chained but not yet signed", r.Unsigned())
	}
	return b.String()
}
