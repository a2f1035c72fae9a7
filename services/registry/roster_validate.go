package registry

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Bounds of the roster's lists.
const (
	maxCarers = 10
	// maxAge bounds the ages a list asks for: no one born after 1900
	// (earliestBirth) is older.
	maxAge = 150
	// maxNameFilterLen bounds the text a list's name filter looks for:
	// part of a name, not a description.
	maxNameFilterLen = 20
)

var (
	// divisionCodeRE is a division code of a district, a street office or
	// a community: 6, 9 or 12 digits.
	divisionCodeRE = regexp.MustCompile(`^(?:[0-9]{6}|[0-9]{9}|[0-9]{12})$`)
	// countryRE is the shape of an ISO 3166-1 alpha-2 code.
	countryRE = regexp.MustCompile(`^[A-Z]{2}$`)
)

// homeCountry is the country a residence abroad cannot be in.
const homeCountry = "CN"

// checkResidence validates a residence sent in a request (nil is none)
// and its agreement with residence_address, which it then sets: the two
// are one address, and a client may send either.
func checkResidence(v *fault.Violations, r *pb.Retiree, addressSent bool) {
	res := r.Residence
	if res == nil {
		return
	}
	if _, ok := pb.Residence_Kind_name[int32(res.Kind)]; !ok || res.Kind == pb.Residence_KIND_UNSPECIFIED {
		v.Add("residence.kind", "required: one of LOCAL, OTHER_CITY, OTHER_PROVINCE, ABROAD")
	}
	inputcheck.Text(v, "residence.address", res.Address, false, maxAddressLen)
	if res.DivisionCode != "" {
		switch {
		case res.Kind == pb.Residence_ABROAD:
			v.Add("residence.divisionCode", "not for a residence ABROAD")
		case !divisionCodeRE.MatchString(res.DivisionCode):
			v.Add("residence.divisionCode", "must be a 6-, 9- or 12-digit division code")
		}
	}
	checkCountry(v, res)
	if addressSent && r.ResidenceAddress != res.Address {
		v.Add("residenceAddress", "differs from residence.address: send one, or both the same")
	}
	r.ResidenceAddress = res.Address
}

// checkCountry validates a residence's country: a code for a residence
// abroad, none for one in China.
func checkCountry(v *fault.Violations, res *pb.Residence) {
	switch {
	case res.Kind == pb.Residence_ABROAD && res.Country == "":
		v.Add("residence.country", "required for a residence ABROAD")
	case res.Kind != pb.Residence_ABROAD && res.Country != "":
		v.Add("residence.country", "only for a residence ABROAD")
	case res.Country != "" && !countryRE.MatchString(res.Country):
		v.Add("residence.country", "must be an ISO 3166-1 alpha-2 code such as CA")
	case res.Country == homeCountry:
		v.Add("residence.country", "a residence in China is LOCAL, OTHER_CITY or OTHER_PROVINCE")
	}
}

// checkResidencePatch validates an update of the residence: as on
// create, and a residence cleared while the same update sets an address
// disagrees with it.
func checkResidencePatch(v *fault.Violations, paths []string, r *pb.Retiree) {
	addressSent := slices.Contains(paths, "residence_address")
	if r.Residence == nil && addressSent && r.ResidenceAddress != "" {
		v.Add("residenceAddress", "differs from residence.address: send one, or both the same")
	}
	checkResidence(v, r, addressSent)
}

// syncResidence makes a record's residence and residence_address one
// address after residence_address alone was set: the residence keeps its
// kind and codes, or is created without a kind.
func syncResidence(r *pb.Retiree) {
	switch {
	case r.Residence != nil:
		r.Residence.Address = r.ResidenceAddress
	case r.ResidenceAddress != "":
		r.Residence = &pb.Residence{Address: r.ResidenceAddress}
	}
}

// checkCarers validates the carers sent in a request.
func checkCarers(v *fault.Violations, carers []*pb.Carer) {
	if len(carers) > maxCarers {
		v.Addf("carers", "at most %d carers", maxCarers)
		return
	}
	emergency := 0
	for i, c := range carers {
		field := fmt.Sprintf("carers[%d]", i)
		if c == nil {
			v.Add(field, "required")
			continue
		}
		inputcheck.Text(v, field+".name", c.Name, true, maxNameLen)
		if _, ok := pb.Carer_Relation_name[int32(c.Relation)]; !ok || c.Relation == pb.Carer_RELATION_UNSPECIFIED {
			v.Add(field+".relation", "required: one of SPOUSE, CHILD, CHILD_IN_LAW, GRANDCHILD, SIBLING, OTHER_RELATIVE, NEIGHBOUR, CARER, OTHER")
		}
		inputcheck.Phone(v, field+".phone", c.Phone)
		if c.EmergencyContact {
			emergency++
		}
		c.PhoneMasked = ""
	}
	if emergency > 1 {
		v.Add("carers", "at most one emergency contact")
	}
}

// checkListAges validates the age bounds of a list.
func checkListAges(v *fault.Violations, minAge, maxAgeAsked int32) {
	if minAge < 0 || minAge > maxAge {
		v.Addf("minAge", "must be between 0 and %d", maxAge)
	}
	if maxAgeAsked < 0 || maxAgeAsked > maxAge {
		v.Addf("maxAge", "must be between 0 and %d", maxAge)
	}
	if maxAgeAsked > 0 && maxAgeAsked < minAge {
		v.Add("maxAge", "below minAge")
	}
}

// checkNameFilter validates a list's name and ID-number tail filters and
// puts the name in the form the store compares: trimmed (white space
// alone is no filter), then folded. The reasons never repeat the value,
// which is personal data.
func checkNameFilter(v *fault.Violations, f *RetireeFilter) {
	f.Name = strings.TrimSpace(f.Name)
	inputcheck.Text(v, "name", f.Name, false, maxNameFilterLen)
	f.Name = foldName(f.Name)
	if f.IDNumberTail != "" && !idnumber.IsTail(f.IDNumberTail) {
		v.Add("idNumberTail", "must be the last 4 characters of an ID number: digits, the last of which may be X")
	}
}

// checkStatusChange validates a ChangeRetireeStatus request against
// today.
func checkStatusChange(req *pb.ChangeRetireeStatusRequest, today time.Time) error {
	var v fault.Violations
	switch {
	case req.Status == pb.RetireeStatus_DECEASED:
		v.Add("status", "a death is recorded with :recordDeath")
	case req.Status == pb.RetireeStatus_MOVED_OUT:
		v.Add("status", "MOVED_OUT is set by a transfer out of the city")
	case !settableStatus(req.Status):
		v.Add("status", "must be one of LIVING, LOST_CONTACT, IMPRISONED, ABROAD")
	}
	if req.EffectiveOn == "" {
		v.Add("effectiveOn", "required")
	} else if d := parseDate(&v, "effectiveOn", req.EffectiveOn); !d.IsZero() && dateOnly(d) > dateOnly(today) {
		v.Add("effectiveOn", "in the future")
	}
	inputcheck.Text(&v, "reason", req.Reason, true, maxReasonLen)
	return v.Err()
}
