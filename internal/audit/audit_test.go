package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// entriesOf lists every entry stored for retireeID, page after page.
func entriesOf(t *testing.T, db *bolt.DB, retireeID string) []*registryv1.AuditEntry {
	t.Helper()
	return servicetest.AllPages(t, 1000, func(after []byte) ([]*registryv1.AuditEntry, []byte, error) {
		return List(db, retireeID, 100, after)
	})
}

// newLog starts a Log for a test.
func newLog(t testing.TB, db *bolt.DB, o Options) *Log {
	t.Helper()
	l, err := NewLog(db, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func openDB(t *testing.T) *bolt.DB {
	t.Helper()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "audit.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := boltstore.CreateBuckets(db, Bucket); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestGroupCommitRecordsEveryRead(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	at := time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), Now: func() time.Time { return at }, DurableReads: true})
	defer l.Close()

	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- l.Record(context.Background(), Actor{Subject: "clerk-7", Role: "clerk", RequestID: "r"}, "GetRetiree", "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb")
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range []string{"aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"} {
		all := servicetest.AllPages(t, 100, func(after []byte) ([]*registryv1.AuditEntry, []byte, error) {
			return List(db, id, 30, after)
		})
		for _, e := range all {
			if e.RetireeId != id || e.Subject != "clerk-7" || e.Action != "GetRetiree" || !e.Time.AsTime().Equal(at) {
				t.Fatalf("entry %v", e)
			}
		}
		if len(all) != 100 {
			t.Errorf("%s: %d entries, want 100", id, len(all))
		}
	}
}

func TestRecordAfterClose(t *testing.T) {
	t.Parallel()
	l := newLog(t, openDB(t), Options{DurableReads: true})
	l.Close()
	if err := l.Record(context.Background(), Actor{}, "GetRetiree", "aaaaaaaaaaaaaaaa"); !errors.Is(err, ErrClosed) {
		t.Errorf("err = %v, want ErrClosed", err)
	}
}

func TestRecordCancelled(t *testing.T) {
	t.Parallel()
	l := newLog(t, openDB(t), Options{DurableReads: true})
	defer l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Record(ctx, Actor{}, "GetRetiree", "aaaaaaaaaaaaaaaa"); err == nil {
		// Either the send or the wait may win the race with the cancelled
		// context, but a cancelled caller must never be told it succeeded
		// before its entry was written; an immediate commit is also fine.
		if n := len(entriesOf(t, l.db, "aaaaaaaaaaaaaaaa")); n != 1 {
			t.Errorf("Record returned nil but %d entries stored", n)
		}
	}
}

func TestEnqueueIsWrittenByClose(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), DurableReads: true})
	for i := 0; i < 500; i++ {
		if err := l.Enqueue(context.Background(), Actor{Subject: "bureau-1", Role: "bureau"}, "ListRetirees", "aaaaaaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if n := len(entriesOf(t, db, "aaaaaaaaaaaaaaaa")); n != 500 {
		t.Errorf("%d entries after Close, want 500", n)
	}
}

// TestListAcrossIndexAndTail pages through entries of which some are
// indexed and some still only in the log, and checks order and
// completeness for two interleaved retirees.
func TestListAcrossIndexAndTail(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), DurableReads: true})
	defer l.Close()
	ctx := context.Background()
	actor := Actor{Subject: "admin-1", Role: "admin"}
	write := func(n int) {
		for i := 0; i < n; i++ {
			if err := l.Record(ctx, actor, fmt.Sprintf("Read%d", i), "aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(25)
	if _, err := l.indexOnce(); err != nil {
		t.Fatal(err)
	}
	write(17) // not indexed yet
	for _, size := range []int{1, 7, 25, 100} {
		var got []string
		entries := servicetest.AllPages(t, 100, func(after []byte) ([]*registryv1.AuditEntry, []byte, error) {
			return List(db, "bbbbbbbbbbbbbbbb", size, after)
		})
		for _, e := range entries {
			if e.RetireeId != "bbbbbbbbbbbbbbbb" {
				t.Fatalf("entry of %s", e.RetireeId)
			}
			got = append(got, e.Action)
		}
		var want []string
		for i := 0; i < 25; i++ {
			want = append(want, fmt.Sprintf("Read%d", i))
		}
		for i := 0; i < 17; i++ {
			want = append(want, fmt.Sprintf("Read%d", i))
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("page size %d (-want +got):\n%s", size, diff)
		}
	}
}

// TestIndexerCatchesUpWhenIdle checks that entries written by reads and by
// changes' own transactions are indexed once the log goes quiet.
func TestIndexerCatchesUpWhenIdle(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), DurableReads: true})
	defer l.Close()
	for i := 0; i < 30; i++ {
		if err := l.Record(context.Background(), Actor{Subject: "s"}, "GetRetiree", "aaaaaaaaaaaaaaaa"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Update(func(tx *bolt.Tx) error {
		return Put(tx, NewEntry(Actor{Subject: "s"}, "UpdateRetiree", "aaaaaaaaaaaaaaaa", time.Now()))
	}); err != nil {
		t.Fatal(err)
	}
	waitfor.NoError(t, "the indexer to catch up with 31 entries", func(context.Context) error {
		var indexed, last uint64
		if err := db.View(func(tx *bolt.Tx) error {
			b := tx.Bucket(Bucket)
			indexed, last = indexedThrough(b), b.Sequence()
			return nil
		}); err != nil {
			return waitfor.Permanent(err)
		}
		if indexed != last || last != 31 {
			return fmt.Errorf("indexed through %d of %d", indexed, last)
		}
		return nil
	})
}

// TestReadDurableOrQueued: a durable log's Read returns once the entry is
// stored; a queued log's Read may return before, and Close flushes it.
func TestReadDurableOrQueued(t *testing.T) {
	t.Parallel()
	for _, durable := range []bool{true, false} {
		t.Run(fmt.Sprintf("durable=%v", durable), func(t *testing.T) {
			t.Parallel()
			db := openDB(t)
			l := newLog(t, db, Options{Logger: zaptest.NewLogger(t), DurableReads: durable})
			if err := l.Read(context.Background(), Actor{Subject: "u"}, "GetRetiree", "aaaaaaaaaaaaaaaa"); err != nil {
				t.Fatal(err)
			}
			if durable {
				if n := len(entriesOf(t, db, "aaaaaaaaaaaaaaaa")); n != 1 {
					t.Fatalf("after a durable Read: %d entries, want 1", n)
				}
			}
			l.Close()
			if n := len(entriesOf(t, db, "aaaaaaaaaaaaaaaa")); n != 1 {
				t.Errorf("after Close: %d entries, want 1", n)
			}
		})
	}
}

// TestReadsOnAFullDiskAreRefused: with reads queued for a group commit
// (not durable), a read whose record meets a full disk is lost, but from
// then on every read waits for its record and is refused as storage
// unavailable, rather than disclosed unrecorded, until a commit succeeds
// again.
func TestReadsOnAFullDiskAreRefused(t *testing.T) {
	t.Parallel()
	db := openDB(t)
	l := newLog(t, db, Options{Logger: zaptest.NewLogger(t, zaptest.Level(zap.FatalLevel))})
	defer l.Close()
	clerk := Actor{Subject: "clerk-7", Role: "clerk", RequestID: "r"}
	const id = "aaaaaaaaaaaaaaaa"

	restore := boltstoretest.FillDisk(t, db)
	if err := l.Read(context.Background(), clerk, "GetRetiree", id); err != nil {
		t.Fatalf("first read, queued: %v", err)
	}
	waitfor.True(t, "the audit log to see its commit fail", l.failing.Load)
	if err := l.Read(context.Background(), clerk, "GetRetiree", id); !errors.Is(err, fault.ErrStorageUnavailable) {
		t.Fatalf("read while the disk is full = %v, want storage unavailable", err)
	}
	restore()

	if err := l.Read(context.Background(), clerk, "LookupRetiree", id); err != nil {
		t.Fatalf("read once there is room again: %v", err)
	}
	if l.failing.Load() {
		t.Error("the log still fails after a commit succeeded")
	}
	got := entriesOf(t, db, id)
	if len(got) != 1 || got[0].Action != "LookupRetiree" {
		t.Errorf("entries %v, want only the read made once there was room", got)
	}
}
