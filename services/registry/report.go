package registry

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Report groupings.
const (
	groupDistrict  = "district"
	groupStreet    = "street"
	groupCommunity = "community"
)

// dayOf is t's date in China, YYYY-MM-DD.
func dayOf(t time.Time) string { return t.In(workdays.ChinaTime).Format(time.DateOnly) }

// updateStats moves a retiree's contribution to the per-community
// socialisation counters from its old state to its new one, and records
// each changed community's counters as they stand at the end of day (so
// far). Only living retirees count.
func updateStats(tx *bolt.Tx, old, r *pb.Retiree, day string) error {
	if old != nil {
		if err := addStats(tx, old, -1, day); err != nil {
			return err
		}
	}
	return addStats(tx, r, +1, day)
}

func addStats(tx *bolt.Tx, r *pb.Retiree, delta int64, day string) error {
	if r.Status != pb.RetireeStatus_LIVING {
		return nil
	}
	b := tx.Bucket(bucketStats)
	row := new(pb.SocialisationRow)
	if v := b.Get([]byte(r.CommunityId)); v != nil {
		if err := proto.Unmarshal(v, row); err != nil {
			return err
		}
	}
	row.Living += delta
	switch r.ManagementMode {
	case pb.ManagementMode_COMMUNITY:
		row.CommunityManaged += delta
	case pb.ManagementMode_BUREAU:
		row.BureauManaged += delta
	case pb.ManagementMode_ENTERPRISE:
		row.EnterpriseManaged += delta
	}
	if err := boltstore.PutProto(b, []byte(r.CommunityId), row); err != nil {
		return err
	}
	return boltstore.PutProto(tx.Bucket(bucketStatsDays), boltstore.Key(r.CommunityId, day), row)
}

// seedStatsDays starts the daily counters of a file written before they
// were kept: every community's counters as they stand, as of day, which
// becomes the first day a report can be asked for.
func seedStatsDays(tx *bolt.Tx, day string) error {
	days, err := tx.CreateBucketIfNotExists(bucketStatsDays)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketRegisterEvents); err != nil {
		return err
	}
	if stats := tx.Bucket(bucketStats); stats != nil {
		err := stats.ForEach(func(k, v []byte) error {
			return days.Put(boltstore.Key(string(k), day), v)
		})
		if err != nil {
			return err
		}
	}
	return tx.Bucket(bucketMeta).Put(metaStatsDaysFrom, []byte(day))
}

// startStatsDays records today as the first day of the daily counters of
// a file created with them (a migrated file has its day already).
func (s *Store) startStatsDays() error {
	return s.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		if meta.Get(metaStatsDaysFrom) != nil {
			return nil
		}
		return meta.Put(metaStatsDaysFrom, []byte(dayOf(s.now())))
	})
}

// countsAsOf returns the function that reads a community's counters as
// they stood at the end of day: its last daily record up to that day, nil
// before its first. An empty day reads the counters as they are.
func countsAsOf(tx *bolt.Tx, day string) func(community, current []byte) []byte {
	if day == "" {
		return func(_, current []byte) []byte { return current }
	}
	c := tx.Bucket(bucketStatsDays).Cursor()
	return func(community, _ []byte) []byte {
		target := boltstore.Key(string(community), day)
		k, v := c.Seek(target)
		switch {
		case k == nil:
			k, v = c.Last()
		case !bytes.Equal(k, target):
			k, v = c.Prev()
		}
		if k == nil || !bytes.HasPrefix(k, boltstore.Prefix(string(community))) {
			return nil
		}
		return v
	}
}

// SocialisationReport groups the per-community counters by groupBy, as
// they stood at the end of asOf (YYYY-MM-DD) or, when it is empty, as
// they are. When only is non-nil, communities it rejects are left out (a
// clerk's scope). It also returns the first day of the daily counters.
func (s *Store) SocialisationReport(groupBy, asOf string, only func(communityID string) bool) (rows []*pb.SocialisationRow, total *pb.SocialisationRow, from string, err error) {
	groups := map[string]*pb.SocialisationRow{}
	total = &pb.SocialisationRow{Key: "total"}
	err = s.DB().View(func(tx *bolt.Tx) error {
		from = string(tx.Bucket(bucketMeta).Get(metaStatsDaysFrom))
		communities := tx.Bucket(bucketCommunities)
		counted := countsAsOf(tx, asOf)
		return tx.Bucket(bucketStats).ForEach(func(k, v []byte) error {
			id := string(k)
			if only != nil && !only(id) {
				return nil
			}
			if v = counted(k, v); v == nil {
				return nil
			}
			counts := new(pb.SocialisationRow)
			if err := proto.Unmarshal(v, counts); err != nil {
				return err
			}
			c := new(pb.Community)
			if err := boltstore.GetProto(communities, k, c, errCommunityNotFound); err != nil {
				return err
			}
			key, name := groupOf(groupBy, id, c)
			g := groups[key]
			if g == nil {
				g = &pb.SocialisationRow{Key: key, Name: name}
				groups[key] = g
			}
			addCounts(g, counts)
			addCounts(total, counts)
			return nil
		})
	})
	if err != nil {
		return nil, nil, "", err
	}
	for _, g := range groups {
		setRate(g)
		rows = append(rows, g)
	}
	setRate(total)
	slices.SortFunc(rows, func(a, b *pb.SocialisationRow) int { return cmp.Compare(a.Key, b.Key) })
	return rows, total, from, nil
}

// groupOf is the key and name of the report row that community c (id)
// counts in.
func groupOf(groupBy, id string, c *pb.Community) (key, name string) {
	switch groupBy {
	case groupDistrict:
		return c.District, c.District
	case groupStreet:
		return c.District + "/" + c.Street, c.Street
	}
	return id, c.Name
}

func addCounts(dst, src *pb.SocialisationRow) {
	dst.Living += src.Living
	dst.CommunityManaged += src.CommunityManaged
	dst.BureauManaged += src.BureauManaged
	dst.EnterpriseManaged += src.EnterpriseManaged
}

func setRate(r *pb.SocialisationRow) {
	if r.Living > 0 {
		r.Rate = float64(r.CommunityManaged+r.BureauManaged) / float64(r.Living)
		r.CommunityRate = float64(r.CommunityManaged) / float64(r.Living)
	}
}
