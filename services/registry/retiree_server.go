package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Who may do what with retirees (DESIGN "Identity and access"); the object
// checks are in canSee and canChange.
// Street and district supervisors read the retirees of their area and
// change none.
var (
	retireeReaders  = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleEnterprise, authn.RoleService, authn.RoleStreet, authn.RoleDistrict}
	retireeCreators = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleEnterprise}
	retireeEditors  = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk}
	lookupRoles     = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleEnterprise, authn.RoleStreet, authn.RoleDistrict}
	// listRoles may list retirees and read their history.
	listRoles = []authn.Role{authn.RoleAdmin, authn.RoleBureau, authn.RoleClerk, authn.RoleEnterprise, authn.RoleStreet, authn.RoleDistrict}
	// internalCallers make the calls between services (DESIGN: role
	// service), and admin may do everything.
	internalCallers = []authn.Role{authn.RoleService, authn.RoleAdmin}
)

// canSee reports whether p may see retiree r. A clerk sees the retirees of
// its communities, a street or district supervisor those of its area; an
// enterprise sees its own retirees until they are handed over.
func canSee(p *authn.Principal, r *pb.Retiree) bool {
	switch p.Role {
	case authn.RoleAdmin, authn.RoleBureau, authn.RoleService:
		return true
	case authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict:
		return p.InArea(r.CommunityId)
	case authn.RoleEnterprise:
		return r.EnterpriseCreditCode == p.Enterprise && r.ManagementMode == pb.ManagementMode_ENTERPRISE
	}
	return false
}

// knowsExistence reports whether p may learn that a retiree does not exist
// (404); everyone else gets 403 for a missing retiree as for a hidden one.
func knowsExistence(p *authn.Principal) bool {
	return p.Is(authn.RoleAdmin, authn.RoleBureau, authn.RoleService)
}

// seesPersonalData reports whether p gets the full ID and phone numbers of
// a retiree it can see. Services get the masked form only, and so do
// street and district supervisors: they supervise the communities' work
// and call no one, so GetRetiree and LookupRetiree answer them with the
// masks as a list does (a supervisor who looks a retiree up by ID number
// has the number already; the phone stays masked).
func seesPersonalData(p *authn.Principal) bool {
	return !p.Is(authn.RoleService, authn.RoleStreet, authn.RoleDistrict)
}

// visible returns a function that applies p's object check to the result
// of a retiree look-up: the retiree, or the error p gets (403 for one it
// may not see, and for a missing one unless it may know).
func visible(p *authn.Principal) func(*pb.Retiree, error) (*pb.Retiree, error) {
	return func(r *pb.Retiree, err error) (*pb.Retiree, error) {
		if isNotFound(err) && !knowsExistence(p) {
			return nil, authn.ErrPermissionDenied
		}
		if err != nil {
			return nil, err
		}
		if !canSee(p, r) {
			return nil, authn.ErrPermissionDenied
		}
		return r, nil
	}
}

// disclose returns a function that finishes a read of one retiree's
// personal data: it applies p's object check to the look-up's result and
// records the read as action before the caller answers with the data. Its
// errors are translated for the client.
func (s *Server) disclose(ctx context.Context, p *authn.Principal, action string) func(*pb.Retiree, error) (*pb.Retiree, error) {
	return func(r *pb.Retiree, err error) (*pb.Retiree, error) {
		r, err = visible(p)(r, err)
		if err != nil {
			return nil, s.fail(ctx, err)
		}
		if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), action, r.Id); err != nil {
			return nil, s.fail(ctx, err)
		}
		return r, nil
	}
}

// guard returns the object check store mutations run inside their
// transaction: r is nil when the retiree does not exist.
func guard(p *authn.Principal) func(*pb.Retiree) error {
	return func(r *pb.Retiree) error {
		if r == nil {
			if knowsExistence(p) {
				return nil
			}
			return authn.ErrPermissionDenied
		}
		if !canSee(p, r) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// guardStatusChange is guard for ChangeRetireeStatus: the service role
// (casework's care outbox, after two failed visits and a supervisor's
// answer) may only set a LIVING retiree LOST_CONTACT and a LOST_CONTACT
// one LIVING again; a change already made passes, so that registry
// answers STATUS_UNCHANGED to a repeated call.
// caseworkSubject is the service whose care outbox alone, of the
// services, may change a retiree's status (LIVING and LOST_CONTACT) and
// file a death report (CLERK_VISIT): another service's token is refused.
const caseworkSubject = "casework"

func guardStatusChange(p *authn.Principal, to pb.RetireeStatus) func(*pb.Retiree) error {
	g := guard(p)
	return func(r *pb.Retiree) error {
		if err := g(r); err != nil || r == nil || !p.Is(authn.RoleService) {
			return err
		}
		from := map[pb.RetireeStatus]pb.RetireeStatus{
			pb.RetireeStatus_LOST_CONTACT: pb.RetireeStatus_LIVING,
			pb.RetireeStatus_LIVING:       pb.RetireeStatus_LOST_CONTACT,
		}
		want, ok := from[to]
		if !ok || (r.Status != want && r.Status != to) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// guardUpdate is guard for an update by p: moreover, moving a retiree
// that its enterprise still manages to another enterprise is the
// bureau's (or admin's) decision, not a clerk's: who pays for and looks
// after the retiree changes with it. The stored retiree decides, inside
// the update's transaction.
func guardUpdate(p *authn.Principal, patch RetireePatch) func(*pb.Retiree) error {
	g := guard(p)
	movesEnterprise := slices.Contains(patch.Paths, enterpriseField) && !p.Is(authn.RoleAdmin, authn.RoleBureau)
	return func(r *pb.Retiree) error {
		if err := g(r); err != nil {
			return err
		}
		if movesEnterprise && r != nil && r.ManagementMode == pb.ManagementMode_ENTERPRISE &&
			r.EnterpriseCreditCode != patch.Values.GetEnterpriseCreditCode() {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// present prepares a stored retiree for a response on today, in place:
// masks are filled in (the carers' too), full numbers removed unless full,
// the computed flags added. Only GetRetiree and LookupRetiree answer with
// full numbers (DESIGN: "returned in full only by get and lookup"); writes
// answer with the masks.
func present(r *pb.Retiree, full bool, today time.Time) *pb.Retiree {
	r.IdNumberMasked = idnumber.Mask(r.IdNumber)
	r.PhoneMasked = inputcheck.MaskPhone(r.Phone)
	if !full {
		r.IdNumber = ""
		r.Phone = ""
	}
	for _, c := range r.Carers {
		c.PhoneMasked = inputcheck.MaskPhone(c.Phone)
		if !full {
			c.Phone = ""
		}
	}
	syncResidence(r)
	r.Flags = withComputedFlags(r.Flags, r.BirthDate, today)
	return r
}

func timestampNow(t time.Time) *timestamppb.Timestamp { return timestamppb.New(t) }

// CreateRetiree implements pb.RegistryServiceServer.
func (s *Server) CreateRetiree(ctx context.Context, req *pb.CreateRetireeRequest) (*pb.CreateRetireeResponse, error) {
	p, err := authn.Require(ctx, retireeCreators...)
	if err != nil {
		return nil, err
	}
	r := req.Retiree
	id, err := checkNewRetiree(r, s.now())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	switch p.Role {
	case authn.RoleClerk:
		if !p.InArea(r.CommunityId) {
			return nil, authn.ErrPermissionDenied
		}
	case authn.RoleEnterprise:
		if r.EnterpriseCreditCode != p.Enterprise {
			return nil, authn.ErrPermissionDenied
		}
		if r.ManagementMode != pb.ManagementMode_ENTERPRISE {
			return nil, s.fail(ctx, fault.Invalid("managementMode", "an enterprise registers the retirees it still manages: ENTERPRISE"))
		}
	}
	created, err := s.store.CreateRetiree(r, id, audit.ActorOf(ctx, p))
	if err != nil {
		return nil, s.fail(ctx, s.auditConflict(ctx, p, err))
	}
	return &pb.CreateRetireeResponse{Retiree: present(created, false, s.now())}, nil
}

// auditReasonCreateConflict is the reason of the audit entry that a
// refused create writes: the caller learnt that the ID number is on file,
// as a look-up would have told it.
const auditReasonCreateConflict = "CREATE_CONFLICT"

// auditConflict records a create refused because the ID number is on file
// as p's look-up of the retiree who has it, and returns err, the 409 the
// contract keeps; the refusal is answered only once it is recorded, as a
// look-up is. Any other err is returned as it is.
func (s *Server) auditConflict(ctx context.Context, p *authn.Principal, err error) error {
	var exists *RetireeExistsError
	if !errors.As(err, &exists) {
		return err
	}
	if aerr := s.store.AuditReadsWithReason(ctx, audit.ActorOf(ctx, p), "LookupRetiree", auditReasonCreateConflict, exists.RetireeID); aerr != nil {
		return aerr
	}
	return err
}

// GetRetiree implements pb.RegistryServiceServer.
func (s *Server) GetRetiree(ctx context.Context, req *pb.GetRetireeRequest) (*pb.GetRetireeResponse, error) {
	p, err := authn.Require(ctx, retireeReaders...)
	if err != nil {
		return nil, err
	}
	r, err := s.disclose(ctx, p, "GetRetiree")(s.store.GetRetiree(req.Id))
	if err != nil {
		return nil, err
	}
	return &pb.GetRetireeResponse{Retiree: present(r, seesPersonalData(p), s.now())}, nil
}

// LookupRetiree implements pb.RegistryServiceServer.
func (s *Server) LookupRetiree(ctx context.Context, req *pb.LookupRetireeRequest) (*pb.LookupRetireeResponse, error) {
	p, err := authn.Require(ctx, lookupRoles...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	id, _ := idnumber.CheckAt(&v, "idNumber", req.IdNumber, s.now())
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	r, err := s.disclose(ctx, p, "LookupRetiree")(s.store.LookupRetiree(id))
	if err != nil {
		return nil, err
	}
	return &pb.LookupRetireeResponse{Retiree: present(r, seesPersonalData(p), s.now())}, nil
}

// ListRetirees implements pb.RegistryServiceServer. A clerk lists one of
// its communities (the only one, when it has one); a street or district
// supervisor one community of its area, or its whole area when it names
// none; an enterprise lists its own retirees not yet handed over.
func (s *Server) ListRetirees(ctx context.Context, req *pb.ListRetireesRequest) (*pb.ListRetireesResponse, error) {
	p, err := authn.Require(ctx, listRoles...)
	if err != nil {
		return nil, err
	}
	f := RetireeFilter{
		CommunityID: req.CommunityId, EnterpriseCode: req.EnterpriseCreditCode, Mode: req.ManagementMode, Status: req.Status,
		Flags: req.Flags, ResidenceKind: req.ResidenceKind, MinAge: req.MinAge, MaxAge: req.MaxAge,
		Name: req.Name, IDNumberTail: req.IdNumberTail,
	}
	var v fault.Violations
	checkRetireeFilter(&v, &f)
	if err := narrowRetireeFilter(&v, p, &f); err != nil {
		return nil, err
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.PageTokens().ParsePage(req, f.scope())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	list, last, err := s.store.ListRetirees(f, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ids := presentListed(list, s.now())
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListRetirees", ids...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRetireesResponse{Retirees: list, NextPageToken: page.Next(last)}, nil
}

// checkRetireeFilter validates the fields of a list filter and puts its
// enterprise credit code in canonical form.
func checkRetireeFilter(v *fault.Violations, f *RetireeFilter) {
	if f.CommunityID != "" && !inputcheck.IsCommunityID(f.CommunityID) {
		v.Add("communityId", "must be a 12-digit division code")
	}
	if f.EnterpriseCode != "" {
		if code, err := creditcode.Parse(f.EnterpriseCode); err != nil {
			v.Add("enterpriseCreditCode", err.Error())
		} else {
			f.EnterpriseCode = string(code)
		}
	}
	checkMode(v, f.Mode, false)
	if _, ok := pb.RetireeStatus_name[int32(f.Status)]; !ok {
		v.Add("status", "must be one of LIVING, DECEASED, MOVED_OUT, LOST_CONTACT, IMPRISONED, ABROAD")
	}
	f.Flags = checkFlagList(v, f.Flags)
	if _, ok := pb.Residence_Kind_name[int32(f.ResidenceKind)]; !ok {
		v.Add("residenceKind", "must be one of LOCAL, OTHER_CITY, OTHER_PROVINCE, ABROAD")
	}
	checkListAges(v, f.MinAge, f.MaxAge)
	checkNameFilter(v, f)
}

// narrowRetireeFilter confines a list filter to what p may list: a clerk
// one of its communities, the only one by default; a supervisor one
// community of its area, or the whole area; an enterprise its own
// retirees under enterprise management. It returns the permission error
// of a filter that asks for more; a filter that names too little is a
// violation.
func narrowRetireeFilter(v *fault.Violations, p *authn.Principal, f *RetireeFilter) error {
	switch p.Role {
	case authn.RoleClerk:
		if f.CommunityID == "" && len(p.Communities) == 1 {
			f.CommunityID = p.Communities[0]
		}
		if f.CommunityID == "" {
			v.Add("communityId", "required for a clerk of several communities")
		} else if inputcheck.IsCommunityID(f.CommunityID) && !p.InCommunity(f.CommunityID) {
			return authn.ErrPermissionDenied
		}
	case authn.RoleStreet, authn.RoleDistrict:
		return narrowToArea(p, f)
	case authn.RoleEnterprise:
		if f.EnterpriseCode != "" && f.EnterpriseCode != p.Enterprise {
			return authn.ErrPermissionDenied
		}
		if f.Mode != pb.ManagementMode_MANAGEMENT_MODE_UNSPECIFIED && f.Mode != pb.ManagementMode_ENTERPRISE {
			return authn.ErrPermissionDenied
		}
		f.EnterpriseCode, f.Mode = p.Enterprise, pb.ManagementMode_ENTERPRISE
	}
	return nil
}

// narrowToArea confines a supervisor's list filter to its area: the
// community it names, which must be in the area, or the whole area.
func narrowToArea(p *authn.Principal, f *RetireeFilter) error {
	if f.CommunityID == "" {
		f.Area = p.Area()
		return nil
	}
	if inputcheck.IsCommunityID(f.CommunityID) && !p.InArea(f.CommunityID) {
		return authn.ErrPermissionDenied
	}
	return nil
}

// presentListed prepares listed retirees for a list answer, their numbers
// masked, and returns their ids for the read audit.
func presentListed(list []*pb.Retiree, today time.Time) []string {
	ids := make([]string, len(list))
	for i, r := range list {
		ids[i] = r.Id
		present(r, false, today)
	}
	return ids
}

// UpdateRetiree implements pb.RegistryServiceServer.
func (s *Server) UpdateRetiree(ctx context.Context, req *pb.UpdateRetireeRequest) (*pb.UpdateRetireeResponse, error) {
	p, err := authn.Require(ctx, retireeEditors...)
	if err != nil {
		return nil, err
	}
	r := req.Retiree
	if r == nil {
		return nil, s.fail(ctx, fault.Invalid("retiree", "required"))
	}
	paths, err := normaliseMask(req.GetUpdateMask().GetPaths())
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var v fault.Violations
	if r.Etag == "" {
		v.Add("etag", "required: send the etag of the retiree you read")
	}
	for _, path := range paths {
		if path == modeField && !p.Is(authn.RoleAdmin, authn.RoleBureau) {
			return nil, authn.ErrPermissionDenied
		}
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := checkPatch(paths, r, s.now()); err != nil {
		return nil, s.fail(ctx, err)
	}
	patch := RetireePatch{Paths: paths, Values: r, Etag: r.Etag}
	updated, err := s.store.UpdateRetiree(r.Id, patch, audit.ActorOf(ctx, p), guardUpdate(p, patch))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.UpdateRetireeResponse{Retiree: present(updated, false, s.now())}, nil
}

// ListRetireeHistory implements pb.RegistryServiceServer. The history is
// visible to whoever may read the retiree, and reading it is audited.
func (s *Server) ListRetireeHistory(ctx context.Context, req *pb.ListRetireeHistoryRequest) (*pb.ListRetireeHistoryResponse, error) {
	p, err := authn.Require(ctx, listRoles...)
	if err != nil {
		return nil, err
	}
	r, err := visible(p)(s.store.GetRetiree(req.Id))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.PageTokens().ParsePage(req, "history:"+req.Id)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	entries, last, err := s.store.ListHistory(req.Id, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "ListRetireeHistory", r.Id); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRetireeHistoryResponse{Entries: entries, NextPageToken: page.Next(last)}, nil
}

// ListRetireeAuditLog implements pb.RegistryServiceServer (admin only).
func (s *Server) ListRetireeAuditLog(ctx context.Context, req *pb.ListRetireeAuditLogRequest) (*pb.ListRetireeAuditLogResponse, error) {
	if _, err := authn.Require(ctx, authn.RoleAdmin); err != nil {
		return nil, err
	}
	if _, err := s.store.GetRetiree(req.Id); err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.PageTokens().ParsePage(req, "audit:"+req.Id)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	entries, last, err := s.store.ListAudit(req.Id, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRetireeAuditLogResponse{Entries: entries, NextPageToken: page.Next(last)}, nil
}

// AssignRetirees implements pb.RegistryServiceServer (role service; used by
// the handover service's outbox).
func (s *Server) AssignRetirees(ctx context.Context, req *pb.AssignRetireesRequest) (*pb.AssignRetireesResponse, error) {
	p, err := authn.Require(ctx, internalCallers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "requestKey", req.RequestKey, true, maxRequestKey)
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	checkMode(&v, req.ManagementMode, true)
	inputcheck.Text(&v, "reason", req.Reason, false, maxReasonLen)
	checkIDList(&v, "retireeIds", req.RetireeIds, maxAssignBatch, true)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	resp, err := s.store.AssignRetirees(req.RequestKey, req.RetireeIds, req.CommunityId, req.ManagementMode, req.Reason, audit.ActorOf(ctx, p))
	var refused *AssignRefusedError
	if errors.As(err, &refused) {
		return nil, s.refusal(ctx, refused)
	}
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return resp, nil
}

// refusalText is what the BadRequest of a refused assignment says of a
// retiree.
var refusalText = map[pb.AssignRefusal]string{
	pb.AssignRefusal_RETIREE_NOT_FOUND:  "no retiree with this id",
	pb.AssignRefusal_RETIREE_NOT_LIVING: "retiree is not living",
}

// refusal answers an assignment that refused retirees: InvalidArgument
// with the BadRequest a person reads (its wording and its cap on
// violations free to change) and the AssignRetireesRefusal that callers
// act on, naming every refused retiree with a reason.
func (s *Server) refusal(ctx context.Context, e *AssignRefusedError) error {
	var v fault.Violations
	detail := &pb.AssignRetireesRefusal{Refused: make([]*pb.RefusedRetiree, len(e.Refused))}
	for i, r := range e.Refused {
		v.Add(fmt.Sprintf("retireeIds[%d]", r.Index), refusalText[r.Reason])
		index := int32(r.Index) //nolint:gosec // G115: an index into at most maxAssignBatch ids (validated)
		detail.Refused[i] = &pb.RefusedRetiree{Index: index, Reason: r.Reason}
		if inputcheck.IsOpaqueID(r.ID) {
			detail.Refused[i].RetireeId = r.ID
		}
	}
	st := status.Convert(s.fail(ctx, v.Err()))
	typed, err := st.WithDetails(detail)
	if err != nil {
		// Only an unmarshallable detail fails, which ours is not; the
		// client then still gets the BadRequest.
		grpcserver.Logger(ctx).Error("attaching the assignment refusal", zap.Error(err))
		return st.Err()
	}
	return typed.Err()
}

// BatchGetRetireeFacts implements pb.RegistryServiceServer (role service;
// used by the handover service's submit). It discloses no personal data,
// and an unknown id is answered as not found: a service may know. One
// audit write covers the call, one entry for each retiree found.
func (s *Server) BatchGetRetireeFacts(ctx context.Context, req *pb.BatchGetRetireeFactsRequest) (*pb.BatchGetRetireeFactsResponse, error) {
	p, err := authn.Require(ctx, internalCallers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkIDList(&v, "ids", req.Ids, maxFactsBatch, false)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	facts, err := s.store.RetireeFacts(req.Ids)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	found := make([]string, 0, len(facts))
	for _, f := range facts {
		if f.Found {
			found = append(found, f.Id)
		}
	}
	if err := s.store.AuditReads(ctx, audit.ActorOf(ctx, p), "BatchGetRetireeFacts", found...); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.BatchGetRetireeFactsResponse{Facts: facts}, nil
}

// ChangeRetireeStatus implements pb.RegistryServiceServer: admin, bureau,
// or a clerk of the retiree's community.
func (s *Server) ChangeRetireeStatus(ctx context.Context, req *pb.ChangeRetireeStatusRequest) (*pb.ChangeRetireeStatusResponse, error) {
	p, err := authn.Require(ctx, append(retireeEditors, authn.RoleService)...)
	if err != nil {
		return nil, err
	}
	if p.Is(authn.RoleService) && p.Subject != caseworkSubject {
		return nil, authn.ErrPermissionDenied
	}
	if err := checkStatusChange(req, s.now().In(workdays.ChinaTime)); err != nil {
		return nil, s.fail(ctx, err)
	}
	c := StatusChange{Status: req.Status, EffectiveOn: req.EffectiveOn, Reason: req.Reason, Etag: req.Etag}
	r, err := s.store.ChangeRetireeStatus(req.Id, c, audit.ActorOf(ctx, p), guardStatusChange(p, req.Status))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ChangeRetireeStatusResponse{Retiree: present(r, false, s.now())}, nil
}
