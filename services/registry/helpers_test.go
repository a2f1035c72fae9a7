package registry

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Fixture ids used across the tests.
const (
	communityA  = "210102001001"
	communityB  = "210102001002"
	communityC  = "210103002001"
	enterpriseX = "91350100M000100Y43"
	enterpriseY = "91420100177683101W"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// testNow is the fixed clock of the tests.
var testNow = time.Date(2026, 6, 15, 10, 0, 0, 0, time.UTC)

func newTestStore(t testing.TB, retention uint64) *Store {
	t.Helper()
	keyer, err := idnumber.NewKeyer(testKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := OpenStore(filepath.Join(t.TempDir(), "registry.db"), keyer, StoreOptions{
		Retention: retention,
		Logger:    zaptest.NewLogger(t),
		Now:       func() time.Time { return testNow },
		// The tests read the audit log right after the reads it records.
		DurableReads: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seedRefs creates the fixture communities and enterprises.
func seedRefs(t testing.TB, s *Store) {
	t.Helper()
	for _, c := range []*pb.Community{
		{Id: communityA, Name: "北市场社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK, Households: 3200},
		{Id: communityB, Name: "太原街社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_COMPOUND, Households: 2100},
		{Id: communityC, Name: "五里河社区", District: "沈河区", Street: "五里河街道", Kind: pb.CommunityKind_WORK_UNIT, Households: 900},
	} {
		if _, err := s.CreateCommunity(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range []*pb.Enterprise{
		{CreditCode: enterpriseX, Name: "沈阳机床厂", Ownership: pb.Ownership_STATE, Status: pb.EnterpriseStatus_BANKRUPT},
		{CreditCode: enterpriseY, Name: "武汉锅炉厂", Ownership: pb.Ownership_COLLECTIVE, Status: pb.EnterpriseStatus_OPERATING},
	} {
		if _, err := s.CreateEnterprise(e); err != nil {
			t.Fatal(err)
		}
	}
}

// idNumber returns the n-th distinct valid ID number of the tests.
func idNumber(t testing.TB, n int) idnumber.ID {
	t.Helper()
	birth := time.Date(1940+n%25, time.Month(1+n%12), 1+n%28, 0, 0, 0, 0, time.UTC)
	id, err := idnumber.Build("210102", birth, n/300%1000)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

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
