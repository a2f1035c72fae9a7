package authn

import (
	"errors"
	"strings"
)

// Role is what a principal may do, as named in the role table of DESIGN.md.
type Role string

// The roles of DESIGN.md ("Identity and access").
const (
	// RoleAdmin may do everything.
	RoleAdmin Role = "admin"
	// RoleBureau is a social-security bureau: reads everything and writes
	// retirees, enterprises, payments and certifications.
	RoleBureau Role = "bureau"
	// RoleClerk is a community clerk, scoped to Principal.Communities.
	RoleClerk Role = "clerk"
	// RoleEnterprise is an enterprise, scoped to Principal.Enterprise.
	RoleEnterprise Role = "enterprise"
	// RoleService is another socmgmt service making an internal call.
	RoleService Role = "service"
	// RoleStreet supervises the communities of one street office,
	// Principal.Street: it reads everything there and edits nothing.
	RoleStreet Role = "street"
	// RoleDistrict supervises the communities of one district,
	// Principal.District, as RoleStreet does a street office's.
	RoleDistrict Role = "district"
	// RoleArchivist is the custodian of personnel archives a district
	// designates, Principal.District: it receives the archives of the
	// handovers to that district's communities and keeps them.
	RoleArchivist Role = "archivist"
)

// ErrUnknownRole is returned by ParseRole for a name that is not a role.
var ErrUnknownRole = errors.New("authn: unknown role")

// Roles lists every valid role, in the order of the table in DESIGN.md.
func Roles() []Role {
	return []Role{RoleAdmin, RoleBureau, RoleClerk, RoleEnterprise, RoleService, RoleStreet, RoleDistrict, RoleArchivist}
}

// ParseRole turns a role name, as typed by an operator, into a Role. It
// ignores case and surrounding space; tokens themselves must carry the
// canonical lower-case name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", ErrUnknownRole
	}
	return r, nil
}

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleBureau, RoleClerk, RoleEnterprise, RoleService, RoleStreet, RoleDistrict, RoleArchivist:
		return true
	}
	return false
}

// String returns the role's name.
func (r Role) String() string { return string(r) }
