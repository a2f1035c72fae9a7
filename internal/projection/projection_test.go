package projection_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func projectionPath(t *testing.T) string {
	return filepath.Join(t.TempDir(), "service.db")
}

func TestFollowsSnapshotThenLiveChanges(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	r0, _ := reg.create(communityA)
	r1, _ := reg.create(communityA)
	r2, _ := reg.create(communityB)
	head, _ := reg.head()

	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	rp.caughtUp(t, head)
	eventually(t, "the projection reports a connection", rp.p.Connected)
	rp.matchesRegistry(t, client)

	var r3 *registryv1.Retiree
	steps := []struct {
		name   string
		change func() uint64
		check  func(t *testing.T, tx *bolt.Tx)
	}{
		{
			name: "create",
			change: func() uint64 {
				var rev uint64
				r3, rev = reg.create(communityC)
				return rev
			},
			check: func(t *testing.T, tx *bolt.Tx) {
				st, err := projection.LookupKey(tx, reg.idKey(r3))
				if err != nil {
					t.Fatalf("LookupKey(new retiree): %v", err)
				}
				if st.Id != r3.Id || st.CommunityId != communityC || st.Status != registryv1.RetireeStatus_LIVING {
					t.Errorf("new retiree = %v, want id %s in %s, LIVING", st, r3.Id, communityC)
				}
				if diff := cmp.Diff([]string{r3.Id}, scanIDs(t, tx, communityC, "")); diff != "" {
					t.Errorf("PageCommunity(C) (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "transfer",
			change: func() uint64 { return reg.transfer(r0.Id, communityB) },
			check: func(t *testing.T, tx *bolt.Tx) {
				st, err := projection.Get(tx, r0.Id)
				if err != nil {
					t.Fatal(err)
				}
				if st.CommunityId != communityB {
					t.Errorf("transferred retiree's community = %s, want %s", st.CommunityId, communityB)
				}
				if diff := cmp.Diff([]string{r1.Id}, scanIDs(t, tx, communityA, "")); diff != "" {
					t.Errorf("PageCommunity(A) after the transfer (-want +got):\n%s", diff)
				}
				wantB := []string{r0.Id, r2.Id}
				slices.Sort(wantB)
				if diff := cmp.Diff(wantB, scanIDs(t, tx, communityB, "")); diff != "" {
					t.Errorf("PageCommunity(B) after the transfer (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "death",
			change: func() uint64 { return reg.recordDeath(r1.Id, "2025-03-01") },
			check: func(t *testing.T, tx *bolt.Tx) {
				st, err := projection.Get(tx, r1.Id)
				if err != nil {
					t.Fatal(err)
				}
				if st.Status != registryv1.RetireeStatus_DECEASED || st.DateOfDeath != "2025-03-01" {
					t.Errorf("after death: status %v, date of death %q", st.Status, st.DateOfDeath)
				}
				if diff := cmp.Diff([]string{r1.Id}, scanIDs(t, tx, communityA, "")); diff != "" {
					t.Errorf("a deceased retiree stays in the community's list (-want +got):\n%s", diff)
				}
			},
		},
		{
			name:   "death reversed",
			change: func() uint64 { return reg.reverseDeath(r1.Id) },
			check: func(t *testing.T, tx *bolt.Tx) {
				st, err := projection.Get(tx, r1.Id)
				if err != nil {
					t.Fatal(err)
				}
				if st.Status != registryv1.RetireeStatus_LIVING || st.DateOfDeath != "" {
					t.Errorf("after the reversal: status %v, date of death %q", st.Status, st.DateOfDeath)
				}
			},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			rp.caughtUp(t, s.change())
			if err := rp.db.View(func(tx *bolt.Tx) error { s.check(t, tx); return nil }); err != nil {
				t.Fatal(err)
			}
		})
	}
	rp.matchesRegistry(t, client)
}

func TestWaitFor(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	a, rev := reg.create(communityA)
	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	rp.waitFor(rev)

	t.Run("applied revision returns at once", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := rp.p.WaitFor(ctx, rev); err != nil {
			t.Errorf("WaitFor(applied) with a cancelled context = %v, want nil", err)
		}
	})
	t.Run("future revision ends with the context", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
		defer cancel()
		if err := rp.p.WaitFor(ctx, rev+1); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitFor(future) = %v, want DeadlineExceeded", err)
		}
	})
	t.Run("future revision returns once applied", func(t *testing.T) {
		ctx, cancel := waitfor.Context(t)
		defer cancel()
		done := make(chan error, 1)
		go func() { done <- rp.p.WaitFor(ctx, rev+1) }()
		next := reg.transfer(a.Id, communityB)
		if err := <-done; err != nil {
			t.Fatalf("WaitFor(%d) = %v", rev+1, err)
		}
		// WaitFor promises read-your-writes: the change is visible now.
		st, err := get(t, rp.db, a.Id)
		if err != nil {
			t.Fatal(err)
		}
		if st.CommunityId != communityB || rp.p.Cursor() < next {
			t.Errorf("after WaitFor: community %s, cursor %d; want %s, >= %d", st.CommunityId, rp.p.Cursor(), communityB, next)
		}
	})
}

// TestLastWrite checks the promise of LastWrite: a read transaction begun
// before a projected change is overtaken by it, one begun after is not,
// and a change elsewhere in the file does not count.
func TestLastWrite(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	a, rev := reg.create(communityA)
	rp := startProjection(t, projectionPath(t), reg.dial(), projection.Options{})
	rp.waitFor(rev)

	readAt := func() uint64 {
		t.Helper()
		tx, err := rp.db.Begin(false)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback() //nolint:errcheck // a read transaction
		return uint64(tx.ID())
	}
	before := readAt()
	if got := rp.p.LastWrite(); got == 0 || got > before {
		t.Fatalf("LastWrite() = %d after the snapshot, read transaction %d after it", got, before)
	}
	// A write of the owning service is not the projection's.
	if err := rp.db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists([]byte("service"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if got := rp.p.LastWrite(); got > before {
		t.Errorf("LastWrite() = %d after a write of another bucket, want <= %d", got, before)
	}
	rp.waitFor(reg.transfer(a.Id, communityB))
	if got := rp.p.LastWrite(); got <= before {
		t.Errorf("LastWrite() = %d after a transfer, want > %d (the read before it)", got, before)
	}
	if after := readAt(); rp.p.LastWrite() > after {
		t.Errorf("LastWrite() = %d, above the read transaction %d begun after it", rp.p.LastWrite(), after)
	}
}

func TestPageCommunity(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	var ids []string
	var rev uint64
	for range 4 {
		var r *registryv1.Retiree
		r, rev = reg.create(communityA)
		ids = append(ids, r.Id)
	}
	reg.create(communityB)
	slices.Sort(ids)
	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	rp.waitFor(rev + 1)

	tests := []struct {
		name      string
		community string
		after     string
		limit     int
		want      []string
	}{
		{name: "all", community: communityA, want: ids},
		{name: "after the first", community: communityA, after: ids[0], want: ids[1:]},
		{name: "after the last", community: communityA, after: ids[3], want: nil},
		{name: "stop early", community: communityA, limit: 2, want: ids[:2]},
		{name: "page", community: communityA, after: ids[1], limit: 1, want: ids[2:3]},
		{name: "empty community", community: communityC, want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := rp.db.View(func(tx *bolt.Tx) error {
				size := tc.limit
				if size == 0 {
					size = 100
				}
				next, err := projection.PageCommunity(tx, tc.community, tc.after, boltstore.Scan{Size: size}, func(st *registryv1.RetireeState) (bool, error) {
					got = append(got, st.Id)
					return true, nil
				})
				if wantNext := tc.limit > 0 && len(tc.want) > 0 && tc.want[len(tc.want)-1] != ids[len(ids)-1]; (next != "") != wantNext {
					t.Errorf("next = %q, want a next page: %v", next, wantNext)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("PageCommunity (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("error from fn", func(t *testing.T) {
		err := rp.db.View(func(tx *bolt.Tx) error {
			_, err := projection.PageCommunity(tx, communityA, "", boltstore.Scan{Size: 10}, func(*registryv1.RetireeState) (bool, error) {
				return true, errInjected
			})
			return err
		})
		if !errors.Is(err, errInjected) {
			t.Errorf("PageCommunity = %v, want fn's error", err)
		}
	})
	t.Run("a page examines a bounded number of retirees", func(t *testing.T) {
		var got []string
		err := rp.db.View(func(tx *bolt.Tx) error {
			next, err := projection.PageCommunity(tx, communityA, "", boltstore.Scan{Size: 10, MaxExamined: 3}, func(st *registryv1.RetireeState) (bool, error) {
				got = append(got, st.Id)
				return false, nil // a filter that matches nobody
			})
			if next != ids[2] {
				t.Errorf("next = %q, want the third retiree %q", next, ids[2])
			}
			return err
		})
		if err != nil || len(got) != 3 {
			t.Errorf("examined %d retirees (err %v), want 3", len(got), err)
		}
	})
	t.Run("unknown retiree", func(t *testing.T) {
		err := rp.db.View(func(tx *bolt.Tx) error {
			if _, err := projection.Get(tx, "nobody"); !errors.Is(err, projection.ErrUnknownRetiree) {
				t.Errorf("Get(unknown) = %v, want ErrUnknownRetiree", err)
			}
			if _, err := projection.LookupKey(tx, []byte("no such key")); !errors.Is(err, projection.ErrUnknownRetiree) {
				t.Errorf("LookupKey(unknown) = %v, want ErrUnknownRetiree", err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestResumesFromStoredCursor(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := &recordingClient{RegistryServiceClient: reg.dial()}
	a, _ := reg.create(communityA)
	reg.create(communityB)
	head, _ := reg.head()
	path := followedThenStopped(t, client, projection.Options{}, head)

	// Registry moves on while the service is down.
	c, _ := reg.create(communityC)
	reg.transfer(a.Id, communityC)
	newHead, _ := reg.head()

	var mu sync.Mutex
	var applied []string
	rp := openProjection(t, path, client, projection.Options{
		OnApply: func(_ *bolt.Tx, _, cur *registryv1.RetireeState) error {
			mu.Lock()
			applied = append(applied, cur.Id)
			mu.Unlock()
			return nil
		},
	})
	if got := rp.p.Cursor(); got != head {
		t.Fatalf("Cursor after reopening = %d, want the stored %d", got, head)
	}
	before := len(client.calls())
	rp.run()
	rp.waitFor(newHead)

	if calls := client.calls()[before:]; len(calls) == 0 || calls[0] != int64(head) {
		t.Errorf("WatchRetirees since_revision after the restart = %v, want %d first", calls, head)
	}
	mu.Lock()
	got := slices.Clone(applied)
	mu.Unlock()
	// Only the two changes made while down, in order: a snapshot would
	// have applied every retiree again.
	if diff := cmp.Diff([]string{c.Id, a.Id}, got); diff != "" {
		t.Errorf("retirees applied after the restart (-want +got):\n%s", diff)
	}
	rp.matchesRegistry(t, client)
}

// TestResetCursorStartsOverFromSnapshot: a migration that resets the
// cursor in a stopped projection's file makes the next run take a
// snapshot, which applies every retiree again; ForEach walks the retirees
// the file holds.
func TestResetCursorStartsOverFromSnapshot(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := &recordingClient{RegistryServiceClient: reg.dial()}
	a, _ := reg.create(communityA)
	b, _ := reg.create(communityB)
	head, _ := reg.head()
	path := followedThenStopped(t, client, projection.Options{}, head)

	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	err = db.Update(func(tx *bolt.Tx) error {
		if err := projection.ForEach(tx, func(st *registryv1.RetireeState) error {
			seen = append(seen, st.Id)
			return nil
		}); err != nil {
			return err
		}
		return projection.ResetCursor(tx)
	})
	if err := errors.Join(err, db.Close()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(slices.Sorted(slices.Values([]string{a.Id, b.Id})), seen); diff != "" {
		t.Errorf("ForEach (-want +got):\n%s", diff)
	}

	var mu sync.Mutex
	var applied []string
	rp := openProjection(t, path, client, projection.Options{
		OnApply: func(_ *bolt.Tx, _, cur *registryv1.RetireeState) error {
			mu.Lock()
			applied = append(applied, cur.Id)
			mu.Unlock()
			return nil
		},
	})
	if got := rp.p.Cursor(); got != 0 {
		t.Fatalf("Cursor after the reset = %d, want 0", got)
	}
	before := len(client.calls())
	rp.run()
	rp.waitFor(head)
	if calls := client.calls()[before:]; len(calls) == 0 || calls[0] != 0 {
		t.Errorf("WatchRetirees since_revision after the reset = %v, want 0 first", calls)
	}
	mu.Lock()
	got := slices.Sorted(slices.Values(applied))
	mu.Unlock()
	if diff := cmp.Diff(seen, got); diff != "" {
		t.Errorf("retirees applied again (-want +got):\n%s", diff)
	}
	rp.matchesRegistry(t, client)

	// A file without a projection has nothing to walk, and gets a cursor.
	empty, err := boltstore.Open(projectionPath(t), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer empty.Close()
	err = empty.Update(func(tx *bolt.Tx) error {
		if err := projection.ForEach(tx, func(*registryv1.RetireeState) error { return errInjected }); err != nil {
			return err
		}
		return projection.ResetCursor(tx)
	})
	if err != nil {
		t.Errorf("ForEach and ResetCursor on a file without a projection: %v", err)
	}
}

// connectedThenDown starts a registry with one retiree of communityA and
// a projection following it, waits until the projection has caught up and
// reports a connection, then stops the registry.
func connectedThenDown(t *testing.T) (*testRegistry, registryv1.RegistryServiceClient, *runningProjection, *registryv1.Retiree) {
	t.Helper()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	a, head := reg.create(communityA)
	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	rp.waitFor(head)
	eventually(t, "the projection reports a connection", rp.p.Connected)
	rp.stopRegistry(reg)
	return reg, client, rp, a
}

func TestCatchesUpAfterRegistryRestart(t *testing.T) {
	t.Parallel()
	reg, client, rp, a := connectedThenDown(t)
	reg.Start()
	b, _ := reg.create(communityB)
	rev := reg.transfer(a.Id, communityC)
	rp.waitFor(rev)
	if !rp.p.Connected() {
		t.Error("Connected = false after changes arrived over the new stream")
	}
	want, _ := states(t, client)
	if _, ok := want[b.Id]; !ok {
		t.Fatal("fixture: the retiree created after the restart is not in registry")
	}
	checkMatches(t, rp.db, want)
}

// A projection that resumes at registry's head receives nothing until the
// next change, yet its stream is open: Connected must say so, or a service
// reporting it (health, metrics) shows a healthy projection as
// disconnected for as long as registry is quiet.
func TestConnectedAfterReconnectWithoutChanges(t *testing.T) {
	t.Parallel()
	reg, _, rp, _ := connectedThenDown(t)
	reg.Start()
	eventually(t, "Connected to be true again with registry up and quiet", rp.p.Connected)
}

func TestServesReadsWhileRegistryDown(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	reg.create(communityA)
	b, _ := reg.create(communityB)
	head := reg.recordDeath(b.Id, "2024-12-31")
	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	rp.waitFor(head)
	want, _ := states(t, client)

	rp.stopRegistry(reg)

	checkMatches(t, rp.db, want)
	// The service's own writes are not held up by the reconnect loop.
	err := rp.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte("service_own"))
		if err != nil {
			return err
		}
		return b.Put([]byte("k"), []byte("v"))
	})
	if err != nil {
		t.Fatalf("service write while registry is down: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	if err := rp.p.WaitFor(ctx, head+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitFor(next revision) while registry is down = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-rp.done:
		t.Fatalf("Run returned %v while registry was down; it must keep retrying", err)
	default:
	}
	if got := rp.p.Cursor(); got != head {
		t.Errorf("Cursor while registry is down = %d, want %d", got, head)
	}
}

func TestResynchronisesAfterCompaction(t *testing.T) {
	t.Parallel()
	const retention = 5
	reg := newTestRegistry(t, retention)
	client := &recordingClient{RegistryServiceClient: reg.dial()}
	a, _ := reg.create(communityA)
	b, _ := reg.create(communityA)
	c, _ := reg.create(communityB)
	cursor, _ := reg.head()
	path := followedThenStopped(t, client, projection.Options{}, cursor)

	// While the service is down registry writes more than it keeps.
	d, _ := reg.create(communityC)
	reg.transfer(a.Id, communityB)
	reg.transfer(c.Id, communityC)
	reg.recordDeath(b.Id, "2025-01-02")
	reg.create(communityA)
	reg.transfer(d.Id, communityA)
	reg.transfer(a.Id, communityC)
	head, oldest := reg.head()
	if oldest <= cursor+1 {
		t.Fatalf("fixture: oldest kept revision %d still follows cursor %d", oldest, cursor)
	}

	before := len(client.calls())
	rp := startProjection(t, path, client, projection.Options{})
	rp.caughtUp(t, head)
	calls := client.calls()[before:]
	if len(calls) < 2 || calls[0] != int64(cursor) || !slices.Contains(calls[1:], 0) {
		t.Errorf("since_revision of the calls = %v, want %d then a snapshot (0)", calls, cursor)
	}
	rp.matchesRegistry(t, client)

	// And it follows live again afterwards.
	rp.waitFor(reg.transfer(c.Id, communityA))
	rp.matchesRegistry(t, client)
}

// Restoring registry from a backup takes its change log back behind the
// projection's cursor (REVISION_AHEAD). The retirees created after the
// backup no longer exist in registry, so the projection must not keep
// them: a service would otherwise count, pay or invite a retiree registry
// does not know.
func TestResynchronisesAfterRegistryRestoredFromBackup(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := &recordingClient{RegistryServiceClient: reg.dial()}
	a, _ := reg.create(communityA)
	reg.create(communityB)
	backupHead, _ := reg.head()
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := reg.Store().DB().View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
		t.Fatal(err)
	}
	lost, _ := reg.create(communityC)
	head := reg.transfer(a.Id, communityB)

	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	rp.waitFor(head)

	reg.Stop()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reg.Path(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	before := len(client.calls())
	reg.Start()
	eventually(t, "the projection resynchronises from a snapshot", func() bool {
		return slices.Contains(client.calls()[before:], 0) && rp.p.Cursor() == backupHead
	})

	want, _ := states(t, client)
	if _, ok := want[lost.Id]; ok {
		t.Fatal("fixture: the retiree created after the backup is still in registry")
	}
	if st, err := get(t, rp.db, a.Id); err != nil || st.CommunityId != communityA {
		t.Errorf("retiree transferred after the backup: %v, %v; want back in %s", st, err, communityA)
	}
	if _, err := get(t, rp.db, lost.Id); !errors.Is(err, projection.ErrUnknownRetiree) {
		t.Errorf("Get(retiree created after the backup) = %v, want ErrUnknownRetiree: registry no longer has it", err)
	}
	checkMatches(t, rp.db, want)
}

// TestResynchronisesWhenRestoredRegistryOvertookTheCursor: registry is
// restored from a backup and written to past the projection's cursor
// before the projection reconnects. Its head is no longer behind the
// cursor, so only the change log's epoch can tell that the revisions
// between the backup and the cursor now name other changes; without it
// the projection would resume from its cursor, keep a retiree registry
// no longer has, and miss the retirees created since the restore under
// revisions it believes it has applied.
func TestResynchronisesWhenRestoredRegistryOvertookTheCursor(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := &recordingClient{RegistryServiceClient: reg.dial()}
	a, _ := reg.create(communityA)
	reg.create(communityB)
	// A backup is a copy of the file in use, as socmgmt backup takes it.
	backup := filepath.Join(t.TempDir(), "backup.db")
	if err := reg.Store().DB().View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
		t.Fatal(err)
	}
	lost, _ := reg.create(communityC)
	cursor := reg.transfer(a.Id, communityB)
	path := followedThenStopped(t, client, projection.Options{}, cursor)

	reg.Stop()
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(reg.Path(), data, 0o600); err != nil {
		t.Fatal(err)
	}
	reg.Start()
	var overtaken []*registryv1.Retiree
	for head, _ := reg.head(); head <= cursor; head, _ = reg.head() {
		r, _ := reg.create(communityA)
		overtaken = append(overtaken, r)
	}
	head, _ := reg.head()

	before := len(client.calls())
	rp := startProjection(t, path, client, projection.Options{})
	eventually(t, "the projection resynchronises from a snapshot", func() bool {
		return slices.Contains(client.calls()[before:], 0) && rp.p.Cursor() == head
	})
	if _, err := get(t, rp.db, lost.Id); !errors.Is(err, projection.ErrUnknownRetiree) {
		t.Errorf("Get(retiree created after the backup) = %v, want ErrUnknownRetiree", err)
	}
	for _, r := range overtaken {
		if _, err := get(t, rp.db, r.Id); err != nil {
			t.Errorf("retiree created after the restore: %v", err)
		}
	}
	rp.matchesRegistry(t, client)
}

// TestCursorWithoutEpochIsNotTrusted: a projection file whose cursor was
// stored before epochs were starts over from a snapshot.
func TestCursorWithoutEpochIsNotTrusted(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := &recordingClient{RegistryServiceClient: reg.dial()}
	_, head := reg.create(communityA)
	path := followedThenStopped(t, client, projection.Options{}, head)
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte("projection_meta")).Delete([]byte("epoch")) })
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	rp := openProjection(t, path, client, projection.Options{})
	if got := rp.p.Cursor(); got != 0 {
		t.Errorf("Cursor of a file without an epoch = %d, want 0", got)
	}
	before := len(client.calls())
	rp.run()
	rp.caughtUp(t, head)
	if calls := client.calls()[before:]; len(calls) == 0 || calls[0] != 0 {
		t.Errorf("watch calls %v, want a snapshot first", calls)
	}
	rp.matchesRegistry(t, client)
}

// hookCall is what one OnApply call saw.
type hookCall struct {
	old, cur *registryv1.RetireeState
	// inTx is the projection's copy read back inside the hook's
	// transaction.
	inTx *registryv1.RetireeState
}

var hookBucket = []byte("test_hook")

func TestOnApplySeesOldAndNewInSameTransaction(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	a, head := reg.create(communityA)

	var (
		mu       sync.Mutex
		calls    []hookCall
		fail     atomic.Bool
		failures atomic.Int32
	)
	hook := func(tx *bolt.Tx, old, cur *registryv1.RetireeState) error {
		inTx, err := projection.Get(tx, cur.Id)
		if err != nil {
			return fmt.Errorf("hook cannot read the state it is told about: %w", err)
		}
		b, err := tx.CreateBucketIfNotExists(hookBucket)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(cur.Id), []byte(cur.CommunityId+"/"+cur.Status.String())); err != nil {
			return err
		}
		if fail.Load() {
			failures.Add(1)
			return errInjected
		}
		mu.Lock()
		calls = append(calls, hookCall{old: proto.Clone(old).(*registryv1.RetireeState), cur: proto.Clone(cur).(*registryv1.RetireeState), inTx: inTx})
		mu.Unlock()
		return nil
	}
	takeCalls := func() []hookCall {
		mu.Lock()
		defer mu.Unlock()
		out := calls
		calls = nil
		return out
	}
	rp := startProjection(t, projectionPath(t), client, projection.Options{OnApply: hook})
	// hookValue reads what the hook recorded for a retiree in its own
	// bucket, committed with the projection's change.
	hookValue := func(id string) string {
		var v string
		err := rp.db.View(func(tx *bolt.Tx) error {
			if b := tx.Bucket(hookBucket); b != nil {
				v = string(b.Get([]byte(id)))
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	rp.waitFor(head)

	var b *registryv1.Retiree
	type state struct {
		community string
		status    registryv1.RetireeStatus
	}
	living := registryv1.RetireeStatus_LIVING
	steps := []struct {
		name    string
		change  func() (string, uint64)
		wantOld *state
		wantCur state
	}{
		{
			name:    "snapshot entry",
			change:  func() (string, uint64) { return a.Id, head },
			wantCur: state{communityA, living},
		},
		{
			name: "create",
			change: func() (string, uint64) {
				var rev uint64
				b, rev = reg.create(communityB)
				return b.Id, rev
			},
			wantCur: state{communityB, living},
		},
		{
			name:    "transfer",
			change:  func() (string, uint64) { return a.Id, reg.transfer(a.Id, communityC) },
			wantOld: &state{communityA, living},
			wantCur: state{communityC, living},
		},
		{
			name:    "death",
			change:  func() (string, uint64) { return b.Id, reg.recordDeath(b.Id, "2025-05-05") },
			wantOld: &state{communityB, living},
			wantCur: state{communityB, registryv1.RetireeStatus_DECEASED},
		},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			id, rev := s.change()
			rp.waitFor(rev)
			got := takeCalls()
			if len(got) != 1 {
				t.Fatalf("hook called %d times, want once", len(got))
			}
			c := got[0]
			if c.cur.Id != id {
				t.Errorf("hook cur.Id = %s, want %s", c.cur.Id, id)
			}
			if s.wantOld == nil {
				if c.old != nil {
					t.Errorf("hook old = %v, want nil for a retiree seen first", c.old)
				}
			} else if c.old == nil || c.old.Id != id || (state{c.old.CommunityId, c.old.Status}) != *s.wantOld {
				t.Errorf("hook old = %v, want %+v", c.old, *s.wantOld)
			}
			if (state{c.cur.CommunityId, c.cur.Status}) != s.wantCur {
				t.Errorf("hook cur = %v, want %+v", c.cur, s.wantCur)
			}
			if diff := cmp.Diff(c.cur, c.inTx, protocmp.Transform()); diff != "" {
				t.Errorf("projection state inside the hook's transaction differs from cur (-cur +in tx):\n%s", diff)
			}
			wantValue := s.wantCur.community + "/" + s.wantCur.status.String()
			if v := hookValue(id); v != wantValue {
				t.Errorf("hook's own record = %q, want %q", v, wantValue)
			}
		})
	}

	t.Run("failing hook rolls the change back", func(t *testing.T) {
		fail.Store(true)
		before := rp.p.Cursor()
		rev := reg.transfer(a.Id, communityA)
		eventually(t, "the hook fails twice (the batch is retried)", func() bool { return failures.Load() >= 2 })
		if got := rp.p.Cursor(); got != before {
			t.Errorf("Cursor moved to %d past a failed apply, want %d", got, before)
		}
		// The projection and the hook's own record hold a in community,
		// and always together.
		wantIn := func(community, when string) {
			t.Helper()
			st, err := get(t, rp.db, a.Id)
			if err != nil {
				t.Fatal(err)
			}
			if st.CommunityId != community {
				t.Errorf("projection community = %s %s, want %s", st.CommunityId, when, community)
			}
			if v, want := hookValue(a.Id), community+"/LIVING"; v != want {
				t.Errorf("hook's own record = %q %s, want %q", v, when, want)
			}
		}
		wantIn(communityC, "after the hook failed (the old one)")
		takeCalls()

		fail.Store(false)
		rp.waitFor(rev)
		wantIn(communityA, "once the hook works")
	})
}

func TestAppliesBurstInFewTransactions(t *testing.T) {
	t.Parallel()
	const creates, assigns = 500, 3 // 500 creates and 3 × 500 assignments: 2,000 changes
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	_, first := reg.create(communityA)

	var (
		mu    sync.Mutex
		perTx map[int]int // write transaction id -> retirees applied in it
	)
	o := projection.Options{OnApply: func(tx *bolt.Tx, _, _ *registryv1.RetireeState) error {
		mu.Lock()
		perTx[tx.ID()]++
		mu.Unlock()
		return nil
	}}
	perTx = make(map[int]int)
	path := followedThenStopped(t, client, o, first)

	// The burst is written while the service is down, so that it arrives
	// as one backlog rather than trickling in as it is made.
	ids := make([]idnumber.ID, creates)
	for i := range ids {
		ids[i] = reg.nextID()
	}
	created := make([]string, creates)
	errs := make(chan error, creates)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := w; i < creates; i += 8 {
				r, err := reg.Store().CreateRetiree(newRetiree(ids[i], communityA), ids[i], testActor)
				if err != nil {
					errs <- err
					return
				}
				created[i] = r.Id
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	targets := []struct {
		community string
		mode      registryv1.ManagementMode
	}{
		{communityB, registryv1.ManagementMode_COMMUNITY},
		{communityA, registryv1.ManagementMode_BUREAU},
		{communityC, registryv1.ManagementMode_COMMUNITY},
	}
	for i, to := range targets[:assigns] {
		resp, err := reg.Store().AssignRetirees(fmt.Sprintf("burst-%d", i), created, to.community, to.mode, "handover", testActor)
		if err != nil {
			t.Fatal(err)
		}
		if resp.Assigned != creates {
			t.Fatalf("fixture: assigned %d, want %d", resp.Assigned, creates)
		}
	}
	head, _ := reg.head()
	const changes = creates * (1 + assigns)
	if head != first+changes {
		t.Fatalf("fixture: head %d, want %d", head, first+changes)
	}

	mu.Lock()
	perTx = make(map[int]int)
	mu.Unlock()
	start := time.Now()
	rp := startProjection(t, path, client, o)
	rp.caughtUp(t, head)
	t.Logf("applied %d changes in %v", changes, time.Since(start))

	mu.Lock()
	total, largest := 0, 0
	for _, n := range perTx {
		total += n
		largest = max(largest, n)
	}
	txs := len(perTx)
	mu.Unlock()
	t.Logf("%d transactions, largest %d", txs, largest)
	if total != changes {
		t.Errorf("applied %d retiree states, want exactly the %d changes", total, changes)
	}
	// One transaction per change would mean 2,000 fsyncs; the batching
	// must bring that down by an order of magnitude at least, and one
	// batch is bounded (maxApplyBatch, 1,000).
	if txs > changes/10 {
		t.Errorf("%d transactions for %d changes, want at most %d", txs, changes, changes/10)
	}
	if largest > 1000 {
		t.Errorf("one transaction applied %d changes, more than the batch bound 1000", largest)
	}
	rp.matchesRegistry(t, client)
}

// TestMetrics: the projection's revision and connection are exported under
// the project's prefix, read afresh at each scrape.
func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := newTestRegistry(t, 0)
	client := reg.dial()
	_, rev := reg.create(communityA)
	rp := startProjection(t, projectionPath(t), client, projection.Options{})
	metrics := prometheus.NewRegistry()
	if err := projection.RegisterMetrics(metrics, rp.p); err != nil {
		t.Fatal(err)
	}
	rp.waitFor(rev)
	eventually(t, "the projection to report itself connected", rp.p.Connected)
	want := fmt.Sprintf(`
# HELP socmgmt_projection_connected 1 while the projection's WatchRetirees stream is open, else 0.
# TYPE socmgmt_projection_connected gauge
socmgmt_projection_connected 1
# HELP socmgmt_projection_revision The registry revision the retiree projection has applied through.
# TYPE socmgmt_projection_revision gauge
socmgmt_projection_revision %d
`, rp.p.Cursor())
	if err := testutil.GatherAndCompare(metrics, strings.NewReader(want), projection.MetricConnected, projection.MetricRevision); err != nil {
		t.Error(err)
	}
	rp.stopRegistry(reg)
	disconnected := `
# HELP socmgmt_projection_connected 1 while the projection's WatchRetirees stream is open, else 0.
# TYPE socmgmt_projection_connected gauge
socmgmt_projection_connected 0
`
	if err := testutil.GatherAndCompare(metrics, strings.NewReader(disconnected), projection.MetricConnected); err != nil {
		t.Errorf("after registry stopped: %v", err)
	}
	if err := projection.RegisterMetrics(metrics, rp.p); err == nil {
		t.Error("registering the same metrics twice succeeded")
	}
}
