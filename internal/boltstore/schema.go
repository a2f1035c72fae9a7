package boltstore

import (
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// Keys every service keeps in its meta bucket (Schema.Meta).
var (
	// metaSchemaVersion holds the storage schema version as 8 big-endian
	// bytes. A file without it was written before versions were recorded
	// and counts as version 0.
	metaSchemaVersion = []byte("schema_version")
	// metaPageSecret holds the page-token secret (see LoadOrCreateSecret).
	metaPageSecret = []byte("page_secret")
)

// MetaBucket is the name of the meta bucket (Schema.Meta) of every
// service's file. Besides the keys boltstore owns there, the storage
// schema version and the page-token secret, a service may keep its own.
var MetaBucket = []byte("meta")

// RecordFirstVersion is the first migration of every service's schema:
// version 1 is the layout the services wrote before versions were
// recorded, unchanged, so the step only records the version.
var RecordFirstVersion = Migration{From: 0, To: 1, Name: "record the storage schema version"}

// ErrSchemaTooNew reports a file whose storage schema version is newer than
// the running build reads: it was written by a newer build, and reading it
// with this one could misread or damage what the newer build wrote.
// OpenVersioned returns it wrapped in an error naming both versions.
var ErrSchemaTooNew = errors.New("storage schema version too new")

// Schema describes the stored layout of one service's file, as OpenVersioned
// needs it: where the version lives, which buckets the current layout has,
// and how to get there from older layouts.
//
// To change what a service stores, raise its Version and append a
// Migration from the old version to the new one whose Apply rewrites the
// affected records in its transaction; never edit or drop a step that has
// shipped, since a file may still be at any earlier version. Add a case to
// the service's schema test that writes the previous layout with plain
// bbolt, opens it and reads it back.
type Schema struct {
	// Meta is the bucket holding the schema version and the page-token
	// secret, under the keys "schema_version" and "page_secret"; it may
	// hold the service's own keys besides.
	Meta []byte
	// Buckets are the top-level buckets of the current layout; Meta is
	// created whether listed or not.
	Buckets [][]byte
	// Version is the layout this build writes, at least 1.
	Version uint64
	// Migrations lead, one version per step and in order, from the oldest
	// layout this build still reads to Version.
	Migrations []Migration
}

// Migration turns a file of storage schema version From into one of
// version To, which is From+1.
type Migration struct {
	From, To uint64
	// Name says in a few words what the step changes; it is logged.
	Name string
	// Apply rewrites the file inside the transaction that also records To
	// as the version, so a step is applied entirely or not at all. It
	// finds the buckets of layout From and must create those it writes to
	// that are new in To. Nil for a step that only records the version.
	Apply func(tx *bolt.Tx) error
}

// OpenVersioned opens the file at path with Open and brings it to s: a new
// file is created at s.Version; an older one is migrated step by step, each
// step in its own transaction so that a crash resumes from the last step
// committed; a newer one is refused with ErrSchemaTooNew. It then creates
// any missing bucket of s and returns the database with the page tokens
// keyed by the file's own secret. Each applied step is logged to o.Logger.
func OpenVersioned(path string, s Schema, o Options) (*bolt.DB, *PageTokens, error) {
	if err := s.validate(); err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", path, err)
	}
	db, err := Open(path, o)
	if err != nil {
		return nil, nil, err
	}
	log := o.Logger
	if log == nil {
		log = zap.NewNop()
	}
	pages, err := prepare(db, path, s, log)
	if err != nil {
		return nil, nil, errors.Join(err, db.Close())
	}
	return db, pages, nil
}

// prepare migrates db, creates the buckets of s and loads the page secret.
func prepare(db *bolt.DB, path string, s Schema, log *zap.Logger) (*PageTokens, error) {
	if err := migrate(db, path, s, log); err != nil {
		return nil, err
	}
	var secret []byte
	err := db.Update(func(tx *bolt.Tx) error {
		if err := createBuckets(tx, s.all()); err != nil {
			return err
		}
		var err error
		secret, err = secretIn(tx.Bucket(s.Meta), metaPageSecret)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return NewPageTokens(secret)
}

// migrate runs the steps of s that the stored version still needs. It
// reads before it writes, so that a file it refuses is left as it was.
func migrate(db *bolt.DB, path string, s Schema, log *zap.Logger) error {
	var stored uint64
	var fresh bool
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		stored, fresh, err = readVersion(tx, s.Meta)
		return err
	})
	if err == nil && fresh {
		stored = s.Version
		err = db.Update(func(tx *bolt.Tx) error { return initLayout(tx, s) })
	}
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	if stored > s.Version {
		return &schemaTooNewError{path: path, stored: stored, max: s.Version}
	}
	steps, err := s.pending(stored)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	for _, m := range steps {
		if err := db.Update(func(tx *bolt.Tx) error { return m.run(tx, s.Meta) }); err != nil {
			return fmt.Errorf("open %s: storage schema migration %d to %d (%s): %w", path, m.From, m.To, m.Name, err)
		}
		log.Info("storage schema migrated", zap.String("db", path),
			zap.Uint64("from", m.From), zap.Uint64("to", m.To), zap.String("migration", m.Name))
	}
	return nil
}

// readVersion returns the stored version. A file without one is either new
// (no bucket at all: fresh) or was written before versions were recorded,
// which makes it version 0.
func readVersion(tx *bolt.Tx, meta []byte) (v uint64, fresh bool, err error) {
	v, ok, err := storedVersion(tx, meta)
	if ok || err != nil {
		return v, false, err
	}
	first, _ := tx.Cursor().First()
	return 0, first == nil, nil
}

// initLayout gives a new file the buckets and the version of s, in one
// transaction so that no file has buckets but no version unless an older
// build wrote it.
func initLayout(tx *bolt.Tx, s Schema) error {
	if err := createBuckets(tx, s.all()); err != nil {
		return err
	}
	return tx.Bucket(s.Meta).Put(metaSchemaVersion, U64(s.Version))
}

// run applies m and records m.To, after checking that the file is still at
// m.From.
func (m Migration) run(tx *bolt.Tx, meta []byte) error {
	v, _, err := storedVersion(tx, meta)
	if err != nil {
		return err
	}
	if v != m.From {
		return fmt.Errorf("file is at version %d, want %d", v, m.From)
	}
	if m.Apply != nil {
		if err := m.Apply(tx); err != nil {
			return err
		}
	}
	b, err := tx.CreateBucketIfNotExists(meta)
	if err != nil {
		return err
	}
	return b.Put(metaSchemaVersion, U64(m.To))
}

// SchemaVersion returns the storage schema version recorded in the meta
// bucket, 0 when none is.
func SchemaVersion(tx *bolt.Tx, meta []byte) (uint64, error) {
	v, _, err := storedVersion(tx, meta)
	return v, err
}

func storedVersion(tx *bolt.Tx, meta []byte) (uint64, bool, error) {
	b := tx.Bucket(meta)
	if b == nil {
		return 0, false, nil
	}
	raw := b.Get(metaSchemaVersion)
	if raw == nil {
		return 0, false, nil
	}
	v, err := ParseU64(raw)
	if err != nil {
		return 0, false, fmt.Errorf("stored schema version: %w", err)
	}
	return v, true, nil
}

// pending returns the steps from version stored to s.Version.
func (s Schema) pending(stored uint64) ([]Migration, error) {
	if stored == s.Version {
		return nil, nil
	}
	for i, m := range s.Migrations {
		if m.From == stored {
			return s.Migrations[i:], nil
		}
	}
	return nil, fmt.Errorf("storage schema version %d is older than this build migrates from", stored)
}

// validate checks that the migrations of s form one chain ending at
// s.Version: a mistake there is the build's, and found on every open.
func (s Schema) validate() error {
	if len(s.Meta) == 0 || s.Version == 0 {
		return errors.New("schema needs a meta bucket and a version of at least 1")
	}
	for i, m := range s.Migrations {
		if m.To != m.From+1 || (i > 0 && m.From != s.Migrations[i-1].To) {
			return fmt.Errorf("schema migration %q (%d to %d) does not follow on by one version", m.Name, m.From, m.To)
		}
	}
	if n := len(s.Migrations); n > 0 && s.Migrations[n-1].To != s.Version {
		return fmt.Errorf("schema migrations end at version %d, want %d", s.Migrations[n-1].To, s.Version)
	}
	return nil
}

// all returns the meta bucket and the buckets of s.
func (s Schema) all() [][]byte {
	return append([][]byte{s.Meta}, s.Buckets...)
}

// schemaTooNewError is ErrSchemaTooNew with the versions, worded for the
// operator who started an older build on a newer file.
type schemaTooNewError struct {
	path        string
	stored, max uint64
}

func (e *schemaTooNewError) Error() string {
	return fmt.Sprintf("%s has storage schema version %d; this build reads versions up to %d: run a newer build",
		e.path, e.stored, e.max)
}

// Is makes errors.Is(err, ErrSchemaTooNew) hold.
func (e *schemaTooNewError) Is(target error) bool { return target == ErrSchemaTooNew }
