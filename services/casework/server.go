package casework

import (
	"context"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// Server implements the casework service's gRPC API: each handler
// authorises, validates, calls the store and translates the error. The
// care, complaint and message RPCs are served by their own files
// (care_*.go, ticket_*.go, message_*.go).
type Server struct {
	pb.UnimplementedCaseworkServiceServer

	store *Store
	log   *zap.Logger
}

var _ pb.CaseworkServiceServer = (*Server)(nil)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Logger receives the server's own events; requests log through the
	// bootstrap's per-request logger.
	Logger *zap.Logger
}

// NewServer returns a Server over store; the store's clock is the
// server's.
func NewServer(store *Store, o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Server{store: store, log: o.Logger}
}

// Who may do what with work items (DESIGN "Identity and access"): admin
// everything; bureau reads everything; a clerk works its communities'
// items; a street or district supervisor reads its area's and reassigns,
// releases, escalates, completes and cancels them; enterprises,
// archivists and the service role (which the service's own Go code acts
// as, never over the API) nothing. Require lets admin through everywhere.
var (
	itemReaders     = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	itemWorkers     = []authn.Role{authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	clerksOnly      = []authn.Role{authn.RoleClerk}
	supervisorsOnly = []authn.Role{authn.RoleStreet, authn.RoleDistrict}
)

// fail translates err for the client; detail of the unexpected goes to the
// request's log.
func (s *Server) fail(ctx context.Context, err error) error {
	return apierror.ToStatus(ctx, grpcserver.Logger(ctx), err)
}

// actorOf is who a request acts as.
func actorOf(ctx context.Context, p *authn.Principal) Actor { return audit.ActorOf(ctx, p) }

// sees is the object check of p's reads: admin and bureau see every item
// and may learn that one does not exist; a clerk sees its communities'
// items, a supervisor its area's, and everyone else is told
// PermissionDenied for a missing item as for one they may not see.
func sees(p *authn.Principal) Allowed {
	return func(it *pb.WorkItem) error {
		if p.Is(authn.RoleAdmin, authn.RoleBureau) {
			return nil
		}
		if it == nil || !p.InArea(it.CommunityId) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// manages is the object check of a change: as sees, but the bureau
// changes nothing.
func manages(p *authn.Principal) Allowed {
	return func(it *pb.WorkItem) error {
		if p.Is(authn.RoleBureau) {
			return authn.ErrPermissionDenied
		}
		return sees(p)(it)
	}
}

// assignedTo adds to manages that a clerk changes only what is assigned
// to it (or, with unassigned, also what is assigned to no one).
func assignedTo(p *authn.Principal, unassigned bool) Allowed {
	return func(it *pb.WorkItem) error {
		if err := manages(p)(it); err != nil {
			return err
		}
		if !p.Is(authn.RoleClerk) || it.Assignee == p.Subject || (unassigned && it.Assignee == "") {
			return nil
		}
		return errNotAssignee()
	}
}

// errNotAssignee refuses a clerk's change to someone else's item.
func errNotAssignee() error {
	return fault.Rule(ReasonNotAssignee, "the work item is assigned to someone else")
}
