package handover

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// The steps of a file's custody (CustodyEvent.action).
const (
	custodyReceived      = "RECEIVED"
	custodyShelved       = "SHELVED"
	custodyLoanRequested = "LOAN_REQUESTED"
	custodyLoanApproved  = "LOAN_APPROVED"
	custodyLoanRefused   = "LOAN_REFUSED"
	custodyReturned      = "RETURNED"
	custodySentOn        = "SENT_ON"
)

// The measures of the statistics, each counted per district and day in
// bucketArchiveStats by the step that makes it.
const (
	measureReceived  = "received"
	measureConsulted = "consulted"
	measureSentOn    = "sent_on"
)

// measureOf is the measure a custody step counts for, if any.
var measureOf = map[string]string{
	custodyReceived: measureReceived, custodyLoanApproved: measureConsulted, custodySentOn: measureSentOn,
}

// errArchiveFileNotFound is what a read or step of an unknown file gets
// (turned into 403 for callers who may not learn that).
var errArchiveFileNotFound = fmt.Errorf("archive file %w", fault.ErrNotFound)

// newArchiveFileID returns "F" and 16 characters made as a handover id's:
// sorted by creation, and not guessable from a neighbour.
func newArchiveFileID(now time.Time) string { return "F" + newHandoverID(now)[1:] }

// validArchiveFileID reports whether s has the shape of a file id, so
// that malformed ids never reach a key.
func validArchiveFileID(s string) bool {
	return len(s) == handoverIDLen && s[0] == 'F' && strings.Trim(s[1:], handoverIDAlphabet) == ""
}

// receivingDistrict is the district whose archivist keeps h's files: that
// of its receiving unit, or of its community for a package addressed to
// one community.
func receivingDistrict(h *pb.Handover) string {
	code := h.ReceiverCode
	if code == "" {
		code = h.CommunityId
	}
	if len(code) < inputcheck.DistrictCodeLen {
		return ""
	}
	return code[:inputcheck.DistrictCodeLen]
}

// takeIntoCustody files the dossier d of h, which has just arrived with
// its volumes, as a new file in the custody of the archivist of h's
// district, and links the dossier to it.
func (w *txn) takeIntoCustody(h *pb.Handover, d *pb.Dossier, volumes int32, actor Actor) error {
	f := &pb.ArchiveFile{
		RetireeId: d.RetireeId, HandoverId: h.Id, DossierNo: d.DossierNo, Volumes: volumes,
		District: receivingDistrict(h), State: pb.ArchiveFile_IN_CUSTODY,
		ReceivedBy: actor.Subject, ReceiveTime: timestamppb.New(w.now),
	}
	b := w.tx.Bucket(bucketArchiveFiles)
	for {
		f.Id = newArchiveFileID(w.now)
		if b.Get([]byte(f.Id)) == nil {
			break
		}
	}
	d.ArchiveFileId = f.Id
	return w.saveFile(nil, f, actor, custodyReceived,
		fmt.Sprintf("received in handover %s: dossier %s, %d volumes", h.Id, d.DossierNo, volumes))
}

// saveFile writes f as its next revision, keeps the indexes in step with
// old (nil for a new file), records the step on f's custody record and
// counts it in the statistics.
func (w *txn) saveFile(old, f *pb.ArchiveFile, actor Actor, action, detail string) error {
	f.Etag = etagOf(revisionOf(old.GetEtag()) + 1)
	f.UpdateTime = timestamppb.New(w.now)
	if err := boltstore.PutProto(w.tx.Bucket(bucketArchiveFiles), []byte(f.Id), f); err != nil {
		return err
	}
	if err := boltstore.MoveIndex(w.tx.Bucket(bucketArchiveFilesByDistrict), old.GetDistrict(), f.District, f.Id); err != nil {
		return err
	}
	due := w.tx.Bucket(bucketArchiveLoansDue)
	if from, to := dueKey(old), dueKey(f); !bytes.Equal(from, to) {
		if from != nil {
			if err := due.Delete(from); err != nil {
				return err
			}
		}
		if to != nil {
			if err := due.Put(to, nil); err != nil {
				return err
			}
		}
	}
	if err := w.fileEvent(f, actor, action, detail); err != nil {
		return err
	}
	if m, ok := measureOf[action]; ok {
		return w.count(f.District, m)
	}
	return nil
}

// dueKey is f's key in bucketArchiveLoansDue while it is on loan: its
// district, due date and id; nil otherwise.
func dueKey(f *pb.ArchiveFile) []byte {
	if f.GetState() != pb.ArchiveFile_ON_LOAN || f.GetLoan() == nil {
		return nil
	}
	return boltstore.Key(f.District, f.Loan.DueOn, f.Id)
}

// fileEvent appends a step to f's custody record, with the state f is
// in now.
func (w *txn) fileEvent(f *pb.ArchiveFile, actor Actor, action, detail string) error {
	b := w.tx.Bucket(bucketArchiveEvents)
	prefix := boltstore.Prefix(f.Id)
	seq, err := nextSequence(b, prefix)
	if err != nil {
		return err
	}
	e := &pb.CustodyEvent{
		Sequence: int64(seq), //nolint:gosec // G115: counted up one by one from 1
		Time:     timestamppb.New(w.now),
		Actor:    actor.Subject, ActorRole: actor.Role, RequestId: actor.RequestID,
		Action: action, Detail: detail, State: f.State,
	}
	return boltstore.PutProto(b, boltstore.AppendU64(prefix, seq), e)
}

// nextSequence is the sequence after the last key under prefix in b,
// whose keys are prefix and an 8-byte sequence; 1 for the first.
func nextSequence(b *bolt.Bucket, prefix []byte) (uint64, error) {
	c := b.Cursor()
	k, _ := c.Seek(boltstore.AppendU64(bytes.Clone(prefix), math.MaxUint64))
	if k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev()
	}
	if k == nil || !bytes.HasPrefix(k, prefix) || len(k) != len(prefix)+8 {
		return 1, nil
	}
	last, err := boltstore.ParseU64(k[len(prefix):])
	return last + 1, err
}

// count adds one to the measure of district today.
func (w *txn) count(district, measure string) error {
	b := w.tx.Bucket(bucketArchiveStats)
	key := boltstore.Key(district, dateIn(w.now), measure)
	n := uint64(0)
	if v := b.Get(key); v != nil {
		var err error
		if n, err = boltstore.ParseU64(v); err != nil {
			return err
		}
	}
	return b.Put(key, boltstore.U64(n+1))
}

// GetArchiveFile returns a file or ErrNotFound.
func (s *Store) GetArchiveFile(id string) (*pb.ArchiveFile, error) {
	if !validArchiveFileID(id) {
		return nil, errArchiveFileNotFound
	}
	f := new(pb.ArchiveFile)
	err := s.DB().View(func(tx *bolt.Tx) error {
		return boltstore.GetProto(tx.Bucket(bucketArchiveFiles), []byte(id), f, errArchiveFileNotFound)
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// fileStep is one custody step applied to a stored file inside the
// store's write transaction: it changes f in place and names the event.
type fileStep func(w *txn, f *pb.ArchiveFile) (action, detail string, err error)

// changeFile loads a file, checks that the caller may act on it (allowed
// sees nil when it does not exist) and the etag when given, applies fn
// and saves the result with its event, in one transaction.
func (s *Store) changeFile(id, etag string, actor Actor, allowed func(*pb.ArchiveFile) error, fn fileStep) (*pb.ArchiveFile, error) {
	var out *pb.ArchiveFile
	err := s.update(func(w *txn) error {
		old, err := boltstore.GetForChange(w.tx.Bucket(bucketArchiveFiles), id, validArchiveFileID(id), errArchiveFileNotFound, etag, allowed)
		if err != nil {
			return err
		}
		f := proto.Clone(old).(*pb.ArchiveFile)
		w.actor = actor
		action, detail, err := fn(w, f)
		if err != nil {
			return err
		}
		if err := w.saveFile(old, f, actor, action, detail); err != nil {
			return err
		}
		out = f
		return nil
	})
	return out, err
}

// ArchiveFilter selects files in ListArchiveFiles; zero fields match all.
type ArchiveFilter struct {
	District string
	State    pb.ArchiveFile_State
	// Overdue keeps the files on loan due back before Today (YYYY-MM-DD),
	// walked by due date.
	Overdue bool
	Today   string
}

func (f ArchiveFilter) match(a *pb.ArchiveFile) bool {
	return (f.District == "" || a.District == f.District) && (f.State == pb.ArchiveFile_STATE_UNSPECIFIED || a.State == f.State)
}

// ListArchiveFiles returns a page of files matching f: by district and id,
// or, for the overdue, by district and due date.
func (s *Store) ListArchiveFiles(f ArchiveFilter, size int, after []byte) ([]*pb.ArchiveFile, []byte, error) {
	var out []*pb.ArchiveFile
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		scan := boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}
		if !f.Overdue {
			indexes := []boltstore.Index{{Bucket: bucketArchiveFilesByDistrict, Value: f.District}}
			next, err = scan.Records(tx, bucketArchiveFiles, indexes, boltstore.Collect(&out, f.match))
			return err
		}
		if f.District != "" {
			scan.Prefix = boltstore.Prefix(f.District)
		}
		files, collect := tx.Bucket(bucketArchiveFiles), boltstore.Collect(&out, f.match)
		next, err = scan.Page(tx.Bucket(bucketArchiveLoansDue).Cursor(), func(k, _ []byte) (bool, error) {
			parts := bytes.Split(k, []byte{0})
			if len(parts) != 3 {
				return false, fmt.Errorf("%w: loan due %q", boltstore.ErrBadKey, k)
			}
			if string(parts[1]) >= f.Today {
				if f.District != "" {
					return false, boltstore.ErrEndOfList
				}
				return false, nil
			}
			v := files.Get(parts[2])
			if v == nil {
				return false, errors.New("loan index names a missing archive file")
			}
			return collect(parts[2], v)
		})
		return err
	})
	return out, next, err
}

// ListArchiveFileEvents returns a page of a file's custody record, oldest
// first.
func (s *Store) ListArchiveFileEvents(id string, size int, after []byte) ([]*pb.CustodyEvent, []byte, error) {
	var out []*pb.CustodyEvent
	var next []byte
	if !validArchiveFileID(id) {
		return nil, nil, nil
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{Prefix: boltstore.Prefix(id), After: after, Size: size}.Page(tx.Bucket(bucketArchiveEvents).Cursor(), boltstore.Collect(&out, nil))
		return err
	})
	return out, next, err
}

// ArchiveStatistics counts district's files received, consulted and sent
// on from from to to (YYYY-MM-DD, both included), and those on loan and
// overdue on today. The period reads at most one key per day and
// measure; the loans, one key per file on loan.
func (s *Store) ArchiveStatistics(district, from, to, today string) (*pb.GetArchiveStatisticsResponse, error) {
	out := &pb.GetArchiveStatisticsResponse{District: district, From: from, To: to}
	err := s.DB().View(func(tx *bolt.Tx) error {
		sums := map[string]*int64{measureReceived: &out.Received, measureConsulted: &out.Consulted, measureSentOn: &out.SentOn}
		prefix := boltstore.Prefix(district)
		c := tx.Bucket(bucketArchiveStats).Cursor()
		for k, v := c.Seek(boltstore.Prefix(district, from)); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			day, measure, ok := bytes.Cut(k[len(prefix):], []byte{0})
			if !ok {
				return fmt.Errorf("%w: archive statistics %q", boltstore.ErrBadKey, k)
			}
			if string(day) > to {
				break
			}
			n, err := boltstore.ParseU64(v)
			if err != nil {
				return err
			}
			if sum := sums[string(measure)]; sum != nil {
				*sum += int64(n) //nolint:gosec // G115: a count of files
			}
		}
		return boltstore.ScanPrefix(tx.Bucket(bucketArchiveLoansDue).Cursor(), prefix, nil, func(k, _ []byte) (bool, error) {
			out.OnLoan++
			if due, _, _ := bytes.Cut(k[len(prefix):], []byte{0}); string(due) < today {
				out.Overdue++
			}
			return true, nil
		})
	})
	return out, err
}
