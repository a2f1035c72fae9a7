package datakey

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// maxFileSize bounds a key file: thousands of keys, far more than a
// rotation schedule ever leaves in one.
const maxFileSize = 1 << 20

// fileHeader starts every key file this package writes.
const fileHeader = `# socmgmt data keys (AES-256). One key a line: "ID HEX", ID from 1.
# The key with the highest ID encrypts; every key here decrypts.
# Add a key with socmgmt rotate-data-key --add-key; drop one only once
# no record names it (see deploy/README.md).
`

// ParseFile reads the keys of a key file's text: lines "ID HEX" (the
// decimal key id, from 1, and 64 hex digits), blank lines and lines
// starting with '#' ignored. Errors name the line, never key material.
func ParseFile(data []byte) (map[uint32][]byte, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("data key file is over %d bytes", maxFileSize)
	}
	keys := map[uint32][]byte{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxFileSize)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		id, key, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("data key file line %d: %w", n, err)
		}
		if _, dup := keys[id]; dup {
			return nil, fmt.Errorf("data key file line %d: key id %d given twice", n, id)
		}
		keys[id] = key
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("data key file: %w", err)
	}
	if len(keys) == 0 {
		return nil, errors.New("data key file holds no key")
	}
	return keys, nil
}

// parseLine reads one "ID HEX" line.
func parseLine(line string) (uint32, []byte, error) {
	idText, keyText, ok := strings.Cut(line, " ")
	if !ok {
		return 0, nil, errors.New(`want "ID HEX"`)
	}
	id, err := strconv.ParseUint(idText, 10, 32)
	if err != nil || id == 0 {
		return 0, nil, errors.New("the key id must be a number from 1 to 4294967295")
	}
	key, err := hex.DecodeString(strings.TrimSpace(keyText))
	if err != nil || len(key) != KeySize {
		return 0, nil, fmt.Errorf("key %d must be %d hex digits", id, 2*KeySize)
	}
	return uint32(id), key, nil
}

// LoadFile reads the key file at path (see ParseFile) into a Ring that
// Reload reads again.
func LoadFile(path string) (*Ring, error) {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the key file the operator configured
	if err != nil {
		return nil, fmt.Errorf("read data key file: %w", err)
	}
	keys, err := ParseFile(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r, err := New(keys)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r.path = path
	return r, nil
}

// Reload reads the ring's file again and returns the ring it now holds,
// which must still have every key of r: a key is dropped only by a
// restart, once no record names it. A ring built by New is its own
// reload.
func (r *Ring) Reload() (*Ring, error) {
	if r.path == "" {
		return r, nil
	}
	next, err := LoadFile(r.path)
	if err != nil {
		return nil, err
	}
	for id := range r.aeads {
		if !next.Has(id) {
			return nil, fmt.Errorf("%s no longer holds data key %d, which records may still name: restore it (a key is dropped only at a restart)", r.path, id)
		}
	}
	return next, nil
}

// LoadOrCreateFile reads the key file at path, creating it (mode 0600)
// with one new key, id 1, when it does not exist: for development
// stacks. It reports whether it created the file.
func LoadOrCreateFile(path string) (*Ring, bool, error) {
	r, err := LoadFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return r, false, err
	}
	if _, err := AddKey(path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			r, err = LoadFile(path)
			return r, false, err
		}
		return nil, false, err
	}
	r, err = LoadFile(path)
	return r, err == nil, err
}

// AddKey adds a new random key to the key file at path, with the next
// key id, so that it seals from the next (re)load on; it creates the file
// (mode 0600, directory 0700) with key 1 when there is none. The file is
// replaced by a rename, so a reader never sees half of it. It returns the
// new key's id.
func AddKey(path string) (uint32, error) {
	old, err := os.ReadFile(path) //nolint:gosec // G304: the key file the operator named
	var next uint32 = 1
	create := errors.Is(err, fs.ErrNotExist)
	switch {
	case create:
		old = []byte(fileHeader)
	case err != nil:
		return 0, fmt.Errorf("read data key file: %w", err)
	default:
		keys, err := ParseFile(old)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		for id := range keys {
			next = max(next, id+1)
		}
		if next == 0 {
			return 0, fmt.Errorf("%s: no key id is left after 4294967295", path)
		}
	}
	key := make([]byte, KeySize)
	if _, err := rand.Read(key); err != nil {
		return 0, err
	}
	text := bytes.Clone(old)
	if len(text) > 0 && text[len(text)-1] != '\n' {
		text = append(text, '\n')
	}
	text = fmt.Appendf(text, "%d %s\n", next, hex.EncodeToString(key))
	if err := writeFile(path, text, create); err != nil {
		return 0, err
	}
	return next, nil
}

// writeFile writes data to path through a temporary file in the same
// directory. create says that path must not exist yet: a link that fails
// if it does keeps two processes creating the file at once from both
// winning.
func writeFile(path string, data []byte, create bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".data-key-*")
	if err != nil {
		return fmt.Errorf("write data key file: %w", err)
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // renamed or linked into place, or a leftover name
	if _, err := tmp.Write(data); err != nil {
		return errors.Join(fmt.Errorf("write data key file: %w", err), tmp.Close())
	}
	if err := tmp.Sync(); err != nil {
		return errors.Join(fmt.Errorf("write data key file: %w", err), tmp.Close())
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write data key file: %w", err)
	}
	if create {
		if err := os.Link(tmp.Name(), path); err != nil {
			return fmt.Errorf("create data key file: %w", err)
		}
		return nil
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace data key file: %w", err)
	}
	return nil
}
