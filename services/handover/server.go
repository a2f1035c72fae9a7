package handover

import (
	"context"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/tracing"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Server implements the handover's gRPC API: each handler authorises,
// validates, calls the store with a workflow step and translates the
// error.
type Server struct {
	pb.UnimplementedHandoverServiceServer

	store    *Store
	registry *registryChecker
	funds    FundsRule
	now      func() time.Time
	stopping <-chan struct{}
}

var _ pb.HandoverServiceServer = (*Server)(nil)

// ServerOptions configures a Server.
type ServerOptions struct {
	// Registry is the client submit checks packages with; it must present
	// a service token.
	Registry registryv1.RegistryServiceClient
	// SubmitTimeout bounds the registry checks of one submit;
	// DefaultSubmitTimeout when zero.
	SubmitTimeout time.Duration
	// FundsRequired is where the region's rule requires funds with a
	// handover; nowhere when empty.
	FundsRequired FundsRule
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Stopping, when closed, ends the WatchWorkSignals streams (the
	// server's graceful stop); nil never does.
	Stopping <-chan struct{}
}

// NewServer returns a Server over store.
func NewServer(store *Store, o ServerOptions) *Server {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SubmitTimeout <= 0 {
		o.SubmitTimeout = DefaultSubmitTimeout
	}
	return &Server{
		store:    store,
		registry: &registryChecker{client: o.Registry, timeout: o.SubmitTimeout, batch: factsBatch},
		funds:    o.FundsRequired,
		stopping: o.Stopping,
		now:      o.Now,
	}
}

// Who may do what (DESIGN "Identity and access"); admin passes every
// authn.Require. The object checks are canSee and the parties' guards.
var (
	readers = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleEnterprise, authn.RoleStreet, authn.RoleDistrict, authn.RoleArchivist}
	owners  = []authn.Role{authn.RoleEnterprise}
)

// canSee reports whether p may read h: an enterprise its own packages;
// once submitted (a draft is the enterprise's own business), a clerk
// those with a part in one of its communities (partView leaves out the
// other parts), a street or district supervisor those its unit or a unit
// under it receives, an archivist those received in its district; bureau
// and admin all.
func canSee(p *authn.Principal, h *pb.Handover) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau:
		return true
	case authn.RoleEnterprise:
		return p.OwnsEnterprise(h.EnterpriseCreditCode)
	case authn.RoleClerk:
		return h.SubmitTime != nil && clerkSees(p, h)
	case authn.RoleStreet, authn.RoleDistrict:
		return h.SubmitTime != nil && superviseReceiver(p, h)
	case authn.RoleArchivist:
		return h.SubmitTime != nil && p.KeepsArchivesOf(h.ReceiverCode)
	}
	return false
}

// knowsExistence reports whether p may learn that a handover does not
// exist (404); everyone else gets 403 for a missing handover as for a
// hidden one.
func knowsExistence(p *authn.Principal) bool { return p.Is(authn.RoleAdmin, authn.RoleBureau) }

// hide answers a read of a missing handover.
func hide(p *authn.Principal, err error) error {
	if isNotFound(err) && !knowsExistence(p) {
		return authn.ErrPermissionDenied
	}
	return err
}

// party is who takes a workflow step: the roles that may call it and the
// object check of the handover it acts on.
type party struct {
	roles []authn.Role
	// may reports whether p may act on h; admin may act on every
	// handover.
	may func(p *authn.Principal, h *pb.Handover) bool
}

// The parties of the workflow: the enterprise acts on its own packages;
// the receiving unit (its street or district supervisor, or the clerk of
// the one community a package is addressed to while it holds every part)
// on those submitted to it; the supervisor allocates; the bureau verifies
// the roster; archives are received by the district's archivist or the
// receiving unit.
var (
	byOwner = party{roles: owners, may: func(p *authn.Principal, h *pb.Handover) bool {
		return p.OwnsEnterprise(h.EnterpriseCreditCode)
	}}
	byReceiver  = party{roles: []authn.Role{authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}, may: receives}
	byAllocator = party{roles: []authn.Role{authn.RoleStreet, authn.RoleDistrict}, may: func(p *authn.Principal, h *pb.Handover) bool {
		return h.SubmitTime != nil && superviseReceiver(p, h)
	}}
	byBureau   = party{roles: []authn.Role{authn.RoleBureau}, may: func(*authn.Principal, *pb.Handover) bool { return true }}
	byArchives = party{roles: []authn.Role{authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict, authn.RoleArchivist},
		may: func(p *authn.Principal, h *pb.Handover) bool {
			return receives(p, h) || h.SubmitTime != nil && p.KeepsArchivesOf(h.ReceiverCode)
		}}
)

// receives reports whether p acts for the receiving unit of submitted h.
func receives(p *authn.Principal, h *pb.Handover) bool {
	if h.SubmitTime == nil {
		return false
	}
	if p.Role == authn.RoleClerk {
		return clerkHoldsAll(p, h)
	}
	return superviseReceiver(p, h)
}

// guard is by's object check for p, as Store.mutate takes it: h is nil
// when the handover does not exist, and then who may know that (admin,
// and the bureau in its own step) learns it, as a read tells it.
func (by party) guard(p *authn.Principal) func(*pb.Handover) error {
	return func(h *pb.Handover) error {
		if p.Role == authn.RoleAdmin || h == nil && knowsExistence(p) || h != nil && by.may(p, h) {
			return nil
		}
		return authn.ErrPermissionDenied
	}
}

// takeStep is every workflow step on a stored handover: it authorises the
// caller as one of by's roles, validates the request with check (nil when
// there is nothing to check beyond the id and the etag), applies fn under
// by's object check and the etag in one transaction, and translates the
// error.
func (s *Server) takeStep(ctx context.Context, by party, id, etag string, check func() error, fn step) (*pb.Handover, error) {
	p, err := authn.Require(ctx, by.roles...)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	h, err := s.store.mutate(id, etag, audit.ActorOf(ctx, p), by.guard(p), fn)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return viewFor(p, h), nil
}

// rule makes a step of a workflow rule that changes nothing but the
// handover, recording action with the rule's detail.
func rule(action string, apply func(*pb.Handover) (string, error)) step {
	return func(_ *txn, h *pb.Handover) (string, string, error) {
		detail, err := apply(h)
		return action, detail, err
	}
}

// fail translates err for the client; detail of the unexpected goes to the
// request's log.
func (s *Server) fail(ctx context.Context, err error) error {
	return apierror.ToStatus(ctx, grpcserver.Logger(ctx), err)
}

// today is the date in China now.
func (s *Server) today() string { return dateIn(s.now()) }

// CreateHandover implements pb.HandoverServiceServer. An enterprise
// creates packages of its own credit code, which it may leave out.
func (s *Server) CreateHandover(ctx context.Context, req *pb.CreateHandoverRequest) (*pb.CreateHandoverResponse, error) {
	p, err := authn.Require(ctx, owners...)
	if err != nil {
		return nil, err
	}
	h := req.Handover
	if h != nil && h.EnterpriseCreditCode == "" && p.Role == authn.RoleEnterprise {
		h.EnterpriseCreditCode = p.Enterprise
	}
	if err := checkNewHandover(h); err != nil {
		return nil, s.fail(ctx, err)
	}
	if p.Role == authn.RoleEnterprise && !p.OwnsEnterprise(h.EnterpriseCreditCode) {
		return nil, authn.ErrPermissionDenied
	}
	draft := newDraft(h)
	created, err := s.store.CreateHandover(draft, audit.ActorOf(ctx, p), draftSummary(draft))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.CreateHandoverResponse{Handover: viewFor(p, created)}, nil
}

// GetHandover implements pb.HandoverServiceServer.
func (s *Server) GetHandover(ctx context.Context, req *pb.GetHandoverRequest) (*pb.GetHandoverResponse, error) {
	h, err := s.readable(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	return &pb.GetHandoverResponse{Handover: h}, nil
}

// readable returns handover id to a reader who may see it, or the error
// to answer: whoever may not see the handover gets the same 403 whether
// or not it exists.
func (s *Server) readable(ctx context.Context, id string) (*pb.Handover, error) {
	p, h, err := s.readableWhole(ctx, id)
	if err != nil {
		return nil, err
	}
	return viewFor(p, h), nil
}

// viewFor is what p reads of h, which it may see: a clerk's part of it
// (partView) without the party transfers p may not read (redactParty).
// Every answer that carries a handover is made with it.
func viewFor(p *authn.Principal, h *pb.Handover) *pb.Handover {
	v := partView(p, h)
	redactParty(p, v)
	return v
}

// readableWhole is readable's check, returning the caller and the whole
// handover, before the caller's view of it.
func (s *Server) readableWhole(ctx context.Context, id string) (*authn.Principal, *pb.Handover, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, nil, err
	}
	h, err := s.store.GetHandover(id)
	if err != nil {
		return nil, nil, s.fail(ctx, hide(p, err))
	}
	if !canSee(p, h) {
		return nil, nil, authn.ErrPermissionDenied
	}
	return p, h, nil
}

// ListHandovers implements pb.HandoverServiceServer. An enterprise lists
// its own packages; a clerk those submitted to its communities; a
// supervisor those submitted to the communities of its area.
func (s *Server) ListHandovers(ctx context.Context, req *pb.ListHandoversRequest) (*pb.ListHandoversResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	f := Filter{State: req.State, CommunityID: req.CommunityId, EnterpriseCode: req.EnterpriseCreditCode}
	var v fault.Violations
	checkHandoverFilter(&v, &f)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := narrowHandoverFilter(p, &f); err != nil {
		return nil, err
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListHandovers", f.State.String(), f.CommunityID, f.Area, f.EnterpriseCode))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	f.Visible = func(h *pb.Handover) bool { return canSee(p, h) }
	list, last, err := s.store.ListHandovers(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	for i, h := range list {
		list[i] = viewFor(p, h)
	}
	return &pb.ListHandoversResponse{Handovers: list, NextPageToken: page.Next(last)}, nil
}

// checkHandoverFilter validates the fields of a list filter and puts its
// enterprise credit code in canonical form.
func checkHandoverFilter(v *fault.Violations, f *Filter) {
	if _, ok := pb.Handover_State_name[int32(f.State)]; !ok {
		v.Add("state", "must be one of DRAFT, SUBMITTED, RETURNED, COMPLETED, WITHDRAWN")
	}
	if f.CommunityID != "" {
		inputcheck.CommunityID(v, "communityId", f.CommunityID)
	}
	if f.EnterpriseCode != "" {
		checkCreditCode(v, "enterpriseCreditCode", &f.EnterpriseCode)
	}
}

// narrowHandoverFilter confines a list filter to what p may list: an
// enterprise its own packages; a clerk those of one of its communities, or
// of all of them unless it has only one; a supervisor those of one
// community of its area, or of the whole area, walked through the
// community index by its prefix. It returns the permission error of a
// filter that asks for more.
func narrowHandoverFilter(p *authn.Principal, f *Filter) error {
	switch p.Role {
	case authn.RoleEnterprise:
		if f.EnterpriseCode != "" && !p.OwnsEnterprise(f.EnterpriseCode) {
			return authn.ErrPermissionDenied
		}
		f.EnterpriseCode = p.Enterprise
	case authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict:
		return narrowCommunity(p, &f.CommunityID, &f.Area)
	case authn.RoleArchivist:
		if f.CommunityID != "" && !p.KeepsArchivesOf(f.CommunityID) {
			return authn.ErrPermissionDenied
		}
		f.Area = p.District
	}
	return nil
}

// narrowCommunity confines the community and area of a list filter to
// what a clerk or supervisor p may list: a clerk one of its communities,
// or all of them (its one community when it has one, for the index); a
// supervisor one community of its area, or the whole area. It returns the
// permission error of a filter that asks for more; other roles' filters
// are left as they are.
func narrowCommunity(p *authn.Principal, community, area *string) error {
	switch p.Role {
	case authn.RoleClerk:
		if *community != "" && !p.InCommunity(*community) {
			return authn.ErrPermissionDenied
		}
		if *community == "" && len(p.Communities) == 1 {
			*community = p.Communities[0]
		}
	case authn.RoleStreet, authn.RoleDistrict:
		if *community != "" && !p.InArea(*community) {
			return authn.ErrPermissionDenied
		}
		*area = p.Area()
	}
	return nil
}

// UpdateHandover implements pb.HandoverServiceServer: the enterprise
// edits a DRAFT or RETURNED package, naming the etag it read.
func (s *Server) UpdateHandover(ctx context.Context, req *pb.UpdateHandoverRequest) (*pb.UpdateHandoverResponse, error) {
	var patch Patch
	check := func() (err error) {
		patch, err = checkUpdate(req.Handover, req.GetUpdateMask().GetPaths())
		return err
	}
	h, err := s.takeStep(ctx, byOwner, req.GetHandover().GetId(), req.GetHandover().GetEtag(), check, func(w *txn, cur *pb.Handover) (string, string, error) {
		kept := inCustody(cur)
		removed, detail, err := applyPatch(cur, patch)
		if err != nil {
			return "", "", err
		}
		if err := checkCustodyKept(kept, cur); err != nil {
			return "", "", err
		}
		if err := checkPartyLeaving(cur, removed); err != nil {
			return "", "", err
		}
		dropPartyTransfers(cur, removed)
		// A returned package holds its retirees; those taken out of it
		// are free for another one at once.
		return actionUpdated, detail, w.release(cur.Id, removed)
	})
	if err != nil {
		return nil, err
	}
	return &pb.UpdateHandoverResponse{Handover: h}, nil
}

// SubmitHandover implements pb.HandoverServiceServer. The package is
// checked against registry outside the transaction; the transaction then
// requires the revision that was checked, so that nothing edited in
// between goes through unchecked.
func (s *Server) SubmitHandover(ctx context.Context, req *pb.SubmitHandoverRequest) (*pb.SubmitHandoverResponse, error) {
	p, err := authn.Require(ctx, byOwner.roles...)
	if err != nil {
		return nil, err
	}
	guard := byOwner.guard(p)
	h, err := s.store.GetHandover(req.Id)
	if err != nil {
		if gerr := guard(nil); gerr != nil {
			return nil, gerr
		}
		return nil, s.fail(ctx, err)
	}
	if err := guard(h); err != nil {
		return nil, err
	}
	if req.Etag != "" && req.Etag != h.Etag {
		return nil, s.fail(ctx, fault.ErrEtagMismatch)
	}
	if err := requireState(h, "submitting", pb.Handover_DRAFT, pb.Handover_RETURNED); err != nil {
		return nil, s.fail(ctx, err)
	}
	found, err := s.registry.check(ctx, grpcserver.Logger(ctx), h)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	claims, err := s.store.OtherClaims(h.Id, h.RetireeIds)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	found = mergeRetireeViolations(found, claimViolations(h, claims))
	found = append(found, localSubmitViolations(h, s.funds)...)
	if err := newCheckError(ReasonChecksFailed, "the handover cannot be submitted", found); err != nil {
		return nil, s.fail(ctx, err)
	}
	submitted, err := s.store.mutate(h.Id, h.Etag, audit.ActorOf(ctx, p), guard, func(w *txn, cur *pb.Handover) (string, string, error) {
		if err := requireState(cur, "submitting", pb.Handover_DRAFT, pb.Handover_RETURNED); err != nil {
			return "", "", err
		}
		// Another package may have claimed a retiree since the check.
		others, err := w.claim(cur)
		if err != nil {
			return "", "", err
		}
		if err := newCheckError(ReasonChecksFailed, "the handover cannot be submitted", claimViolations(cur, others)); err != nil {
			return "", "", err
		}
		return actionSubmitted, markSubmitted(cur, w.now), nil
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.SubmitHandoverResponse{Handover: viewFor(p, submitted)}, nil
}

// mergeRetireeViolations adds the claim violations to registry's, one
// per retiree: a retiree registry already faults keeps that reason.
func mergeRetireeViolations(found, claims []fault.FieldViolation) []fault.FieldViolation {
	named := make(map[string]bool, len(found))
	for _, f := range found {
		named[f.Field] = true
	}
	for _, c := range claims {
		if !named[c.Field] {
			found = append(found, c)
		}
	}
	return sortViolations(found)
}

// WithdrawHandover implements pb.HandoverServiceServer.
func (s *Server) WithdrawHandover(ctx context.Context, req *pb.WithdrawHandoverRequest) (*pb.WithdrawHandoverResponse, error) {
	check := func() error { return checkReason(req.Reason, false) }
	h, err := s.takeStep(ctx, byOwner, req.Id, req.Etag, check, func(w *txn, cur *pb.Handover) (string, string, error) {
		detail, err := withdraw(cur, req.Reason)
		if err != nil {
			return "", "", err
		}
		return actionWithdrawn, detail, w.release(cur.Id, cur.RetireeIds)
	})
	if err != nil {
		return nil, err
	}
	return &pb.WithdrawHandoverResponse{Handover: h}, nil
}

// ReturnHandover implements pb.HandoverServiceServer.
func (s *Server) ReturnHandover(ctx context.Context, req *pb.ReturnHandoverRequest) (*pb.ReturnHandoverResponse, error) {
	check := func() error { return checkReason(req.Reason, true) }
	h, err := s.takeStep(ctx, byReceiver, req.Id, req.Etag, check, rule(actionReturned, func(cur *pb.Handover) (string, error) {
		return returnToEnterprise(cur, req.Reason)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.ReturnHandoverResponse{Handover: h}, nil
}

// ReceiveFunds implements pb.HandoverServiceServer.
func (s *Server) ReceiveFunds(ctx context.Context, req *pb.ReceiveFundsRequest) (*pb.ReceiveFundsResponse, error) {
	r := &pb.FundsReceipt{VoucherNo: req.VoucherNo, ReceivedOn: req.ReceivedOn, AmountFen: req.AmountFen}
	check := func() error { return checkReceipt(r, s.today()) }
	h, err := s.takeStep(ctx, byReceiver, req.Id, req.Etag, check, rule(actionFundsReceived, func(cur *pb.Handover) (string, error) {
		return receiveFunds(cur, r)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.ReceiveFundsResponse{Handover: h}, nil
}

// ReceiveArchives implements pb.HandoverServiceServer.
func (s *Server) ReceiveArchives(ctx context.Context, req *pb.ReceiveArchivesRequest) (*pb.ReceiveArchivesResponse, error) {
	r := archiveReceipt{received: req.Received, missing: req.Missing, dossiers: req.Dossiers}
	check := func() error { return checkArchives(r) }
	h, err := s.takeStep(ctx, byArchives, req.Id, req.Etag, check, func(w *txn, cur *pb.Handover) (string, string, error) {
		detail, err := w.receiveArchives(cur, r, w.actor)
		return actionArchivesReceived, detail, err
	})
	if err != nil {
		return nil, err
	}
	return &pb.ReceiveArchivesResponse{Handover: h}, nil
}

// InspectPremises implements pb.HandoverServiceServer.
func (s *Server) InspectPremises(ctx context.Context, req *pb.InspectPremisesRequest) (*pb.InspectPremisesResponse, error) {
	check := func() error { return checkInspection(req) }
	h, err := s.takeStep(ctx, byReceiver, req.Id, req.Etag, check, rule(actionPremisesInspected, func(cur *pb.Handover) (string, error) {
		return inspectPremises(cur, req)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.InspectPremisesResponse{Handover: h}, nil
}

// CompleteHandover implements pb.HandoverServiceServer. The state change,
// the commands for registry and activity, the obligations and the
// communities' tasks are one transaction: the outbox delivers the
// commands afterwards, each in the trace of this call.
func (s *Server) CompleteHandover(ctx context.Context, req *pb.CompleteHandoverRequest) (*pb.CompleteHandoverResponse, error) {
	h, err := s.takeStep(ctx, byReceiver, req.Id, req.Etag, nil, func(w *txn, cur *pb.Handover) (string, string, error) {
		cmds, detail, err := complete(cur, w.now)
		if err != nil {
			return "", "", err
		}
		if err := w.enqueue(cmds, tracing.Traceparent(ctx)); err != nil {
			return "", "", err
		}
		return actionCompleted, detail, w.afterComplete(cur)
	})
	if err != nil {
		return nil, err
	}
	return &pb.CompleteHandoverResponse{Handover: h}, nil
}

// ListHandoverEvents implements pb.HandoverServiceServer: whoever may read
// the handover may read its timeline.
func (s *Server) ListHandoverEvents(ctx context.Context, req *pb.ListHandoverEventsRequest) (*pb.ListHandoverEventsResponse, error) {
	p, h, err := s.readableWhole(ctx, req.Id)
	if err != nil {
		return nil, err
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListHandoverEvents", h.Id))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	events, last, err := s.store.ListEvents(h.Id, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if shown := timelineFor(p, h); shown != nil {
		events = slices.DeleteFunc(events, func(e *pb.Event) bool { return !shown[e.Action] })
	}
	return &pb.ListHandoverEventsResponse{Events: events, NextPageToken: page.Next(last)}, nil
}

// timelineFor is the steps of h's timeline p may read, nil for all of
// them. A clerk with only a part of an agreement reads the steps of the
// whole package, not those naming other communities' parts (allocations,
// premises, deliveries, obligations, party transfers); whoever may read
// no party transfer reads no party step.
func timelineFor(p *authn.Principal, h *pb.Handover) map[string]bool {
	if p.Role == authn.RoleClerk && !clerkHoldsAll(p, h) {
		return wholePackageSteps
	}
	if mayReadParty(p, h, nil) == nil {
		shown := make(map[string]bool, len(allSteps))
		for _, a := range allSteps {
			shown[a] = a != actionPartyMembersSet && a != actionPartyTransferRecorded
		}
		return shown
	}
	return nil
}

// allSteps are the actions a handover's timeline may have.
var allSteps = []string{
	actionCreated, actionUpdated, actionSubmitted, actionReturned, actionWithdrawn, actionFundsReceived,
	actionArchivesReceived, actionPremisesInspected, actionCompleted, actionDelivered, actionDeliveryFailed,
	actionAllocated, actionRosterVerified, actionObligationStopped, actionObligationResumed,
	actionPartyMembersSet, actionPartyTransferRecorded,
}

// wholePackageSteps are the steps of the package as a whole, which every
// part's clerk reads.
var wholePackageSteps = map[string]bool{
	actionCreated: true, actionUpdated: true, actionSubmitted: true, actionReturned: true, actionWithdrawn: true,
	actionFundsReceived: true, actionArchivesReceived: true, actionRosterVerified: true, actionCompleted: true,
}

// ListObligations implements pb.HandoverServiceServer: bureau and admin
// see every enterprise's, an enterprise its own, a clerk those of the
// handovers its communities received, a supervisor those its area's
// communities received.
func (s *Server) ListObligations(ctx context.Context, req *pb.ListObligationsRequest) (*pb.ListObligationsResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	f := ObligationFilter{EnterpriseCode: req.EnterpriseCreditCode, ActiveOn: req.ActiveOn}
	var v fault.Violations
	if f.EnterpriseCode != "" {
		checkCreditCode(&v, "enterpriseCreditCode", &f.EnterpriseCode)
	}
	if f.ActiveOn == "" {
		f.ActiveOn = s.today()
	} else {
		parseDate(&v, "activeOn", f.ActiveOn)
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	switch p.Role {
	case authn.RoleEnterprise:
		if f.EnterpriseCode != "" && !p.OwnsEnterprise(f.EnterpriseCode) {
			return nil, authn.ErrPermissionDenied
		}
		f.EnterpriseCode = p.Enterprise
	case authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict:
		f.Visible = func(o *pb.OwedObligation) bool { return p.InArea(o.CommunityId) }
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListObligations", f.EnterpriseCode, f.ActiveOn))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListObligations(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListObligationsResponse{Obligations: list, NextPageToken: page.Next(last)}, nil
}

// AllocateRetirees implements pb.HandoverServiceServer: the receiving
// unit's supervisor allocates retirees to one of its communities, which
// registry must know.
func (s *Server) AllocateRetirees(ctx context.Context, req *pb.AllocateRetireesRequest) (*pb.AllocateRetireesResponse, error) {
	check := func() error {
		if err := checkAllocation(req.CommunityId, req.RetireeIds); err != nil {
			return err
		}
		// The object check before registry is asked: a caller who may not
		// allocate learns nothing of which community ids exist.
		p, _ := authn.FromContext(ctx)
		h, err := s.store.GetHandover(req.Id)
		if err != nil {
			return hide(p, err)
		}
		if byAllocator.guard(p)(h) != nil {
			return authn.ErrPermissionDenied
		}
		if !withinReceiver(h, req.CommunityId) {
			return fault.Invalid("communityId", "not a community of the receiving unit "+h.ReceiverCode)
		}
		found, err := s.registry.communityExists(ctx, req.CommunityId)
		if err != nil {
			return s.registry.failure(ctx, grpcserver.Logger(ctx), "GetCommunity", err)
		}
		if !found {
			return fault.Invalid("communityId", "no community with this id")
		}
		return nil
	}
	h, err := s.takeStep(ctx, byAllocator, req.Id, req.Etag, check, rule(actionAllocated, func(cur *pb.Handover) (string, error) {
		return allocateRetirees(cur, req.CommunityId, req.RetireeIds)
	}))
	if err != nil {
		return nil, err
	}
	return &pb.AllocateRetireesResponse{Handover: h}, nil
}

// VerifyRoster implements pb.HandoverServiceServer: the bureau records
// that it checked, signed and stamped the roster.
func (s *Server) VerifyRoster(ctx context.Context, req *pb.VerifyRosterRequest) (*pb.VerifyRosterResponse, error) {
	check := func() error { return checkVerification(req.DocumentSha256, req.Note) }
	h, err := s.takeStep(ctx, byBureau, req.Id, req.Etag, check, func(w *txn, cur *pb.Handover) (string, string, error) {
		p, _ := authn.FromContext(ctx)
		detail, err := verifyRoster(cur, p.Subject, timestamppb.New(w.now), strings.ToLower(req.DocumentSha256), req.Note)
		return actionRosterVerified, detail, err
	})
	if err != nil {
		return nil, err
	}
	return &pb.VerifyRosterResponse{Handover: h}, nil
}
