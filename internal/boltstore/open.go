// Package boltstore holds what every service's bbolt store needs beyond
// bbolt itself: opening a file safely, storage schema versions and their
// migrations, order-preserving keys, prefix scans, page tokens and sizes,
// online backup, and a per-database secret.
package boltstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
	"go.uber.org/zap"
)

// DefaultLockTimeout is how long Open waits for the file lock when
// Options.Timeout is zero. bbolt itself would wait forever, which turns a
// second copy of a service into a silent hang instead of an error.
const DefaultLockTimeout = time.Second

// maxBatchDelay replaces bbolt's 10ms default: Batch is used on request
// paths, where 10ms is most of a latency budget, and on 2 cores the batches
// fill quickly enough at 2ms.
const maxBatchDelay = 2 * time.Millisecond

// ErrLocked reports that another process holds the database file. Open
// returns it wrapped together with bbolt's ErrTimeout.
var ErrLocked = errors.New("database is locked by another process")

// LoggerAndClock returns log and now, with a no-op logger for a nil log
// and time.Now for a nil now: the defaults of every service store's
// options, which tests and tools leave out.
func LoggerAndClock(log *zap.Logger, now func() time.Time) (*zap.Logger, func() time.Time) {
	if log == nil {
		log = zap.NewNop()
	}
	if now == nil {
		now = time.Now
	}
	return log, now
}

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// Timeout is how long to wait for the file lock; 0 means DefaultLockTimeout.
	Timeout time.Duration
	// SyncFreelist writes the freelist on every commit. Off (the default,
	// as in etcd), a commit skips sorting and writing every free page id —
	// costly once a file has many — and the freelist is rebuilt by a scan
	// when the file is opened.
	SyncFreelist bool
	// Logger receives bbolt's own warnings and errors; nil discards them.
	Logger *zap.Logger
	// InitialMmapSize is the address space mapped up front; 0 means
	// DefaultInitialMmapSize. While the file fits, bbolt never remaps, and
	// a remap is the one moment a writer stops every reader.
	InitialMmapSize int
}

// DefaultInitialMmapSize is 1 GiB of address space (not memory: pages are
// read in on use).
const DefaultInitialMmapSize = 1 << 30

// Open opens (creating if needed) the bbolt file at path with the settings
// every service uses: the parent directory is created with mode 0700 and a
// new file gets mode 0600, since both hold personal data; the lock wait is
// bounded; the freelist is a hash map, which stays fast when the file is
// large and fragmented.
func Open(path string, o Options) (*bolt.DB, error) {
	if o.Timeout <= 0 {
		o.Timeout = DefaultLockTimeout
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("open %s: create directory: %w", path, err)
	}
	if o.InitialMmapSize <= 0 {
		o.InitialMmapSize = DefaultInitialMmapSize
	}
	bo := &bolt.Options{
		Timeout:         o.Timeout,
		NoFreelistSync:  !o.SyncFreelist,
		FreelistType:    bolt.FreelistMapType,
		InitialMmapSize: o.InitialMmapSize,
	}
	if o.Logger != nil {
		// Only a real logger is handed over: bbolt skips its per-key logging
		// calls entirely when it has none.
		bo.Logger = &boltLogger{s: o.Logger.Named("bbolt").WithOptions(zap.AddCallerSkip(1)).Sugar()}
	}
	db, err := bolt.Open(path, 0o600, bo)
	if errors.Is(err, berrors.ErrTimeout) {
		return nil, fmt.Errorf("open %s: %w (waited %s): %w", path, ErrLocked, o.Timeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.MaxBatchDelay = maxBatchDelay
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		// An existing file keeps its mode; say so rather than silently
		// changing what an operator may have set on purpose.
		log.Warn("database file is accessible to other users",
			zap.String("path", path), zap.Stringer("mode", fi.Mode().Perm()))
	}
	return db, nil
}

// CreateBuckets creates the named top-level buckets that do not exist yet,
// all in one transaction.
func CreateBuckets(db *bolt.DB, names ...[]byte) error {
	return db.Update(func(tx *bolt.Tx) error { return createBuckets(tx, names) })
}

func createBuckets(tx *bolt.Tx, names [][]byte) error {
	for _, name := range names {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %q: %w", name, err)
		}
	}
	return nil
}

// boltLogger adapts zap to bbolt's Logger interface.
type boltLogger struct{ s *zap.SugaredLogger }

var _ bolt.Logger = (*boltLogger)(nil)

// Debug output is dropped: bbolt logs every key it reads or writes at that
// level, which is noise at best and would put keys into logs.
func (*boltLogger) Debug(...any)          {}
func (*boltLogger) Debugf(string, ...any) {}

func (l *boltLogger) Info(v ...any)                    { l.s.Info(v...) }
func (l *boltLogger) Infof(format string, v ...any)    { l.s.Infof(format, v...) }
func (l *boltLogger) Warning(v ...any)                 { l.s.Warn(v...) }
func (l *boltLogger) Warningf(format string, v ...any) { l.s.Warnf(format, v...) }
func (l *boltLogger) Error(v ...any)                   { l.s.Error(v...) }
func (l *boltLogger) Errorf(format string, v ...any)   { l.s.Errorf(format, v...) }

// Fatal and Panic keep the contract of bbolt's Logger, which expects them
// not to return; bbolt v1.5.0 never calls them.
func (l *boltLogger) Fatal(v ...any)                 { l.s.Fatal(v...) }
func (l *boltLogger) Fatalf(format string, v ...any) { l.s.Fatalf(format, v...) }
func (l *boltLogger) Panic(v ...any)                 { l.s.Panic(v...) }
func (l *boltLogger) Panicf(format string, v ...any) { l.s.Panicf(format, v...) }
