package handover

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Fixture ids used across the tests.
const (
	communityA  = "210102001001"
	communityB  = "210102001002"
	enterpriseX = "91350100M000100Y43"
	enterpriseY = "91420100177683101W"
)

// testKey indexes ID numbers in the tests' registry.
var testKey = []byte("0123456789abcdef0123456789abcdef")

// The callers of the tests, one per role and scope: clerkA works for the
// receiving community, clerkB for another; enterpriseXP owns the packages,
// enterpriseYP is another enterprise.
var (
	adminP       = authn.Principal{Subject: "admin-1", Role: authn.RoleAdmin}
	bureauP      = authn.Principal{Subject: "bureau-shenyang", Role: authn.RoleBureau}
	clerkAP      = authn.Principal{Subject: "clerk-a", Role: authn.RoleClerk, Communities: []string{communityA}}
	clerkBP      = authn.Principal{Subject: "clerk-b", Role: authn.RoleClerk, Communities: []string{communityB}}
	enterpriseXP = authn.Principal{Subject: "enterprise-x", Role: authn.RoleEnterprise, Enterprise: enterpriseX}
	enterpriseYP = authn.Principal{Subject: "enterprise-y", Role: authn.RoleEnterprise, Enterprise: enterpriseY}
	serviceP     = authn.Principal{Subject: "pension", Role: authn.RoleService}
)

// keys is an Ed25519 key pair: tokens are signed with it, and every server
// of a test verifies with its public half.
type keys struct {
	pub    ed25519.PublicKey
	priv   ed25519.PrivateKey
	signer *authn.Signer
}

func newKeys(t testing.TB) keys {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keys{pub: pub, priv: priv, signer: authn.NewSigner(priv)}
}

// as returns a context whose calls carry a token for p.
func (k keys) as(t testing.TB, p authn.Principal) context.Context {
	t.Helper()
	tok, err := k.signer.Sign(p, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}

// serviceCreds are the credentials the handover service presents.
func (k keys) serviceCreds() *authn.ServiceCredentials {
	return authn.NewServiceCredentials(k.signer, "handover", time.Hour)
}

// wantCode checks err's code and returns its status.
func wantCode(t testing.TB, err error, want codes.Code) *status.Status {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != want {
		t.Fatalf("code = %v (%q), want %v", st.Code(), st.Message(), want)
	}
	return st
}

// violations returns the BadRequest field violations of st as
// "field: description" strings.
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
func fieldsOf(st *status.Status) []string {
	var out []string
	for _, v := range violations(st) {
		field, _, _ := strings.Cut(v, ": ")
		out = append(out, field)
	}
	slices.Sort(out)
	return out
}

// reasonOf returns the ErrorInfo reason of st, or "".
func reasonOf(st *status.Status) string {
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			if info.Domain != apierror.Domain {
				return "wrong domain " + info.Domain
			}
			return info.Reason
		}
	}
	return ""
}

// wantReason checks err's code and ErrorInfo reason and returns the status.
func wantReason(t testing.TB, err error, code codes.Code, reason string) *status.Status {
	t.Helper()
	st := wantCode(t, err, code)
	if got := reasonOf(st); got != reason {
		t.Errorf("reason = %q, want %q (%s)", got, reason, st.Message())
	}
	return st
}

// wantFields checks that err is InvalidArgument naming exactly fields.
func wantFields(t testing.TB, err error, fields ...string) {
	t.Helper()
	st := wantCode(t, err, codes.InvalidArgument)
	want := slices.Clone(fields)
	slices.Sort(want)
	if got := fieldsOf(st); !slices.Equal(got, want) {
		t.Errorf("violated fields = %q, want %q", got, want)
	}
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
