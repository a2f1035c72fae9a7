package pension

import (
	"bytes"
	"cmp"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// reasonDeceased is the ErrorInfo reason for certifying a retiree after
// the recorded death.
const reasonDeceased = "RETIREE_DECEASED"

// RecordCertification stores that retiree id was certified alive, keeps
// the due-date index in step and audits the change, in one transaction.
// allowed is called with the projected retiree (nil when unknown) inside
// the transaction, for the caller's scope check. Recording the same method
// on the same day again changes nothing and returns the stored one, so a
// retried request does not count twice.
func (s *Store) RecordCertification(id string, c *pb.Certification, actor Actor, allowed func(*registryv1.RetireeState) error) (*pb.Certification, error) {
	now := s.now()
	var out *pb.Certification
	err := s.DB().Batch(func(tx *bolt.Tx) error {
		out = nil
		st, err := s.visibleIn(tx, id, allowed)
		if err != nil {
			return err
		}
		if st.GetStatus() == registryv1.RetireeStatus_DECEASED && st.GetDateOfDeath() != "" && c.CertifiedOn > st.GetDateOfDeath() {
			return fault.Rule(reasonDeceased, "the retiree's death is recorded before this date")
		}
		if out, err = recordedOn(tx, id, c.CertifiedOn, c.Method); err != nil || out != nil {
			return err
		}
		// A call records no batch; the reference is the caller's.
		out, err = addCertification(tx, id, st, &pb.Certification{Method: c.Method, CertifiedOn: c.CertifiedOn, Reference: c.Reference}, actor, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordedOn returns the certification of a retiree by method on a day,
// or nil when there is none.
func recordedOn(tx *bolt.Tx, id, day string, method pb.CertificationMethod) (*pb.Certification, error) {
	_, c, err := certificationOn(tx, id, day, method)
	return c, err
}

// addCertification stores c as a new certification of retiree id, whose
// projected state is st, moves the retiree's due date when c is its
// latest, and audits the change.
func addCertification(tx *bolt.Tx, id string, st *registryv1.RetireeState, c *pb.Certification, actor Actor, now time.Time) (*pb.Certification, error) {
	certs := tx.Bucket(bucketCertifications)
	latest := latestCertification(tx, id)
	seq, err := certs.NextSequence()
	if err != nil {
		return nil, err
	}
	rec := &pb.Certification{
		RetireeId:   id,
		Method:      c.Method,
		CertifiedOn: c.CertifiedOn,
		RecordedBy:  actor.Subject,
		RecordTime:  timestamppb.New(now),
		Reference:   c.Reference,
		BatchId:     c.BatchId,
	}
	if err := boltstore.PutProto(certs, boltstore.AppendU64(boltstore.Prefix(id, c.CertifiedOn), seq), rec); err != nil {
		return nil, err
	}
	if c.CertifiedOn > latest && living(st) {
		if err := moveDue(tx, st.CommunityId, latest, st.CommunityId, c.CertifiedOn, id); err != nil {
			return nil, err
		}
	}
	if err := audit.Put(tx, audit.NewEntry(actor, "RecordCertification", id, now)); err != nil {
		return nil, err
	}
	return rec, nil
}

// visibleIn loads a retiree inside tx and runs the caller's check on it
// (nil when unknown, so that the check decides between 403 and 404).
func (s *Store) visibleIn(tx *bolt.Tx, id string, allowed func(*registryv1.RetireeState) error) (*registryv1.RetireeState, error) {
	var st *registryv1.RetireeState
	var err error
	if inputcheck.IsOpaqueID(id) {
		st, err = getRetiree(tx, id)
	} else {
		err = errRetireeNotFound
	}
	if err != nil {
		if !isNotFound(err) {
			return nil, err
		}
		if aerr := allowed(nil); aerr != nil {
			return nil, aerr
		}
		return nil, err
	}
	if err := allowed(st); err != nil {
		return nil, err
	}
	return st, nil
}

// ListCertifications returns a page of a retiree's certifications, newest
// first. after is the last key of the previous page.
func (s *Store) ListCertifications(id string, size int, after []byte) ([]*pb.Certification, []byte, error) {
	var out []*pb.Certification
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		scan := boltstore.Scan{Prefix: boltstore.Prefix(id), After: after, Size: size, Reverse: true}
		next, err = scan.Page(tx.Bucket(bucketCertifications).Cursor(), func(_, v []byte) (bool, error) {
			c := new(pb.Certification)
			if err := unmarshal(v, c, "certification"); err != nil {
				return false, err
			}
			out = append(out, c)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// certHistoryIn returns a retiree's certification days, oldest first.
func certHistoryIn(tx *bolt.Tx, id string) (certHistory, error) {
	var h certHistory
	prefix := boltstore.Prefix(id)
	err := boltstore.ScanPrefix(tx.Bucket(bucketCertifications).Cursor(), prefix, nil, func(k, _ []byte) (bool, error) {
		day, ok := parseDate(certDateOfKey(k, len(prefix)))
		if !ok {
			return false, boltstore.ErrBadKey
		}
		h = append(h, day)
		return true, nil
	})
	return h, err
}

// certDateOfKey returns the certified_on part of a certification key
// whose retiree prefix is n bytes long.
func certDateOfKey(k []byte, n int) string {
	rest := k[n:]
	if i := bytes.IndexByte(rest, 0); i >= 0 {
		rest = rest[:i]
	}
	return string(rest)
}

// latestCertification returns the newest certified_on of a retiree, or ""
// when there is none.
func latestCertification(tx *bolt.Tx, id string) string {
	prefix := boltstore.Prefix(id)
	c := tx.Bucket(bucketCertifications).Cursor()
	// The keys under prefix are followed by a date, which starts with a
	// digit; prefix with 0xff after the separator sorts after all of them.
	k, _ := c.Seek(append(bytes.Clone(prefix), 0xff))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return ""
	}
	return certDateOfKey(k, len(prefix))
}

// dueKey is the due-date index key of a living retiree of community last
// certified on lastCertified ("" when never).
func dueKey(community, lastCertified, id string) []byte {
	due := ""
	if day, ok := parseDate(lastCertified); ok {
		due = formatDate(dueAfter(day))
	}
	return boltstore.Key(community, due, id)
}

// moveDue moves a retiree's due-date index entry; an empty community on
// either side means no entry there.
func moveDue(tx *bolt.Tx, fromCommunity, fromLast, toCommunity, toLast, id string) error {
	b := tx.Bucket(bucketDue)
	if fromCommunity != "" {
		if err := b.Delete(dueKey(fromCommunity, fromLast, id)); err != nil {
			return err
		}
	}
	if toCommunity == "" {
		return nil
	}
	return b.Put(dueKey(toCommunity, toLast, id), []byte(toLast))
}

// applyRetiree is the projection hook: it keeps the due-date index in step
// with the retiree's community and status, in the projection's
// transaction.
func (s *Store) applyRetiree(tx *bolt.Tx, old, cur *registryv1.RetireeState) error {
	from, to := "", ""
	if old != nil && living(old) {
		from = old.CommunityId
	}
	if living(cur) {
		to = cur.CommunityId
	}
	if from == to && old != nil {
		return nil
	}
	// cur is nil when the projection drops a retiree registry no longer has.
	id := cmp.Or(cur.GetId(), old.GetId())
	last := latestCertification(tx, id)
	return moveDue(tx, from, last, to, last, id)
}

// OverdueFilter selects ListOverdue's entries: the living retirees of a
// community whose certification is due by DueBy, or who were never
// certified.
type OverdueFilter struct {
	CommunityID string
	AsOf        time.Time
	DueBy       time.Time
}

// ListOverdue returns a page of the retirees of f.CommunityID whose next
// certification is due by f.DueBy, never-certified ones first, then by due
// date.
func (s *Store) ListOverdue(f OverdueFilter, size int, after []byte) ([]*pb.OverdueCertification, []byte, error) {
	var out []*pb.OverdueCertification
	var next []byte
	prefix := boltstore.Prefix(f.CommunityID)
	dueBy := formatDate(f.DueBy)
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{Prefix: prefix, After: after, Size: size}.Page(tx.Bucket(bucketDue).Cursor(), func(k, v []byte) (bool, error) {
			rest := k[len(prefix):]
			i := bytes.IndexByte(rest, 0)
			if i < 0 {
				return false, boltstore.ErrBadKey
			}
			due, id := string(rest[:i]), string(rest[i+1:])
			if due > dueBy {
				return false, boltstore.ErrEndOfList
			}
			o := &pb.OverdueCertification{RetireeId: id, LastCertifiedOn: string(v), DueOn: due}
			if d, ok := parseDate(due); ok {
				// A time.Duration spans at most 292 years.
				o.DaysOverdue = int32(daysBetween(d, f.AsOf)) //nolint:gosec // G115: at most 106,752 days
			}
			out = append(out, o)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, fault.ErrNotFound) }
