package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/adminhttp"
	"github.com/socmgmt/socmgmt/internal/adminhttp/adminhttptest"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/devca"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// TestMain lets the test binary stand in for socmgmt when backup runs its
// verify-backup child.
func TestMain(m *testing.M) {
	const asMain = "SOCMGMT_TEST_AS_MAIN=1"
	if os.Getenv("SOCMGMT_TEST_AS_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	childEnv = []string{asMain}
	os.Exit(m.Run())
}

// backupServer serves backupAdmin on a plain HTTP admin port and returns
// its address.
func backupServer(t *testing.T, pub ed25519.PublicKey, n int, serve http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(backupAdmin(t, pub, n, serve))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// backupAdmin is the handler of an admin port as the services build it,
// serving /debug/backup of a database holding one bucket of n records
// and verifying tokens with pub; serve, when not nil, replaces the backup
// handler.
func backupAdmin(t *testing.T, pub ed25519.PublicKey, n int, serve http.Handler) http.Handler {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "registry.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("retirees"))
		if err != nil {
			return err
		}
		if _, err := tx.CreateBucket([]byte("meta")); err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(boltstore.U64(uint64(i)), fmt.Appendf(nil, "retiree %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if serve == nil {
		serve = boltstore.BackupHandler(db, zaptest.NewLogger(t))
	}
	return adminhttp.NewHandler(adminhttp.Options{
		Admin:    map[string]http.Handler{"/debug/backup": serve},
		Verifier: authn.NewVerifier(pub),
	})
}

// TestBackupCommand: the backup lands at --out only once it verifies, and
// a refused or broken one leaves nothing there, not even a temporary
// file.
func TestBackupCommand(t *testing.T) {
	t.Parallel()
	keyFile, pub := newKeyFile(t)
	priv, err := authn.LoadPrivateKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	tokenFile := func(p authn.Principal) string {
		tok, err := authn.NewSigner(priv).Sign(p, time.Minute, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "token")
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	good := backupServer(t, pub, 5000, nil)
	garbage := backupServer(t, pub, 1, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("not a database "), 2000))
	}))
	flipped := backupServer(t, pub, 1, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(corruptCopy(t, 5000))
	}))
	cut := backupServer(t, pub, 1, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "1048576")
		_, _ = w.Write(make([]byte, 4096))
	}))

	tests := []struct {
		name    string
		args    []string
		wantErr string // "" means success
	}{
		{name: "minted admin token", args: []string{"--service", "registry", "--addr", good, "--key", keyFile}},
		{name: "admin token file", args: []string{"--service", "registry", "--addr", good, "--token-file", tokenFile(authn.Principal{Subject: "ops", Role: authn.RoleAdmin})}},
		{
			name:    "clerk token refused",
			args:    []string{"--service", "registry", "--addr", good, "--token-file", tokenFile(authn.Principal{Subject: "c", Role: authn.RoleClerk, Communities: []string{"210102001001"}})},
			wantErr: "refused (HTTP 403",
		},
		{
			name:    "bureau token refused",
			args:    []string{"--service", "registry", "--addr", good, "--token-file", tokenFile(authn.Principal{Subject: "b", Role: authn.RoleBureau})},
			wantErr: "refused (HTTP 403",
		},
		{name: "not a database", args: []string{"--service", "registry", "--addr", garbage, "--key", keyFile}, wantErr: "the backup does not verify"},
		{name: "a page overwritten", args: []string{"--service", "registry", "--addr", flipped, "--key", keyFile}, wantErr: "the backup does not verify"},
		{name: "download cut short", args: []string{"--service", "registry", "--addr", cut, "--key", keyFile}, wantErr: "download cut short"},
		{name: "unknown service", args: []string{"--service", "gateway", "--key", keyFile}, wantErr: `--service "gateway": want one of activity, casework, handover, pension, registry`},
		{name: "no service", args: []string{"--key", keyFile}, wantErr: "--service is required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "registry.db")
			var stdout, stderr bytes.Buffer
			args := append([]string{"backup", "--out", out}, tc.args...)
			err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("socmgmt backup = %v, want an error containing %q", err, tc.wantErr)
				}
				if entries, _ := os.ReadDir(dir); len(entries) != 0 {
					t.Errorf("a failed backup left %v behind", entries)
				}
				return
			}
			if err != nil {
				t.Fatalf("socmgmt backup: %v", err)
			}
			if !strings.Contains(stdout.String(), "backup of registry written to "+out) || !strings.Contains(stdout.String(), "2 buckets checked") {
				t.Errorf("output %q, want the file, its size and the buckets checked", stdout.String())
			}
			checkCopy(t, out, 5000)
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("directory holds %v, want the backup only", entries)
			}
		})
	}
}

// TestBackupOverTLS: against an admin port served over TLS (--admin-tls)
// to a caller on another machine, as a backup job in its own pod is,
// socmgmt backup gets its copy with --tls-ca, --tls-cert and --tls-key,
// and is refused without the client certificate or over plain HTTP.
func TestBackupOverTLS(t *testing.T) {
	t.Parallel()
	keyFile, pub := newKeyFile(t)
	d, _, err := devca.Ensure(filepath.Join(t.TempDir(), "tls"), "registry", "backup")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(adminhttptest.FromAnotherMachine(backupAdmin(t, pub, 5000, nil)))
	if srv.TLS, err = (tlsfiles.Server{CertFile: d.Cert("registry"), KeyFile: d.Key("registry"), ClientCAFile: d.CA()}).AdminConfig([]string{"backup"}); err != nil {
		t.Fatal(err)
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "https://")
	base := []string{"--service", "registry", "--addr", addr, "--key", keyFile}

	tests := []struct {
		name    string
		args    []string
		wantErr string // "" means success
	}{
		{name: "client certificate", args: []string{"--tls-ca", d.CA(), "--tls-cert", d.Cert("backup"), "--tls-key", d.Key("backup")}},
		{name: "no client certificate", args: []string{"--tls-ca", d.CA()}, wantErr: "refused (HTTP 403"},
		{name: "plain HTTP", wantErr: "HTTP 400"},
		{name: "certificate without its key", args: []string{"--tls-ca", d.CA(), "--tls-cert", d.Cert("backup")}, wantErr: "--tls-cert and --tls-key must be given together"},
		{name: "certificate without a CA", args: []string{"--tls-cert", d.Cert("backup"), "--tls-key", d.Key("backup")}, wantErr: "--tls-cert needs --tls-ca"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "registry.db")
			var stdout, stderr bytes.Buffer
			args := append(append([]string{"backup", "--out", out}, base...), tc.args...)
			err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("socmgmt backup = %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("socmgmt backup: %v", err)
			}
			checkCopy(t, out, 5000)
		})
	}
}

// TestBackupOutDirKeeps: with --out-dir and --keep a scheduled job names
// its copies by time and keeps only the newest of its service, leaving
// other services' copies and other files alone.
func TestBackupOutDirKeeps(t *testing.T) {
	t.Parallel()
	keyFile, pub := newKeyFile(t)
	addr := backupServer(t, pub, 100, nil)
	dir := t.TempDir()
	old := []string{"registry-20260101T000000Z.db", "registry-20260102T000000Z.db", "registry-20260103T000000Z.db"}
	others := []string{"pension-20260101T000000Z.db", "registry-notes.txt", "registry-latest.db"}
	for _, name := range append(append([]string{}, old...), others...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr bytes.Buffer
	args := []string{"backup", "--service", "registry", "--addr", addr, "--key", keyFile, "--out-dir", dir, "--keep", "2"}
	if err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" }); err != nil {
		t.Fatalf("socmgmt backup: %v", err)
	}
	var got []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		got = append(got, e.Name())
	}
	// The new copy and the newest old one remain; its name is the time.
	if len(got) != 5 || !slices.Contains(got, old[2]) || slices.Contains(got, old[0]) || slices.Contains(got, old[1]) {
		t.Fatalf("directory holds %v, want %s, the new copy and %v", got, old[2], others)
	}
	for _, name := range others {
		if !slices.Contains(got, name) {
			t.Errorf("%s was removed; only registry's dated copies may be", name)
		}
	}
	newest := got[slices.IndexFunc(got, func(n string) bool { return strings.HasPrefix(n, "registry-2") && n != old[2] })]
	checkCopy(t, filepath.Join(dir, newest), 100)

	for _, tc := range []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--out", filepath.Join(dir, "x.db"), "--keep", "2"}, "--keep needs --out-dir"},
		{[]string{"--out-dir", dir, "--keep", "-1"}, "--keep must not be negative"},
		{[]string{"--out-dir", dir, "--out", filepath.Join(dir, "x.db")}, "none of the others can be"},
		{nil, "--out FILE or --out-dir DIR is required"},
	} {
		args := append([]string{"backup", "--service", "registry", "--addr", addr, "--key", keyFile}, tc.args...)
		err := run(context.Background(), args, &stdout, &stderr, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("socmgmt %v = %v, want an error containing %q", tc.args, err, tc.wantErr)
		}
	}
}

// checkCopy opens the backup at path and checks it holds n records, with
// mode 0600.
func checkCopy(t *testing.T, path string, n int) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600", fi.Mode().Perm())
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		if got := tx.Bucket([]byte("retirees")).Stats().KeyN; got != n {
			t.Errorf("backup holds %d records, want %d", got, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// corruptCopy returns a database of n records whose meta pages are sound
// but whose other pages after the first few are overwritten: only a
// check of every page finds it.
func corruptCopy(t *testing.T, n int) []byte {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "x.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var buf bytes.Buffer
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("retirees"))
		if err != nil {
			return err
		}
		for i := range n {
			if err := b.Put(boltstore.U64(uint64(i)), fmt.Appendf(nil, "retiree %d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(&buf); return err })
	}
	if err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	const pageSize = 4096
	for i := 4 * pageSize; i < len(data); i += pageSize {
		copy(data[i:i+16], bytes.Repeat([]byte{0xee}, 16)) // every page's header
	}
	return data
}

// TestVerifyBackupCommand: verify-backup passes a sound file and fails a
// broken one, and the backup's check in a child process survives a file
// that makes bbolt stop its process.
func TestVerifyBackupCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.db")
	if err := os.WriteFile(broken, corruptCopy(t, 5000), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, bytes.Repeat([]byte("x"), 1<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	sound := filepath.Join(dir, "sound.db")
	db, err := boltstore.Open(sound, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := boltstore.CreateBuckets(db, []byte("a"), []byte("b"), []byte("c")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	var stdout bytes.Buffer
	if err := run(context.Background(), []string{"verify-backup", sound}, &stdout, &stdout, func(string) string { return "" }); err != nil {
		t.Fatalf("verify-backup of a sound file: %v", err)
	}
	if want := sound + ": 3" + verifiedSuffix + "\n"; stdout.String() != want {
		t.Errorf("verify-backup printed %q, want %q", stdout.String(), want)
	}
	if err := run(context.Background(), []string{"verify-backup", garbage}, &stdout, &stdout, func(string) string { return "" }); err == nil {
		t.Error("verify-backup passed a file that is not a database")
	}
	for _, path := range []string{sound, garbage, broken} {
		n, err := verifyInChild(context.Background(), path)
		if ok := path == sound; (err == nil) != ok || (ok && n != 3) {
			t.Errorf("verifyInChild(%s) = %d, %v", filepath.Base(path), n, err)
		}
		if err != nil {
			t.Logf("verifyInChild(%s): %v", filepath.Base(path), err)
		}
		if err != nil && !strings.Contains(err.Error(), "the backup does not verify") {
			t.Errorf("verifyInChild(%s) = %v, want it to say the backup does not verify", filepath.Base(path), err)
		}
	}
}
