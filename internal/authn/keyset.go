package authn

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.uber.org/zap"
)

// maxKeys bounds the keys of one key set: a rotation needs two, a few
// overlapping ones are plenty, and every key is tried by id, never in turn.
const maxKeys = 16

// maxKeyFileSize bounds what a key loader reads of one file.
const maxKeyFileSize = 64 << 10

// KeySet is the set of Ed25519 public keys a Verifier accepts tokens from,
// each under its key id (see KeyID). It is immutable; a Verifier is given
// a new one to rotate keys (see Verifier.SetKeys).
type KeySet struct {
	keys map[string]ed25519.PublicKey
}

// KeyID is the id a Signer puts into the "kid" header of the tokens it
// signs with the private half of pub, and by which a Verifier picks the
// key to check them with: the JWK thumbprint of RFC 7638 (SHA-256 of the
// key's canonical JWK, base64url). It depends on the key alone, so no
// signer and no verifier needs an id configured beside its key.
func KeyID(pub ed25519.PublicKey) string {
	jwk := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// NewKeySet returns the key set of pubs. It refuses an empty set, a key
// that is not an Ed25519 public key, and more than a handful of keys.
// A key given twice counts once.
func NewKeySet(pubs ...ed25519.PublicKey) (*KeySet, error) {
	if len(pubs) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrBadKey)
	}
	ks := &KeySet{keys: make(map[string]ed25519.PublicKey, len(pubs))}
	for _, pub := range pubs {
		if len(pub) != ed25519.PublicKeySize {
			return nil, ErrBadKey
		}
		ks.keys[KeyID(pub)] = slices.Clone(pub)
	}
	if len(ks.keys) > maxKeys {
		return nil, fmt.Errorf("%w: more than %d keys", ErrBadKey, maxKeys)
	}
	return ks, nil
}

// key returns the key with id kid.
func (ks *KeySet) key(kid string) (ed25519.PublicKey, bool) {
	pub, ok := ks.keys[kid]
	return pub, ok
}

// IDs returns the key ids of the set, sorted: what a log line says about
// which keys a program accepts.
func (ks *KeySet) IDs() []string {
	ids := make([]string, 0, len(ks.keys))
	for id := range ks.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// Equal reports whether ks and other hold the same keys.
func (ks *KeySet) Equal(other *KeySet) bool {
	return other != nil && slices.Equal(ks.IDs(), other.IDs())
}

// LoadKeySet reads the verification keys at path: a PEM file holding one
// or more keys, each a PKIX "PUBLIC KEY" or a PKCS#8 "PRIVATE KEY" (whose
// public half is taken), or a directory whose "*.pem" files are read that
// way. Several keys are how signing keys are rotated without downtime:
// the old and the new key are both accepted while tokens of the old one
// are still in use.
func LoadKeySet(path string) (*KeySet, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("authn: read public key: %w", err)
	}
	files := []string{path}
	if info.IsDir() {
		if files, err = keyFilesIn(path); err != nil {
			return nil, err
		}
	}
	var pubs []ed25519.PublicKey
	for _, f := range files {
		data, err := readKeyFile(f)
		if err != nil {
			return nil, err
		}
		keys, err := parsePublicKeysPEM(data)
		if err != nil {
			return nil, fmt.Errorf("authn: %s: %w", f, err)
		}
		pubs = append(pubs, keys...)
	}
	ks, err := NewKeySet(pubs...)
	if err != nil {
		return nil, fmt.Errorf("authn: %s: %w", path, err)
	}
	return ks, nil
}

// keyFilesIn lists the "*.pem" files of dir, sorted; hidden files (an
// editor's or an installer's temporary copy) are left out. A symlink
// counts when it leads to a regular file: a Kubernetes Secret volume
// holds each key as a symlink through its hidden "..data" directory.
func keyFilesIn(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("authn: read key directory: %w", err)
	}
	var files []string
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".pem") {
			continue
		}
		if !e.Type().IsRegular() {
			if e.Type()&fs.ModeSymlink == 0 {
				continue
			}
			if info, err := os.Stat(filepath.Join(dir, name)); err != nil || !info.Mode().IsRegular() {
				continue
			}
		}
		files = append(files, filepath.Join(dir, name))
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("authn: key directory %s: %w: no *.pem file", dir, ErrBadKey)
	}
	return files, nil
}

// readKeyFile reads a key file, refusing one too large to be a key file.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the key file the operator configured
	if err != nil {
		return nil, fmt.Errorf("authn: read public key: %w", err)
	}
	defer f.Close() //nolint:errcheck // read only
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("authn: read public key: %w", err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("authn: %s: %w: file larger than %d bytes", path, ErrBadKey, maxKeyFileSize)
	}
	return data, nil
}

// parsePublicKeysPEM reads every PEM block of data as parsePublicKeyPEM
// reads the first. Text around and between the blocks is ignored, as PEM
// allows; data without any block is refused.
func parsePublicKeysPEM(data []byte) ([]ed25519.PublicKey, error) {
	var pubs []ed25519.PublicKey
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			break
		}
		pub, err := parsePublicKeyPEM(pem.EncodeToMemory(block))
		if err != nil {
			return nil, err
		}
		pubs = append(pubs, pub)
		if len(pubs) > maxKeys {
			return nil, fmt.Errorf("%w: more than %d keys", ErrBadKey, maxKeys)
		}
		data = rest
	}
	if len(pubs) == 0 {
		return nil, fmt.Errorf("%w: no PEM block", ErrBadKey)
	}
	return pubs, nil
}

// DefaultKeyReload is how often WatchKeySet reads the key file again.
const DefaultKeyReload = 5 * time.Second

// WatchKeySet reads the key file (or directory) at path every interval
// (DefaultKeyReload when zero) until ctx ends, and gives v the keys it
// holds whenever they change: a key added is accepted, and a key taken
// out refused, within about interval, without a restart. A file that
// cannot be read or holds no usable key keeps the keys in use; that is
// logged once, as is the recovery. It returns nil when ctx ends.
func WatchKeySet(ctx context.Context, path string, v *Verifier, interval time.Duration, log *zap.Logger) error {
	if interval <= 0 {
		interval = DefaultKeyReload
	}
	if log == nil {
		log = zap.NewNop()
	}
	failing := false
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
		ks, err := LoadKeySet(path)
		switch {
		case err != nil && !failing:
			failing = true
			log.Warn("cannot read the token keys; keeping those in use", zap.Strings("key_ids", v.Keys().IDs()), zap.Error(err))
		case err != nil:
		case !ks.Equal(v.Keys()):
			failing = false
			v.SetKeys(ks)
			log.Info("token keys changed", zap.Strings("key_ids", ks.IDs()))
		case failing:
			failing = false
			log.Info("token keys readable again", zap.Strings("key_ids", ks.IDs()))
		}
	}
}
