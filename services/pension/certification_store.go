package pension

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/socmgmt/socmgmt/internal/signalfeed"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
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
		found, err := findCertification(tx.Bucket(bucketCertifications).Cursor(), id, c.CertifiedOn, c.Method)
		if err != nil {
			return err
		}
		if found.value != nil {
			out = new(pb.Certification)
			return unmarshal(found.value, out, "certification")
		}
		// A call records no batch; the reference is the caller's.
		out = &pb.Certification{
			RetireeId: id, Method: c.Method, CertifiedOn: c.CertifiedOn,
			RecordedBy: actor.Subject, RecordTime: timestamppb.New(now), Reference: c.Reference,
		}
		if _, err := addCertification(tx, s.signals, st, found.latest, out, nil); err != nil {
			return err
		}
		return audit.Put(tx, audit.NewEntry(actor, "RecordCertification", id, now))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// certificationDayPrefix is retiree id, 0, day, 0: the prefix of the keys
// of the certifications of a day.
func certificationDayPrefix(dst []byte, id, day string) []byte {
	dst = append(append(dst, id...), 0)
	return append(append(dst, day...), 0)
}

// certificationKey is a certifications key: retiree id, 0, certified_on,
// 0, sequence (8 bytes, big-endian).
func certificationKey(dst []byte, id, day string, seq uint64) []byte {
	return boltstore.AppendU64(certificationDayPrefix(dst, id, day), seq)
}

// certificationOnKey returns the certified_on of a certifications key
// under prefix, the retiree's.
func certificationOnKey(k, prefix []byte) (string, bool) {
	day := len(k) - 9
	if day < len(prefix) || !bytes.HasPrefix(k, prefix) || k[day] != 0 {
		return "", false
	}
	return string(k[len(prefix):day]), true
}

// methodField is the field number of Certification.method.
var methodField = (&pb.Certification{}).ProtoReflect().Descriptor().Fields().ByName("method").Number()

// certificationMethod decodes only the method of a stored Certification:
// the lookups that run for every imported record need no more, and a
// whole message would cost its strings.
func certificationMethod(v []byte) (pb.CertificationMethod, error) {
	var method pb.CertificationMethod
	for len(v) > 0 {
		num, typ, n := protowire.ConsumeTag(v)
		if n < 0 {
			return 0, fmt.Errorf("decode certification: %w", protowire.ParseError(n))
		}
		v = v[n:]
		if num == methodField && typ == protowire.VarintType {
			m, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return 0, fmt.Errorf("decode certification: %w", protowire.ParseError(n))
			}
			// The last value of a field wins, as in proto.Unmarshal.
			method = pb.CertificationMethod(int32(m)) //nolint:gosec // G115: an enum is an int32 on the wire
			v = v[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, v)
		if n < 0 {
			return 0, fmt.Errorf("decode certification: %w", protowire.ParseError(n))
		}
		v = v[n:]
	}
	return method, nil
}

// foundCertification is what findCertification finds.
type foundCertification struct {
	// key and value are those of the stored certification with the
	// identity looked for, nil when there is none; key is a copy, value
	// bbolt's, valid until the next write.
	key, value []byte
	// latest is the retiree's latest recorded certification ("" when none
	// is).
	latest lastCert
}

// findCertification returns the certification of retiree id through
// method on day, if one is stored, and the latest recorded
// certification of the retiree, with one seek of c into the
// certifications in the common case: nothing recorded after day.
func findCertification(c *bolt.Cursor, id, day string, method pb.CertificationMethod) (foundCertification, error) {
	var f foundCertification
	dayPrefix := certificationDayPrefix(nil, id, day)
	prefix := dayPrefix[:len(id)+1] // the retiree's: id, 0
	k, v := c.Seek(dayPrefix)
	for ; k != nil && bytes.HasPrefix(k, dayPrefix); k, v = c.Next() {
		m, err := certificationMethod(v)
		if err != nil {
			return f, err
		}
		if m == method && f.value == nil {
			// bbolt's key may not outlive the writes that follow.
			f.key, f.value = bytes.Clone(k), v
		}
	}
	switch {
	case k != nil && bytes.HasPrefix(k, prefix):
		// Later days are recorded: the latest is the retiree's last key.
		return f, latestRecordedIn(c, prefix, "", &f.latest)
	case k == nil:
		k, v = c.Last()
	default:
		k, v = c.Prev()
	}
	// Nothing after day: the key before the first that is not the
	// retiree's, if the retiree's, is his latest.
	return f, recordedAs(k, v, prefix, &f.latest)
}

// addCertification stores rec, a new certification of the retiree whose
// projected state is st and whose latest recorded certification is
// latest, under the next sequence, and keeps his entry in the due index in
// step. The key and the value are appended to buf, which it returns: bbolt
// keeps them until the commit, so the import passes its group's buffer
// and a record costs no allocation of its own. It does not audit: a
// clerk's call is audited with each certification, a bureau's import with
// each group it commits.
func addCertification(tx *bolt.Tx, f *signalfeed.Feed, st *registryv1.RetireeState, latest lastCert, rec *pb.Certification, buf []byte) ([]byte, error) {
	certs := tx.Bucket(bucketCertifications)
	seq, err := certs.NextSequence()
	if err != nil {
		return buf, err
	}
	start := len(buf)
	buf = certificationKey(buf, rec.RetireeId, rec.CertifiedOn, seq)
	key := buf[start:len(buf):len(buf)]
	start = len(buf)
	if buf, err = (proto.MarshalOptions{}).MarshalAppend(buf, rec); err != nil {
		return buf, err
	}
	if err := certs.Put(key, buf[start:len(buf):len(buf)]); err != nil {
		return buf, err
	}
	if err := certifiedSignal(tx, f, rec.RetireeId, rec.CertifiedOn); err != nil {
		return buf, err
	}
	// The new key sorts after the day's earlier ones: from that day on it
	// is the latest recorded.
	if rec.CertifiedOn >= latest.day {
		start := pensionStartDay(st)
		before, after := lastCertFrom(start, latest.day, latest.channel), lastCertFrom(start, rec.CertifiedOn, rec.Method)
		if after != before {
			if err := moveDue(tx, st, before, st, after); err != nil {
				return buf, err
			}
		}
	}
	return buf, nil
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
