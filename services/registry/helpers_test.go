package registry

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture ids used across the tests: servicetest's.
const communityA, communityB, communityC = servicetest.CommunityA, servicetest.CommunityB, servicetest.CommunityC
const enterpriseX, enterpriseY = servicetest.EnterpriseX, servicetest.EnterpriseY

var testKey = servicetest.IDKey

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

// newTestStore opens a store on a fresh file; it closes at the end of the
// test.
func newTestStore(t testing.TB, retention uint64) *Store {
	t.Helper()
	s := openStoreAt(t, filepath.Join(t.TempDir(), "registry.db"), retention)
	t.Cleanup(func() { s.Close() })
	return s
}

// seedRefs creates the fixture communities and enterprises.
func seedRefs(t testing.TB, s *Store) { servicetest.CreateFixtures(t, s) }

// idNumber returns the n-th distinct valid ID number of the tests.
func idNumber(_ testing.TB, n int) idnumber.ID { return servicetest.IDNumber(n) }

// newRetiree returns a valid retiree to create, with the n-th ID number.
func newRetiree(t testing.TB, n int, community string, mode pb.ManagementMode) *pb.Retiree {
	t.Helper()
	id := idNumber(t, n)
	r := &pb.Retiree{
		IdNumber:             id.Digits(),
		Name:                 fmt.Sprintf("退休人员%d", n),
		CommunityId:          community,
		EnterpriseCreditCode: enterpriseX,
		ManagementMode:       mode,
		Phone:                "13812345678",
		ResidenceAddress:     "和平区北市场街1号",
		RetirementDate:       "2010-01-01",
	}
	return r
}

// mustCreate validates and stores a retiree as the store's callers do.
func mustCreate(t testing.TB, s *Store, r *pb.Retiree) *pb.Retiree {
	t.Helper()
	id, err := checkNewRetiree(r, testNow)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.CreateRetiree(r, id, Actor{Subject: "test", Role: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
