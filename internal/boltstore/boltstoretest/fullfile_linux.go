package boltstoretest

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// FillDisk makes every write to db's file fail with ENOSPC, "no space
// left on device", as on a full disk, until the returned function is
// called: the descriptor bbolt writes through is pointed at /dev/full,
// and back again. Reads are not touched (bbolt reads through its memory
// map). It is for tests that check what a full disk does to a store; it
// skips t where /dev/full is missing.
//
// It first gives the file free pages to spare, so that the writes under
// test land on pages the file has instead of growing it: growing would
// ask /dev/full for the file's size.
func FillDisk(t testing.TB, db *bolt.DB) (restore func()) {
	t.Helper()
	makeRoom(t, db)
	fd := openDescriptor(t, db.Path())
	full, err := os.OpenFile("/dev/full", os.O_WRONLY, 0)
	if err != nil {
		t.Skipf("no /dev/full to fill the disk with: %v", err)
	}
	saved, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(full.Fd()), fd, syscall.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	done := false
	restore = func() {
		if done {
			return
		}
		done = true
		if err := syscall.Dup3(saved, fd, syscall.O_CLOEXEC); err != nil {
			t.Fatal(err)
		}
		_ = syscall.Close(saved)
		_ = full.Close()
	}
	t.Cleanup(restore)
	return restore
}

// openDescriptor returns the descriptor of this process that has path
// open.
func openDescriptor(t testing.TB, path string) int {
	t.Helper()
	want, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list open files: %v", err)
	}
	for _, e := range entries {
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == want {
			fd, err := strconv.Atoi(e.Name())
			if err != nil {
				t.Fatal(err)
			}
			return fd
		}
	}
	t.Fatalf("%s is not open in this process", path)
	return -1
}

// ballast is the bucket makeRoom writes and deletes.
var ballast = []byte("boltstoretest-ballast")

// makeRoom grows db by a few megabytes of pages and frees them again.
func makeRoom(t testing.TB, db *bolt.DB) {
	t.Helper()
	err := db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket(ballast)
		if err != nil {
			return err
		}
		for i := range 64 {
			if err := b.Put([]byte(strconv.Itoa(i)), make([]byte, 64<<10)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		err = db.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket(ballast) })
	}
	if err != nil {
		t.Fatal(err)
	}
}
