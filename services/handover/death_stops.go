package handover

// Obligations stop at a retiree's death (issue 14).
//
// Handover follows registry's change feed with internal/projection, as
// pension and activity do, rather than having registry send it an outbox
// command: the death is registry's fact and its change feed already
// carries it, with a cursor and epoch that handover keeps in its own bbolt
// file beside the obligations, so a restart resumes where it stopped and a
// replay of the feed changes nothing. An outbox command would make
// registry know which services care about a death, and handover would
// still need to be told of reversals and of retirees it completes after
// the death. The projection's hook runs in the same transaction as the
// feed's change, so the stop and the cursor move together.

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Timeline actions of the stops; the actor is registry's feed.
const (
	actionObligationStopped = "OBLIGATION_STOPPED"
	actionObligationResumed = "OBLIGATION_RESUMED"
)

// feedActor is who the timeline names for a step the change feed took.
var feedActor = Actor{Subject: "registry", Role: "service"}

// stopFor returns the first month (YYYY-MM) that st's death releases its
// obligations from, the month after the month of death, and the reason;
// "" when st is not a verified death.
func stopFor(st *registryv1.RetireeState) (month, reason string) {
	if st.GetStatus() != registryv1.RetireeStatus_DECEASED {
		return "", ""
	}
	died, err := time.Parse(time.DateOnly, st.GetDateOfDeath())
	if err != nil {
		return "", ""
	}
	first := time.Date(died.Year(), died.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0)
	return first.Format("2006-01"), "the retiree died on " + st.GetDateOfDeath() + " (verified in registry)"
}

// applyRetiree is the projection's hook: it brings the stops of the
// retiree's obligations in line with the retiree's state. It sets the
// wanted state rather than reacting to the transition, so that a replayed
// or snapshot change finds nothing to do. A retiree dropped from registry
// (cur nil) leaves its obligations as they are.
func (s *Store) applyRetiree(tx *bolt.Tx, _, cur *registryv1.RetireeState) error {
	if cur == nil {
		return nil
	}
	w := &txn{s: s, tx: tx, now: s.now()}
	month, reason := stopFor(cur)
	prefix := boltstore.Prefix(cur.GetId())
	c := tx.Bucket(bucketObligationsByRetiree).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if err := w.setStop(nil, k[len(prefix):], month, reason); err != nil {
			return err
		}
	}
	return nil
}

// setStop gives the obligation under key the stop month (or none) and
// records the change on its handover's timeline (h, or the stored
// handover when nil); unchanged, it writes nothing.
func (w *txn) setStop(h *pb.Handover, key []byte, month, reason string) error {
	b := w.tx.Bucket(bucketObligations)
	o := new(pb.OwedObligation)
	if err := boltstore.GetProto(b, key, o, errors.New("obligation index names a missing obligation")); err != nil {
		return err
	}
	if until := o.GetObligation().GetUntil(); month != "" && until != "" && until < month+"-01" {
		// It ends before the death frees it: nothing to stop.
		month, reason = "", ""
	}
	if o.StopsFrom == month {
		return nil
	}
	action, detail := actionObligationStopped, fmt.Sprintf("%s stops from %s: %s", describeObligation(key, o), month, reason)
	if month == "" {
		action, detail = actionObligationResumed, fmt.Sprintf("%s is owed again from %s: the retiree's death was reversed", describeObligation(key, o), o.StopsFrom)
		o.StopTime = nil
	} else {
		o.StopTime = timestamppb.New(w.now)
	}
	o.StopsFrom, o.StopReason = month, reason
	if err := boltstore.PutProto(b, key, o); err != nil {
		return err
	}
	if h == nil {
		var err error
		if h, err = w.get(o.HandoverId); err != nil {
			return err
		}
	}
	return w.event(h, feedActor, action, detail)
}

// describeObligation names an obligation on a timeline: its number in the
// handover (from 1), kind and monthly amount.
func describeObligation(key []byte, o *pb.OwedObligation) string {
	n := uint64(0)
	if len(key) >= 8 {
		n, _ = boltstore.ParseU64(key[len(key)-8:])
	}
	ob := o.GetObligation()
	return fmt.Sprintf("obligation %d (%s, %d fen a month)", n+1, ob.GetKind(), ob.GetMonthlyAmountFen())
}

// indexObligation files an obligation under its retiree, and stops it at
// once when the projection already knows the retiree died: a death
// verified while the handover was being completed.
func (w *txn) indexObligation(h *pb.Handover, retireeID string, key []byte) error {
	if retireeID == "" {
		return nil
	}
	if err := w.tx.Bucket(bucketObligationsByRetiree).Put(append(boltstore.Prefix(retireeID), key...), []byte{}); err != nil {
		return err
	}
	st, err := projection.Get(w.tx, retireeID)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return nil
	}
	if err != nil {
		return err
	}
	month, reason := stopFor(st)
	return w.setStop(h, key, month, reason)
}

// stoppedBy reports whether o is no longer owed on day (YYYY-MM-DD) because
// its retiree died.
func stoppedBy(o *pb.OwedObligation, day string) bool {
	return o.GetStopsFrom() != "" && day >= o.GetStopsFrom()+"-01"
}

// migrateIndexObligations (schema 1 → 2) files the obligations that name
// a retiree under it; obligations written by version 1 name none, but a
// file is rewritten the same way whatever it holds.
func migrateIndexObligations(tx *bolt.Tx) error {
	idx, err := tx.CreateBucketIfNotExists(bucketObligationsByRetiree)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketObligations).ForEach(func(k, v []byte) error {
		o := new(pb.OwedObligation)
		if err := proto.Unmarshal(v, o); err != nil {
			return err
		}
		if id := o.GetObligation().GetRetireeId(); id != "" {
			return idx.Put(append(boltstore.Prefix(id), k...), []byte{})
		}
		return nil
	})
}
