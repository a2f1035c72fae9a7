package registry

import (
	"path/filepath"
	"testing"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestEpochChangesOnRestoreOnly: a file keeps its epoch across clean
// closes and opens; a copy taken while registry had the file open (what
// every backup is) starts a new epoch when it is opened, as does the file
// of a registry that did not close it.
func TestEpochChangesOnRestoreOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "registry.db")
	s := openStoreAt(t, path, 0)
	first := s.Epoch()
	if first == "" {
		t.Fatal("a new file has no epoch")
	}
	backup := filepath.Join(dir, "backup.db")
	if err := s.DB().View(func(tx *bolt.Tx) error { return tx.CopyFile(backup, 0o600) }); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openStoreAt(t, path, 0)
	if got := s.Epoch(); got != first {
		t.Errorf("epoch after a clean close = %s, want %s kept", got, first)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	restored := openStoreAt(t, backup, 0)
	restoredEpoch := restored.Epoch()
	if restoredEpoch == "" || restoredEpoch == first {
		t.Errorf("epoch of a restored backup = %q, want a new one (not %s)", restoredEpoch, first)
	}
	// Not closed: as a registry that crashed leaves its file.
	if err := restored.Base.Close(); err != nil {
		t.Fatal(err)
	}
	crashed := openStoreAt(t, backup, 0)
	defer crashed.Close()
	if got := crashed.Epoch(); got == restoredEpoch {
		t.Errorf("epoch after an unclean close = %s, want a new one", got)
	}
}

// TestWatchRefusesAnotherEpoch: a consumer's cursor of another epoch is
// refused with EPOCH_CHANGED, naming the current epoch; a cursor of the
// current epoch, or one without an epoch, replays; every message carries
// the epoch.
func TestWatchRefusesAnotherEpoch(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	createSerially(t, s, 1, 4)
	epoch := s.Epoch()
	watch := func(since int64, epoch string) pb.RegistryService_WatchRetireesClient {
		t.Helper()
		ctx, cancel := waitfor.Context(t)
		t.Cleanup(cancel)
		stream, err := h.client.WatchRetirees(servicetest.WithToken(ctx, h.token(serviceP)), &pb.WatchRetireesRequest{SinceRevision: since, Epoch: epoch})
		if err != nil {
			t.Fatal(err)
		}
		return stream
	}

	_, err := watch(1, "AN0THEREP0CH").Recv()
	info := wantReason(t, err, codes.FailedPrecondition, reasonEpochChanged)
	if got := info.Metadata["epoch"]; got != epoch {
		t.Errorf("epoch in the refusal = %q, want %q", got, epoch)
	}

	for _, e := range []string{epoch, ""} {
		got := recvN(t, watch(1, e), 2)
		for _, m := range got {
			if m.Epoch != epoch {
				t.Errorf("change %d carries epoch %q, want %q", m.Revision, m.Epoch, epoch)
			}
		}
		if got[0].Revision != 2 || got[1].Revision != 3 {
			t.Errorf("replay from 1 with epoch %q: revisions %d, %d; want 2, 3", e, got[0].Revision, got[1].Revision)
		}
	}
	// A snapshot starts any epoch afresh.
	snapshot := recvN(t, watch(0, "AN0THEREP0CH"), 4)
	for _, m := range snapshot {
		if m.Epoch != epoch {
			t.Errorf("snapshot message %v carries epoch %q, want %q", m.Kind, m.Epoch, epoch)
		}
	}
	if last := snapshot[3]; last.Kind != pb.ChangeKind_SNAPSHOT_END || last.Revision != 3 {
		t.Errorf("snapshot ends with %v at %d, want SNAPSHOT_END at 3", last.Kind, last.Revision)
	}
}
