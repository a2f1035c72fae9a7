package pension

import "time"

// Calendar arithmetic of the pension rules. Months are counted from year 0
// so that consecutive months differ by one; dates are civil dates at
// midnight UTC, whatever the server's zone, so that comparisons never
// depend on a clock's location.

// minYear is the earliest year a payment month or statement may name: the
// state pension scheme began in the 1950s.
const minYear = 1950

// month is a calendar month: year*12 + (month-1).
type month int

// parseMonth reads YYYY-MM strictly (no signs, no spaces) and reports
// whether s is a month from minYear on.
func parseMonth(s string) (month, bool) {
	if len(s) != 7 || s[4] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	if !ok1 || !ok2 || y < minYear || m < 1 || m > 12 {
		return 0, false
	}
	return month(y*12 + m - 1), true
}

func monthOf(t time.Time) month { return month(t.Year()*12 + int(t.Month()) - 1) }

func (m month) year() int { return int(m) / 12 }

func (m month) number() int { return int(m)%12 + 1 }

// String formats m as YYYY-MM.
func (m month) String() string { return string(m.appendTo(make([]byte, 0, 7))) }

// appendTo appends m as YYYY-MM without allocating.
func (m month) appendTo(dst []byte) []byte {
	y, n := m.year(), m.number()
	return append(dst, byte('0'+y/1000%10), byte('0'+y/100%10), byte('0'+y/10%10), byte('0'+y%10), '-',
		byte('0'+n/10%10), byte('0'+n%10))
}

// firstDay is the first day of m.
func (m month) firstDay() time.Time {
	return time.Date(m.year(), time.Month(m.number()), 1, 0, 0, 0, 0, time.UTC)
}

// lastDay is the last day of m.
func (m month) lastDay() time.Time { return (m + 1).firstDay().AddDate(0, 0, -1) }

// civilDate is a date as the number yyyymmdd, which orders like the date;
// the import compares dates this way without building times.
type civilDate int

// parseCivil reads YYYY-MM-DD strictly and reports whether it is a real
// calendar date from minYear on.
func parseCivil(s string) (civilDate, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	y, ok1 := digits(s[0:4])
	m, ok2 := digits(s[5:7])
	d, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || y < minYear || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return civilDate(y*10000 + m*100 + d), true
}

func civilOf(t time.Time) civilDate {
	y, m, d := t.Date()
	return civilDate(y*10000 + int(m)*100 + d)
}

// monthStart and monthEnd are the first and last day of m.
func monthStart(m month) civilDate { return civilDate(m.year()*10000 + m.number()*100 + 1) }

func monthEnd(m month) civilDate {
	return civilDate(m.year()*10000 + m.number()*100 + daysIn(m.year(), m.number()))
}

// parseDate reads YYYY-MM-DD as a time at midnight UTC.
func parseDate(s string) (time.Time, bool) {
	c, ok := parseCivil(s)
	if !ok {
		return time.Time{}, false
	}
	return time.Date(int(c)/10000, time.Month(int(c)/100%100), int(c)%100, 0, 0, 0, 0, time.UTC), true
}

// dayOf is t's calendar day in t's own zone, as midnight UTC.
func dayOf(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func formatDate(t time.Time) string { return t.Format(time.DateOnly) }

// daysBetween is the number of days from a to b (negative when b is
// earlier); both are midnight UTC.
func daysBetween(a, b time.Time) int { return int(b.Sub(a).Hours() / 24) }

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// daysIn is the number of days in month m of year y: day 0 of the next
// month is the last day of m, and the time package knows the leap years.
func daysIn(y, m int) int { return time.Date(y, time.Month(m)+1, 0, 0, 0, 0, 0, time.UTC).Day() }
