package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicedb"
)

var auditSchema = boltstore.Schema{
	Meta:       boltstore.MetaBucket,
	Buckets:    [][]byte{audit.Bucket},
	Version:    1,
	Migrations: []boltstore.Migration{boltstore.RecordFirstVersion},
}

// auditedFile writes a registry file whose audit log holds n entries,
// checkpointed every 10, signed with a new audit key, whose file it
// returns with the database's.
func auditedFile(t *testing.T, n int) (dbPath, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	keyFile = filepath.Join(dir, "audit-registry.key")
	key, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	dbPath = filepath.Join(dir, "registry.db")
	b, err := servicedb.Open(dbPath, auditSchema, servicedb.Options{
		Logger: zaptest.NewLogger(t), Audit: true, DurableReads: true,
		Checkpoints: audit.Checkpoints{Service: "registry", Key: key, Every: 10},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := b.AuditReads(context.Background(), audit.Actor{Subject: "clerk-7", Role: "clerk"}, "GetRetiree", fmt.Sprintf("%016d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return dbPath, keyFile
}

// damaged copies the file at path and changes the copy's audit bucket
// with damage.
func damaged(t *testing.T, path string, damage func(b *bolt.Bucket) error) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(cp, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return damage(tx.Bucket(audit.Bucket)) }); err != nil {
		t.Fatal(err)
	}
	return cp
}

// logKey is the audit log's key of entry seq (see audit.Bucket).
func logKey(seq uint64) []byte { return boltstore.AppendU64([]byte{0x01}, seq) }

// flipIn flips a byte near the end of the value at k: inside the entry,
// past its chain hash.
func flipIn(k []byte) func(b *bolt.Bucket) error {
	return func(b *bolt.Bucket) error {
		v := bytes.Clone(b.Get(k))
		v[len(v)-3] ^= 0x01
		return b.Put(k, v)
	}
}

// TestAuditVerifyFile: a sound backup verifies and says how much is
// signed; a copy with one byte of entry 17 flipped fails at entry 17; one
// with entry 23 deleted fails at 23; one whose checkpoint signature was
// changed fails at that checkpoint; the wrong key or service fails at the
// first checkpoint.
func TestAuditVerifyFile(t *testing.T) {
	t.Parallel()
	path, keyFile := auditedFile(t, 45)
	otherKey, _ := newKeyFile(t)
	lastCheckpoint := boltstore.AppendU64([]byte{0x03}, 45)
	for _, tc := range []struct {
		name    string
		file    string
		key     string // the audit key file given; keyFile when empty
		args    []string
		want    string
		wantErr string
	}{
		{name: "sound", file: path, want: "registry audit log verifies: 45 entries, 5 checkpoints; the last signs entry 45"},
		{name: "a byte of entry 17 flipped", file: damaged(t, path, flipIn(logKey(17))), wantErr: "entry 17 does not verify"},
		{name: "entry 23 deleted", file: damaged(t, path, func(b *bolt.Bucket) error { return b.Delete(logKey(23)) }), wantErr: "entry 23 does not verify: it is missing"},
		{name: "a checkpoint's signature changed", file: damaged(t, path, flipIn(lastCheckpoint)), wantErr: "the checkpoint at entry 45 does not verify"},
		{name: "another key", file: path, key: otherKey, wantErr: "the checkpoint at entry 10 does not verify: it is signed by key"},
		{name: "another service", file: path, args: []string{"--service", "pension"}, wantErr: "the checkpoint at entry 10 does not verify"},
		{name: "no such file", file: filepath.Join(t.TempDir(), "none.db"), wantErr: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key := tc.key
			if key == "" {
				key = keyFile
			}
			args := append([]string{"audit", "verify", "--service", "registry", "--file", tc.file, "--audit-key", key}, tc.args...)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("audit verify = %v (%q), want an error containing %q", err, stdout.String(), tc.wantErr)
				}
				return
			}
			if err != nil || !strings.Contains(stdout.String(), tc.want) {
				t.Fatalf("audit verify = %v, %q; want %q", err, stdout.String(), tc.want)
			}
		})
	}
}

// TestAuditVerifyFromAdminPort takes the backup from a service's admin
// port, with a minted admin token, verifies it, and leaves nothing
// behind; a clerk's token is refused.
func TestAuditVerifyFromAdminPort(t *testing.T) {
	t.Parallel()
	path, auditKey := auditedFile(t, 12)
	keyFile, pub := newKeyFile(t)
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	srv := httptest.NewServer(adminhttp.NewHandler(adminhttp.Options{
		Admin:    map[string]http.Handler{"/debug/backup": boltstore.BackupHandler(db, zaptest.NewLogger(t))},
		Verifier: authn.NewVerifier(pub),
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	var stdout bytes.Buffer
	err = run(context.Background(), []string{"audit", "verify", "--service", "registry", "--addr", addr, "--key", keyFile, "--audit-key", auditKey},
		&stdout, &stdout, func(string) string { return "" })
	if err != nil || !strings.Contains(stdout.String(), "12 entries, 2 checkpoints") {
		t.Fatalf("audit verify = %v, %q", err, stdout.String())
	}

	clerk := filepath.Join(t.TempDir(), "clerk.token")
	priv, err := authn.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: "c", Role: authn.RoleClerk, Communities: []string{"210102001001"}}, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(clerk, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	err = run(context.Background(), []string{"audit", "verify", "--service", "registry", "--addr", addr, "--token-file", clerk, "--audit-key", auditKey},
		&stdout, &stdout, func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), "refused (HTTP 403") {
		t.Errorf("audit verify with a clerk's token = %v, want refused", err)
	}
}

// TestAuditVerifyRefusesBadFlags: each mistake is named, and nothing is
// read.
func TestAuditVerifyRefusesBadFlags(t *testing.T) {
	t.Parallel()
	notAKey := filepath.Join(t.TempDir(), "x.key")
	if err := os.WriteFile(notAKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--file", "x.db"}, "--service is required"},
		{[]string{"--service", "handover", "--file", "x.db"}, `--service "handover": want one of activity, casework, pension, registry`},
		{[]string{"--service", "registry", "--file", "x.db", "--audit-key", notAKey}, "--audit-key: authn: " + notAKey},
	} {
		err := run(context.Background(), append([]string{"audit", "verify"}, tc.args...), &bytes.Buffer{}, &bytes.Buffer{}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("audit verify %q = %v, want %q", tc.args, err, tc.want)
		}
	}
}
