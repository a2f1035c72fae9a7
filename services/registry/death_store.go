package registry

import (
	"fmt"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Rule-failure reasons of death reports.
const (
	reasonDeathReportOpen        = "DEATH_REPORT_OPEN"
	reasonDeathReportNotReported = "DEATH_REPORT_NOT_REPORTED"
	reasonDeathReportNotVerified = "DEATH_REPORT_NOT_VERIFIED"
)

var errDeathReportNotFound = fmt.Errorf("death report %w", fault.ErrNotFound)

// reportable reports whether a death may be reported or verified for a
// retiree in status st: one whose death is not recorded and who is still
// managed here. A retiree lost contact with, in prison or abroad may have
// died, and often that is how it becomes known.
func reportable(st pb.RetireeStatus) bool {
	return st != pb.RetireeStatus_DECEASED && st != pb.RetireeStatus_MOVED_OUT
}

// DeathReportInput is a validated death report to file.
type DeathReportInput struct {
	RetireeID   string
	DateOfDeath string
	Source      pb.DeathReportSource
	Reporter    *pb.DeathReporter
	Documents   []*pb.DeathDocument
	// Etag, when set, must be the retiree's (RecordDeath).
	Etag string
}

// CreateDeathReport files a REPORTED death report of a retiree that
// allowed lets the caller change. The retiree does not change; its
// history gains a DEATH_REPORTED note.
func (s *Store) CreateDeathReport(in DeathReportInput, actor Actor, allowed func(*pb.Retiree) error) (*pb.DeathReport, error) {
	var d *pb.DeathReport
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		r, err := s.retireeForDeath(tx, in, allowed)
		if err != nil {
			return err
		}
		d = s.newDeathReport(tx, r, in, actor, w)
		if err := s.putDeathReport(tx, d, pb.DeathReportState_DEATH_REPORT_STATE_UNSPECIFIED); err != nil {
			return err
		}
		return w.withDeathReport(d, func() error {
			return w.note(r.Id, pb.ChangeKind_DEATH_REPORTED, actor, "CreateDeathReport", "", nil)
		})
	})
	if err != nil {
		return nil, err
	}
	return d, s.fillDeathRetiree(d)
}

// retireeForDeath reads the retiree of a report to file and checks that
// a death may be reported for it now.
func (s *Store) retireeForDeath(tx *bolt.Tx, in DeathReportInput, allowed func(*pb.Retiree) error) (*pb.Retiree, error) {
	read := func(r *pb.Retiree) error {
		return s.GetProto(tx, bucketRetirees, []byte(in.RetireeID), r, errRetireeNotFound)
	}
	r, err := boltstore.ReadForChange(read, inputcheck.IsOpaqueID(in.RetireeID), errRetireeNotFound, in.Etag, allowed)
	if err != nil {
		return nil, err
	}
	if !reportable(r.Status) {
		return nil, fault.Rule(reasonNotLiving, "the retiree's death is recorded, or the retiree has moved out", "status", r.Status.String())
	}
	if in.DateOfDeath < r.BirthDate {
		return nil, fault.Invalid("date_of_death", "before the birth date")
	}
	if open := tx.Bucket(bucketDeathReportOpen).Get([]byte(r.Id)); open != nil {
		return nil, fault.Conflict(reasonDeathReportOpen, "the retiree has a death report not yet verified or rejected", "deathReportId", string(open))
	}
	return r, nil
}

// newDeathReport returns the REPORTED report in records for retiree r,
// with a new id.
func (s *Store) newDeathReport(tx *bolt.Tx, r *pb.Retiree, in DeathReportInput, actor Actor, w *changeWriter) *pb.DeathReport {
	d := &pb.DeathReport{
		RetireeId: r.Id, CommunityId: r.CommunityId, State: pb.DeathReportState_REPORTED,
		DateOfDeath: in.DateOfDeath, Source: in.Source, Reporter: proto.Clone(in.Reporter).(*pb.DeathReporter),
		ReportedBy: actor.Subject, ReportTime: timestamppb.New(w.now),
	}
	for _, doc := range in.Documents {
		d.Documents = append(d.Documents, proto.Clone(doc).(*pb.DeathDocument))
	}
	for {
		d.Id = inputcheck.NewOpaqueID()
		if tx.Bucket(bucketDeathReports).Get([]byte(d.Id)) == nil {
			return d
		}
	}
}

// putDeathReport stores d, which was in state from (unspecified when
// new), and keeps its indexes.
func (s *Store) putDeathReport(tx *bolt.Tx, d *pb.DeathReport, from pb.DeathReportState) error {
	stored := proto.Clone(d).(*pb.DeathReport)
	// The retiree's name and number are read with the retiree, so that
	// they stay current.
	stored.RetireeName, stored.RetireeIdNumberMasked = "", ""
	if err := s.PutProto(tx, bucketDeathReports, []byte(d.Id), stored); err != nil {
		return err
	}
	open := tx.Bucket(bucketDeathReportOpen)
	if d.State == pb.DeathReportState_REPORTED {
		if err := open.Put([]byte(d.RetireeId), []byte(d.Id)); err != nil {
			return err
		}
	} else if from == pb.DeathReportState_REPORTED {
		if err := open.Delete([]byte(d.RetireeId)); err != nil {
			return err
		}
	}
	oldState, newState := stateName(from), stateName(d.State)
	if err := boltstore.MoveIndex(tx.Bucket(bucketDeathReportByState), oldState, newState, d.Id); err != nil {
		return err
	}
	oldCS := ""
	if oldState != "" {
		oldCS = d.CommunityId + "." + oldState
	}
	if err := boltstore.MoveIndex(tx.Bucket(bucketDeathReportByCommunityState), oldCS, d.CommunityId+"."+newState, d.Id); err != nil {
		return err
	}
	if err := s.signalDeathReport(tx, d); err != nil {
		return err
	}
	if from != pb.DeathReportState_DEATH_REPORT_STATE_UNSPECIFIED {
		return nil
	}
	if err := boltstore.MoveIndex(tx.Bucket(bucketDeathReportByCommunity), "", d.CommunityId, d.Id); err != nil {
		return err
	}
	return boltstore.MoveIndex(tx.Bucket(bucketDeathReportByRetiree), "", d.RetireeId, d.Id)
}

// stateName is a state as the indexes name it; "" for none.
func stateName(st pb.DeathReportState) string {
	if st == pb.DeathReportState_DEATH_REPORT_STATE_UNSPECIFIED {
		return ""
	}
	return st.String()
}

// deathReportFor reads report id for a caller that allowed guards:
// allowed(nil) first decides for a missing report, as for a missing
// retiree.
func (s *Store) deathReportFor(tx *bolt.Tx, id string, allowed func(*pb.DeathReport) error) (*pb.DeathReport, error) {
	d := new(pb.DeathReport)
	err := errDeathReportNotFound
	if inputcheck.IsOpaqueID(id) {
		err = s.GetProto(tx, bucketDeathReports, []byte(id), d, errDeathReportNotFound)
	}
	if err != nil {
		if isNotFound(err) {
			if aerr := allowed(nil); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if err := allowed(d); err != nil {
		return nil, err
	}
	return d, nil
}

// DeathDecision is a decision on a death report.
type DeathDecision int

// The decisions on a death report.
const (
	// VerifyDeath records the retiree DECEASED with the report's date.
	VerifyDeath DeathDecision = iota + 1
	// RejectDeath rejects the report; the retiree does not change.
	RejectDeath
	// ReverseDeath reverses a verified death: the retiree is LIVING again.
	ReverseDeath
)

// DecideDeathReport verifies, rejects or reverses report id, which
// allowed lets the caller decide, with reason (for a rejection or a
// reversal). It returns the report and the retiree as they are after.
func (s *Store) DecideDeathReport(id string, decision DeathDecision, reason string, actor Actor, allowed func(*pb.DeathReport) error) (*pb.DeathReport, *pb.Retiree, error) {
	var d *pb.DeathReport
	var r *pb.Retiree
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		var err error
		if d, err = s.deathReportFor(tx, id, allowed); err != nil {
			return err
		}
		from := d.State
		switch decision {
		case VerifyDeath:
			r, err = s.verifyDeath(tx, w, d, actor, "VerifyDeathReport")
		case RejectDeath:
			r, err = s.rejectDeath(tx, w, d, reason, actor)
		case ReverseDeath:
			r, err = s.reverseDeath(tx, w, d, reason, actor)
		default:
			err = fmt.Errorf("unknown decision %d", decision)
		}
		if err != nil {
			return err
		}
		return s.putDeathReport(tx, d, from)
	})
	if err != nil {
		return nil, nil, err
	}
	return d, r, s.fillDeathRetiree(d)
}

// retireeOf reads d's retiree.
func (s *Store) retireeOf(tx *bolt.Tx, d *pb.DeathReport) (*pb.Retiree, error) {
	r := new(pb.Retiree)
	return r, s.GetProto(tx, bucketRetirees, []byte(d.RetireeId), r, errRetireeNotFound)
}

// verifyDeath records REPORTED report d verified and its retiree
// DECEASED with d's date (change kind DIED, whose history entry carries
// d).
func (s *Store) verifyDeath(tx *bolt.Tx, w *changeWriter, d *pb.DeathReport, actor Actor, action string) (*pb.Retiree, error) {
	if d.State != pb.DeathReportState_REPORTED {
		return nil, fault.Rule(reasonDeathReportNotReported, fmt.Sprintf("the report is %s: only a REPORTED report can be verified or rejected", d.State), "state", d.State.String())
	}
	old, err := s.retireeOf(tx, d)
	if err != nil {
		return nil, err
	}
	if !reportable(old.Status) {
		return nil, fault.Rule(reasonNotLiving, "the retiree's death is recorded, or the retiree has moved out: reject the report", "status", old.Status.String())
	}
	if old.CommunityId != d.CommunityId {
		// The report's community decides who may verify it; after a
		// transfer that is no longer the retiree's.
		return nil, fault.Rule(reasonRetireeMoved, "the retiree has moved to another community since the report: reject it and report there")
	}
	d.State, d.DecidedBy, d.DecideTime = pb.DeathReportState_VERIFIED, actor.Subject, timestamppb.New(w.now)
	r := proto.Clone(old).(*pb.Retiree)
	r.Status, r.DateOfDeath = pb.RetireeStatus_DECEASED, d.DateOfDeath
	r.StatusEffectiveOn, r.StatusReason = d.DateOfDeath, ""
	err = w.withDeathReport(d, func() error { return w.apply(old, r, pb.ChangeKind_DIED, actor, action, "") })
	return r, err
}

// rejectDeath records REPORTED report d rejected for reason.
func (s *Store) rejectDeath(tx *bolt.Tx, w *changeWriter, d *pb.DeathReport, reason string, actor Actor) (*pb.Retiree, error) {
	if d.State != pb.DeathReportState_REPORTED {
		return nil, fault.Rule(reasonDeathReportNotReported, fmt.Sprintf("the report is %s: only a REPORTED report can be verified or rejected", d.State), "state", d.State.String())
	}
	d.State, d.DecidedBy, d.DecideTime, d.RejectReason = pb.DeathReportState_REJECTED, actor.Subject, timestamppb.New(w.now), reason
	err := w.withDeathReport(d, func() error {
		return w.note(d.RetireeId, pb.ChangeKind_DEATH_REPORT_REJECTED, actor, "RejectDeathReport", reason, nil)
	})
	if err != nil {
		return nil, err
	}
	return s.retireeOf(tx, d)
}

// reverseDeath reverses VERIFIED report d: its retiree, still DECEASED
// with d's date, is LIVING again from today, its date of death cleared
// (change kind DEATH_REVERSED). The status before the death is not
// restored: the clerk sets it again if it was not LIVING.
func (s *Store) reverseDeath(tx *bolt.Tx, w *changeWriter, d *pb.DeathReport, reason string, actor Actor) (*pb.Retiree, error) {
	if d.State != pb.DeathReportState_VERIFIED {
		return nil, fault.Rule(reasonDeathReportNotVerified, fmt.Sprintf("the report is %s: only a VERIFIED death can be reversed", d.State), "state", d.State.String())
	}
	old, err := s.retireeOf(tx, d)
	if err != nil {
		return nil, err
	}
	if old.Status != pb.RetireeStatus_DECEASED || old.DateOfDeath != d.DateOfDeath {
		return nil, fault.Rule(reasonDeathReportNotVerified, "the retiree's recorded death is not this report's", "status", old.Status.String())
	}
	d.State, d.ReversedBy, d.ReverseTime, d.ReverseReason = pb.DeathReportState_REVERSED, actor.Subject, timestamppb.New(w.now), reason
	r := proto.Clone(old).(*pb.Retiree)
	r.Status, r.DateOfDeath = pb.RetireeStatus_LIVING, ""
	r.StatusEffectiveOn, r.StatusReason = dayOf(w.now), reason
	err = w.withDeathReport(d, func() error {
		return w.apply(old, r, pb.ChangeKind_DEATH_REVERSED, actor, "ReverseDeathReport", reason)
	})
	return r, err
}

// RecordDeath marks a retiree deceased on date (YYYY-MM-DD, validated by
// the caller against the clock) as a death report from source filed and
// verified at once. It returns the retiree and the report.
func (s *Store) RecordDeath(id, date, etag string, source pb.DeathReportSource, actor Actor, allowed func(*pb.Retiree) error) (*pb.Retiree, *pb.DeathReport, error) {
	var r *pb.Retiree
	var d *pb.DeathReport
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		in := DeathReportInput{RetireeID: id, DateOfDeath: date, Source: source, Etag: etag}
		old, err := s.retireeForDeath(tx, in, allowed)
		if err != nil {
			return err
		}
		d = s.newDeathReport(tx, old, in, actor, w)
		if r, err = s.verifyDeath(tx, w, d, actor, "RecordDeath"); err != nil {
			return err
		}
		return s.putDeathReport(tx, d, pb.DeathReportState_DEATH_REPORT_STATE_UNSPECIFIED)
	})
	if err != nil {
		return nil, nil, err
	}
	return r, d, s.fillDeathRetiree(d)
}

// GetDeathReport returns report id, which allowed lets the caller see,
// with its retiree's name and masked ID number.
func (s *Store) GetDeathReport(id string, allowed func(*pb.DeathReport) error) (*pb.DeathReport, error) {
	var d *pb.DeathReport
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		if d, err = s.deathReportFor(tx, id, allowed); err != nil {
			return err
		}
		return s.fillDeathRetireeTx(tx, d)
	})
	return d, err
}

// fillDeathRetiree sets d's retiree name and masked ID number from the
// retiree as stored.
func (s *Store) fillDeathRetiree(d *pb.DeathReport) error {
	return s.DB().View(func(tx *bolt.Tx) error { return s.fillDeathRetireeTx(tx, d) })
}

func (s *Store) fillDeathRetireeTx(tx *bolt.Tx, d *pb.DeathReport) error {
	r, err := s.retireeOf(tx, d)
	if err != nil {
		return err
	}
	d.RetireeName, d.RetireeIdNumberMasked = r.Name, idnumber.Mask(r.IdNumber)
	return nil
}

// DeathReportFilter selects death reports in ListDeathReports; zero
// fields match all.
type DeathReportFilter struct {
	// RetireeID lists one retiree's reports; the other fields are then
	// ignored.
	RetireeID   string
	CommunityID string
	// Area lists the reports of the communities whose ids start with it
	// (a supervisor's), when CommunityID is empty.
	Area  string
	State pb.DeathReportState
}

func (f DeathReportFilter) scope() string {
	return boltstore.PageScope("ListDeathReports", f.RetireeID, f.CommunityID, f.Area, f.State.String())
}

// indexes are the indexes that list f's reports, the narrowest first.
func (f DeathReportFilter) indexes() []boltstore.Index {
	state := stateName(f.State)
	switch {
	case f.RetireeID != "":
		return []boltstore.Index{{Bucket: bucketDeathReportByRetiree, Value: f.RetireeID}}
	case f.CommunityID != "" && state != "":
		return []boltstore.Index{{Bucket: bucketDeathReportByCommunityState, Value: f.CommunityID + "." + state}}
	case f.CommunityID != "":
		return []boltstore.Index{{Bucket: bucketDeathReportByCommunity, Value: f.CommunityID}}
	case f.Area != "":
		return []boltstore.Index{{Bucket: bucketDeathReportByCommunity, Value: f.Area, Prefix: true}}
	}
	return []boltstore.Index{{Bucket: bucketDeathReportByState, Value: state}}
}

// ListDeathReports returns a page of the reports f selects, in the order
// of the index that lists them, with their retirees' names and masked ID
// numbers.
func (s *Store) ListDeathReports(f DeathReportFilter, size int, after []byte) ([]*pb.DeathReport, []byte, error) {
	var out []*pb.DeathReport
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}.Records(tx, bucketDeathReports, f.indexes(), func(k, v []byte) (bool, error) {
			d := new(pb.DeathReport)
			if err := s.Decode(bucketDeathReports, k, v, d); err != nil {
				return false, err
			}
			if f.RetireeID == "" && f.State != pb.DeathReportState_DEATH_REPORT_STATE_UNSPECIFIED && d.State != f.State {
				return false, nil
			}
			out = append(out, d)
			return true, s.fillDeathRetireeTx(tx, d)
		})
		return err
	})
	return out, next, err
}
