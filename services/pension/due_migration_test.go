package pension

import (
	"bytes"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/testclock"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestOpenStoreMigratesDueIndexToVersion3 opens a file of storage version
// 2, whose due index files retirees under a rolling due date (empty for
// the never certified) and whose projected states lack the work-list
// fields, and checks that the index is rebuilt by the last certification
// day, counting the start of the pension, and that the projection starts
// over from a snapshot that brings the names.
func TestOpenStoreMigratesDueIndexToVersion3(t *testing.T) {
	t.Parallel()
	keyer := testKeyer(t)
	state := func(n int, community string) *registryv1.RetireeState {
		st := retiree(t, keyer, n, community)
		st.Name, st.IdNumberMasked, st.PhoneMasked = "", "", ""
		return st
	}
	never, certified, dead, recent := state(0, communityA), state(1, communityA), state(2, communityA), state(3, communityB)
	dead.Status, dead.DateOfDeath = registryv1.RetireeStatus_DECEASED, "2026-01-10"
	recent.RetirementDate = "2026-03-10"
	cert := &pb.Certification{RetireeId: certified.Id, Method: pb.CertificationMethod_DATA_MATCH, CertifiedOn: "2025-09-01", RecordedBy: "bureau"}

	path := filepath.Join(t.TempDir(), "pension.db")
	secret := bytes.Repeat([]byte{7}, 32)
	boltstoretest.WriteFile(t, path, append(projectionBuckets, allBuckets...), func(tx *bolt.Tx) error {
		puts := []error{
			boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(2)),
			boltstoretest.Put(tx, "meta", "page_secret", secret),
			boltstoretest.Put(tx, "projection_meta", "cursor", boltstore.U64(7)),
			boltstoretest.PutProto(tx, "certifications", string(boltstore.AppendU64(boltstore.Prefix(certified.Id, "2025-09-01"), 1)), cert),
			// The version-2 index: due date, retiree -> last certification.
			boltstoretest.Put(tx, "certification_due", string(boltstore.Key(communityA, "", never.Id)), nil),
			boltstoretest.Put(tx, "certification_due", string(boltstore.Key(communityA, "2026-09-01", certified.Id)), []byte("2025-09-01")),
			boltstoretest.Put(tx, "certification_due", string(boltstore.Key(communityB, "", recent.Id)), nil),
		}
		for _, st := range []*registryv1.RetireeState{never, certified, dead, recent} {
			puts = append(puts,
				boltstoretest.PutProto(tx, "projection_retirees", st.Id, st),
				boltstoretest.Put(tx, "projection_by_idkey", string(st.IdNumberKey), []byte(st.Id)),
				boltstoretest.Put(tx, "projection_by_community", string(boltstore.Key(st.CommunityId, st.Id)), nil),
			)
		}
		return errors.Join(puts...)
	})

	s, err := OpenStore(path, keyer, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	servicetest.WantMigrated(t, s, bucketMeta, storageSchema.Version, secret)
	if got := s.Projection().Cursor(); got != 0 {
		t.Errorf("projection cursor after the migration = %d, want 0 (a new snapshot)", got)
	}
	servicetest.WantReads(t, []servicetest.Read{
		{Name: "the due index", Read: func() (any, error) { return dueIndexKeys(t, s), nil }, Want: []string{
			string(dueKey(communityA, "2010-02-01", never.Id)) + " PENSION_START",
			string(dueKey(communityA, "2025-09-01", certified.Id)) + " DATA_MATCH",
			string(dueKey(communityB, "2026-04-01", recent.Id)) + " PENSION_START",
		}},
		{Name: "overdue in A", Read: func() (any, error) {
			list, _, err := s.ListDue(OverdueOn(communityA, testNow), 50, nil)
			return overdueIDs(list), err
		}, Want: []string{never.Id}},
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The projection, run against a registry whose states carry the names,
	// starts from a snapshot and takes them in.
	withNames := []*registryv1.RetireeState{retiree(t, keyer, 0, communityA), retiree(t, keyer, 1, communityA), dead, retiree(t, keyer, 3, communityB)}
	for _, st := range withNames {
		st.Name = "退休人员"
	}
	withNames[3].RetirementDate = recent.RetirementDate
	e := &env{t: t, registry: servicetest.NewFakeRegistry(withNames...), keyer: keyer, path: path, now: testclock.New(testNow)}
	e.server = servicetest.Serve(t, servicetest.Options{Name: "registry", Register: e.registry.Register})
	e.open()
	e.sync()
	if calls := e.registry.Sinces(); len(calls) == 0 || calls[0] != 0 {
		t.Errorf("since revisions %v: want a snapshot first", calls)
	}
	list, _, err := e.store.ListDue(OverdueOn(communityA, testNow), 50, nil)
	if err != nil || len(list) != 1 || list[0].Name != "退休人员" || list[0].LastChannel != pb.CertificationMethod_PENSION_START {
		t.Errorf("overdue in A after the snapshot: %v, %v", list, err)
	}
	if diff := cmp.Diff([]string{
		string(dueKey(communityA, "2010-02-01", never.Id)) + " PENSION_START",
		string(dueKey(communityA, "2025-09-01", certified.Id)) + " DATA_MATCH",
		string(dueKey(communityB, "2026-04-01", recent.Id)) + " PENSION_START",
	}, dueIndexKeys(t, e.store)); diff != "" {
		t.Errorf("due index after the snapshot (-want +got):\n%s", diff)
	}
}

// dueIndexKeys returns the due index's keys, each with its channel.
func dueIndexKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var out []string
	err := s.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDue).ForEach(func(k, v []byte) error {
			if len(v) != 1 {
				t.Errorf("due index value %q of %q", v, k)
				return nil
			}
			out = append(out, string(k)+" "+pb.CertificationMethod(v[0]).String())
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func overdueIDs(list []*pb.OverdueCertification) []string {
	var out []string
	for _, o := range list {
		out = append(out, o.RetireeId)
	}
	return out
}
