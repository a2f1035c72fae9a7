package boltstore

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

func openTemp(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := Open(filepath.Join(t.TempDir(), "test.db"), Options{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	})
	return db
}

func TestOpenCreatesPrivateFiles(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "var", "registry")
	path := filepath.Join(dir, "registry.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	for _, tc := range []struct {
		name string
		path string
		want os.FileMode
	}{
		{"dir", dir, 0o700},
		{"file", path, 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Stat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode = %v, want %v", got, tc.want)
			}
		})
	}
	if db.MaxBatchDelay != maxBatchDelay {
		t.Errorf("MaxBatchDelay = %v, want %v", db.MaxBatchDelay, maxBatchDelay)
	}
	if db.FreelistType != bolt.FreelistMapType {
		t.Errorf("FreelistType = %v, want %v", db.FreelistType, bolt.FreelistMapType)
	}
}

func TestOpenTwiceFailsFast(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "locked.db")
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// Open returns, with an error, rather than waiting for the lock: had
	// it waited, the test would never end.
	db2, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if err == nil {
		db2.Close()
		t.Fatal("second Open succeeded, want it to fail on the lock")
	}
	if !errors.Is(err, ErrLocked) || !errors.Is(err, berrors.ErrTimeout) {
		t.Errorf("err = %v, want ErrLocked and bbolt ErrTimeout", err)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("err = %q, want it to name %s and the lock", err, path)
	}
}

func TestCreateBuckets(t *testing.T) {
	t.Parallel()
	db := openTemp(t)
	names := [][]byte{[]byte("a"), []byte("b"), []byte("c")}
	for i := 0; i < 2; i++ { // the second call must be a no-op, not an error
		if err := CreateBuckets(db, names...); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	err := db.View(func(tx *bolt.Tx) error {
		for _, n := range names {
			if tx.Bucket(n) == nil {
				t.Errorf("bucket %q missing", n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := CreateBuckets(db, []byte("d"), nil); err == nil {
		t.Error("CreateBuckets with an empty name succeeded")
	}
	if err := db.View(func(tx *bolt.Tx) error {
		if tx.Bucket([]byte("d")) != nil {
			t.Error("failed CreateBuckets left bucket d behind; want one transaction")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenLogging(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "l.db")
	core, logs := observer.New(zapcore.DebugLevel)
	db, err := Open(path, Options{Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte("b"))
		if err != nil {
			return err
		}
		return b.Put([]byte("key-that-must-not-be-logged"), []byte("v"))
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, e := range logs.AllUntimed() {
		if e.Level == zapcore.DebugLevel || strings.Contains(e.Message, "key-that-must-not-be-logged") {
			t.Errorf("bbolt debug output reached the log: %q", e.Message)
		}
	}
	if logs.FilterLoggerName("bbolt").Len() == 0 {
		t.Error("nothing from bbolt reached the logger")
	}

	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	core, logs = observer.New(zapcore.InfoLevel)
	db, err = Open(path, Options{Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if logs.FilterMessage("database file is accessible to other users").Len() != 1 {
		t.Errorf("no warning for a 0644 file: %v", logs.AllUntimed())
	}
}

// TestLoggerAndClock: what a store is given is kept; what it is not given
// becomes a logger that may be called and the wall clock.
func TestLoggerAndClock(t *testing.T) {
	log := zaptest.NewLogger(t)
	fixed := time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	gotLog, gotNow := LoggerAndClock(log, func() time.Time { return fixed })
	if gotLog != log || !gotNow().Equal(fixed) {
		t.Errorf("given logger and clock not kept: %p, %v", gotLog, gotNow())
	}

	before := time.Now()
	gotLog, gotNow = LoggerAndClock(nil, nil)
	if gotLog == nil {
		t.Fatal("nil logger not replaced")
	}
	gotLog.Info("a no-op logger accepts this")
	if now := gotNow(); now.Before(before) || now.After(time.Now()) {
		t.Errorf("default clock read %v, not the wall clock", now)
	}
}
