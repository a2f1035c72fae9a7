package activity

import (
	"testing"
	"time"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

const (
	// benchSeries weekly activities of benchSessions sessions each book
	// the benchmark venue: 10,000 bookings, half an hour at each of the
	// first 100 hours of 100 weeks.
	benchSeries   = 100
	benchSessions = 100
)

// benchBase is the Monday 00:00 the benchmark bookings start from.
var benchBase = sh(2026, 7, 6, 0, 0)

// benchVenue returns an env whose venue holds the 10,000 bookings.
func benchVenue(b *testing.B) (*env, *pb.Venue) {
	b.Helper()
	e := newEnv(b)
	venue := e.mustVenue(communityA, 100)
	for j := range benchSeries {
		e.mustActivity(weekly(venue, benchBase.Add(time.Duration(j)*time.Hour), 30*time.Minute, 1, benchSessions))
	}
	return e, venue
}

// freeSlot returns the i-th free half hour of the benchmark venue: first
// the second halves of the booked hours, touching a booking on each side
// but one, then the unbooked hours of later weeks.
func freeSlot(i int) time.Time {
	if i < benchSeries*benchSessions {
		week, hour := i%benchSessions, i/benchSessions
		return benchBase.AddDate(0, 0, 7*week).Add(time.Duration(hour)*time.Hour + 30*time.Minute)
	}
	i -= benchSeries * benchSessions
	const freeHours = 7*24 - benchSeries
	return benchBase.AddDate(0, 0, 7*(benchSessions+i/freeHours)).Add(time.Duration(benchSeries+i%freeHours) * time.Hour)
}

// BenchmarkCreateActivity creates one-off activities at a venue that
// already holds 10,000 bookings, each checked against the venue's index
// and committed (with fsync) in its own transaction.
func BenchmarkCreateActivity(b *testing.B) {
	e, venue := benchVenue(b)
	plans := make([]*plan, b.N)
	for i := range plans {
		p, err := checkActivity(oneOff(venue, freeSlot(i), 30*time.Minute), e.store.zones)
		if err != nil {
			b.Fatal(err)
		}
		plans[i] = p
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := e.store.createActivity(plans[i], allow); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateWeeklyActivity is the weekly case: 20 sessions, each
// checked against the 10,000 bookings, in one transaction.
func BenchmarkCreateWeeklyActivity(b *testing.B) {
	e, venue := benchVenue(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// The unbooked hours of the week, each taken once; then later weeks.
		start := benchBase.Add(time.Duration(benchSeries+i%(7*24-benchSeries))*time.Hour).AddDate(0, 0, 7*20*(i/(7*24-benchSeries)))
		if _, err := e.createActivity(weekly(venue, start, time.Hour, 1, 20)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListMonth lists a month of the community's sessions (about 440
// of the 10,000) in one page, as ListActivities does.
func BenchmarkListMonth(b *testing.B) {
	e, _ := benchVenue(b)
	from := benchBase.AddDate(0, 1, 0)
	q := occurrenceQuery{communityID: communityA, from: from.Unix(), to: from.AddDate(0, 0, 31).Unix()}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for range b.N {
		list, next, err := e.store.listOccurrences(q, 1000, nil)
		if err != nil {
			b.Fatal(err)
		}
		if next != nil {
			b.Fatal("the month did not fit one page")
		}
		n = len(list)
	}
	b.ReportMetric(float64(n), "sessions/op")
}
