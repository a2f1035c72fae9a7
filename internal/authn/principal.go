package authn

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/socmgmt/socmgmt/internal/inputcheck"
)

// ErrInvalidPrincipal is returned by Signer.Sign for a principal that no
// Verifier would accept; the wrapped message says which rule it breaks.
var ErrInvalidPrincipal = errors.New("authn: invalid principal")

// maxSubjectLen bounds the subject so that logs and audit records that
// carry it stay small.
const maxSubjectLen = 256

// Principal is the authenticated caller.
//
// Principals returned by a Verifier are shared between every request that
// presents the same token: treat them, including the Communities slice, as
// read-only.
type Principal struct {
	// Subject names the caller (a user name or a service name); it is what
	// the audit log records as "who".
	Subject string
	// Role is what the caller may do.
	Role Role
	// Communities are the 12-digit community ids a clerk works for; empty
	// for every other role.
	Communities []string
	// Enterprise is the unified social credit code of an enterprise
	// principal; empty for every other role.
	Enterprise string
	// Street is the 9-digit code of the street office a street
	// supervisor oversees; empty for every other role.
	Street string
	// District is the 6-digit code of the district a district
	// supervisor oversees, or whose archives an archivist keeps; empty
	// for every other role.
	District string
	// TokenID is the id (jti) of the token the principal presented: what
	// a revocation names. Empty for a principal not read from a token.
	TokenID string
}

// InCommunity reports whether p is a clerk whose scope includes the
// community id. It is false for every other role: their access does not
// depend on a community, so check the role with Is or Require first.
func (p *Principal) InCommunity(id string) bool {
	// Linear scan: a clerk works for a handful of communities, fewer than
	// would make a map pay for itself.
	return p != nil && p.Role == RoleClerk && slices.Contains(p.Communities, id)
}

// InArea reports whether the community id is in p's area: a community of
// a clerk, or a community of the street office or district a supervisor
// oversees. A community id is a 12-digit division code whose first 9
// digits are its street office's code and first 6 its district's, so a
// supervisor's area is a prefix. It is false for every other role: their
// access does not depend on a community, so check the role first.
func (p *Principal) InArea(communityID string) bool {
	if p == nil || len(communityID) != inputcheck.CommunityIDLen {
		return false
	}
	switch p.Role {
	case RoleClerk:
		return p.InCommunity(communityID)
	case RoleStreet, RoleDistrict:
		area := p.Area()
		return area != "" && strings.HasPrefix(communityID, area)
	}
	return false
}

// Area returns the prefix of the community ids a supervisor oversees: its
// street office's code for a street supervisor, its district's for a
// district supervisor, and "" for every other role. A list a supervisor
// makes is confined to the communities whose ids start with it.
func (p *Principal) Area() string {
	switch {
	case p == nil:
		return ""
	case p.Role == RoleStreet:
		return p.Street
	case p.Role == RoleDistrict:
		return p.District
	}
	return ""
}

// KeepsArchivesOf reports whether p is the archivist of the district a
// division code (a district, street office or community) belongs to. It
// is false for every other role.
func (p *Principal) KeepsArchivesOf(code string) bool {
	return p != nil && p.Role == RoleArchivist && len(code) >= inputcheck.DistrictCodeLen &&
		p.District != "" && strings.HasPrefix(code, p.District)
}

// IsSupervisor reports whether p is a street or district supervisor: a
// reader of its whole area, who edits no retiree's record but acts for
// its unit where the unit is a party (a handover agreement's receiver).
func (p *Principal) IsSupervisor() bool { return p.Is(RoleStreet, RoleDistrict) }

// OwnsEnterprise reports whether p is the enterprise with the given unified
// social credit code. It is false for every other role.
func (p *Principal) OwnsEnterprise(code string) bool {
	return p != nil && p.Role == RoleEnterprise && p.Enterprise != "" && p.Enterprise == code
}

// Is reports whether p has one of the roles. It is literal: admin is only
// admin here (Require is where admin is let through everywhere).
func (p *Principal) Is(roles ...Role) bool {
	return p != nil && slices.Contains(roles, p.Role)
}

// validate checks the rules a token's principal must meet. Its messages
// never repeat the offending value: it may come from an attacker's token.
func (p *Principal) validate() error {
	switch {
	case p.Subject == "":
		return errors.New("subject is empty")
	case len(p.Subject) > maxSubjectLen:
		return errors.New("subject is too long")
	case !p.Role.Valid():
		return errors.New("unknown role")
	}
	if p.Role == RoleClerk {
		if len(p.Communities) == 0 {
			return errors.New("clerk has no communities")
		}
		for _, c := range p.Communities {
			if !inputcheck.IsCommunityID(c) {
				return errors.New("community id is not 12 digits")
			}
		}
	} else if len(p.Communities) > 0 {
		return errors.New("only a clerk has communities")
	}
	if err := p.validateArea(); err != nil {
		return err
	}
	if p.Role == RoleEnterprise {
		if p.Enterprise == "" {
			return errors.New("enterprise principal has no enterprise code")
		}
		if !validCreditCodeShape(p.Enterprise) {
			return errors.New("enterprise code is not a credit code")
		}
	} else if p.Enterprise != "" {
		return errors.New("only an enterprise principal has an enterprise code")
	}
	return nil
}

// validateArea checks the supervisors' claims: a street supervisor has a
// street office code and a district supervisor a district code, each
// under the province rule of community ids, and no one else has either.
func (p *Principal) validateArea() error {
	switch {
	case p.Role == RoleStreet && !inputcheck.IsStreetCode(p.Street):
		return errors.New("street supervisor has no 9-digit street office code")
	case p.Role != RoleStreet && p.Street != "":
		return errors.New("only a street supervisor has a street office code")
	case p.Is(RoleDistrict, RoleArchivist) && !inputcheck.IsDistrictCode(p.District):
		return errors.New("district supervisor or archivist has no 6-digit district code")
	case !p.Is(RoleDistrict, RoleArchivist) && p.District != "":
		return errors.New("only a district supervisor or an archivist has a district code")
	}
	return nil
}

// validCreditCodeShape reports whether s has the shape of a unified social
// credit code (GB 32100-2015): 18 characters from 0-9A-HJ-NPQRTUWXY. The
// check character is the business of the services that register
// enterprises; a token only has to name one unambiguously.
func validCreditCodeShape(s string) bool {
	if len(s) != 18 {
		return false
	}
	for i := range len(s) {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Y' && c != 'I' && c != 'O' && c != 'S' && c != 'V' && c != 'Z':
		default:
			return false
		}
	}
	return true
}

// principalKey is the context key for the Principal; unexported so that
// only this package can set it.
type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal that NewContext put into ctx.
func FromContext(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(*Principal)
	return p, ok && p != nil
}

// SubjectOf names the caller of ctx for an access log: its subject, or ""
// before authentication.
func SubjectOf(ctx context.Context) string {
	if p, ok := FromContext(ctx); ok {
		return p.Subject
	}
	return ""
}
