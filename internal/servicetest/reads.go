package servicetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
)

// Read is one read a test makes of a store, such as one reopened after a
// migration, and what it must return.
type Read struct {
	// Name names the subtest.
	Name string
	// Read makes the read.
	Read func() (any, error)
	// Want is what it must return, compared with cmp.Diff and
	// protocmp.Transform.
	Want any
}

// WantReads makes each read in a subtest of its own and compares what it
// returns with what it must; opts are added to the comparison.
func WantReads(t *testing.T, reads []Read, opts ...cmp.Option) {
	t.Helper()
	opts = append([]cmp.Option{protocmp.Transform()}, opts...)
	for _, r := range reads {
		t.Run(r.Name, func(t *testing.T) {
			got, err := r.Read()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(r.Want, got, opts...); diff != "" {
				t.Errorf("read back (-want +got):\n%s", diff)
			}
		})
	}
}

// VersionedStore is a service's store as its migration tests see it.
type VersionedStore interface {
	DB() *bolt.DB
	PageTokens() *boltstore.PageTokens
}

// WantMigrated checks that s, opened on a file of an older layout,
// records schema version in its meta bucket and kept the file's
// page-token secret, so that page tokens handed out before still work.
func WantMigrated(t testing.TB, s VersionedStore, meta []byte, version uint64, secret []byte) {
	t.Helper()
	if v := boltstoretest.SchemaVersion(t, s.DB(), meta); v != version {
		t.Errorf("schema version = %d, want %d", v, version)
	}
	boltstoretest.CheckPageSecret(t, s.PageTokens(), secret)
}
