// Package devca creates a development certificate authority and the
// certificates of a stack's programs, so that `make run`, the end-to-end
// tests and the benchmark run their gRPC traffic with mutual TLS as a
// deployment should, without openssl or any other tool.
//
// Everything is ECDSA P-256, made with the standard library. Each
// program's certificate names 127.0.0.1, ::1, localhost and the program
// itself (its host name in deploy/compose.yaml), and serves
// both as its server certificate and as its client certificate towards
// the programs it calls. It is not for production: a production CA keeps
// its key off the machines it certifies.
package devca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"time"
)

// Lifetimes of what Ensure issues. A certificate within renewBefore of
// its end is issued again; the CA is not, since every certificate hangs
// on it.
const (
	caLifetime   = 10 * 365 * 24 * time.Hour
	certLifetime = 825 * 24 * time.Hour
	renewBefore  = 7 * 24 * time.Hour
	// backdate covers a clock a little behind the one that issued.
	backdate = time.Hour
)

// caName is the base name of the CA's files.
const caName = "ca"

// Dir is a directory of development certificates: ca.crt and ca.key, and
// NAME.crt and NAME.key for each program.
type Dir string

// CA is the CA certificate's file, the one to trust.
func (d Dir) CA() string { return filepath.Join(string(d), caName+".crt") }

// Cert is the certificate file of the program name.
func (d Dir) Cert(name string) string { return filepath.Join(string(d), name+".crt") }

// Key is the private key file of the program name.
func (d Dir) Key(name string) string { return filepath.Join(string(d), name+".key") }

// validName is what a program's name may be: it becomes a file name.
var validName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,62}$`)

// ErrBadName is returned for a name that cannot be a file name here.
var ErrBadName = errors.New("devca: a name is lower-case letters, digits and '-'")

// Ensure creates what is missing in dir: the directory itself (0700),
// the CA, and a certificate for each of names, each key 0600. What is
// there is kept, except a certificate that the CA did not sign (a CA made
// again) or that ends within a week, which is issued again. It returns
// the names of the files it wrote.
func Ensure(dir string, names ...string) (Dir, []string, error) {
	for _, n := range names {
		if !validName.MatchString(n) || n == caName {
			return "", nil, fmt.Errorf("%w: %q", ErrBadName, n)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", nil, fmt.Errorf("devca: %w", err)
	}
	d := Dir(dir)
	ca, created, err := d.loadOrCreateCA()
	if err != nil {
		return "", nil, err
	}
	var written []string
	if created {
		written = append(written, d.CA(), d.Key(caName))
	}
	for _, n := range names {
		issued, err := d.ensureCert(ca, n)
		if err != nil {
			return "", nil, err
		}
		if issued {
			written = append(written, d.Cert(n), d.Key(n))
		}
	}
	return d, written, nil
}

// authority is a loaded CA.
type authority struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// loadOrCreateCA loads the CA of d, or creates it when neither of its
// files exists. One file without the other is an error: guessing which
// to keep could throw away a key someone still needs.
func (d Dir) loadOrCreateCA() (*authority, bool, error) {
	certExists, keyExists := exists(d.CA()), exists(d.Key(caName))
	switch {
	case certExists && keyExists:
		ca, err := loadPair(d.CA(), d.Key(caName))
		if err != nil {
			return nil, false, fmt.Errorf("devca: CA: %w", err)
		}
		return ca, false, nil
	case certExists || keyExists:
		return nil, false, fmt.Errorf("devca: only one of %s and %s exists; remove it to create a new CA", d.CA(), d.Key(caName))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("devca: %w", err)
	}
	tmpl, err := template("socmgmt development CA", caLifetime)
	if err != nil {
		return nil, false, err
	}
	tmpl.IsCA = true
	tmpl.BasicConstraintsValid = true
	tmpl.MaxPathLenZero = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, false, fmt.Errorf("devca: create CA: %w", err)
	}
	if err := writePair(d.CA(), d.Key(caName), der, key); err != nil {
		return nil, false, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, false, fmt.Errorf("devca: %w", err)
	}
	return &authority{cert: cert, key: key}, true, nil
}

// ensureCert issues the certificate of name unless a good one is there.
func (d Dir) ensureCert(ca *authority, name string) (bool, error) {
	if d.certIsGood(ca, name) {
		return false, nil
	}
	return true, d.issue(ca, name, certLifetime)
}

// issue writes a new key and a certificate of name for it, valid for
// lifetime.
func (d Dir) issue(ca *authority, name string, lifetime time.Duration) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	tmpl, err := template(name, lifetime)
	if err != nil {
		return err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	// Both: a service serves with it and calls others with it.
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	// The program's own name too: the host name it has in a container
	// network (deploy/compose.yaml), where the others dial registry:9101.
	tmpl.DNSNames = []string{"localhost", name}
	tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return fmt.Errorf("devca: issue %s: %w", name, err)
	}
	return writePair(d.Cert(name), d.Key(name), der, key)
}

// certIsGood reports whether name's files hold a key pair that ca signed
// and that stays valid for longer than renewBefore.
func (d Dir) certIsGood(ca *authority, name string) bool {
	pair, err := loadPair(d.Cert(name), d.Key(name))
	if err != nil {
		return false
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	_, err = pair.cert.Verify(x509.VerifyOptions{
		Roots:       roots,
		CurrentTime: time.Now().Add(renewBefore),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	})
	return err == nil
}

// template is a certificate named name, valid for lifetime from a little
// before now, with a random 128-bit serial number.
func template(name string, lifetime time.Duration) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("devca: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"socmgmt development"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     now.Add(lifetime),
	}, nil
}

// loadPair reads a certificate and its ECDSA key and checks that they
// belong together.
func loadPair(certFile, keyFile string) (*authority, error) {
	certPEM, err := os.ReadFile(certFile) //nolint:gosec // G304: a file of the development directory
	if err != nil {
		return nil, err
	}
	keyPEM, err := os.ReadFile(keyFile) //nolint:gosec // G304: as above
	if err != nil {
		return nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || cb.Type != "CERTIFICATE" || kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s or %s is not a PEM certificate and key", certFile, keyFile)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, err
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, err
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !key.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("%s is not the key of %s", keyFile, certFile)
	}
	return &authority{cert: cert, key: key}, nil
}

// writePair writes a certificate (0644) and its key (0600), each through
// a temporary file renamed into place, so that an interrupted run leaves
// no half-written file that a later one would take for good.
func writePair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if err := writeFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return writeFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile writes data to path with mode perm, atomically.
func writeFile(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // fails harmlessly once renamed
	if err := tmp.Chmod(perm); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("devca: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return fmt.Errorf("devca: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("devca: %w", err)
	}
	return nil
}

// exists reports whether path names something.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
