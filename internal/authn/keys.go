package authn

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrBadKey is wrapped by the errors of the key loaders when a file holds
// no usable Ed25519 key.
var ErrBadKey = errors.New("authn: not an Ed25519 key")

// PEM block types: PKCS#8 for private keys, PKIX for public keys.
const (
	pemPrivateKey = "PRIVATE KEY"
	pemPublicKey  = "PUBLIC KEY"
)

// GenerateKeyFile creates a new Ed25519 private key and writes it to path
// as a PKCS#8 "PRIVATE KEY" PEM file of mode 0600, creating the parent
// directory with mode 0700 if needed. It fails with an error wrapping
// fs.ErrExist if path already exists, so a key is never overwritten.
func GenerateKeyFile(path string) (ed25519.PrivateKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("authn: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("authn: encode key: %w", err)
	}
	data := pem.EncodeToMemory(&pem.Block{Type: pemPrivateKey, Bytes: der})

	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("authn: create key directory: %w", err)
	}
	// Write a temporary file and hard-link it into place: the link fails
	// if path exists, and nobody can ever read a half-written key, even
	// when several processes race to create it.
	tmp, err := os.CreateTemp(dir, ".signing-key-*")
	if err != nil {
		return nil, fmt.Errorf("authn: create key file: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // linked into place or not; a leftover only takes a name
	if err := tmp.Chmod(0o600); err != nil {
		return nil, errors.Join(fmt.Errorf("authn: create key file: %w", err), tmp.Close())
	}
	if _, err := tmp.Write(data); err != nil {
		return nil, errors.Join(fmt.Errorf("authn: write key file: %w", err), tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return nil, errors.Join(fmt.Errorf("authn: write key file: %w", err), tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return nil, fmt.Errorf("authn: write key file: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("authn: install key file: %w", err)
	}
	return priv, nil
}

// LoadOrCreateKeyFile loads the private key at path, or generates one there
// if the file does not exist; created says which happened.
func LoadOrCreateKeyFile(path string) (priv ed25519.PrivateKey, created bool, err error) {
	priv, err = LoadPrivateKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return priv, false, err
	}
	priv, err = GenerateKeyFile(path)
	if errors.Is(err, fs.ErrExist) {
		// Someone else created it between our two calls: use theirs.
		priv, err = LoadPrivateKey(path)
		return priv, false, err
	}
	return priv, err == nil, err
}

// LoadPrivateKey reads an Ed25519 private key from a PKCS#8 "PRIVATE KEY"
// PEM file.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	return loadKeyFile(path, "private", parsePrivateKeyPEM)
}

// LoadPublicKey reads an Ed25519 public key from a PEM file holding either
// a PKIX "PUBLIC KEY" or a PKCS#8 "PRIVATE KEY", whose public half it
// derives. Services that only verify should be given the public key.
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	return loadKeyFile(path, "public", parsePublicKeyPEM)
}

// loadKeyFile reads the kind ("public") of key in the PEM file at path
// with parse; an error names the file when it was read but did not parse.
func loadKeyFile[K any](path, kind string, parse func([]byte) (K, error)) (K, error) {
	var none K
	data, err := os.ReadFile(path) //nolint:gosec // G304: the key file the operator configured
	if err != nil {
		return none, fmt.Errorf("authn: read %s key: %w", kind, err)
	}
	key, err := parse(data)
	if err != nil {
		return none, fmt.Errorf("authn: %s: %w", path, err)
	}
	return key, nil
}

// EncodePublicKeyPEM returns pub as a PKIX "PUBLIC KEY" PEM block, the
// form LoadPublicKey reads, for handing to services that only verify.
func EncodePublicKeyPEM(pub ed25519.PublicKey) ([]byte, error) {
	if len(pub) != ed25519.PublicKeySize {
		return nil, ErrBadKey
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("authn: encode public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemPublicKey, Bytes: der}), nil
}

// parsePrivateKeyPEM decodes the first PEM block of data, which must be a
// PKCS#8 Ed25519 private key. Errors name the problem, never key bytes.
func parsePrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	if block.Type != pemPrivateKey {
		return nil, fmt.Errorf("%w: PEM block is not %q", ErrBadKey, pemPrivateKey)
	}
	return privateFromPKCS8(block.Bytes)
}

// parsePublicKeyPEM decodes the first PEM block of data as a PKIX public
// key or a PKCS#8 private key and returns the Ed25519 public key.
func parsePublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	switch block.Type {
	case pemPublicKey:
		key, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: bad PKIX data", ErrBadKey)
		}
		pub, ok := key.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("%w: public key of another algorithm", ErrBadKey)
		}
		return pub, nil
	case pemPrivateKey:
		priv, err := privateFromPKCS8(block.Bytes)
		if err != nil {
			return nil, err
		}
		return priv.Public().(ed25519.PublicKey), nil
	default:
		return nil, fmt.Errorf("%w: PEM block is neither %q nor %q", ErrBadKey, pemPublicKey, pemPrivateKey)
	}
}

func privateFromPKCS8(der []byte) (ed25519.PrivateKey, error) {
	key, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		// Drop x509's detail: it describes the structure of secret
		// bytes, and "bad PKCS#8" is all an operator needs to act on.
		return nil, fmt.Errorf("%w: bad PKCS#8 data", ErrBadKey)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: private key of another algorithm", ErrBadKey)
	}
	return priv, nil
}
