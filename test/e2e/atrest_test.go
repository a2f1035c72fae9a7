package e2e

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// TestAuditChainAndDataKeys runs the operator's side of issue 11's
// at-rest protections against the real registry: a backup taken while it
// serves holds no ID or phone number in plain text; socmgmt audit verify
// finds its audit chain and checkpoints sound, and names the entry whose
// byte a copy had flipped; socmgmt rotate-data-key re-encrypts the live
// registry under a new key while it goes on answering.
func TestAuditChainAndDataKeys(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)
	var r retiree
	api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
		"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "phone": phone1,
	}}, http.StatusOK, &r)
	for range 5 {
		api.send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: tk.clerkA}, http.StatusOK, nil)
	}
	keys := filepath.Join(s.dir, "keys")
	auditKey := filepath.Join(keys, "audit-registry.key")

	backup := filepath.Join(s.dir, "backups", "registry.db")
	if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	s.socmgmt(t, "backup", "--service", "registry", "--addr", s.registryAdmin, "--key", s.signKey, "--out", backup)
	must(t, "the backup holds no ID or phone number", func(t *testing.T) {
		data, err := os.ReadFile(backup)
		if err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{idNumber1, idNumber1[:17], phone1} {
			if bytes.Contains(data, []byte(secret)) {
				t.Errorf("the backup holds %q in plain text", secret)
			}
		}
	})

	must(t, "audit verify", func(t *testing.T) {
		out := s.socmgmt(t, "audit", "verify", "--service", "registry", "--file", backup, "--audit-key", auditKey)
		if !strings.Contains(out, "registry audit log verifies: ") || strings.Contains(out, " 0 checkpoints") {
			t.Errorf("socmgmt audit verify printed %q, want a log with checkpoints", out)
		}
		out = s.socmgmt(t, "audit", "verify", "--service", "registry", "--addr", s.registryAdmin, "--key", s.signKey, "--audit-key", auditKey)
		if !strings.Contains(out, "registry audit log verifies: ") {
			t.Errorf("socmgmt audit verify of a fresh backup printed %q", out)
		}
	})

	must(t, "audit verify names a flipped entry", func(t *testing.T) {
		flipped := filepath.Join(s.dir, "backups", "flipped.db")
		flipAuditEntry(t, backup, flipped, 2)
		msg := s.socmgmtFails(t, "audit", "verify", "--service", "registry", "--file", flipped, "--audit-key", auditKey)
		if !strings.Contains(msg, "entry 2 does not verify") {
			t.Errorf("socmgmt audit verify of a damaged copy said %q, want entry 2 named", msg)
		}
	})

	must(t, "rotate-data-key while serving", func(t *testing.T) {
		out := s.socmgmt(t, "rotate-data-key", "--service", "registry", "--addr", s.registryAdmin, "--key", s.signKey,
			"--add-key", filepath.Join(keys, "data.key"))
		if !strings.Contains(out, "added data key 2") || !strings.Contains(out, "re-encrypted under data key 2") {
			t.Errorf("socmgmt rotate-data-key printed %q", out)
		}
		var got retiree
		api.send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: tk.clerkA}, http.StatusOK, &got)
		if got.IDNumber != idNumber1 || got.Phone != phone1 {
			t.Errorf("after the rotation, GetRetiree answers %+v", got)
		}
	})
}

// flipAuditEntry copies the bbolt file src to dst and flips a byte of
// audit entry seq in the copy, past its chain hash.
func flipAuditEntry(t *testing.T, src, dst string, seq uint64) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(dst, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		k := boltstore.AppendU64([]byte{0x01}, seq)
		v := bytes.Clone(b.Get(k))
		v[len(v)-2] ^= 0x01
		return b.Put(k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// socmgmtFails runs bin/socmgmt with args, wants it to fail, and returns
// what it wrote to stderr.
func (s *stack) socmgmtFails(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "socmgmt"), args...)
	cmd.Env = programEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("socmgmt %s succeeded, want a failure", strings.Join(args, " "))
	}
	return stderr.String()
}
