package pension

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// DefaultAmountDropShare is the share below the previous month's total
// that makes a payment an AMOUNT_DROP anomaly unless configured otherwise.
const DefaultAmountDropShare = 0.2

// Server implements the pension service's gRPC API: each handler
// authorises, validates, calls the store and translates the error.
type Server struct {
	pb.UnimplementedPensionServiceServer

	store      *Store
	log        *zap.Logger
	now        func() time.Time
	dropShare  float64
	maxRecords int64
	workdays   *workdays.Calendar
	stopping   <-chan struct{}
}

var _ pb.PensionServiceServer = (*Server)(nil)

// ServerOptions configures a Server.
type ServerOptions struct {
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// AmountDropShare is the AMOUNT_DROP threshold (DefaultAmountDropShare
	// when zero).
	AmountDropShare float64
	// MaxStreamRecords bounds the records of one import stream
	// (DefaultMaxStreamRecords when zero).
	MaxStreamRecords int64
	// Calendar counts the working days of due dates (workdays.Default
	// when nil).
	Calendar *workdays.Calendar
	// Stopping, when closed, ends the WatchWorkSignals streams (the
	// server's graceful stop); nil never does.
	Stopping <-chan struct{}
}

// NewServer returns a Server over store.
func NewServer(store *Store, o ServerOptions) *Server {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.AmountDropShare == 0 {
		o.AmountDropShare = DefaultAmountDropShare
	}
	if o.MaxStreamRecords == 0 {
		o.MaxStreamRecords = DefaultMaxStreamRecords
	}
	if o.Calendar == nil {
		o.Calendar = workdays.Default()
	}
	return &Server{store: store, log: o.Logger, now: o.Now, dropShare: o.AmountDropShare, maxRecords: o.MaxStreamRecords, workdays: o.Calendar, stopping: o.Stopping}
}

// Who may do what (DESIGN "Identity and access"): admin and bureau
// everything, a clerk the retirees of its communities; a street or
// district supervisor reads those of its area and records nothing;
// enterprises and services nothing here. authn.Require lets admin through
// everywhere.
var (
	pensionReaders = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	certifiers     = []authn.Role{authn.RoleBureau, authn.RoleClerk}
	importers      = []authn.Role{authn.RoleBureau}
)

// knowsExistence reports whether p may learn that a retiree does not
// exist (404); a clerk gets 403 for a missing retiree as for a hidden one.
func knowsExistence(p *authn.Principal) bool { return p.Is(authn.RoleAdmin, authn.RoleBureau) }

// canSee reports whether p may see the pension data of a retiree.
func canSee(p *authn.Principal, st *registryv1.RetireeState) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau:
		return true
	case authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict:
		return p.InArea(st.GetCommunityId())
	}
	return false
}

// guard is the object check the store runs inside its transaction; st is
// nil when the retiree is unknown.
func guard(p *authn.Principal) func(*registryv1.RetireeState) error {
	return func(st *registryv1.RetireeState) error {
		if st == nil {
			if knowsExistence(p) {
				return nil
			}
			return authn.ErrPermissionDenied
		}
		if !canSee(p, st) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// readRetiree answers a read of one retiree's pension data: it finds the
// retiree by key, applies p's object check (403 when p may not see it or
// may not learn that it is missing), reads the data, and records the read
// as action before the answer leaves. Its errors are translated for the
// client.
func readRetiree[K, T any](ctx context.Context, s *Server, p *authn.Principal, action string,
	find func(K) (*registryv1.RetireeState, error), key K, read func(*registryv1.RetireeState) (T, error),
) (T, error) {
	var zero T
	st, err := visible(p)(find(key))
	if err != nil {
		return zero, s.fail(ctx, err)
	}
	out, err := read(st)
	if err != nil {
		return zero, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), action, st.Id); err != nil {
		return zero, s.fail(ctx, err)
	}
	return out, nil
}

// visible returns a function that applies p's object check to the result
// of a retiree look-up.
func visible(p *authn.Principal) func(*registryv1.RetireeState, error) (*registryv1.RetireeState, error) {
	return func(st *registryv1.RetireeState, err error) (*registryv1.RetireeState, error) {
		switch {
		case err == nil:
			err = guard(p)(st)
		case isNotFound(err):
			if gerr := guard(p)(nil); gerr != nil {
				err = gerr
			}
		}
		if err != nil {
			return nil, err
		}
		return st, nil
	}
}

// canSeeCommunity checks a community-wide list: a clerk lists only its own
// communities, a supervisor only those of its area. The lists name one
// community each, for every role, so a supervisor names one of its area
// too: the due index orders a community's retirees by date, and an
// area-wide list would have to merge one range per community.
func canSeeCommunity(p *authn.Principal, community string) error {
	if p.Is(authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict) && !p.InArea(community) {
		return authn.ErrPermissionDenied
	}
	return nil
}

// fail translates err for the client; detail of the unexpected goes to the
// request's log.
func (s *Server) fail(ctx context.Context, err error) error {
	return apierror.ToStatus(ctx, grpcserver.Logger(ctx), err)
}
