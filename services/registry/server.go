package registry

import (
	"context"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Server implements the registry's gRPC API: each handler authorises,
// validates, calls the store and translates the error.
type Server struct {
	pb.UnimplementedRegistryServiceServer

	store    *Store
	log      *zap.Logger
	now      func() time.Time
	stopping <-chan struct{}
	tokens   *authn.Verifier
	// watchers holds a token for each WatchRetirees stream open; its
	// capacity is the most that may be.
	watchers chan struct{}
	// maxRecords bounds the records of one ImportRetirees stream.
	maxRecords int64
	// calendar counts the working days of the death-reporting duty.
	calendar *workdays.Calendar
}

var _ pb.RegistryServiceServer = (*Server)(nil)

// ServerOptions configures a Server.
type ServerOptions struct {
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Stopping, when closed, ends WatchRetirees streams so that a graceful
	// shutdown does not wait for them.
	Stopping <-chan struct{}
	// Tokens is the verifier of the server's callers: RevokeToken checks
	// a token given to it with its keys, and puts what it revokes on its
	// revocation list at once. Nil: a revocation must name the token's id
	// and expiry, and registry takes it up only at its next start.
	Tokens *authn.Verifier
	// MaxWatchers bounds the WatchRetirees streams open at once; one more
	// is refused with RESOURCE_EXHAUSTED. DefaultMaxWatchers when zero.
	MaxWatchers int
	// MaxStreamRecords bounds the records of one ImportRetirees stream
	// (DefaultMaxStreamRecords when zero).
	MaxStreamRecords int64
	// Calendar counts the working days of the death-reporting duty;
	// workdays.Default() when nil.
	Calendar *workdays.Calendar
}

// NewServer returns a Server over store.
func NewServer(store *Store, o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxWatchers <= 0 {
		o.MaxWatchers = DefaultMaxWatchers
	}
	if o.MaxStreamRecords <= 0 {
		o.MaxStreamRecords = DefaultMaxStreamRecords
	}
	if o.Calendar == nil {
		o.Calendar = workdays.Default()
	}
	return &Server{
		calendar: o.Calendar,
		store:    store, log: o.Logger, now: o.Now, stopping: o.Stopping, tokens: o.Tokens,
		watchers: make(chan struct{}, o.MaxWatchers), maxRecords: o.MaxStreamRecords,
	}
}

// fail translates err for the client; detail of the unexpected goes to the
// request's log.
func (s *Server) fail(ctx context.Context, err error) error {
	return apierror.ToStatus(ctx, grpcserver.Logger(ctx), err)
}

// Every role may read communities and enterprises: they hold no personal
// data, and clerks and enterprises need them to fill in forms.
var readerRoles = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleEnterprise, authn.RoleService, authn.RoleStreet, authn.RoleDistrict}

// CreateCommunity implements pb.RegistryServiceServer.
func (s *Server) CreateCommunity(ctx context.Context, req *pb.CreateCommunityRequest) (*pb.CreateCommunityResponse, error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, err
	}
	if err := checkCommunity(req.Community); err != nil {
		return nil, s.fail(ctx, err)
	}
	c, err := s.store.CreateCommunity(req.Community)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateCommunityResponse{Community: c}, nil
}

// GetCommunity implements pb.RegistryServiceServer.
func (s *Server) GetCommunity(ctx context.Context, req *pb.GetCommunityRequest) (*pb.GetCommunityResponse, error) {
	if _, err := authn.Require(ctx, readerRoles...); err != nil {
		return nil, err
	}
	if !inputcheck.IsCommunityID(req.Id) {
		return nil, s.fail(ctx, fault.Invalid("id", "must be a 12-digit division code"))
	}
	c, err := s.store.GetCommunity(req.Id)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetCommunityResponse{Community: c}, nil
}

// ListCommunities implements pb.RegistryServiceServer.
func (s *Server) ListCommunities(ctx context.Context, req *pb.ListCommunitiesRequest) (*pb.ListCommunitiesResponse, error) {
	if _, err := authn.Require(ctx, readerRoles...); err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "district", req.District, false, maxDistrictLen)
	inputcheck.Text(&v, "street", req.Street, false, maxDistrictLen)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListCommunities", req.District, req.Street))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListCommunities(req.District, req.Street, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListCommunitiesResponse{Communities: list, NextPageToken: page.Next(last)}, nil
}

// CreateEnterprise implements pb.RegistryServiceServer.
func (s *Server) CreateEnterprise(ctx context.Context, req *pb.CreateEnterpriseRequest) (*pb.CreateEnterpriseResponse, error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin, authn.RoleBureau); err != nil {
		return nil, err
	}
	if err := checkEnterprise(req.Enterprise); err != nil {
		return nil, s.fail(ctx, err)
	}
	e, err := s.store.CreateEnterprise(req.Enterprise)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateEnterpriseResponse{Enterprise: e}, nil
}

// GetEnterprise implements pb.RegistryServiceServer.
func (s *Server) GetEnterprise(ctx context.Context, req *pb.GetEnterpriseRequest) (*pb.GetEnterpriseResponse, error) {
	if _, err := authn.Require(ctx, readerRoles...); err != nil {
		return nil, err
	}
	code, err := creditcode.Parse(req.CreditCode)
	if err != nil {
		return nil, s.fail(ctx, fault.Invalid("creditCode", err.Error()))
	}
	e, err := s.store.GetEnterprise(string(code))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetEnterpriseResponse{Enterprise: e}, nil
}

// ListEnterprises implements pb.RegistryServiceServer.
func (s *Server) ListEnterprises(ctx context.Context, req *pb.ListEnterprisesRequest) (*pb.ListEnterprisesResponse, error) {
	if _, err := authn.Require(ctx, readerRoles...); err != nil {
		return nil, err
	}
	if _, ok := pb.EnterpriseStatus_name[int32(req.Status)]; !ok {
		return nil, s.fail(ctx, fault.Invalid("status", "unknown status"))
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListEnterprises", req.Status.String()))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListEnterprises(req.Status, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListEnterprisesResponse{Enterprises: list, NextPageToken: page.Next(last)}, nil
}

// GetSocialisationReport implements pb.RegistryServiceServer.
func (s *Server) GetSocialisationReport(ctx context.Context, req *pb.GetSocialisationReportRequest) (*pb.GetSocialisationReportResponse, error) {
	p, err := authn.Require(ctx, authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict)
	if err != nil {
		return nil, err
	}
	groupBy := req.GroupBy
	switch groupBy {
	case "":
		groupBy = groupCommunity
	case groupDistrict, groupStreet, groupCommunity:
	default:
		return nil, s.fail(ctx, fault.Invalid("groupBy", "must be district, street or community"))
	}
	asOf, at, err := s.reportDay(req.AsOf)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	// A clerk's report counts its communities, a supervisor's its area.
	var only func(string) bool
	if p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict) {
		only = p.InArea
	}
	rows, total, from, err := s.store.SocialisationReport(groupBy, asOf, only)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetSocialisationReportResponse{GroupBy: groupBy, Rows: rows, Total: total, AsOf: timestampNow(at), HistoryStart: from}, nil
}

// reportDay reads a report's asOf: the day whose end the report counts
// at and that instant, or, when asOf is empty or today, no day (the
// counters as they are) and now.
func (s *Server) reportDay(asOf string) (string, time.Time, error) {
	now := s.now()
	if asOf == "" || asOf == dayOf(now) {
		return "", now, nil
	}
	var v fault.Violations
	day := s.checkAsOf(&v, asOf)
	if err := v.Err(); err != nil {
		return "", time.Time{}, err
	}
	end := workdays.EndOfDay(day).Add(-time.Nanosecond)
	return asOf, end, nil
}

// errStreamStopping ends watch streams when the server shuts down; clients
// reconnect and resume from their cursor.
var errStreamStopping = status.Error(codes.Unavailable, "server is shutting down")
