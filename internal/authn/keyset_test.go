package authn

import (
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// TestKeyIDIsTheJWKThumbprint checks KeyID against the example of RFC
// 8037, appendix A.3: the thumbprint of its Ed25519 key.
func TestKeyIDIsTheJWKThumbprint(t *testing.T) {
	pub := ed25519.PublicKey{
		0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64, 0x07, 0x3a,
		0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68, 0xf7, 0x07, 0x51, 0x1a,
	}
	if got, want := KeyID(pub), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"; got != want {
		t.Errorf("KeyID = %s, want %s", got, want)
	}
}

// TestKeyRotationWithTwoKeys: while both keys are in the set, tokens of
// either verify; once the old key is taken out, its tokens are refused,
// even those the verifier had cached, and the new key's still verify.
func TestKeyRotationWithTwoKeys(t *testing.T) {
	oldPub, oldPriv := newKey(t)
	newPub, newPriv := newKey(t)
	both, err := NewKeySet(oldPub, newPub)
	if err != nil {
		t.Fatal(err)
	}
	if ids := both.IDs(); len(ids) != 2 || !slices.Contains(ids, KeyID(oldPub)) || !slices.Contains(ids, KeyID(newPub)) {
		t.Fatalf("IDs = %v, want the two kids", ids)
	}
	v := NewKeySetVerifier(both, WithClock(func() time.Time { return t0 }))
	oldTok := mustSign(t, oldPriv, adminP, time.Hour, t0)
	newTok := mustSign(t, newPriv, bureauP, time.Hour, t0)
	mustVerify(t, v, oldTok)
	mustVerify(t, v, newTok)

	onlyNew, err := NewKeySet(newPub)
	if err != nil {
		t.Fatal(err)
	}
	v.SetKeys(onlyNew)
	if _, err := v.Verify(oldTok); !errors.Is(err, ErrBadSignature) {
		t.Errorf("token of the retired key: err = %v, want ErrBadSignature", err)
	}
	mustVerify(t, v, newTok)
}

func TestNewKeySetRefuses(t *testing.T) {
	pub, _ := newKey(t)
	if _, err := NewKeySet(); !errors.Is(err, ErrBadKey) {
		t.Errorf("no key: err = %v, want ErrBadKey", err)
	}
	if _, err := NewKeySet(pub, ed25519.PublicKey{1, 2, 3}); !errors.Is(err, ErrBadKey) {
		t.Errorf("short key: err = %v, want ErrBadKey", err)
	}
	many := make([]ed25519.PublicKey, maxKeys+1)
	for i := range many {
		many[i], _ = newKey(t)
	}
	if _, err := NewKeySet(many...); !errors.Is(err, ErrBadKey) {
		t.Errorf("%d keys: err = %v, want ErrBadKey", len(many), err)
	}
	ks, err := NewKeySet(pub, pub)
	if err != nil || len(ks.IDs()) != 1 {
		t.Errorf("a key twice: %v, %v; want one key", ks.IDs(), err)
	}
}

func TestLoadKeySet(t *testing.T) {
	pub1, priv1 := newKey(t)
	pub2, priv2 := newKey(t)
	pub1PEM, priv1PEM := keyPEMs(t, pub1, priv1)
	pub2PEM, _ := keyPEMs(t, pub2, priv2)
	write := func(t *testing.T, dir, name string, data []byte) string {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	both := []string{KeyID(pub1), KeyID(pub2)}
	slices.Sort(both)

	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		want  []string // nil: must fail with ErrBadKey
	}{
		{"one public key", func(t *testing.T, dir string) string { return write(t, dir, "k.pem", pub1PEM) }, []string{KeyID(pub1)}},
		{"a private key gives its public half", func(t *testing.T, dir string) string { return write(t, dir, "k.key", priv1PEM) }, []string{KeyID(pub1)}},
		{"two keys in one file", func(t *testing.T, dir string) string {
			return write(t, dir, "k.pem", append(append(slices.Clone(pub1PEM), "# the new key\n"...), pub2PEM...))
		}, both},
		{"a directory of key files", func(t *testing.T, dir string) string {
			write(t, dir, "old.pem", pub1PEM)
			write(t, dir, "new.pem", pub2PEM)
			write(t, dir, ".new.pem.swp", []byte("not a key"))
			write(t, dir, "README", []byte("not a key either"))
			return dir
		}, both},
		{"a Kubernetes Secret volume: symlinks through ..data", func(t *testing.T, dir string) string {
			data := filepath.Join(dir, "..2026_12_07_19_00_00.1")
			if err := os.Mkdir(data, 0o700); err != nil {
				t.Fatal(err)
			}
			write(t, data, "old.pem", pub1PEM)
			write(t, data, "new.pem", pub2PEM)
			symlink(t, filepath.Base(data), filepath.Join(dir, "..data"))
			symlink(t, "..data/old.pem", filepath.Join(dir, "old.pem"))
			symlink(t, "..data/new.pem", filepath.Join(dir, "new.pem"))
			return dir
		}, both},
		{"a symlink to a directory named like a key", func(t *testing.T, dir string) string {
			write(t, dir, "k.pem", pub1PEM)
			symlink(t, t.TempDir(), filepath.Join(dir, "d.pem"))
			return dir
		}, []string{KeyID(pub1)}},
		{"an empty directory", func(*testing.T, string) string { return t.TempDir() }, nil},
		{"a file without a key", func(t *testing.T, dir string) string { return write(t, dir, "k.pem", []byte("hello")) }, nil},
		{"a good block then a bad one", func(t *testing.T, dir string) string {
			return write(t, dir, "k.pem", append(slices.Clone(pub1PEM), "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"...))
		}, nil},
		{"a directory with a bad key file", func(t *testing.T, dir string) string {
			write(t, dir, "old.pem", pub1PEM)
			write(t, dir, "new.pem", []byte("garbage"))
			return dir
		}, nil},
		{"a huge file", func(t *testing.T, dir string) string {
			return write(t, dir, "k.pem", append(slices.Clone(pub1PEM), make([]byte, maxKeyFileSize)...))
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := LoadKeySet(tc.setup(t, t.TempDir()))
			if tc.want == nil {
				if !errors.Is(err, ErrBadKey) {
					t.Errorf("LoadKeySet = %v, %v; want ErrBadKey", ks, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := ks.IDs(); !slices.Equal(got, tc.want) {
				t.Errorf("IDs = %v, want %v", got, tc.want)
			}
		})
	}
	if _, err := LoadKeySet(filepath.Join(t.TempDir(), "missing.pem")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: err = %v, want ErrNotExist", err)
	}
}

// TestWatchKeySet: a key appended to the file is accepted without a
// restart, and a key taken out of it is refused.
func TestWatchKeySet(t *testing.T) {
	oldPub, oldPriv := newKey(t)
	newPub, newPriv := newKey(t)
	oldPEM, _ := keyPEMs(t, oldPub, oldPriv)
	newPEM, _ := keyPEMs(t, newPub, newPriv)
	path := filepath.Join(t.TempDir(), "token.pem")
	if err := os.WriteFile(path, oldPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ks, err := LoadKeySet(path)
	if err != nil {
		t.Fatal(err)
	}
	v := NewKeySetVerifier(ks)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- WatchKeySet(ctx, path, v, 10*time.Millisecond, zaptest.NewLogger(t)) }()
	defer func() {
		cancel()
		if err := waitfor.Receive(t, "WatchKeySet to return", done); err != nil {
			t.Errorf("WatchKeySet = %v, want nil", err)
		}
	}()

	oldTok := mustSign(t, oldPriv, adminP, time.Hour, time.Now())
	newTok := mustSign(t, newPriv, adminP, time.Hour, time.Now())
	mustVerify(t, v, oldTok)
	if _, err := v.Verify(newTok); err == nil {
		t.Fatal("token of a key not yet added verified")
	}

	replace := func(data []byte) {
		t.Helper()
		// As an operator should: write beside, then rename into place.
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	replace(append(slices.Clone(newPEM), oldPEM...))
	waitfor.True(t, "the added key's token to verify", func() bool { _, err := v.Verify(newTok); return err == nil })
	mustVerify(t, v, oldTok)

	replace([]byte("half-written garbage"))
	replace(newPEM)
	waitfor.True(t, "the removed key's token to be refused", func() bool { _, err := v.Verify(oldTok); return err != nil })
	mustVerify(t, v, newTok)
}

func FuzzParsePublicKeysPEM(f *testing.F) {
	pub, priv := newKey(f)
	pubPEM, privPEM := keyPEMs(f, pub, priv)
	f.Add(pubPEM)
	f.Add(append(slices.Clone(pubPEM), privPEM...))
	f.Add([]byte("text before\n" + string(pubPEM) + "text after"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := parsePublicKeysPEM(data)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("err = %v, want ErrBadKey", err)
			}
			return
		}
		if len(keys) == 0 || len(keys) > maxKeys {
			t.Fatalf("%d keys", len(keys))
		}
		for _, k := range keys {
			if len(k) != ed25519.PublicKeySize {
				t.Fatalf("key of %d bytes", len(k))
			}
		}
	})
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}
