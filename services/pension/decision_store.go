package pension

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"time"

	"github.com/socmgmt/socmgmt/internal/signalfeed"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The bureau's entitlement decisions. A decision is one (retiree,
// effective month, action); recording one again with another reason, note
// or reference is a correction that keeps the replaced version, and
// recording it again unchanged changes nothing. Each stored version
// carries a record sequence, increasing over all decisions, which orders
// the decisions of one effective month.

// decisionKey is retiree id, 0, effective month, 0, action (one byte, the
// DecisionAction number).
func decisionKey(dst []byte, id string, m month, action pb.DecisionAction) []byte {
	dst = append(dst, id...)
	dst = append(m.appendTo(append(dst, 0)), 0)
	return append(dst, byte(action)) //nolint:gosec // G115: the actions are 1 to 3
}

// decisionVersionKey is a decisions key, 0, version (4 bytes, big-endian).
func decisionVersionKey(dst, key []byte, version int32) []byte {
	dst = append(append(dst, key...), 0)
	return binary.BigEndian.AppendUint32(dst, uint32(version)) //nolint:gosec // G115: versions count up from 1
}

// decisionsOf returns a retiree's decisions ordered by effective month,
// then by the order they were recorded: the order in which they take
// effect.
func decisionsOf(tx *bolt.Tx, id string) ([]*pb.EntitlementDecision, error) {
	return decisionsAt(tx.Bucket(bucketDecisions).Cursor(), id)
}

// decisionsAt is decisionsOf with a cursor of bucketDecisions, which a
// list reuses from one retiree to the next.
func decisionsAt(c *bolt.Cursor, id string) ([]*pb.EntitlementDecision, error) {
	var out []*pb.EntitlementDecision
	err := boltstore.ScanPrefix(c, boltstore.Prefix(id), nil, func(_, v []byte) (bool, error) {
		d := new(pb.EntitlementDecision)
		if err := unmarshal(v, d, "decision"); err != nil {
			return false, err
		}
		out = append(out, d)
		return true, nil
	})
	// The keys order by month already; within a month, by action.
	slices.SortStableFunc(out, func(a, b *pb.EntitlementDecision) int {
		return cmp.Or(cmp.Compare(a.EffectiveMonth, b.EffectiveMonth), cmp.Compare(a.RecordSequence, b.RecordSequence))
	})
	return out, err
}

// loadDecision returns the decision stored under key and a copy of its
// encoding, which may outlive later writes of the transaction, or nils.
func loadDecision(tx *bolt.Tx, key []byte) (*pb.EntitlementDecision, []byte, error) {
	v := tx.Bucket(bucketDecisions).Get(key)
	if v == nil {
		return nil, nil, nil
	}
	d := new(pb.EntitlementDecision)
	if err := unmarshal(v, d, "decision"); err != nil {
		return nil, nil, err
	}
	return d, bytes.Clone(v), nil
}

// sameDecision reports whether a stored decision says what in says; the
// retiree, month and action are its identity.
func sameDecision(d *pb.EntitlementDecision, in *decisionInput) bool {
	return d.Reason == in.reason && d.Note == in.note && d.Reference == in.reference
}

// decisionWrite is one version of a decision to write.
type decisionWrite struct {
	key []byte
	in  *decisionInput
	// replaced is the stored version it corrects and its encoding; nil
	// for a new decision.
	replaced    *pb.EntitlementDecision
	replacedRaw []byte
	seq         uint64
	batchID     string
}

// writeDecision stores a version of a decision of retiree id, keeping the
// version it replaces, and audits the change as action.
func writeDecision(tx *bolt.Tx, f *signalfeed.Feed, id string, w decisionWrite, actor Actor, action string, now time.Time) (*pb.EntitlementDecision, error) {
	if w.replaced != nil {
		key := decisionVersionKey(nil, w.key, w.replaced.Version)
		if err := tx.Bucket(bucketDecisionVersions).Put(key, w.replacedRaw); err != nil {
			return nil, err
		}
	}
	d := &pb.EntitlementDecision{
		RetireeId:      id,
		Action:         w.in.action,
		EffectiveMonth: w.in.month.String(),
		Reason:         w.in.reason,
		Note:           w.in.note,
		Reference:      w.in.reference,
		RecordedBy:     actor.Subject,
		RecordTime:     timestamppb.New(now),
		BatchId:        w.batchID,
		Version:        w.replaced.GetVersion() + 1,
		RecordSequence: int64(w.seq), //nolint:gosec // G115: a bucket sequence, far below 2^63
	}
	if err := boltstore.PutProto(tx.Bucket(bucketDecisions), w.key, d); err != nil {
		return nil, err
	}
	if err := audit.Put(tx, audit.NewEntry(actor, action, id, now)); err != nil {
		return nil, err
	}
	if d.Action == pb.DecisionAction_STOP {
		// Whom the bureau stops certifies no more.
		if err := resolveCertSignal(tx, f, id, "pension stopped"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// nextDecisionSequence returns the record sequence of the next decision
// version.
func nextDecisionSequence(tx *bolt.Tx) (uint64, error) {
	return tx.Bucket(bucketDecisions).NextSequence()
}

// RecordDecision stores a decision of the bureau for retiree id and
// audits it, in one transaction. allowed is called with the projected
// retiree (nil when unknown) inside the transaction, for the caller's
// scope check. A decision recorded again unchanged is returned as stored.
func (s *Store) RecordDecision(id string, in *decisionInput, actor Actor, allowed func(*registryv1.RetireeState) error) (*pb.EntitlementDecision, error) {
	now := s.now()
	var out *pb.EntitlementDecision
	err := s.Update(func(tx *bolt.Tx) error {
		if _, err := s.visibleIn(tx, id, allowed); err != nil {
			return err
		}
		w := decisionWrite{key: decisionKey(nil, id, in.month, in.action), in: in}
		var err error
		if w.replaced, w.replacedRaw, err = loadDecision(tx, w.key); err != nil {
			return err
		}
		if w.replaced != nil && sameDecision(w.replaced, in) {
			out = w.replaced
			return nil
		}
		if w.seq, err = nextDecisionSequence(tx); err != nil {
			return err
		}
		out, err = writeDecision(tx, s.signals, id, w, actor, "RecordDecision", now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListDecisions returns a page of a retiree's decisions, newest effective
// month first. after is the last key of the previous page.
func (s *Store) ListDecisions(id string, size int, after []byte) ([]*pb.EntitlementDecision, []byte, error) {
	var out []*pb.EntitlementDecision
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		scan := boltstore.Scan{Prefix: boltstore.Prefix(id), After: after, Size: size, Reverse: true}
		next, err = scan.Page(tx.Bucket(bucketDecisions).Cursor(), func(_, v []byte) (bool, error) {
			d := new(pb.EntitlementDecision)
			if err := unmarshal(v, d, "decision"); err != nil {
				return false, err
			}
			out = append(out, d)
			return true, nil
		})
		return err
	})
	return out, next, err
}
