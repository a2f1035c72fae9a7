package pension

import (
	"sort"
	"strings"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The certification rules as pure functions: which rule governs a
// community on a day, when the next certification is due after the last
// one, and what the status is on a day. The store, the lists, the
// entitlement and the preview all answer through these, so that they
// agree.
//
// Under any one rule the due date is a non-decreasing function of the last
// certification date: a later certification is never due earlier. That is
// what lets one index, ordered by the last certification date, serve the
// overdue and the due-soon lists for every rule: the retirees due in a
// range of days are those certified in a range of days, which
// firstCertifiedDueFrom finds by binary search.

// dueSoonDays is how many days before its due date a certification is
// DUE_SOON rather than CURRENT.
const dueSoonDays = 30

// Region prefixes of a rule: province, city and district, the first 2, 4
// and 6 digits of a community id.
var regionPrefixLens = [...]int{6, 4, 2}

// provinceCodes are the first two digits of the provincial-level divisions
// of GB/T 2260, the codes community ids begin with.
var provinceCodes = map[string]bool{
	"11": true, "12": true, "13": true, "14": true, "15": true,
	"21": true, "22": true, "23": true,
	"31": true, "32": true, "33": true, "34": true, "35": true, "36": true, "37": true,
	"41": true, "42": true, "43": true, "44": true, "45": true, "46": true,
	"50": true, "51": true, "52": true, "53": true, "54": true,
	"61": true, "62": true, "63": true, "64": true, "65": true,
	"71": true, "81": true, "82": true,
}

// isRegionPrefix reports whether s is a region of a rule: 2, 4 or 6
// digits beginning with a province code.
func isRegionPrefix(s string) bool {
	if len(s) != 2 && len(s) != 4 && len(s) != 6 {
		return false
	}
	if _, ok := digits(s); !ok {
		return false
	}
	return provinceCodes[s[:2]]
}

// monthDay is a day of the year, MM-DD, other than 29 February: a window
// falls on the same days every year.
type monthDay struct {
	month time.Month
	day   int
}

// parseMonthDay reads MM-DD strictly; 02-29 is refused, as it does not
// occur every year.
func parseMonthDay(s string) (monthDay, bool) {
	if len(s) != 5 || s[2] != '-' {
		return monthDay{}, false
	}
	m, ok1 := digits(s[:2])
	d, ok2 := digits(s[3:])
	// 2001 is not a leap year: 02-29 has no day in it.
	if !ok1 || !ok2 || m < 1 || m > 12 || d < 1 || d > daysIn(2001, m) {
		return monthDay{}, false
	}
	return monthDay{month: time.Month(m), day: d}, true
}

// in is the day md of year y.
func (md monthDay) in(y int) time.Time { return time.Date(y, md.month, md.day, 0, 0, 0, 0, time.UTC) }

// after reports whether md comes later in the year than o.
func (md monthDay) after(o monthDay) bool {
	return md.month > o.month || md.month == o.month && md.day > o.day
}

// certRule is a certification rule as the functions here apply it.
type certRule struct {
	// id is the stored rule's, "" for the national default.
	id   string
	kind pb.CertificationRuleKind
	// opens and deadline are WINDOW's.
	opens, deadline monthDay
}

// nationalDefault is the rule where no stored rule applies: rolling.
var nationalDefault = certRule{kind: pb.CertificationRuleKind_ROLLING}

// ruleOf returns the certRule of a stored (validated) rule, or the
// national default for nil.
func ruleOf(r *pb.CertificationRule) certRule {
	if r == nil {
		return nationalDefault
	}
	out := certRule{id: r.Id, kind: r.Kind}
	if r.Kind == pb.CertificationRuleKind_WINDOW {
		out.opens, _ = parseMonthDay(r.WindowOpens)
		out.deadline, _ = parseMonthDay(r.WindowDeadline)
	}
	return out
}

// dueOn is the last day on which the certification after one made on
// last is in time.
//
//   - ROLLING: twelve months later, on the same day of the month or, for
//     29 February, on the last day of February.
//   - WINDOW: the cycle of year Y runs from the window's opening in Y to
//     the day before its opening in Y+1; a certification belongs to the
//     cycle that contains it, and the next is due by the deadline of the
//     following cycle's year.
func (r certRule) dueOn(last time.Time) time.Time {
	if r.kind == pb.CertificationRuleKind_WINDOW {
		y := last.Year()
		if last.Before(r.opens.in(y)) {
			y--
		}
		return r.deadline.in(y + 1)
	}
	return addYearClamped(last)
}

// addYearClamped is the same day a year later, or the last day of the
// month when that day does not exist (29 February): time.AddDate would
// move it to 1 March instead.
func addYearClamped(d time.Time) time.Time {
	y, m, day := d.Date()
	return time.Date(y+1, m, min(day, daysIn(y+1, int(m))), 0, 0, 0, 0, time.UTC)
}

// firstCertifiedDueFrom returns the earliest last-certification day whose
// due date is on or after target: under r, the retirees certified before
// it are overdue on target, and those certified on or after it are not.
// It searches by halves the days from three years before target, whose
// due dates are all before target (a due date is at most two years after
// its certification), up to target itself, whose due date is after it.
func (r certRule) firstCertifiedDueFrom(target time.Time) time.Time {
	lo := target.AddDate(-3, 0, 0)
	n := daysBetween(lo, target) + 1
	i := sort.Search(n, func(i int) bool { return !r.dueOn(lo.AddDate(0, 0, i)).Before(target) })
	return lo.AddDate(0, 0, i)
}

// statusOn is the certification status on day of a certification due on
// due.
func statusOn(day, due time.Time) pb.CertificationStatus {
	switch {
	case day.After(due):
		return pb.CertificationStatus_OVERDUE
	case !due.After(day.AddDate(0, 0, dueSoonDays)):
		return pb.CertificationStatus_DUE_SOON
	}
	return pb.CertificationStatus_CURRENT
}

// regionalRule is a rule kept per region from a day on: a certification
// rule or a death-benefit rule.
type regionalRule interface {
	comparable
	GetRegionPrefix() string
	GetEffectiveOn() string
}

// selectRule returns the rule that governs community on day among rules:
// of the rules in effect on day (effective_on not after it) whose region
// contains the community, the newest of the most specific region; nil
// when none does, which for certification means the national default.
func selectRule[R regionalRule](rules []R, community string, day time.Time) R {
	on := formatDate(day)
	var best, none R
	for _, r := range rules {
		if r.GetEffectiveOn() > on || !strings.HasPrefix(community, r.GetRegionPrefix()) {
			continue
		}
		switch {
		case best == none, len(r.GetRegionPrefix()) > len(best.GetRegionPrefix()):
			best = r
		case len(r.GetRegionPrefix()) == len(best.GetRegionPrefix()) && r.GetEffectiveOn() > best.GetEffectiveOn():
			best = r
		}
	}
	return best
}

// pensionStart is the first day of the first month of pension, the month
// after the retirement date; ok is false without a retirement date.
func pensionStart(st *registryv1.RetireeState) (time.Time, bool) {
	d, ok := parseDate(st.GetRetirementDate())
	if !ok {
		return time.Time{}, false
	}
	return (monthOf(d) + 1).firstDay(), true
}

// lastCert is a retiree's last certification: the latest recorded one or,
// when none is later, the start of the pension, which counts as one.
type lastCert struct {
	// day is "" when neither is known: no certification is recorded and
	// registry has no retirement date.
	day     string
	channel pb.CertificationMethod
}

// lastCertOf returns the last certification of a retiree whose latest
// recorded one is recorded ("" for none) through channel.
func lastCertOf(st *registryv1.RetireeState, recorded string, channel pb.CertificationMethod) lastCert {
	return lastCertFrom(pensionStartDay(st), recorded, channel)
}

// pensionStartDay is pensionStart as YYYY-MM-DD, "" when unknown, made
// without building a time: the import asks for it with every record.
func pensionStartDay(st *registryv1.RetireeState) string {
	d, ok := parseCivil(st.GetRetirementDate())
	if !ok {
		return ""
	}
	start := month(int(d)/10000*12+int(d)/100%100-1) + 1
	return string(append(start.appendTo(make([]byte, 0, 10)), "-01"...))
}

// lastCertFrom is lastCertOf of a retiree whose pension started on start
// (YYYY-MM-DD, "" when unknown), for a caller that needs it twice.
func lastCertFrom(start, recorded string, channel pb.CertificationMethod) lastCert {
	if start > recorded {
		return lastCert{day: start, channel: pb.CertificationMethod_PENSION_START}
	}
	if recorded == "" {
		return lastCert{}
	}
	return lastCert{day: recorded, channel: channel}
}

// certificationState is the certification status on day of a retiree
// whose last certification is last, under rule r. A retiree without any
// known certification is OVERDUE, with no dates: a clerk should see him.
func certificationState(last lastCert, r certRule, day time.Time) *pb.CertificationState {
	out := &pb.CertificationState{Status: pb.CertificationStatus_OVERDUE, RuleId: r.id}
	d, ok := parseDate(last.day)
	if !ok {
		return out
	}
	due := r.dueOn(d)
	out.Status = statusOn(day, due)
	out.LastCertifiedOn = last.day
	out.DueOn = formatDate(due)
	out.LastChannel = last.channel
	return out
}
