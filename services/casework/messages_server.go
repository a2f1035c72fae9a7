package casework

import (
	"context"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// Who may do what with messages: a retiree's preferences and messages are
// read by the clerks of their community, the supervisors of its area, the
// bureau and admin; the preferences are changed by a clerk of the
// retiree's community and admin; the templates are read by every reader
// role. Reading preferences or messages is audited as a read of the
// retirees they are about.
var (
	messageReaders = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict}
	templateReader = []authn.Role{authn.RoleBureau, authn.RoleClerk, authn.RoleStreet, authn.RoleDistrict, authn.RoleArchivist}
)

// seesRetiree is the object check of a read about a retiree: admin and
// bureau see everyone (and learn that one is unknown); clerks and
// supervisors see their area's, and an unknown retiree is refused as one
// they may not see.
func seesRetiree(p *authn.Principal) func(*registryv1.RetireeState) error {
	return func(st *registryv1.RetireeState) error {
		if p.Is(authn.RoleAdmin, authn.RoleBureau) {
			if st == nil {
				return errRetireeNotFound
			}
			return nil
		}
		if st == nil || !p.InArea(st.CommunityId) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// changesPrefs is the object check of SetMessagePreferences: admin, or a
// clerk of the retiree's community.
func changesPrefs(p *authn.Principal) func(*registryv1.RetireeState) error {
	return func(st *registryv1.RetireeState) error {
		if p.Is(authn.RoleAdmin) {
			return seesRetiree(p)(st)
		}
		if st == nil || !p.InCommunity(st.CommunityId) {
			return authn.ErrPermissionDenied
		}
		return nil
	}
}

// GetMessagePreferences implements pb.CaseworkServiceServer.
func (s *Server) GetMessagePreferences(ctx context.Context, req *pb.GetMessagePreferencesRequest) (*pb.GetMessagePreferencesResponse, error) {
	p, err := authn.Require(ctx, messageReaders...)
	if err != nil {
		return nil, err
	}
	if !inputcheck.IsOpaqueID(req.RetireeId) {
		return nil, s.fail(ctx, fault.Invalid("retireeId", "not a retiree id"))
	}
	prefs, err := s.store.MessagePreferences(req.RetireeId, seesRetiree(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := s.store.AuditReads(ctx, actorOf(ctx, p), "GetMessagePreferences", req.RetireeId); err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetMessagePreferencesResponse{Preferences: prefs}, nil
}

// SetMessagePreferences implements pb.CaseworkServiceServer.
func (s *Server) SetMessagePreferences(ctx context.Context, req *pb.SetMessagePreferencesRequest) (*pb.SetMessagePreferencesResponse, error) {
	p, err := authn.Require(ctx, clerksOnly...)
	if err != nil {
		return nil, err
	}
	if err := checkPrefs(req.GetPreferences()); err != nil {
		return nil, s.fail(ctx, err)
	}
	prefs, err := s.store.SetMessagePreferences(req.Preferences, actorOf(ctx, p), changesPrefs(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.SetMessagePreferencesResponse{Preferences: prefs}, nil
}

// maxPreferredName bounds a preferred name, as the templates do.
const maxPreferredName = 32

// checkPrefs validates a SetMessagePreferences request's preferences.
func checkPrefs(prefs *pb.MessagePreferences) error {
	var v fault.Violations
	if prefs == nil {
		v.Add("preferences", "required")
		return v.Err()
	}
	if !inputcheck.IsOpaqueID(prefs.RetireeId) {
		v.Add("preferences.retireeId", "not a retiree id")
	}
	inputcheck.Text(&v, "preferences.preferredName", prefs.PreferredName, false, maxPreferredName)
	if len(prefs.Recipients) > 2 {
		v.Add("preferences.recipients", "at most RETIREE and PRIMARY_CONTACT")
	}
	for _, r := range prefs.Recipients {
		if r != pb.Recipient_RETIREE && r != pb.Recipient_PRIMARY_CONTACT {
			v.Add("preferences.recipients", "must be RETIREE or PRIMARY_CONTACT")
			break
		}
	}
	return v.Err()
}

// ListMessages implements pb.CaseworkServiceServer: the messages to a
// retiree or of a community, newest first, a page at a time.
func (s *Server) ListMessages(ctx context.Context, req *pb.ListMessagesRequest) (*pb.ListMessagesResponse, error) {
	p, err := authn.Require(ctx, messageReaders...)
	if err != nil {
		return nil, err
	}
	by, owner, err := s.messageScope(p, req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	page, err := s.store.PageTokens().ParsePage(req, boltstore.PageScope("ListMessages", owner, strconv.Itoa(by)))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	var msgs []*pb.Message
	var next string
	err = s.store.DB().View(func(tx *bolt.Tx) error {
		msgs, next, err = s.store.Outbox().ListNewest(tx, by, owner, string(page.After), page.Size)
		return err
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	resp := &pb.ListMessagesResponse{Messages: msgs}
	if next != "" {
		resp.NextPageToken = page.Next([]byte(next))
	}
	var retirees []string
	for _, m := range msgs {
		retirees = append(retirees, m.RetireeId)
	}
	if len(retirees) > 0 {
		if err := s.store.AuditReads(ctx, actorOf(ctx, p), "ListMessages", retirees...); err != nil {
			return nil, s.fail(ctx, err)
		}
	}
	return resp, nil
}

// messageScope checks a ListMessages request and the caller's right to
// its list, and returns which list it is.
func (s *Server) messageScope(p *authn.Principal, req *pb.ListMessagesRequest) (int, string, error) {
	var v fault.Violations
	switch {
	case (req.RetireeId == "") == (req.CommunityId == ""):
		v.Add("retireeId", "exactly one of retireeId and communityId")
	case req.RetireeId != "" && !inputcheck.IsOpaqueID(req.RetireeId):
		v.Add("retireeId", "not a retiree id")
	case req.CommunityId != "":
		inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	}
	if err := v.Err(); err != nil {
		return 0, "", err
	}
	if req.CommunityId != "" {
		if !p.Is(authn.RoleAdmin, authn.RoleBureau) && !p.InArea(req.CommunityId) {
			return 0, "", authn.ErrPermissionDenied
		}
		return sms.ByCommunity, req.CommunityId, nil
	}
	err := s.store.DB().View(func(tx *bolt.Tx) error {
		_, err := s.store.visibleRetiree(tx, req.RetireeId, seesRetiree(p))
		return err
	})
	return sms.ByRetiree, req.RetireeId, err
}

// ListMessageTemplates implements pb.CaseworkServiceServer.
func (s *Server) ListMessageTemplates(ctx context.Context, _ *pb.ListMessageTemplatesRequest) (*pb.ListMessageTemplatesResponse, error) {
	if _, err := authn.Require(ctx, templateReader...); err != nil {
		return nil, err
	}
	return &pb.ListMessageTemplatesResponse{Templates: sms.Templates()}, nil
}
