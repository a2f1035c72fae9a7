package registry

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestOpenStoreMigratesVersion0 opens a file in the layout written before
// storage versions were recorded (version 0: today's buckets, no version
// key), built with plain bbolt, and reads its records back.
func TestOpenStoreMigratesVersion0(t *testing.T) {
	t.Parallel()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	id := idNumber(t, 1)
	community := &pb.Community{Id: communityA, Name: "北市场社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK}
	enterprise := &pb.Enterprise{CreditCode: enterpriseX, Name: "沈阳机床厂", Ownership: pb.Ownership_STATE, Status: pb.EnterpriseStatus_BANKRUPT}
	retiree := &pb.Retiree{
		Id: "abcdefghijklmnop", IdNumber: id.Digits(), Name: "退休人员", CommunityId: communityA,
		EnterpriseCreditCode: enterpriseX, ManagementMode: pb.ManagementMode_COMMUNITY,
		Status: pb.RetireeStatus_LIVING, Etag: "e1",
	}
	// An audit entry as builds before the hash chain stored it: the bare
	// entry under 0x01 and its sequence.
	read := &pb.AuditEntry{Time: timestamppb.New(testNow), Subject: "clerk-1", Role: "clerk", Action: "GetRetiree", RetireeId: retiree.Id, RequestId: "r1"}
	servicetest.WantVersion0Migrated(t, servicetest.Version0[*Store]{
		File: "registry.db", Buckets: allBuckets, Meta: bucketMeta, Version: storageSchema.Version,
		Records: func(tx *bolt.Tx) error {
			return errors.Join(
				boltstoretest.PutProto(tx, "communities", community.Id, community),
				boltstoretest.PutProto(tx, "enterprises", enterprise.CreditCode, enterprise),
				boltstoretest.PutProto(tx, "retirees", retiree.Id, retiree),
				boltstoretest.Put(tx, "retirees_by_idkey", string(keyer.Key(id)), []byte(retiree.Id)),
				boltstoretest.PutProto(tx, "audit", "\x01"+string(boltstore.U64(1)), read),
				tx.Bucket([]byte("audit")).SetSequence(1),
			)
		},
		Open: func(path string) (*Store, error) {
			return OpenStore(path, keyer, StoreOptions{Logger: zaptest.NewLogger(t)})
		},
		Reads: func(s *Store) []servicetest.Read {
			return []servicetest.Read{
				{Name: "community", Read: func() (any, error) { return s.GetCommunity(communityA) }, Want: community},
				{Name: "enterprise", Read: func() (any, error) { return s.GetEnterprise(enterpriseX) }, Want: enterprise},
				{Name: "retiree", Read: func() (any, error) { return s.GetRetiree(retiree.Id) }, Want: retiree},
				{Name: "retiree by ID number", Read: func() (any, error) { return s.LookupRetiree(id) }, Want: retiree},
				{Name: "audit entry, chained", Read: func() (any, error) {
					page, _, err := s.ListAudit(retiree.Id, 10, nil)
					return page, err
				}, Want: []*pb.AuditEntry{read}},
			}
		},
	})
}

// TestOpenStoreRefusesNewerFile checks that a file written by a newer
// build is refused, with a message an operator can act on, rather than
// read with a layout it does not have.
func TestOpenStoreRefusesNewerFile(t *testing.T) {
	t.Parallel()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "registry.db")
	newer := storageSchema.Version + 1
	boltstoretest.WriteFile(t, path, allBuckets, func(tx *bolt.Tx) error {
		return boltstoretest.Put(tx, "meta", "schema_version", boltstore.U64(newer))
	})
	s, err := OpenStore(path, keyer, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err == nil {
		s.Close()
		t.Fatal("OpenStore opened a file of a newer storage schema version")
	}
	if !errors.Is(err, boltstore.ErrSchemaTooNew) {
		t.Errorf("OpenStore: %v, want ErrSchemaTooNew", err)
	}
	want := fmt.Sprintf("registry.db has storage schema version %d; this build reads versions up to %d: run a newer build", newer, storageSchema.Version)
	if !strings.Contains(err.Error(), want) {
		t.Errorf("OpenStore: %q, want it to say %q", err, want)
	}
}
