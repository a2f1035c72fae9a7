package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDevKeys: dev-keys writes every file deploy/compose.yaml mounts,
// readable by no one but its owner, with certificates that a peer in the
// compose network accepts under the program's name; a second run keeps
// them all.
func TestDevKeys(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "secrets")
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"dev-keys", dir}, &bytes.Buffer{}, &stderr, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	want := []string{devSigningKey, devIDKey, devDataKey, "tls/ca.crt", "tls/ca.key"}
	for _, s := range devAudited {
		want = append(want, devAuditKey(s))
	}
	for _, n := range devCertNames {
		want = append(want, "tls/"+n+".crt", "tls/"+n+".key")
	}
	for _, rel := range want {
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			continue
		}
		if !strings.HasSuffix(rel, ".crt") && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", rel, fi.Mode().Perm())
		}
	}
	if got := strings.Count(stderr.String(), "created "); got != len(want) {
		t.Errorf("reported %d files created, want %d:\n%s", got, len(want), stderr.String())
	}
	checkDevCert(t, dir, "registry")

	stderr.Reset()
	if err := run(context.Background(), []string{"dev-keys", dir}, &bytes.Buffer{}, &stderr, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if stderr.Len() != 0 {
		t.Errorf("a second run created files:\n%s", stderr.String())
	}
}

// checkDevCert fails unless name's certificate verifies, for the host
// name, against the set's CA.
func checkDevCert(t *testing.T, dir, name string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "tls", name+".crt"), filepath.Join(dir, "tls", name+".key"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(filepath.Join(dir, "tls", "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots}); err != nil {
		t.Errorf("%s's certificate does not verify for host %s: %v", name, name, err)
	}
}
