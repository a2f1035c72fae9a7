// Package devidentity is the file of development identities that the
// console's sign-in screen offers when the gateway runs with
// --dev-identities: `make run` writes an admin and a bureau identity into
// it at start, and `socmgmt seed` the clerks and supervisors of the city
// it seeded. It exists for development only: whoever can read the file
// (or the gateway's /console/dev-identities) can act as every identity in
// it.
package devidentity

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// FileName is the file's name in `make run`'s data directory.
const FileName = "dev-identities.json"

// Bounds of the file: a handful of identities, each a short label and a
// token of a few hundred bytes.
const (
	// MaxFileBytes bounds the file read.
	MaxFileBytes = 64 << 10
	// MaxIdentities bounds the identities in it.
	MaxIdentities = 32
	maxLabelRunes = 64
	maxTokenBytes = 4096
)

// Identity is one identity the sign-in screen offers.
type Identity struct {
	// Key names it stably (clerk-a, clerk-b, street, district, bureau,
	// admin, enterprise), for tests that pick one.
	Key string `json:"key"`
	// Label is what the sign-in button says, in Chinese.
	Label string `json:"label"`
	// Role is the token's role.
	Role authn.Role `json:"role"`
	// Token is the bearer token.
	Token string `json:"token"`
}

// File is the file's content, and the gateway's answer.
type File struct {
	Identities []Identity `json:"identities"`
}

var (
	keyRE   = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	tokenRE = regexp.MustCompile(`^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$`)
)

// Validate reports the first problem of f: too many identities, a key
// repeated or not of lower-case letters, digits and hyphens, an empty or
// long label, an unknown role, a token that is not a JWT's three parts.
func (f File) Validate() error {
	if len(f.Identities) > MaxIdentities {
		return fmt.Errorf("%d identities, at most %d", len(f.Identities), MaxIdentities)
	}
	seen := map[string]bool{}
	for i, id := range f.Identities {
		switch n := utf8.RuneCountInString(id.Label); {
		case !keyRE.MatchString(id.Key):
			return fmt.Errorf("identity %d: key %q: want lower-case letters, digits and hyphens", i, id.Key)
		case seen[id.Key]:
			return fmt.Errorf("identity %d: key %q repeated", i, id.Key)
		case n == 0 || n > maxLabelRunes || !utf8.ValidString(id.Label):
			return fmt.Errorf("identity %s: the label must be 1 to %d characters", id.Key, maxLabelRunes)
		case !id.Role.Valid():
			return fmt.Errorf("identity %s: unknown role %q", id.Key, id.Role)
		case len(id.Token) > maxTokenBytes || !tokenRE.MatchString(id.Token):
			return fmt.Errorf("identity %s: the token is not a JWT of at most %d bytes", id.Key, maxTokenBytes)
		}
		seen[id.Key] = true
	}
	return nil
}

// Read reads and validates the file at path. A missing file is an error
// that wraps fs.ErrNotExist.
func Read(path string) (File, error) {
	fh, err := os.Open(path) //nolint:gosec // G304: the developer names the file
	if err != nil {
		return File{}, err
	}
	defer func() { _ = fh.Close() }() // read only: nothing to lose
	data, err := io.ReadAll(io.LimitReader(fh, MaxFileBytes+1))
	if err != nil {
		return File{}, err
	}
	if len(data) > MaxFileBytes {
		return File{}, fmt.Errorf("%s: larger than %d bytes", path, MaxFileBytes)
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	if dec.More() {
		return File{}, fmt.Errorf("%s: more than one JSON value", path)
	}
	if err := f.Validate(); err != nil {
		return File{}, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// Write validates f and replaces the file at path with it, readable by
// its owner only (it holds tokens), so that a reader never sees half of
// it.
func Write(path string, f File) error {
	if err := f.Validate(); err != nil {
		return err
	}
	if f.Identities == nil {
		f.Identities = []Identity{}
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	// CreateTemp makes the file 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), ".dev-identities-*")
	if err != nil {
		return err
	}
	_, werr := tmp.Write(append(data, '\n'))
	if err := errors.Join(werr, tmp.Close()); err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return errors.Join(err, os.Remove(tmp.Name()))
	}
	return nil
}

// Spec is an identity before its token is signed: its key, its label and
// whom the token names.
type Spec struct {
	Key, Label string
	Principal  authn.Principal
}

// Sign signs a token for each spec, valid for ttl from now, and returns
// them as a File in the same order.
func Sign(signer *authn.Signer, specs []Spec, ttl time.Duration, now time.Time) (File, error) {
	f := File{Identities: make([]Identity, 0, len(specs))}
	for _, s := range specs {
		tok, err := signer.Sign(s.Principal, ttl, now)
		if err != nil {
			return File{}, fmt.Errorf("the %s identity: %w", s.Key, err)
		}
		f.Identities = append(f.Identities, Identity{Key: s.Key, Label: s.Label, Role: s.Principal.Role, Token: tok})
	}
	return f, nil
}
