package pension

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The property tests draw from a fixed seed, so that a failure repeats;
// each names the case it failed on.
const propertyRuns = 2000

func newRand(t *testing.T) *rand.Rand {
	t.Helper()
	return rand.New(rand.NewPCG(uint64(len(t.Name())), 20260615)) //nolint:gosec // G404: reproducible test data
}

// randomDay is a day from 2000 to 2039.
func randomDay(rng *rand.Rand) time.Time {
	return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(40*365))
}

// randomMonthDay is any day of a year but 29 February.
func randomMonthDay(rng *rand.Rand) monthDay {
	d := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rng.IntN(365))
	return monthDay{month: d.Month(), day: d.Day()}
}

// randomRule is ROLLING or a WINDOW with opens <= deadline.
func randomRule(rng *rand.Rand) certRule {
	if rng.IntN(3) == 0 {
		return nationalDefault
	}
	a, b := randomMonthDay(rng), randomMonthDay(rng)
	if a.after(b) {
		a, b = b, a
	}
	return certRule{id: "w", kind: pb.CertificationRuleKind_WINDOW, opens: a, deadline: b}
}

func (md monthDay) String() string { return fmt.Sprintf("%02d-%02d", int(md.month), md.day) }

func (r certRule) String() string {
	if r.kind == pb.CertificationRuleKind_WINDOW {
		return "WINDOW " + r.opens.String() + ".." + r.deadline.String()
	}
	return "ROLLING"
}

func day(t *testing.T, s string) time.Time {
	t.Helper()
	d, ok := parseDate(s)
	if !ok {
		t.Fatalf("bad date %q", s)
	}
	return d
}

func window(t *testing.T, opens, deadline string) certRule {
	t.Helper()
	o, ok1 := parseMonthDay(opens)
	d, ok2 := parseMonthDay(deadline)
	if !ok1 || !ok2 {
		t.Fatalf("bad window %s..%s", opens, deadline)
	}
	return certRule{kind: pb.CertificationRuleKind_WINDOW, opens: o, deadline: d}
}

func TestDueOnExamples(t *testing.T) {
	t.Parallel()
	jan := window(t, "01-01", "09-30")
	july := window(t, "07-01", "12-31")
	for _, tc := range []struct {
		rule       certRule
		last, want string
	}{
		{nationalDefault, "2025-06-15", "2026-06-15"},
		{nationalDefault, "2024-02-29", "2025-02-28"},
		{nationalDefault, "2023-02-28", "2024-02-28"},
		{nationalDefault, "2025-12-31", "2026-12-31"},
		// Certified in the 2025 cycle (the calendar year): due by the 2026
		// deadline, however early or late in 2025.
		{jan, "2025-01-01", "2026-09-30"},
		{jan, "2025-12-31", "2026-09-30"},
		{jan, "2024-02-29", "2025-09-30"},
		// A cycle from 1 July: June belongs to the previous year's cycle.
		{july, "2025-06-30", "2025-12-31"},
		{july, "2025-07-01", "2026-12-31"},
	} {
		if got := formatDate(tc.rule.dueOn(day(t, tc.last))); got != tc.want {
			t.Errorf("%v: due after %s = %s, want %s", tc.rule, tc.last, got, tc.want)
		}
	}
}

// TestRollingVersusWindow: a rolling certification is due on the same day
// a year later (or the last day of February), so every day has its own
// due date; a window's certifications of one cycle all share the deadline
// of the next cycle's year, strictly after them and at most two years on.
func TestRollingVersusWindow(t *testing.T) {
	t.Parallel()
	rng := newRand(t)
	for range propertyRuns {
		last := randomDay(rng)
		due := nationalDefault.dueOn(last)
		y, m, d := last.Date()
		wantDay := d
		if m == time.February && d == 29 {
			wantDay = 28
		}
		if due != time.Date(y+1, m, wantDay, 0, 0, 0, 0, time.UTC) {
			t.Fatalf("ROLLING: due after %s = %s", formatDate(last), formatDate(due))
		}

		r := randomRule(rng)
		if r.kind != pb.CertificationRuleKind_WINDOW {
			continue
		}
		due = r.dueOn(last)
		if due.Month() != r.deadline.month || due.Day() != r.deadline.day {
			t.Fatalf("%v: due after %s = %s, not a deadline", r, formatDate(last), formatDate(due))
		}
		if !due.After(last) || due.After(last.AddDate(2, 0, 0)) {
			t.Fatalf("%v: due after %s = %s, not within two years after it", r, formatDate(last), formatDate(due))
		}
		// Every day of the cycle that holds last is due on the same day.
		cy := last.Year()
		if last.Before(r.opens.in(cy)) {
			cy--
		}
		for _, other := range []time.Time{r.opens.in(cy), r.opens.in(cy+1).AddDate(0, 0, -1)} {
			if got := r.dueOn(other); got != due {
				t.Fatalf("%v: due after %s = %s, but after %s (same cycle) %s", r, formatDate(last), formatDate(due), formatDate(other), formatDate(got))
			}
		}
		if next := r.dueOn(r.opens.in(cy + 1)); next != due.AddDate(1, 0, 0) {
			t.Fatalf("%v: the cycle after %s is due %s, want a year after %s", r, formatDate(last), formatDate(next), formatDate(due))
		}
	}
}

// TestDueIsMonotonic: under any rule, a later last certification is never
// due earlier; and the binary search finds exactly the first day whose due
// date reaches a target.
func TestDueIsMonotonic(t *testing.T) {
	t.Parallel()
	rng := newRand(t)
	for range propertyRuns {
		r := randomRule(rng)
		a := randomDay(rng)
		b := a.AddDate(0, 0, rng.IntN(800))
		if r.dueOn(b).Before(r.dueOn(a)) {
			t.Fatalf("%v: due after %s = %s, after the later %s = %s", r, formatDate(a), formatDate(r.dueOn(a)), formatDate(b), formatDate(r.dueOn(b)))
		}

		target := randomDay(rng)
		first := r.firstCertifiedDueFrom(target)
		if r.dueOn(first).Before(target) {
			t.Fatalf("%v: first certified due from %s = %s, due %s", r, formatDate(target), formatDate(first), formatDate(r.dueOn(first)))
		}
		if prev := first.AddDate(0, 0, -1); !r.dueOn(prev).Before(target) {
			t.Fatalf("%v: first certified due from %s = %s, but %s is due %s", r, formatDate(target), formatDate(first), formatDate(prev), formatDate(r.dueOn(prev)))
		}
	}
}

// TestStatusOn: OVERDUE after the due date, DUE_SOON within the 30 days up
// to it, CURRENT before; checked on every day around random due dates.
func TestStatusOn(t *testing.T) {
	t.Parallel()
	rng := newRand(t)
	for range propertyRuns / 10 {
		due := randomDay(rng)
		for off := -40; off <= 5; off++ {
			d := due.AddDate(0, 0, off)
			want := pb.CertificationStatus_CURRENT
			switch {
			case off > 0:
				want = pb.CertificationStatus_OVERDUE
			case off >= -dueSoonDays:
				want = pb.CertificationStatus_DUE_SOON
			}
			if got := statusOn(d, due); got != want {
				t.Fatalf("status on %s of a certification due %s = %v, want %v", formatDate(d), formatDate(due), got, want)
			}
		}
	}
}

// TestNewRetireeFirstMonth: a retiree never certified counts as certified
// on the first day of the month after retirement, through PENSION_START,
// and is CURRENT then; a recorded certification replaces it only when
// later.
func TestNewRetireeFirstMonth(t *testing.T) {
	t.Parallel()
	rng := newRand(t)
	for range propertyRuns {
		retired := randomDay(rng)
		st := &registryv1.RetireeState{RetirementDate: formatDate(retired)}
		start := (monthOf(retired) + 1).firstDay()
		last := lastCertOf(st, "", 0)
		if last.day != formatDate(start) || last.channel != pb.CertificationMethod_PENSION_START {
			t.Fatalf("retired %s: last certification %+v, want %s by PENSION_START", formatDate(retired), last, formatDate(start))
		}
		r := randomRule(rng)
		if got := certificationState(last, r, start); got.Status == pb.CertificationStatus_OVERDUE {
			t.Fatalf("%v: retired %s, overdue on the first day of pension: %v", r, formatDate(retired), got)
		}
		earlier := formatDate(start.AddDate(0, 0, -1-rng.IntN(400)))
		if got := lastCertOf(st, earlier, pb.CertificationMethod_DATA_MATCH); got != last {
			t.Fatalf("retired %s: a certification on %s before the pension replaced its start: %+v", formatDate(retired), earlier, got)
		}
		later := formatDate(start.AddDate(0, 0, rng.IntN(400)))
		if got := lastCertOf(st, later, pb.CertificationMethod_DATA_MATCH); got.day != later || got.channel != pb.CertificationMethod_DATA_MATCH {
			t.Fatalf("retired %s: a certification on %s: last %+v", formatDate(retired), later, got)
		}
	}
	none := certificationState(lastCertOf(&registryv1.RetireeState{}, "", 0), nationalDefault, day(t, "2026-06-15"))
	if none.Status != pb.CertificationStatus_OVERDUE || none.DueOn != "" {
		t.Errorf("without a retirement date or certification: %v, want OVERDUE without dates", none)
	}
}

// TestTwentyNinthFebruary: a rolling certification on 29 February is due
// on 28 February, never on 1 March; a window cannot open or close on it.
func TestTwentyNinthFebruary(t *testing.T) {
	t.Parallel()
	for y := 2000; y < 2100; y += 4 {
		last := time.Date(y, 2, 29, 0, 0, 0, 0, time.UTC)
		if last.Month() != time.February {
			continue // 2100 is no leap year
		}
		due := nationalDefault.dueOn(last)
		if due != time.Date(y+1, 2, 28, 0, 0, 0, 0, time.UTC) {
			t.Errorf("due after %s = %s", formatDate(last), formatDate(due))
		}
		if got := statusOn(time.Date(y+1, 3, 1, 0, 0, 0, 0, time.UTC), due); got != pb.CertificationStatus_OVERDUE {
			t.Errorf("certified %s: status on 1 March = %v", formatDate(last), got)
		}
	}
	for _, s := range []string{"02-29", "02-30", "13-01", "00-10", "1-01", "01-1", "0101", "01-001"} {
		if _, ok := parseMonthDay(s); ok {
			t.Errorf("parseMonthDay(%q) accepted", s)
		}
	}
	if md, ok := parseMonthDay("02-28"); !ok || md.String() != "02-28" {
		t.Errorf("parseMonthDay(02-28) = %v, %v", md, ok)
	}
}

// TestRuleChangesMidYear: a region that moves from rolling to a window on
// 1 July: certifications are judged by the rolling rule up to 30 June and
// by the window from 1 July, whatever their date.
func TestRuleChangesMidYear(t *testing.T) {
	t.Parallel()
	rules := []*pb.CertificationRule{
		{Id: "w", RegionPrefix: "2101", EffectiveOn: "2026-07-01", Kind: pb.CertificationRuleKind_WINDOW, WindowOpens: "01-01", WindowDeadline: "09-30"},
		{Id: "r", RegionPrefix: "2101", EffectiveOn: "2020-01-01", Kind: pb.CertificationRuleKind_ROLLING},
	}
	const community = "210102001001"
	last := lastCert{day: "2025-06-20", channel: pb.CertificationMethod_DATA_MATCH}
	for _, tc := range []struct {
		on, rule, due string
		status        pb.CertificationStatus
	}{
		{"2026-06-01", "r", "2026-06-20", pb.CertificationStatus_DUE_SOON},
		{"2026-06-30", "r", "2026-06-20", pb.CertificationStatus_OVERDUE},
		{"2026-07-01", "w", "2026-09-30", pb.CertificationStatus_CURRENT},
		{"2026-09-30", "w", "2026-09-30", pb.CertificationStatus_DUE_SOON},
		{"2019-12-31", "", "2026-06-20", pb.CertificationStatus_CURRENT},
	} {
		on := day(t, tc.on)
		r := selectRule(rules, community, on)
		got := certificationState(last, ruleOf(r), on)
		if got.RuleId != tc.rule || got.DueOn != tc.due || got.Status != tc.status {
			t.Errorf("on %s: %v, want rule %q due %s %v", tc.on, got, tc.rule, tc.due, tc.status)
		}
	}

	// At random: a rule starting on a random day governs from that day on,
	// and the one before it up to the day before.
	rng := newRand(t)
	for range propertyRuns {
		from := randomDay(rng)
		rules := []*pb.CertificationRule{
			{Id: "old", RegionPrefix: "21", EffectiveOn: formatDate(from.AddDate(0, 0, -1-rng.IntN(1000)))},
			{Id: "new", RegionPrefix: "21", EffectiveOn: formatDate(from)},
		}
		if got := selectRule(rules, community, from.AddDate(0, 0, -1)); got.GetId() != "old" {
			t.Fatalf("the day before %s: rule %v", formatDate(from), got)
		}
		if got := selectRule(rules, community, from.AddDate(0, 0, rng.IntN(1000))); got.GetId() != "new" {
			t.Fatalf("from %s: rule %v", formatDate(from), got)
		}
	}
}

// TestMostSpecificPrefixWins draws random rule sets over the regions of
// one community and others, and checks selectRule against the rule's
// definition spelled out the long way: the district's rules if any is in
// effect, else the city's, else the province's, the newest in effect.
func TestMostSpecificPrefixWins(t *testing.T) {
	t.Parallel()
	rng := newRand(t)
	const community = "210102001001"
	regions := []string{"21", "2101", "210102", "22", "2102", "210103"}
	for range propertyRuns {
		var rules []*pb.CertificationRule
		for i := range 1 + rng.IntN(8) {
			rules = append(rules, &pb.CertificationRule{
				Id: fmt.Sprint(i), RegionPrefix: regions[rng.IntN(len(regions))], EffectiveOn: formatDate(randomDay(rng)),
			})
		}
		on := randomDay(rng)
		var want *pb.CertificationRule
		for _, n := range regionPrefixLens {
			for _, r := range rules {
				if r.RegionPrefix == community[:n] && r.EffectiveOn <= formatDate(on) && (want == nil || r.EffectiveOn > want.EffectiveOn) {
					want = r
				}
			}
			if want != nil {
				break
			}
		}
		if got := selectRule(rules, community, on); got != want {
			t.Fatalf("on %s among %v: rule %v, want %v", formatDate(on), rules, got, want)
		}
	}
}

func TestIsRegionPrefix(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"21": true, "2101": true, "210102": true, "11": true, "82": true,
		"": false, "2": false, "210": false, "21010": false, "2101020": false,
		"10": false, "99": false, "00": false, "2a": false, "210102001001": false,
	} {
		if got := isRegionPrefix(s); got != want {
			t.Errorf("isRegionPrefix(%q) = %v, want %v", s, got, want)
		}
	}
}

func FuzzParseMonthDay(f *testing.F) {
	for _, s := range []string{"01-01", "02-29", "12-31", "13-01", "1-1", "", "09-3x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		md, ok := parseMonthDay(s)
		if !ok {
			return
		}
		if md.String() != s {
			t.Fatalf("parseMonthDay(%q) = %v", s, md)
		}
		if d := md.in(2001); d.Month() != md.month || d.Day() != md.day {
			t.Fatalf("%q is no day of 2001", s)
		}
	})
}

// TestPensionStartDay checks the import's pensionStartDay against
// pensionStart: the first day of the month after retirement, for every
// day of four years, and "" without a valid retirement date.
func TestPensionStartDay(t *testing.T) {
	t.Parallel()
	for d := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() < 2027; d = d.AddDate(0, 0, 1) {
		st := &registryv1.RetireeState{RetirementDate: formatDate(d)}
		start, _ := pensionStart(st)
		if got, want := pensionStartDay(st), formatDate(start); got != want {
			t.Fatalf("pensionStartDay(retired %s) = %s, want %s", st.RetirementDate, got, want)
		}
	}
	for _, bad := range []string{"", "2026-02-30", "2026-1-01"} {
		if got := pensionStartDay(&registryv1.RetireeState{RetirementDate: bad}); got != "" {
			t.Errorf("pensionStartDay(retired %q) = %q, want none", bad, got)
		}
	}
}
