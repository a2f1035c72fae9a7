package authn

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestGenerateKeyFile(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "var", "keys")
	path := filepath.Join(dir, "dev-signing.key")
	priv, err := GenerateKeyFile(path)
	if err != nil {
		t.Fatalf("GenerateKeyFile: %v", err)
	}

	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode != 0o600 {
		t.Errorf("key file mode = %o, want 600", mode)
	}
	di, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if mode := di.Mode().Perm(); mode&0o077 != 0 {
		t.Errorf("key directory mode = %o, want no group/other access", mode)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (temporary file left behind?)", len(entries))
	}

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("file is not a PRIVATE KEY PEM block")
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		t.Errorf("not PKCS#8: %v", err)
	}

	loaded, err := LoadPrivateKey(path)
	if err != nil {
		t.Fatalf("LoadPrivateKey: %v", err)
	}
	if !priv.Equal(loaded) {
		t.Error("loaded private key differs from the generated one")
	}
	pub, err := LoadPublicKey(path)
	if err != nil {
		t.Fatalf("LoadPublicKey(private key file): %v", err)
	}
	if !priv.Public().(ed25519.PublicKey).Equal(pub) {
		t.Error("derived public key does not match")
	}

	if _, err := GenerateKeyFile(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second GenerateKeyFile: err = %v, want fs.ErrExist", err)
	}
	again, err := LoadPrivateKey(path)
	if err != nil || !again.Equal(priv) {
		t.Errorf("key changed after a refused GenerateKeyFile (err %v)", err)
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "k", "signing.key")
	first, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created {
		t.Fatalf("first call: created=%v err=%v, want created", created, err)
	}
	second, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created {
		t.Fatalf("second call: created=%v err=%v, want loaded", created, err)
	}
	if !first.Equal(second) {
		t.Error("second call returned a different key")
	}

	// Tokens from one call verify with the public key of the other.
	tok := mustSign(t, first, adminP, time.Hour, t0)
	if _, err := NewVerifier(second.Public().(ed25519.PublicKey), WithClock(func() time.Time { return t0 })).Verify(tok); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestLoadOrCreateKeyFileRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "signing.key")
	const n = 8
	keys := make([]ed25519.PrivateKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], _, errs[i] = LoadOrCreateKeyFile(path) })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("caller %d: %v", i, errs[i])
		}
		if !keys[i].Equal(keys[0]) {
			t.Errorf("caller %d got a different key", i)
		}
	}
}

func TestLoadPublicKey(t *testing.T) {
	t.Parallel()
	pub, priv := newKey(t)
	pubPEM, privPEM := keyPEMs(t, pub, priv)
	privBlock, _ := pem.Decode(privPEM)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPubDER, err := x509.MarshalPKIXPublicKey(&ecKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	ecPrivDER, err := x509.MarshalPKCS8PrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		data    []byte
		wantPub bool // LoadPublicKey succeeds with pub
		wantPrv bool // LoadPrivateKey succeeds with priv
	}{
		{"PKIX public key", pubPEM, true, false},
		{"PKCS#8 private key", privPEM, true, true},
		{"empty", nil, false, false},
		{"not PEM", []byte("hello"), false, false},
		{"wrong block type", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: privBlock.Bytes}), false, false},
		{"EC public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPubDER}), false, false},
		{"EC private key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecPrivDER}), false, false},
		{"garbage in block", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			gotPub, err := LoadPublicKey(path)
			if tc.wantPub {
				if err != nil || !pub.Equal(gotPub) {
					t.Errorf("LoadPublicKey = %v, %v; want the test key", gotPub, err)
				}
			} else if !errors.Is(err, ErrBadKey) {
				t.Errorf("LoadPublicKey err = %v, want ErrBadKey", err)
			}
			gotPriv, err := LoadPrivateKey(path)
			if tc.wantPrv {
				if err != nil || !priv.Equal(gotPriv) {
					t.Errorf("LoadPrivateKey err = %v, or key differs", err)
				}
			} else if !errors.Is(err, ErrBadKey) {
				t.Errorf("LoadPrivateKey err = %v, want ErrBadKey", err)
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "nope")
		if _, err := LoadPublicKey(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LoadPublicKey err = %v, want fs.ErrNotExist", err)
		}
		if _, err := LoadPrivateKey(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("LoadPrivateKey err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("encode bad key", func(t *testing.T) {
		if _, err := EncodePublicKeyPEM(ed25519.PublicKey{1, 2}); !errors.Is(err, ErrBadKey) {
			t.Errorf("err = %v, want ErrBadKey", err)
		}
	})
}

func FuzzParseKeyPEM(f *testing.F) {
	pub, priv := newKey(f)
	pubPEM, privPEM := keyPEMs(f, pub, priv)
	f.Add(pubPEM)
	f.Add(privPEM)
	f.Add([]byte("-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		priv, privErr := parsePrivateKeyPEM(data)
		pub, pubErr := parsePublicKeyPEM(data)
		if privErr == nil {
			if len(priv) != ed25519.PrivateKeySize {
				t.Fatalf("private key of %d bytes", len(priv))
			}
			if pubErr != nil || !priv.Public().(ed25519.PublicKey).Equal(pub) {
				t.Fatalf("private key parsed but public key did not follow: %v", pubErr)
			}
		} else if !errors.Is(privErr, ErrBadKey) {
			t.Fatalf("private err = %v, want ErrBadKey", privErr)
		}
		if pubErr == nil && len(pub) != ed25519.PublicKeySize {
			t.Fatalf("public key of %d bytes", len(pub))
		}
		if pubErr != nil && !errors.Is(pubErr, ErrBadKey) {
			t.Fatalf("public err = %v, want ErrBadKey", pubErr)
		}
	})
}

// keyPEMs are the PEM files of a key pair: the public key as
// EncodePublicKeyPEM writes it and the private key as PKCS#8.
func keyPEMs(t testing.TB, pub ed25519.PublicKey, priv ed25519.PrivateKey) (pubPEM, privPEM []byte) {
	t.Helper()
	pubPEM, err := EncodePublicKeyPEM(pub)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return pubPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
