package registry

import (
	"bytes"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// A file written before the monthly registers' index (bucketRegisterEvents)
// existed gets it from the retirees' history, which is kept for good: the
// migration that adds the index marks it to be filled (metaRegisterBackfill),
// and OpenStore fills it in transactions of about backfillBatch history
// entries, each recording how far it got, so that a crash resumes there.
// The history is sealed, so the filling needs the store's data keys, which
// a migration step does not have.

// metaRegisterBackfill, while present, says the register index is still
// being filled from the history: "k" followed by the last history key
// done (nothing after "k": none yet).
var metaRegisterBackfill = []byte("register_events_backfill")

// backfillBatch is about how many history entries one transaction of the
// filling reads (the store's backfillBatch; tests lower it): it stops
// after the retiree that reaches it, so that a retiree's entries, which
// say its community in turn, are read together.
const backfillBatch = 5_000

// markRegisterBackfill is the migration's part: mark the index to be
// filled.
func markRegisterBackfill(tx *bolt.Tx) error {
	return tx.Bucket(bucketMeta).Put(metaRegisterBackfill, []byte("k"))
}

// backfillRegisterEvents fills the register index from the history if the
// file is marked so, and clears the mark when done.
func (s *Store) backfillRegisterEvents() error {
	entries := 0
	for {
		done, n, err := s.backfillStep()
		if err != nil {
			return err
		}
		entries += n
		if done {
			if entries > 0 {
				s.log.Info("filled the monthly registers' index from the history", zap.Int("history_entries", entries))
			}
			return nil
		}
	}
}

// backfillStep indexes the history entries of the retirees after the
// last one done, about backfillBatch of them, in one transaction.
func (s *Store) backfillStep() (done bool, n int, err error) {
	err = s.Update(func(tx *bolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		mark := meta.Get(metaRegisterBackfill)
		if mark == nil {
			done = true
			return nil
		}
		after := bytes.Clone(mark[1:])
		c := tx.Bucket(bucketHistory).Cursor()
		k, v := c.First()
		if len(after) > 0 {
			if k, v = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, v = c.Next()
			}
		}
		var last []byte
		var r backfillRetiree
		for ; k != nil; k, v = c.Next() {
			id, ok := historyKeyID(k)
			if !ok {
				continue // a note (see changeWriter.note): it changed nothing
			}
			if id != r.id {
				if n >= s.backfillBatch {
					break
				}
				r = backfillRetiree{id: id}
			}
			if err := s.backfillEntry(tx, &r, k, v); err != nil {
				return err
			}
			last = k
			n++
		}
		if k == nil {
			done = true
			return meta.Delete(metaRegisterBackfill)
		}
		return meta.Put(metaRegisterBackfill, append([]byte("k"), last...))
	})
	return done, n, err
}

// historyKeyID reads the retiree id of the history key of a change,
// historyKey(id, revision); ok is false for any other key (a note's has
// a sequence number after the revision).
func historyKeyID(k []byte) (id string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || len(k) != i+9 {
		return "", false
	}
	return string(k[:i]), true
}

// backfillRetiree is what the filling knows of the retiree whose history
// it reads: its id and its community so far.
type backfillRetiree struct {
	id, community string
}

// backfillEntry indexes one history entry as indexRegisterEvent would
// have when it was written.
func (s *Store) backfillEntry(tx *bolt.Tx, r *backfillRetiree, k, v []byte) error {
	h := new(pb.HistoryEntry)
	if err := s.Decode(bucketHistory, k, v, h); err != nil {
		return err
	}
	rev, err := boltstore.ParseU64(k[len(k)-8:])
	if err != nil {
		return err
	}
	old := r.community
	listed := h.Kind == pb.ChangeKind_CREATED
	for _, c := range h.Changes {
		switch c.Field {
		case "communityId":
			r.community = c.NewValue
			listed = true
		case "status":
			listed = true
		}
	}
	if !listed || r.community == "" {
		return nil
	}
	b := tx.Bucket(bucketRegisterEvents)
	month := monthOf(h.ChangeTime.AsTime())
	if old != "" && old != r.community {
		if err := b.Put(boltstore.AppendU64(boltstore.Prefix(month, old), rev), []byte(r.id)); err != nil {
			return err
		}
	}
	return b.Put(boltstore.AppendU64(boltstore.Prefix(month, r.community), rev), []byte(r.id))
}
