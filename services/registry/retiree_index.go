package registry

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The flag and birth-date indexes answer the lists a community keeps of
// its special groups ("everyone over 80 living alone") without reading
// every retiree: their keys end in birth date and id, so an age range is
// a range of keys. Ages, and the computed flags AGED_80_PLUS and
// AGED_90_PLUS, become birth-date bounds on the day of the read.

// birthDateLen is the length of a YYYY-MM-DD birth date in index keys.
const birthDateLen = len("2006-01-02")

// flagKey is a stored flag's part of an index key: its number, two
// digits, so that keys sort by it and a renamed value keeps its entries.
func flagKey(f pb.RetireeFlag) string { return fmt.Sprintf("%02d", int32(f)) }

// indexEntry is one key of one of the dated indexes.
type indexEntry struct {
	bucket string
	key    string
}

// datedEntries returns the entries of r in the dated indexes: by birth
// date, by community and birth date, and for each stored flag by flag and
// birth date, city-wide and in r's community. Nil r has none.
func datedEntries(r *pb.Retiree) []indexEntry {
	if r == nil || r.BirthDate == "" {
		return nil
	}
	out := []indexEntry{
		{string(bucketRetireeByBirth), string(boltstore.Key(r.BirthDate, r.Id))},
		{string(bucketRetireeByCommunityBirth), string(boltstore.Key(r.CommunityId, r.BirthDate, r.Id))},
	}
	for _, f := range r.Flags {
		if isComputedFlag(f) {
			continue
		}
		out = append(out,
			indexEntry{string(bucketRetireeByFlag), string(boltstore.Key(flagKey(f), r.BirthDate, r.Id))},
			indexEntry{string(bucketRetireeByCommunityFlag), string(boltstore.Key(r.CommunityId, flagKey(f), r.BirthDate, r.Id))})
	}
	return out
}

// moveDated keeps the dated indexes in step with a retiree changed from
// old (nil on create) to r: entries only old has are deleted, entries
// only r has are added.
func moveDated(tx *bolt.Tx, old, r *pb.Retiree) error {
	before, after := datedEntries(old), datedEntries(r)
	for _, e := range before {
		if slices.Contains(after, e) {
			continue
		}
		if err := tx.Bucket([]byte(e.bucket)).Delete([]byte(e.key)); err != nil {
			return err
		}
	}
	for _, e := range after {
		if slices.Contains(before, e) {
			continue
		}
		if err := tx.Bucket([]byte(e.bucket)).Put([]byte(e.key), nil); err != nil {
			return err
		}
	}
	return nil
}

// flagRarity orders the stored flags from the rarest in a typical city to
// the most common: a list asking for several walks the index of the
// rarest. The order is fixed rather than counted, so that the index a
// list walks, whose keys its page tokens carry, depends on the request
// alone.
var flagRarity = []pb.RetireeFlag{
	pb.RetireeFlag_BEREAVED_PARENT, pb.RetireeFlag_DEMENTIA, pb.RetireeFlag_VETERAN,
	pb.RetireeFlag_MODEL_WORKER, pb.RetireeFlag_DISABLED, pb.RetireeFlag_SERIOUS_ILLNESS,
	pb.RetireeFlag_HARDSHIP, pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_EMPTY_NEST,
}

// birthRange is the birth dates a filter admits on a day: after lo
// (exclusive) and up to hi (inclusive); empty bounds are open. Dates may
// be days that do not exist, see bornBy.
type birthRange struct{ lo, hi string }

// birthRangeOn turns f's ages and computed flags into birth dates on today.
func (f RetireeFilter) birthRangeOn(today time.Time) birthRange {
	minAge := int(f.MinAge)
	for _, c := range computedFlags {
		if slices.Contains(f.Flags, c.flag) {
			minAge = max(minAge, c.age)
		}
	}
	var br birthRange
	if minAge > 0 {
		br.hi = bornBy(today, minAge)
	}
	if f.MaxAge > 0 {
		br.lo = bornBy(today, int(f.MaxAge)+1)
	}
	return br
}

func (br birthRange) holds(birth string) bool {
	return (br.lo == "" || birth > br.lo) && (br.hi == "" || birth <= br.hi)
}

// datedPlan is the walk of a list through one of the dated indexes: the
// keys under prefix, which continue with a birth date and an id.
type datedPlan struct {
	bucket []byte
	prefix []byte
}

// plan picks the dated index a filtered list walks, or reports false when
// none helps: the rarest stored flag the filter asks for, else the birth
// dates when it bounds them; in the community's indexes when it names one.
// A filter naming an enterprise but no community walks the enterprise's
// retirees instead, fewer than a city's with a flag.
func (f RetireeFilter) plan(br birthRange) (datedPlan, bool) {
	if f.CommunityID == "" && f.EnterpriseCode != "" {
		return datedPlan{}, false
	}
	var parts []string
	if f.CommunityID != "" {
		parts = append(parts, f.CommunityID)
	}
	for _, flag := range flagRarity {
		if !slices.Contains(f.Flags, flag) {
			continue
		}
		bucket := bucketRetireeByFlag
		if f.CommunityID != "" {
			bucket = bucketRetireeByCommunityFlag
		}
		return datedPlan{bucket: bucket, prefix: boltstore.Prefix(append(parts, flagKey(flag))...)}, true
	}
	if br == (birthRange{}) {
		return datedPlan{}, false
	}
	if f.CommunityID != "" {
		return datedPlan{bucket: bucketRetireeByCommunityBirth, prefix: boltstore.Prefix(parts...)}, true
	}
	return datedPlan{bucket: bucketRetireeByBirth}, true
}

// listDated reads one page of the retirees f selects on today through the
// dated index of p: it starts at the lower birth-date bound, ends the list
// past the upper one, and checks the rest of the filter on each record.
func (s *Store) listDated(tx *bolt.Tx, p datedPlan, f RetireeFilter, today time.Time, size int, after []byte, out *[]*pb.Retiree) ([]byte, error) {
	br := f.birthRangeOn(today)
	scan := boltstore.Scan{Prefix: p.prefix, After: after, Size: size, MaxExamined: s.maxExamined}
	if br.lo != "" {
		// Past every key of the lower bound's own day: the bound is
		// exclusive, and key parts are joined by a zero byte.
		scan.From = append(append(bytes.Clone(p.prefix), br.lo...), 1)
	}
	primary := tx.Bucket(bucketRetirees)
	keep := servicedb.Collect(&s.Base, bucketRetirees, out, func(r *pb.Retiree) bool { return f.matchOn(r, today) })
	return scan.Page(tx.Bucket(p.bucket).Cursor(), func(k, _ []byte) (bool, error) {
		rest := k[len(p.prefix):]
		if len(rest) < birthDateLen+2 {
			return false, fmt.Errorf("index %s: malformed key %q", p.bucket, k)
		}
		birth, id := string(rest[:birthDateLen]), rest[birthDateLen+1:]
		if br.hi != "" && birth > br.hi {
			return false, boltstore.ErrEndOfList
		}
		if !br.holds(birth) {
			return false, nil
		}
		v := primary.Get(id)
		if v == nil {
			return false, fmt.Errorf("index %s: entry %q without a record", p.bucket, k)
		}
		return keep(id, v)
	})
}

// reindexBatch is how many retirees one transaction of reindexRetirees
// reads.
const reindexBatch = 10_000

// reindexRetirees builds the dated indexes of a file migrated from before
// them (schema version 5 leaves metaReindexRetirees), batch by batch, and
// removes the computed flags that records stored then: a clerk set
// AGED_80_PLUS by hand, and the read now derives it, so the record
// changes without a history entry and answers as before. A crash part-way
// leaves the mark, and the next open starts again: every step is
// idempotent.
func (s *Store) reindexRetirees() error {
	var pending bool
	if err := s.DB().View(func(tx *bolt.Tx) error {
		pending = tx.Bucket(bucketMeta).Get(metaReindexRetirees) != nil
		return nil
	}); err != nil || !pending {
		return err
	}
	var after []byte
	for {
		var err error
		if after, err = s.reindexBatch(after); err != nil {
			return fmt.Errorf("index the retirees by flag and birth date: %w", err)
		}
		if after == nil {
			break
		}
	}
	return s.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketMeta).Delete(metaReindexRetirees) })
}

// reindexBatch indexes up to reindexBatch retirees after the id after
// and returns the last one done, or nil at the end.
func (s *Store) reindexBatch(after []byte) ([]byte, error) {
	var last []byte
	err := s.Update(func(tx *bolt.Tx) error {
		var records []*pb.Retiree
		next, err := boltstore.Scan{After: after, Size: reindexBatch, MaxExamined: reindexBatch}.Page(
			tx.Bucket(bucketRetirees).Cursor(), servicedb.Collect(&s.Base, bucketRetirees, &records, nil))
		if err != nil {
			return err
		}
		// Written after the walk: a Put while a cursor walks may move it.
		for _, r := range records {
			if slices.ContainsFunc(r.Flags, isComputedFlag) {
				r.Flags = slices.DeleteFunc(r.Flags, isComputedFlag)
				if err := s.PutProto(tx, bucketRetirees, []byte(r.Id), r); err != nil {
					return err
				}
			}
			if err := moveDated(tx, nil, r); err != nil {
				return err
			}
		}
		last = next
		return nil
	})
	return last, err
}
