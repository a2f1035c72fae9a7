package devca

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestEnsureCreatesOnce: the first call writes the CA and a certificate
// per name with keys only the owner reads; the second finds them and
// writes nothing, so that a restart keeps the certificates clients trust.
func TestEnsureCreatesOnce(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "tls")
	d, written, err := Ensure(dir, "registry", "cli")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{d.CA(), d.Key("ca"), d.Cert("registry"), d.Key("registry"), d.Cert("cli"), d.Key("cli")}
	if !slices.Equal(written, want) {
		t.Errorf("written %q, want %q", written, want)
	}
	checkMode(t, dir, 0o700)
	for _, key := range []string{d.Key("ca"), d.Key("registry"), d.Key("cli")} {
		checkMode(t, key, 0o600)
	}
	before, err := os.ReadFile(d.Cert("registry"))
	if err != nil {
		t.Fatal(err)
	}

	_, written, err = Ensure(dir, "registry", "cli")
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != 0 {
		t.Errorf("second Ensure wrote %q, want nothing", written)
	}
	after, err := os.ReadFile(d.Cert("registry"))
	if err != nil {
		t.Fatal(err)
	}
	if string(before) != string(after) {
		t.Error("second Ensure replaced a good certificate")
	}
}

// TestCertificateServesAndCalls: a program's certificate verifies under
// the CA for the loopback names, as a server and as a client, and its key
// file is its key.
func TestCertificateServesAndCalls(t *testing.T) {
	t.Parallel()
	d, _, err := Ensure(t.TempDir(), "pension")
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(d.Cert("pension"), d.Key("pension"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(d.CA())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.crt holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "localhost", "::1", "pension"} {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("verify for %s, usage %v: %v", host, usage, err)
			}
		}
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: "example.org", Roots: roots}); err == nil {
		t.Error("the certificate verifies for example.org; want only the loopback names and its program")
	}
}

// TestEnsureReissues: a certificate that the CA in the directory did not
// sign (the CA was made again) or that is about to end is issued again.
func TestEnsureReissues(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d, _, err := Ensure(dir, "activity")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{d.CA(), d.Key("ca")} {
		if err := os.Remove(f); err != nil {
			t.Fatal(err)
		}
	}
	_, written, err := Ensure(dir, "activity")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(written, d.Cert("activity")) {
		t.Errorf("after a new CA, written %q, want activity's certificate again", written)
	}

	ca, err := loadPair(d.CA(), d.Key("ca"))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.issue(ca, "activity", renewBefore/2); err != nil {
		t.Fatal(err)
	}
	_, written, err = Ensure(dir, "activity")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(written, d.Cert("activity")) {
		t.Errorf("with days left, written %q, want activity's certificate again", written)
	}
	pair, err := loadPair(d.Cert("activity"), d.Key("activity"))
	if err != nil {
		t.Fatal(err)
	}
	if left := time.Until(pair.cert.NotAfter); left <= renewBefore {
		t.Errorf("the new certificate has only %v left", left)
	}
}

// TestEnsureRefuses: a name that is no file name, the CA's own name, and a
// CA of which only one file is left are refused, and nothing is written.
func TestEnsureRefuses(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"", "../etc", "Registry", "ca", "a b"} {
		dir := filepath.Join(t.TempDir(), "tls")
		if _, _, err := Ensure(dir, name); !errors.Is(err, ErrBadName) {
			t.Errorf("Ensure(%q) = %v, want ErrBadName", name, err)
		}
		if exists(dir) {
			t.Errorf("Ensure(%q) created the directory", name)
		}
	}

	dir := t.TempDir()
	d, _, err := Ensure(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(d.Key("ca")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Ensure(dir, "gateway"); err == nil {
		t.Error("Ensure with the CA's key gone succeeded; want an error")
	}
	if exists(d.Cert("gateway")) {
		t.Error("gateway's certificate was written without a whole CA")
	}
}

func checkMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s has mode %o, want %o", filepath.Base(path), got, want)
	}
}
