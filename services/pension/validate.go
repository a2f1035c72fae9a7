package pension

import (
	"time"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Bounds on query arguments.
const (
	// maxMonthRange bounds the months one ListPayments covers: ten years.
	maxMonthRange = 120
	// defaultMonthRange is the months ListPayments covers without a
	// fromMonth: the year up to toMonth.
	defaultMonthRange = 12
	// defaultDueSoonDays and maxDueSoonDays bound how far ahead the
	// due-soon list looks: a clerk plans the next month's visits, at most
	// a year's.
	defaultDueSoonDays = 30
	maxDueSoonDays     = 366
	// minCertificationYear is the earliest certification date accepted.
	minCertificationYear = 2000
)

// checkRetireeID requires a retiree id. Its shape is checked by the store,
// which answers a malformed one like an unknown one.
func checkRetireeID(v *fault.Violations, id string) {
	if id == "" {
		v.Add("retireeId", "required")
	}
}

// monthRange validates an optional month range: toMonth defaults to the
// current month, fromMonth to eleven months before toMonth.
func monthRange(v *fault.Violations, fromS, toS string, today time.Time) (from, to month) {
	to, ok := optionalMonth(v, "toMonth", toS, monthOf(today))
	if !ok {
		return 0, 0
	}
	from, ok = optionalMonth(v, "fromMonth", fromS, to-(defaultMonthRange-1))
	if !ok {
		return 0, 0
	}
	switch {
	case from > to:
		v.Add("fromMonth", "after toMonth")
	case to-from+1 > maxMonthRange:
		v.Addf("fromMonth", "the range may cover at most %d months", maxMonthRange)
	}
	return from, to
}

// optionalMonth validates an optional month named field, def when s is
// empty; it reports false, with a violation, when s is not a month.
func optionalMonth(v *fault.Violations, field, s string, def month) (month, bool) {
	if s == "" {
		return def, true
	}
	return checkMonth(v, field, s)
}

// checkMonth parses the month named field; it reports false, with a
// violation, when s is not a month from minYear on.
func checkMonth(v *fault.Violations, field, s string) (month, bool) {
	m, ok := parseMonth(s)
	if !ok {
		v.Add(field, "must be a month YYYY-MM from 1950")
	}
	return m, ok
}

// requiredMonth validates a required month, not after the current one.
func requiredMonth(v *fault.Violations, field, s string, today time.Time) month {
	if s == "" {
		v.Add(field, "required")
		return 0
	}
	m, ok := checkMonth(v, field, s)
	if !ok {
		return 0
	}
	if m > monthOf(today) {
		v.Add(field, "after the current month")
	}
	return m
}

// asOfDate validates an optional as-of date, today by default.
func asOfDate(v *fault.Violations, s string, today time.Time) time.Time {
	if s == "" {
		return dayOf(today)
	}
	d, ok := parseDate(s)
	if !ok {
		v.Add("asOf", "must be a date YYYY-MM-DD")
	}
	return d
}

// checkCertification validates a certification to record by a call.
func checkCertification(v *fault.Violations, c *pb.Certification, today time.Time) {
	if c == nil {
		v.Add("certification", "required")
		return
	}
	switch _, known := pb.CertificationMethod_name[int32(c.Method)]; {
	case c.Method == pb.CertificationMethod_PENSION_START:
		v.Add("method", "PENSION_START is never recorded: the first month of pension counts as a certification by itself")
	case !known || c.Method == pb.CertificationMethod_CERTIFICATION_METHOD_UNSPECIFIED:
		v.Add("method", "must be one of IN_PERSON, HOME_VISIT, ACTIVITY, DATA_MATCH, FACE_APP, CONSULAR, OTHER_REGION")
	}
	switch d, ok := parseDate(c.CertifiedOn); {
	case c.CertifiedOn == "":
		v.Add("certifiedOn", "required")
	case !ok:
		v.Add("certifiedOn", "must be a date YYYY-MM-DD")
	case d.After(dayOf(today)):
		v.Add("certifiedOn", "in the future")
	case d.Year() < minCertificationYear:
		v.Addf("certifiedOn", "before %d", minCertificationYear)
	}
	if !validReference(c.Reference) {
		v.Addf("reference", "at most %d characters of letters, digits, '.', '_', '/' and '-'", maxReferenceLen)
	}
}
