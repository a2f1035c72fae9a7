package registry

import (
	"cmp"
	"slices"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Report groupings.
const (
	groupDistrict  = "district"
	groupStreet    = "street"
	groupCommunity = "community"
)

// updateStats moves a retiree's contribution to the per-community
// socialisation counters from its old state to its new one. Only living
// retirees count.
func updateStats(b *bolt.Bucket, old, r *pb.Retiree) error {
	if old != nil {
		if err := addStats(b, old, -1); err != nil {
			return err
		}
	}
	return addStats(b, r, +1)
}

func addStats(b *bolt.Bucket, r *pb.Retiree, delta int64) error {
	if r.Status != pb.RetireeStatus_LIVING {
		return nil
	}
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
	return boltstore.PutProto(b, []byte(r.CommunityId), row)
}

// SocialisationReport groups the per-community counters by groupBy. When
// only is non-nil, communities it rejects are left out (a clerk's scope).
func (s *Store) SocialisationReport(groupBy string, only func(communityID string) bool) (rows []*pb.SocialisationRow, total *pb.SocialisationRow, err error) {
	groups := map[string]*pb.SocialisationRow{}
	total = &pb.SocialisationRow{Key: "total"}
	err = s.DB().View(func(tx *bolt.Tx) error {
		communities := tx.Bucket(bucketCommunities)
		return tx.Bucket(bucketStats).ForEach(func(k, v []byte) error {
			id := string(k)
			if only != nil && !only(id) {
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
			key, name := id, c.Name
			switch groupBy {
			case groupDistrict:
				key, name = c.District, c.District
			case groupStreet:
				key, name = c.District+"/"+c.Street, c.Street
			}
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
		return nil, nil, err
	}
	for _, g := range groups {
		setRate(g)
		rows = append(rows, g)
	}
	setRate(total)
	slices.SortFunc(rows, func(a, b *pb.SocialisationRow) int { return cmp.Compare(a.Key, b.Key) })
	return rows, total, nil
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
	}
}
