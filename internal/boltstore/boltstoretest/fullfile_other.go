//go:build !linux

package boltstoretest

import (
	"testing"

	bolt "go.etcd.io/bbolt"
)

// FillDisk makes every write to db's file fail as on a full disk; it
// needs Linux's /dev/full and skips t elsewhere.
func FillDisk(t testing.TB, _ *bolt.DB) (restore func()) {
	t.Helper()
	t.Skip("filling the disk needs Linux's /dev/full")
	return func() {}
}
