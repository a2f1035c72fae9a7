package servicetest

import (
	"bytes"
	"crypto/ed25519"
	"testing"

	"github.com/socmgmt/socmgmt/internal/audit"
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
// with: fixed, so that a store a test reopens goes on with the same key.
var AuditKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{0xa7}, ed25519.SeedSize))

// Checkpoints are the audit checkpoints of a test's store of service,
// signed with AuditKey at the default cadence.
func Checkpoints(service string) audit.Checkpoints {
	return audit.Checkpoints{Service: service, Key: AuditKey}
}
