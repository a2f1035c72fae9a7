package pension

import (
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
	err := s.Batch(func(tx *bolt.Tx) error {
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
// projected state is st, keeps the retiree's entry in the due index in
// step, and audits the change. It stores c's method, date, reference and
// batch id; the recorder and the time are actor's and now. The import of
// the bureau's certifications commits through it too.
func addCertification(tx *bolt.Tx, id string, st *registryv1.RetireeState, c *pb.Certification, actor Actor, now time.Time) (*pb.Certification, error) {
	certs := tx.Bucket(bucketCertifications)
	prevDay, prevChannel, err := latestRecorded(tx, id)
	if err != nil {
		return nil, err
	}
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
	// The new key sorts after the day's earlier ones: from that day on it
	// is the latest recorded.
	if c.CertifiedOn >= prevDay {
		before, after := lastCertOf(st, prevDay, prevChannel), lastCertOf(st, c.CertifiedOn, c.Method)
		if after != before {
			if err := moveDue(tx, st, before, st, after); err != nil {
				return nil, err
			}
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

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, fault.ErrNotFound) }
