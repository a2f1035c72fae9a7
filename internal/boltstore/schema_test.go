package boltstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

var (
	testMeta   = []byte("meta")
	testPeople = []byte("people")
)

// writeRaw builds a file with plain bbolt, as an older build would have.
func writeRaw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

// putRaw puts key and value into bucket, making the bucket if need be.
func putRaw(tx *bolt.Tx, bucket, key, value []byte) error {
	b, err := tx.CreateBucketIfNotExists(bucket)
	if err != nil {
		return err
	}
	return b.Put(key, value)
}

// readRaw reads a closed file with plain bbolt.
func readRaw(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.View(fn); err != nil {
		t.Fatal(err)
	}
}

// version0File writes a file of the layout before versions were recorded:
// a meta bucket with a page secret, and people holding one name.
func version0File(t *testing.T, secret []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.db")
	writeRaw(t, path, func(tx *bolt.Tx) error {
		if err := putRaw(tx, testMeta, metaPageSecret, secret); err != nil {
			return err
		}
		return putRaw(tx, testPeople, []byte("p1"), []byte("ann"))
	})
	return path
}

// state is what a test reads back from a file.
type state struct {
	Version uint64
	Person  string
	Buckets []string
}

func readState(t *testing.T, path string) state {
	t.Helper()
	var st state
	readRaw(t, path, func(tx *bolt.Tx) error {
		var err error
		if st.Version, err = SchemaVersion(tx, testMeta); err != nil {
			return err
		}
		if b := tx.Bucket(testPeople); b != nil {
			st.Person = string(b.Get([]byte("p1")))
		}
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			st.Buckets = append(st.Buckets, string(name))
			return nil
		})
	})
	return st
}

// recordOnly is the first step of every service: the layout is unchanged.
var recordOnly = Migration{From: 0, To: 1, Name: "record the schema version"}

// rewritePeople returns a step that rewrites every value of people with f.
func rewritePeople(from uint64, f func([]byte) []byte) Migration {
	return Migration{From: from, To: from + 1, Name: "rewrite people", Apply: func(tx *bolt.Tx) error {
		b := tx.Bucket(testPeople)
		return b.ForEach(func(k, v []byte) error { return b.Put(k, f(v)) })
	}}
}

func openVersioned(t *testing.T, path string, s Schema, log *zap.Logger) (*PageTokens, error) {
	t.Helper()
	db, pages, err := OpenVersioned(path, s, Options{Logger: log})
	if err != nil {
		return nil, err
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return pages, nil
}

func TestOpenVersionedNewFileGetsCurrentVersion(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "new.db")
	failing := Migration{From: 1, To: 2, Name: "must not run", Apply: func(*bolt.Tx) error {
		return errors.New("a new file ran a migration")
	}}
	s := Schema{Meta: testMeta, Buckets: [][]byte{testPeople}, Version: 2, Migrations: []Migration{recordOnly, failing}}
	first, err := openVersioned(t, path, s, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	want := state{Version: 2, Buckets: []string{"meta", "people"}}
	if diff := cmp.Diff(want, readState(t, path)); diff != "" {
		t.Errorf("new file (-want +got):\n%s", diff)
	}
	again, err := openVersioned(t, path, s, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	token := first.Encode("scope", []byte("k"))
	if _, err := again.Decode("scope", token); err != nil {
		t.Errorf("a token issued before reopening: %v", err)
	}
}

func TestOpenVersionedMigratesVersion0(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{7}, SecretSize)
	path := version0File(t, secret)
	core, logs := observer.New(zapcore.InfoLevel)
	s := Schema{Meta: testMeta, Buckets: [][]byte{testPeople}, Version: 2, Migrations: []Migration{
		recordOnly,
		rewritePeople(1, bytes.ToUpper),
	}}
	pages, err := openVersioned(t, path, s, zap.New(core))
	if err != nil {
		t.Fatal(err)
	}
	want := state{Version: 2, Person: "ANN", Buckets: []string{"meta", "people"}}
	if diff := cmp.Diff(want, readState(t, path)); diff != "" {
		t.Errorf("migrated file (-want +got):\n%s", diff)
	}
	var steps []string
	for _, e := range logs.FilterMessage("storage schema migrated").All() {
		f := e.ContextMap()
		steps = append(steps, f["migration"].(string))
	}
	if diff := cmp.Diff([]string{"record the schema version", "rewrite people"}, steps); diff != "" {
		t.Errorf("logged steps (-want +got):\n%s", diff)
	}
	old, err := NewPageTokens(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pages.Decode("scope", old.Encode("scope", []byte("k"))); err != nil {
		t.Errorf("a token issued before the migration: %v", err)
	}
}

func TestOpenVersionedResumesAfterFailedStep(t *testing.T) {
	t.Parallel()
	path := version0File(t, bytes.Repeat([]byte{7}, SecretSize))
	exclaim := rewritePeople(0, func(v []byte) []byte { return append(v, '!') })
	halfDone := Migration{From: 1, To: 2, Name: "fails half way", Apply: func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucket([]byte("half")); err != nil {
			return err
		}
		if err := tx.Bucket(testPeople).Put([]byte("p1"), []byte("half")); err != nil {
			return err
		}
		return errors.New("disk on fire")
	}}
	s := Schema{Meta: testMeta, Buckets: [][]byte{testPeople}, Version: 2, Migrations: []Migration{exclaim, halfDone}}
	_, err := openVersioned(t, path, s, zap.NewNop())
	if err == nil || !strings.Contains(err.Error(), "disk on fire") || errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open with a failing step: %v, want its error", err)
	}
	want := state{Version: 1, Person: "ann!", Buckets: []string{"meta", "people"}}
	if diff := cmp.Diff(want, readState(t, path)); diff != "" {
		t.Errorf("after the failed step (-want +got):\n%s", diff)
	}

	core, logs := observer.New(zapcore.InfoLevel)
	s.Migrations[1] = rewritePeople(1, bytes.ToUpper)
	if _, err := openVersioned(t, path, s, zap.New(core)); err != nil {
		t.Fatal(err)
	}
	want = state{Version: 2, Person: "ANN!", Buckets: []string{"meta", "people"}}
	if diff := cmp.Diff(want, readState(t, path)); diff != "" {
		t.Errorf("after resuming (-want +got):\n%s", diff)
	}
	if n := logs.FilterMessage("storage schema migrated").Len(); n != 1 {
		t.Errorf("resuming logged %d steps, want 1", n)
	}
}

func TestOpenVersionedRefusesNewerFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "test.db")
	writeRaw(t, path, func(tx *bolt.Tx) error { return putRaw(tx, testMeta, metaSchemaVersion, U64(3)) })
	s := Schema{Meta: testMeta, Buckets: [][]byte{testPeople}, Version: 2, Migrations: []Migration{
		recordOnly, rewritePeople(1, bytes.ToUpper),
	}}
	_, err := openVersioned(t, path, s, zap.NewNop())
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("open a version 3 file with a version 2 schema: %v, want ErrSchemaTooNew", err)
	}
	const msg = "test.db has storage schema version 3; this build reads versions up to 2: run a newer build"
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not say %q", err, msg)
	}
	// readState opening the file at all shows the lock was released.
	want := state{Version: 3, Buckets: []string{"meta"}}
	if diff := cmp.Diff(want, readState(t, path)); diff != "" {
		t.Errorf("refused file changed (-want +got):\n%s", diff)
	}
}

func TestOpenVersionedRefusesFileOlderThanItsMigrations(t *testing.T) {
	t.Parallel()
	path := version0File(t, bytes.Repeat([]byte{7}, SecretSize))
	s := Schema{Meta: testMeta, Buckets: [][]byte{testPeople}, Version: 2, Migrations: []Migration{
		rewritePeople(1, bytes.ToUpper),
	}}
	if _, err := openVersioned(t, path, s, zap.NewNop()); err == nil {
		t.Fatal("a version 0 file opened with migrations from version 1 only")
	}
	if diff := cmp.Diff(state{Person: "ann", Buckets: []string{"meta", "people"}}, readState(t, path)); diff != "" {
		t.Errorf("refused file changed (-want +got):\n%s", diff)
	}
}

func TestOpenVersionedRejectsBrokenSchema(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		schema Schema
	}{
		{"no meta bucket", Schema{Version: 1, Migrations: []Migration{recordOnly}}},
		{"version 0", Schema{Meta: testMeta}},
		{"step of two", Schema{Meta: testMeta, Version: 2, Migrations: []Migration{{From: 0, To: 2}}}},
		{"gap", Schema{Meta: testMeta, Version: 3, Migrations: []Migration{recordOnly, {From: 2, To: 3}}}},
		{"ends early", Schema{Meta: testMeta, Version: 2, Migrations: []Migration{recordOnly}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "test.db")
			if _, err := openVersioned(t, path, tc.schema, zap.NewNop()); err == nil {
				t.Fatal("open with a broken schema succeeded")
			}
			if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a broken schema created the file: %v", err)
			}
		})
	}
}
