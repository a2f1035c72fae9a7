package servicetest

import (
	"bytes"
	"crypto/ed25519"
	"path/filepath"
	"testing"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/datakey"
)

// DataKey is the data key (id 1) the tests' stores seal personal data
// with.
var DataKey = bytes.Repeat([]byte{0x5d}, datakey.KeySize)

// DataKeys returns a ring of DataKey alone, for a store a test opens.
func DataKeys(t testing.TB) *datakey.Ring {
	t.Helper()
	r, err := datakey.New(map[uint32][]byte{1: DataKey})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// AuditKey is the key the tests' stores sign their audit checkpoints
// with (audit.Checkpoints.Key): fixed, so that a store a test reopens
// goes on with the same key. (This package cannot build the Checkpoints
// itself: the audit package's own tests import it.)
var AuditKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa7}, ed25519.SeedSize))

// StoreKeyArgs returns the flags that give the program of service its
// store's keys, creating the key files in dir on first use: --audit-key,
// a private key of its own, and, when sealed, --data-key, a data key file
// every service of dir shares.
func StoreKeyArgs(t testing.TB, dir, service string, sealed bool) []string {
	t.Helper()
	auditKey := filepath.Join(dir, "audit-"+service+".key")
	if _, _, err := authn.LoadOrCreateKeyFile(auditKey); err != nil {
		t.Fatal(err)
	}
	args := []string{"--audit-key", auditKey}
	if !sealed {
		return args
	}
	dataKey := filepath.Join(dir, "data.key")
	if _, _, err := datakey.LoadOrCreateFile(dataKey); err != nil {
		t.Fatal(err)
	}
	return append(args, "--data-key", dataKey)
}
