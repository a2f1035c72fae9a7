package registry

import (
	"fmt"
	"regexp"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Bounds on free-text and list inputs.
const (
	maxNameLen     = 64
	maxAddressLen  = 200
	maxReasonLen   = 500
	maxDistrictLen = 64
	maxHouseholds  = 1_000_000
	maxAssignBatch = 10_000
	// maxFactsBatch is the most ids one BatchGetRetireeFacts names: a
	// handover package's most retirees, so that a submit takes one call.
	maxFactsBatch = 10_000
	maxRequestKey = 128
	maxFlags      = 16
	// earliestBirth bounds the birth dates of retirees: the ID-number rules
	// reach back to 1800, but no one born before 1900 is alive to manage,
	// so such a date is a mistake in the number.
	earliestBirth = "1900-01-01"
	// minRetirementAge is the youngest age anyone retires at: the
	// earliest statutory ages (45 for women in special types of work, a
	// few years less for invalidity) are all above it, so a retirement
	// date before it is a mistake in one of the two dates.
	minRetirementAge = 40
)

var (
	fieldNameRE = regexp.MustCompile(`^[a-z][a-zA-Z_]{0,63}$`)
)

// parseDate parses a YYYY-MM-DD date; an empty string is the zero time.
func parseDate(v *fault.Violations, field, s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		v.Add(field, "must be a date YYYY-MM-DD")
		return time.Time{}
	}
	return t
}

// checkIDList checks a list of retiree ids named field: at most max, none
// listed twice, and at least one when required.
func checkIDList(v *fault.Violations, field string, ids []string, max int, required bool) {
	switch n := len(ids); {
	case n == 0 && required:
		v.Add(field, "required")
	case n > max:
		v.Addf(field, "at most %d retirees per request", max)
	default:
		seen := make(map[string]bool, n)
		for i, id := range ids {
			if seen[id] {
				v.Add(fmt.Sprintf("%s[%d]", field, i), "listed twice")
			}
			seen[id] = true
		}
	}
}

func checkCommunity(c *pb.Community) error {
	var v fault.Violations
	if c == nil {
		return fault.Invalid("community", "required")
	}
	inputcheck.CommunityID(&v, "id", c.Id)
	inputcheck.Text(&v, "name", c.Name, true, maxNameLen)
	inputcheck.Text(&v, "district", c.District, true, maxDistrictLen)
	inputcheck.Text(&v, "street", c.Street, true, maxDistrictLen)
	if _, ok := pb.CommunityKind_name[int32(c.Kind)]; !ok || c.Kind == pb.CommunityKind_COMMUNITY_KIND_UNSPECIFIED {
		v.Add("kind", "must be one of BLOCK, COMPOUND, WORK_UNIT, FUNCTIONAL")
	}
	if c.Households < 0 || c.Households > maxHouseholds {
		v.Addf("households", "must be between 0 and %d", maxHouseholds)
	}
	return v.Err()
}

func checkEnterprise(e *pb.Enterprise) error {
	var v fault.Violations
	if e == nil {
		return fault.Invalid("enterprise", "required")
	}
	if code, err := creditcode.Parse(e.CreditCode); err != nil {
		v.Add("creditCode", err.Error())
	} else {
		e.CreditCode = string(code)
	}
	inputcheck.Text(&v, "name", e.Name, true, maxNameLen)
	if _, ok := pb.Ownership_name[int32(e.Ownership)]; !ok || e.Ownership == pb.Ownership_OWNERSHIP_UNSPECIFIED {
		v.Add("ownership", "must be one of STATE, COLLECTIVE, PRIVATE, OTHER")
	}
	if _, ok := pb.EnterpriseStatus_name[int32(e.Status)]; !ok {
		v.Add("status", "must be one of OPERATING, BANKRUPT, CLOSED")
	}
	if e.Status == pb.EnterpriseStatus_ENTERPRISE_STATUS_UNSPECIFIED {
		e.Status = pb.EnterpriseStatus_OPERATING
	}
	return v.Err()
}

// checkNewRetiree validates and normalises a retiree to create: the ID
// number (with sex and birth date derived from it), dates, references'
// shapes and free text. Output-only fields are cleared.
func checkNewRetiree(r *pb.Retiree, today time.Time) (idnumber.ID, error) {
	var v fault.Violations
	if r == nil {
		return idnumber.ID{}, fault.Invalid("retiree", "required")
	}
	var id idnumber.ID
	if r.IdNumber == "" {
		v.Add("idNumber", "required")
	} else if parsed, ok := idnumber.CheckAt(&v, "idNumber", r.IdNumber, today); ok {
		id = parsed
		if err := id.CheckSex(sexOf(r.Sex)); err != nil {
			v.Add("sex", "does not match the ID number")
		}
		birth := dateOnly(id.BirthDate())
		if r.BirthDate != "" && r.BirthDate != birth {
			v.Add("birthDate", "does not match the ID number")
		}
		if birth < earliestBirth {
			v.Add("birthDate", "before 1900 (as the ID number gives it)")
		}
		r.IdNumber = id.Digits()
		r.BirthDate = birth
		r.Sex = pbSex(id.Sex())
	}
	if _, ok := pb.Sex_name[int32(r.Sex)]; !ok {
		v.Add("sex", "must be MALE or FEMALE")
	}
	inputcheck.Text(&v, "name", r.Name, true, maxNameLen)
	inputcheck.CommunityID(&v, "communityId", r.CommunityId)
	if r.EnterpriseCreditCode != "" {
		if code, err := creditcode.Parse(r.EnterpriseCreditCode); err != nil {
			v.Add("enterpriseCreditCode", err.Error())
		} else {
			r.EnterpriseCreditCode = string(code)
		}
	}
	checkMode(&v, r.ManagementMode, true)
	if r.ManagementMode == pb.ManagementMode_ENTERPRISE && r.EnterpriseCreditCode == "" {
		v.Add("enterpriseCreditCode", "required when managementMode is ENTERPRISE")
	}
	checkRetirementDate(&v, r.RetirementDate, r.BirthDate, today)
	inputcheck.Phone(&v, "phone", r.Phone)
	inputcheck.Text(&v, "residenceAddress", r.ResidenceAddress, false, maxAddressLen)
	checkResidence(&v, r, r.ResidenceAddress != "")
	checkCarers(&v, r.Carers)
	r.Flags = checkFlags(&v, r.Flags)
	if err := v.Err(); err != nil {
		return idnumber.ID{}, err
	}
	syncResidence(r)
	r.Id, r.IdNumberMasked, r.PhoneMasked, r.Etag, r.DateOfDeath = "", "", "", "", ""
	r.StatusEffectiveOn, r.StatusReason = "", ""
	r.Status = pb.RetireeStatus_LIVING
	r.CreateTime, r.UpdateTime = nil, nil
	// Set only by a transfer out of the city.
	r.MovedOutTo, r.MovedOutDate = nil, ""
	return id, nil
}

func checkMode(v *fault.Violations, m pb.ManagementMode, required bool) {
	if _, ok := pb.ManagementMode_name[int32(m)]; !ok || (required && m == pb.ManagementMode_MANAGEMENT_MODE_UNSPECIFIED) {
		v.Add("managementMode", "must be one of ENTERPRISE, COMMUNITY, BUREAU")
	}
}

func checkRetirementDate(v *fault.Violations, s, birth string, today time.Time) {
	if s == "" {
		return
	}
	t := parseDate(v, "retirementDate", s)
	if t.IsZero() {
		return
	}
	if problem := retirementProblem(s, birth); problem != "" {
		v.Add("retirementDate", problem)
	}
	if t.After(today.AddDate(1, 0, 0)) {
		v.Add("retirementDate", "more than a year in the future")
	}
}

// retirementProblem says what is wrong with retiring on retired (a valid
// YYYY-MM-DD, or empty when not known) when born on birth (likewise), or
// "" when nothing is. Creation and every update check the same rule.
func retirementProblem(retired, birth string) string {
	if retired == "" || birth == "" {
		return ""
	}
	if retired <= birth {
		return "must be after the birth date"
	}
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return ""
	}
	if retired < dateOnly(b.AddDate(minRetirementAge, 0, 0)) {
		return fmt.Sprintf("before the age of %d", minRetirementAge)
	}
	return ""
}

// checkFlags validates the flags a retiree is given and returns them
// without duplicates, sorted. The computed flags are refused: they follow
// the birth date.
func checkFlags(v *fault.Violations, flags []pb.RetireeFlag) []pb.RetireeFlag {
	for _, f := range flags {
		if isComputedFlag(f) {
			v.Addf("flags", "%s is computed from the birth date and cannot be set", f)
			break
		}
	}
	return checkFlagList(v, flags)
}

// checkFlagList validates a list of flags, the computed ones included,
// and returns it without duplicates, sorted.
func checkFlagList(v *fault.Violations, flags []pb.RetireeFlag) []pb.RetireeFlag {
	if len(flags) > maxFlags {
		v.Addf("flags", "at most %d flags", maxFlags)
		return nil
	}
	for i, f := range flags {
		if _, ok := pb.RetireeFlag_name[int32(f)]; !ok || f == pb.RetireeFlag_RETIREE_FLAG_UNSPECIFIED {
			v.Add(fmt.Sprintf("flags[%d]", i), "unknown flag")
		}
	}
	out := slices.Clone(flags)
	slices.Sort(out)
	return slices.Compact(out)
}

// editableFields are the retiree fields UpdateRetiree may change, by proto
// name, each with how an update copies it: the one list that the mask check
// and the store's update both read. modeField is limited to admin and
// bureau.
var editableFields = map[string]func(dst, src *pb.Retiree){
	"name":              func(d, s *pb.Retiree) { d.Name = s.Name },
	"phone":             func(d, s *pb.Retiree) { d.Phone = s.Phone },
	"residence_address": func(d, s *pb.Retiree) { d.ResidenceAddress = s.ResidenceAddress },
	"residence": func(d, s *pb.Retiree) {
		d.Residence = proto.CloneOf(s.Residence)
		d.ResidenceAddress = s.Residence.GetAddress()
	},
	"carers": func(d, s *pb.Retiree) {
		d.Carers = make([]*pb.Carer, len(s.Carers))
		for i, c := range s.Carers {
			d.Carers[i] = proto.CloneOf(c)
		}
	},
	"flags":                  func(d, s *pb.Retiree) { d.Flags = slices.Clone(s.Flags) },
	"retirement_date":        func(d, s *pb.Retiree) { d.RetirementDate = s.RetirementDate },
	"enterprise_credit_code": func(d, s *pb.Retiree) { d.EnterpriseCreditCode = s.EnterpriseCreditCode },
	"management_mode":        func(d, s *pb.Retiree) { d.ManagementMode = s.ManagementMode },
}

// modeField and enterpriseField name the fields whose update is limited
// by role: the mode to admin and bureau (see UpdateRetiree), the
// enterprise of a retiree it still manages likewise (see guardUpdate).
const (
	modeField       = "management_mode"
	enterpriseField = "enterprise_credit_code"
)

// ignoredMaskFields are sent back by clients with the body (REST infers the
// mask from the body's keys) and are not edits.
var ignoredMaskFields = map[string]bool{"id": true, "etag": true}

// normaliseMask turns mask paths (proto or JSON names) into proto names,
// dropping id and etag, and reports paths that cannot be edited.
func normaliseMask(paths []string) ([]string, error) {
	var v fault.Violations
	fields := (&pb.Retiree{}).ProtoReflect().Descriptor().Fields()
	var out []string
	for _, p := range paths {
		fd := fields.ByName(protoreflect.Name(p))
		if fd == nil {
			fd = fields.ByJSONName(p)
		}
		if fd == nil {
			// The path is echoed only when it looks like a field name: a
			// client must not get back whatever it put there.
			if fieldNameRE.MatchString(p) {
				v.Addf("updateMask", "unknown field %q", p)
			} else {
				v.Add("updateMask", "unknown field")
			}
			continue
		}
		name := string(fd.Name())
		switch {
		case ignoredMaskFields[name]:
		case editableFields[name] == nil:
			v.Addf("updateMask", "field %q cannot be changed here (community: use :transfer; status: use :changeStatus or :recordDeath)", fd.JSONName())
		case !slices.Contains(out, name):
			out = append(out, name)
		}
	}
	if len(out) == 0 && v.Err() == nil {
		v.Add("updateMask", "names no field to change")
	}
	return out, v.Err()
}

// checkPatch validates the new values of the masked fields.
func checkPatch(paths []string, r *pb.Retiree, today time.Time) error {
	var v fault.Violations
	for _, p := range paths {
		switch p {
		case "name":
			inputcheck.Text(&v, "name", r.Name, true, maxNameLen)
		case "phone":
			inputcheck.Phone(&v, "phone", r.Phone)
		case "residence_address":
			inputcheck.Text(&v, "residenceAddress", r.ResidenceAddress, false, maxAddressLen)
		case "residence":
			checkResidencePatch(&v, paths, r)
		case "carers":
			checkCarers(&v, r.Carers)
		case "flags":
			r.Flags = checkFlags(&v, r.Flags)
		case "retirement_date":
			checkRetirementDate(&v, r.RetirementDate, "", today)
		case "enterprise_credit_code":
			if r.EnterpriseCreditCode != "" {
				if code, err := creditcode.Parse(r.EnterpriseCreditCode); err != nil {
					v.Add("enterpriseCreditCode", err.Error())
				} else {
					r.EnterpriseCreditCode = string(code)
				}
			}
		case "management_mode":
			checkMode(&v, r.ManagementMode, true)
		}
	}
	return v.Err()
}

// sexes pairs the API's sexes with the ID number's; sexOf and pbSex read it
// in either direction, so that the two conversions cannot disagree.
var sexes = []struct {
	api pb.Sex
	id  idnumber.Sex
}{
	{pb.Sex_MALE, idnumber.SexMale},
	{pb.Sex_FEMALE, idnumber.SexFemale},
}

// sexOf is the ID number's sex for s; SexUnknown when s is unspecified.
func sexOf(s pb.Sex) idnumber.Sex {
	for _, p := range sexes {
		if p.api == s {
			return p.id
		}
	}
	return idnumber.SexUnknown
}

// pbSex is the API's sex for s; SEX_UNSPECIFIED when s is unknown.
func pbSex(s idnumber.Sex) pb.Sex {
	for _, p := range sexes {
		if p.id == s {
			return p.api
		}
	}
	return pb.Sex_SEX_UNSPECIFIED
}
