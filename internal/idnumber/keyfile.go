package idnumber

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// keyFileBytes is the size of a generated ID-number index key.
const keyFileBytes = 32

// LoadKeyFile reads an ID-number index key: a file holding at least 32
// bytes written as hex. Every service that indexes retirees by ID number
// (registry, pension) must use the same key.
func LoadKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path) //nolint:gosec // G304: the key file the operator configured
	if err != nil {
		return nil, fmt.Errorf("read ID-number key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		return nil, fmt.Errorf("ID-number key %s: not hex", path)
	}
	if len(key) < keyFileBytes {
		return nil, fmt.Errorf("ID-number key %s: %d bytes, want at least %d", path, len(key), keyFileBytes)
	}
	return key, nil
}

// LoadOrCreateKeyFile reads the key at path, creating it with fresh random
// bytes (mode 0600) when the file does not exist. It reports whether it
// created the file.
func LoadOrCreateKeyFile(path string) (key []byte, created bool, err error) {
	key, err = LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, false, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("create key directory: %w", err)
	}
	key = make([]byte, keyFileBytes)
	if _, err := rand.Read(key); err != nil {
		return nil, false, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600) //nolint:gosec // G304: the key file the operator configured
	if err != nil {
		return nil, false, fmt.Errorf("create ID-number key: %w", err)
	}
	if _, err := f.WriteString(hex.EncodeToString(key) + "\n"); err != nil {
		return nil, false, errors.Join(fmt.Errorf("write ID-number key: %w", err), f.Close())
	}
	if err := f.Close(); err != nil {
		return nil, false, fmt.Errorf("write ID-number key: %w", err)
	}
	return key, true, nil
}
