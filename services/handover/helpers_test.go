package handover

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Fixture ids used across the tests: servicetest's.
const communityA, communityB = servicetest.CommunityA, servicetest.CommunityB
const enterpriseX, enterpriseY = servicetest.EnterpriseX, servicetest.EnterpriseY

// The callers of the tests, one per role and scope: clerkA works for the
// receiving community, clerkB for another; enterpriseXP owns the packages,
// enterpriseYP is another enterprise.
var (
	adminP       = servicetest.Admin()
	bureauP      = servicetest.Bureau()
	clerkAP      = servicetest.Clerk("clerk-a", communityA)
	clerkBP      = servicetest.Clerk("clerk-b", communityB)
	enterpriseXP = servicetest.Enterprise("enterprise-x", enterpriseX)
	enterpriseYP = servicetest.Enterprise("enterprise-y", enterpriseY)
	serviceP     = servicetest.Service("pension")
	// streetAP and districtAP supervise the receiving community's area,
	// streetCP and districtCP another.
	streetAP   = servicetest.Street("street-beishichang", servicetest.StreetAB)
	districtAP = servicetest.District("district-heping", servicetest.DistrictAB)
	streetCP   = servicetest.Street("street-wulihe", servicetest.StreetC)
	districtCP = servicetest.District("district-shenhe", servicetest.DistrictC)
	// archivistAP keeps the archives of the receiving community's
	// district, archivistCP another's.
	archivistAP = servicetest.Archivist("archivist-heping", servicetest.DistrictAB)
	archivistCP = servicetest.Archivist("archivist-shenhe", servicetest.DistrictC)
)

// rosterSHA is the hash of a signed and stamped roster.
const rosterSHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

// wantCode checks err's code and returns its status.
func wantCode(t testing.TB, err error, want codes.Code) *status.Status {
	t.Helper()
	return servicetest.WantCode(t, err, want)
}

// violations returns the BadRequest field violations of st as
// "field: description" strings, in order.
func violations(st *status.Status) []string {
	var out []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.FieldViolations {
				out = append(out, v.Field+": "+v.Description)
			}
		}
	}
	return out
}

// fieldsOf returns the violated fields of st, sorted.
func fieldsOf(st *status.Status) []string { return servicetest.Fields(st) }

// reasonOf returns the ErrorInfo reason of st, or "".
func reasonOf(st *status.Status) string {
	info := servicetest.ErrorInfo(st)
	if info == nil {
		return ""
	}
	if info.Domain != apierror.Domain {
		return "wrong domain " + info.Domain
	}
	return info.Reason
}

// wantReason checks err's code and ErrorInfo reason and returns the status.
func wantReason(t testing.TB, err error, code codes.Code, reason string) *status.Status {
	t.Helper()
	servicetest.WantReason(t, err, code, reason)
	return status.Convert(err)
}

// wantFields checks that err is InvalidArgument naming exactly fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	servicetest.WantFields(t, err, fields...)
}

// fakeActivity is the activity service as the outbox sees it: CreateVenue
// remembers its request keys and answers a repeated key with the first
// venue. The hooks let a test make calls fail or lose their answers.
type fakeActivity struct {
	activityv1.UnimplementedActivityServiceServer

	mu     sync.Mutex
	venues []*activityv1.Venue
	byKey  map[string]*activityv1.Venue
	calls  int
	// beforeCreate, when set, may fail a call before anything is stored.
	beforeCreate func(n int) error
	// afterCreate, when set, runs after the venue is stored and may fail
	// the call: the answer is lost although the venue exists.
	afterCreate func(n int) error
}

func newFakeActivity() *fakeActivity { return &fakeActivity{byKey: map[string]*activityv1.Venue{}} }

// CreateVenue implements activityv1.ActivityServiceServer.
func (f *fakeActivity) CreateVenue(ctx context.Context, req *activityv1.CreateVenueRequest) (*activityv1.CreateVenueResponse, error) {
	p, err := authn.Require(ctx, authn.RoleService, authn.RoleClerk)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.calls++
	n := f.calls
	before, after := f.beforeCreate, f.afterCreate
	f.mu.Unlock()
	if before != nil {
		if err := before(n); err != nil {
			return nil, err
		}
	}
	if p.Is(authn.RoleService) && req.RequestKey == "" {
		return nil, status.Error(codes.InvalidArgument, "requestKey: required")
	}
	f.mu.Lock()
	v, ok := f.byKey[req.RequestKey]
	if !ok {
		v = &activityv1.Venue{
			Id: fmt.Sprintf("v%04d", len(f.venues)+1), CommunityId: req.Venue.CommunityId, Name: req.Venue.Name,
			Address: req.Venue.Address, Capacity: req.Venue.Capacity, AreaSqm: req.Venue.AreaSqm,
		}
		f.venues = append(f.venues, v)
		f.byKey[req.RequestKey] = v
	}
	f.mu.Unlock()
	if after != nil {
		if err := after(n); err != nil {
			return nil, err
		}
	}
	return &activityv1.CreateVenueResponse{Venue: v}, nil
}

// ListVenues implements activityv1.ActivityServiceServer.
func (f *fakeActivity) ListVenues(_ context.Context, req *activityv1.ListVenuesRequest) (*activityv1.ListVenuesResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	resp := &activityv1.ListVenuesResponse{}
	for _, v := range f.venues {
		if req.CommunityId == "" || v.CommunityId == req.CommunityId {
			resp.Venues = append(resp.Venues, v)
		}
	}
	return resp, nil
}

// snapshot returns the venues created and the calls made.
func (f *fakeActivity) snapshot() ([]*activityv1.Venue, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.venues), f.calls
}
