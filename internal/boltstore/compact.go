package boltstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
)

// compactTxSize bounds the data one transaction of CompactFile copies.
const compactTxSize = 64 << 20

// CompactFile rewrites the bbolt file at path, which nothing may have
// open, into a fresh file holding only its live data, and puts that in
// its place. Free pages keep what was deleted or overwritten until bbolt
// happens to reuse them; a store compacts its file when what they may
// hold must not stay on disk (personal data just encrypted). The old file
// stays in place until the new one is complete and synced.
func CompactFile(path string, o Options) (err error) {
	src, err := Open(path, o)
	if err != nil {
		return err
	}
	tmp := path + ".compacting"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return errors.Join(fmt.Errorf("compact %s: %w", path, err), src.Close())
	}
	dst, err := Open(tmp, o)
	if err != nil {
		return errors.Join(err, src.Close())
	}
	err = bolt.Compact(dst, src, compactTxSize)
	err = errors.Join(err, dst.Close(), src.Close())
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("compact %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // G304: the directory of the service's own file
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
