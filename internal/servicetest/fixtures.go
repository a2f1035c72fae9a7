package servicetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/idnumber"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The fixture communities and enterprises every service's tests know:
// CommunityA and CommunityB are streets apart in 和平区, CommunityC is in
// another district; EnterpriseX is bankrupt, EnterpriseY operating.
const (
	CommunityA  = "210102001001"
	CommunityB  = "210102001002"
	CommunityC  = "210103002001"
	EnterpriseX = "91350100M000100Y43"
	EnterpriseY = "91420100177683101W"
)

// The supervisors' areas of the fixtures: StreetAB and DistrictAB hold
// CommunityA and CommunityB, StreetC and DistrictC hold CommunityC.
const (
	StreetAB   = "210102001"
	DistrictAB = "210102"
	StreetC    = "210103002"
	DistrictC  = "210103"
)

// IDKey is the key the tests' registries index ID numbers with.
var IDKey = []byte("0123456789abcdef0123456789abcdef")

// Communities returns new copies of the fixture communities, to create.
func Communities() []*registryv1.Community {
	return []*registryv1.Community{
		{Id: CommunityA, Name: "北市场社区", District: "和平区", Street: "北市场街道", Kind: registryv1.CommunityKind_BLOCK, Households: 3200},
		{Id: CommunityB, Name: "太原街社区", District: "和平区", Street: "北市场街道", Kind: registryv1.CommunityKind_COMPOUND, Households: 2100},
		{Id: CommunityC, Name: "五里河社区", District: "沈河区", Street: "五里河街道", Kind: registryv1.CommunityKind_WORK_UNIT, Households: 900},
	}
}

// Enterprises returns new copies of the fixture enterprises, to create.
func Enterprises() []*registryv1.Enterprise {
	return []*registryv1.Enterprise{
		{CreditCode: EnterpriseX, Name: "沈阳机床厂", Ownership: registryv1.Ownership_STATE, Status: registryv1.EnterpriseStatus_BANKRUPT},
		{CreditCode: EnterpriseY, Name: "武汉锅炉厂", Ownership: registryv1.Ownership_COLLECTIVE, Status: registryv1.EnterpriseStatus_OPERATING},
	}
}

// FixtureStore is what CreateFixtures writes to: a registry store.
type FixtureStore interface {
	CreateCommunity(*registryv1.Community) (*registryv1.Community, error)
	CreateEnterprise(*registryv1.Enterprise) (*registryv1.Enterprise, error)
}

// CreateFixtures creates the fixture communities and enterprises in s.
func CreateFixtures(t testing.TB, s FixtureStore) {
	t.Helper()
	for _, c := range Communities() {
		if _, err := s.CreateCommunity(c); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range Enterprises() {
		if _, err := s.CreateEnterprise(e); err != nil {
			t.Fatal(err)
		}
	}
}

// IDNumber returns the n-th of the tests' valid ID numbers, n from 0,
// distinct below nine million: born a day apart from 1940 on in 沈阳和平区, then
// the same days again with the next sequence number. It is safe to call
// from any goroutine.
func IDNumber(n int) idnumber.ID {
	birth := time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n%9000)
	id, err := idnumber.Build("210102", birth, n/9000%1000)
	if err != nil {
		// The area is valid and the date and sequence number in range
		// for every n: no test can reach this.
		panic(fmt.Sprintf("servicetest: ID number %d: %v", n, err))
	}
	return id
}
