package registry

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Sizes of the report benchmark: a large city's communities, each with a
// record of counters for every day of five years (the most a community
// can have: one a day on which any of its retirees changed).
const (
	benchReportCommunities = 2_000
	benchReportDays        = 5 * 365
)

// reportBenchStore is a store holding benchReportCommunities communities,
// each with benchReportDays daily records, written directly (the changes
// behind them do not matter to the report).
func reportBenchStore(b *testing.B) *Store {
	b.Helper()
	s := newTestStore(b, 0)
	first := time.Date(2021, 1, 1, 0, 0, 0, 0, workdays.ChinaTime)
	for c := range benchReportCommunities {
		id := fmt.Sprintf("2101%02d%03d%03d", c%20, c/20%1000, c%1000)
		err := s.Update(func(tx *bolt.Tx) error {
			row := &pb.SocialisationRow{}
			if err := boltstore.PutProto(tx.Bucket(bucketCommunities), []byte(id), &pb.Community{Id: id, Name: "社区", District: "区", Street: fmt.Sprintf("街道%d", c/20)}); err != nil {
				return err
			}
			days := tx.Bucket(bucketStatsDays)
			for d := range benchReportDays {
				row.Living, row.CommunityManaged = int64(d), int64(d/2)
				if err := boltstore.PutProto(days, boltstore.Key(id, dayOf(first.AddDate(0, 0, d))), row); err != nil {
					return err
				}
			}
			return boltstore.PutProto(tx.Bucket(bucketStats), []byte(id), row)
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return s
}

// BenchmarkSocialisationReport times a report by street of
// benchReportCommunities communities: as they are now, and as of a past
// day, which seeks each community's last record up to that day.
func BenchmarkSocialisationReport(b *testing.B) {
	s := reportBenchStore(b)
	for _, tc := range []struct{ name, asOf string }{{"now", ""}, {"asOf", "2023-07-01"}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				rows, total, _, err := s.SocialisationReport(groupStreet, tc.asOf, nil)
				if err != nil || len(rows) != benchReportCommunities/20 || total.Living == 0 {
					b.Fatalf("%d rows, total %v, %v", len(rows), total, err)
				}
			}
		})
	}
}

// benchRosterSize is a community's roster of some size: a few hundred
// retirees is usual. Small enough that make bench's 2000 iterations stay
// within a minute or so.
const benchRosterSize = 500

// BenchmarkExportRoster times building a roster of benchRosterSize
// retirees in one read transaction and writing it as CSV and as XLSX.
func BenchmarkExportRoster(b *testing.B) {
	s := seededStore(b, 0)
	createMany(b, s, retirees(b, 1, benchRosterSize+1, communityA, pb.ManagementMode_COMMUNITY))
	q := RegisterQuery{Register: registerRoster, Community: communityA, AsOf: testNow, Full: true}
	for _, format := range []string{formatCSV, formatXLSX} {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				t, err := s.Register(q)
				if err != nil || len(t.Rows) != benchRosterSize {
					b.Fatalf("%v rows, %v", len(t.Rows), err)
				}
				if _, _, err := encodeTable(t, registerRoster, format); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
