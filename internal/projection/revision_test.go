package projection

import (
	"path/filepath"
	"testing"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// A revision is an int64 on the wire and a uint64 cursor here: a negative
// one taken as unsigned would move the cursor past every later change.
func TestApplyRefusesNegativeRevision(t *testing.T) {
	t.Parallel()
	db, err := boltstore.Open(filepath.Join(t.TempDir(), "p.db"), boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := New(db, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		kind       registryv1.ChangeKind
		revision   int64
		wantErr    bool
		wantCursor uint64
	}{
		{"change with a negative revision", registryv1.ChangeKind_UPDATED, -1, true, 0},
		{"snapshot end with a negative revision", registryv1.ChangeKind_SNAPSHOT_END, -2, true, 0},
		{"change", registryv1.ChangeKind_UPDATED, 3, false, 3},
		{"negative after a change", registryv1.ChangeKind_UPDATED, -3, true, 3},
	} {
		// In order, on one projection: each case starts from the cursor
		// the previous one left.
		t.Run(tc.name, func(t *testing.T) {
			err := p.apply([]*registryv1.WatchRetireesResponse{{Kind: tc.kind, Revision: tc.revision}})
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Errorf("apply = %v, want error %v", err, tc.wantErr)
			}
			if got := p.Cursor(); got != tc.wantCursor {
				t.Errorf("Cursor = %d, want %d", got, tc.wantCursor)
			}
		})
	}
}
