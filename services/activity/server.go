package activity

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Server implements the activity service's gRPC API: each handler
// authorises, validates, calls the store and translates the error.
type Server struct {
	pb.UnimplementedActivityServiceServer

	store       *Store
	log         *zap.Logger
	communities *communities
	stopping    <-chan struct{}
}

var _ pb.ActivityServiceServer = (*Server)(nil)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Logger receives the server's own events; requests log through the
	// bootstrap's per-request logger.
	Logger *zap.Logger
	// Registry answers whether a community exists, for the calendar's
	// 404; nil takes every well-formed community id to exist.
	Registry registryv1.RegistryServiceClient
	// Stopping, when closed, ends the WatchWorkSignals streams (the
	// server's graceful stop); nil never does.
	Stopping <-chan struct{}
}

// NewServer returns a Server over store; the store's clock is the
// server's.
func NewServer(store *Store, o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Server{store: store, log: o.Logger, communities: newCommunities(o.Registry, store), stopping: o.Stopping}
}

// Who may do what (DESIGN "Identity and access"): admin everything; bureau
// reads everything but manages nothing; a clerk manages and reads its own
// communities; a street or district supervisor reads those of its area
// (and, as every reader, may subscribe to their calendars) but manages
// nothing; role service only creates venues (handover's outbox);
// enterprises nothing. Require lets admin through everywhere.
var (
	readers  = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	managers = []authn.Role{authn.RoleClerk}
)

// scopeOf is the object check of p's requests: a clerk sees the objects
// of its communities, a supervisor those of its area; admin and bureau
// see everything and may learn that
// an object does not exist, which everyone else is told with the same
// PermissionDenied as for an object they may not see.
func scopeOf(p *authn.Principal) Scope {
	return func(community string) error {
		if community == "" {
			if p.Is(authn.RoleAdmin, authn.RoleBureau) {
				return nil
			}
			return authn.ErrPermissionDenied
		}
		if p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict) && !p.InArea(community) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// communityFor returns the community a request about a whole community is
// for: the one it names, or for a clerk of a single community that one.
// A missing or malformed id is added to v: a supervisor names one
// community of its area, as the bureau names one (the lists and the
// report are a community's; its venues and activities are indexed so).
func communityFor(p *authn.Principal, v *fault.Violations, field, named string) string {
	if named == "" && p.Is(authn.RoleClerk) && len(p.Communities) == 1 {
		return p.Communities[0]
	}
	inputcheck.CommunityID(v, field, named)
	return named
}

// fail translates err for the client; detail of the unexpected goes to the
// request's log.
func (s *Server) fail(ctx context.Context, err error) error {
	return apierror.ToStatus(ctx, grpcserver.Logger(ctx), err)
}

// CreateVenue implements pb.ActivityServiceServer. Role service must send
// a request key, so that its retried deliveries create one venue.
func (s *Server) CreateVenue(ctx context.Context, req *pb.CreateVenueRequest) (*pb.CreateVenueResponse, error) {
	p, err := authn.Require(ctx, authn.RoleClerk, authn.RoleService)
	if err != nil {
		return nil, err
	}
	if err := checkVenue(req.Venue, req.RequestKey, p.Is(authn.RoleService)); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := scopeOf(p)(req.Venue.CommunityId); err != nil {
		return nil, err
	}
	// Keys are the caller's own: one caller cannot take, or block, a key
	// another uses (the handover service's keys are predictable).
	key := ""
	if req.RequestKey != "" {
		key = string(p.Role) + "\x00" + p.Subject + "\x00" + req.RequestKey
	}
	v, err := s.store.CreateVenue(req.Venue, key)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateVenueResponse{Venue: v}, nil
}

// GetVenue implements pb.ActivityServiceServer.
func (s *Server) GetVenue(ctx context.Context, req *pb.GetVenueRequest) (*pb.GetVenueResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	v, err := s.store.GetVenue(req.Id, scopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetVenueResponse{Venue: v}, nil
}

// ListVenues implements pb.ActivityServiceServer.
func (s *Server) ListVenues(ctx context.Context, req *pb.ListVenuesRequest) (*pb.ListVenuesResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	community := communityFor(p, &v, "communityId", req.CommunityId)
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListVenues", community))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := scopeOf(p)(community); err != nil {
		return nil, err
	}
	list, last, err := s.store.ListVenues(community, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListVenuesResponse{Venues: list, NextPageToken: page.Next(last)}, nil
}
