package registry

import (
	"crypto/sha256"
	"hash"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

func newHash() hash.Hash { return sha256.New() }

// changeWriter records retiree changes inside one write transaction: each
// change gets the next revision, a change-log entry, a history entry, an
// audit entry, index and counter updates. The head revision is written back
// once when the transaction's work is done.
type changeWriter struct {
	s      *Store
	tx     *bolt.Tx
	now    time.Time
	head   uint64
	oldest uint64
	added  int
	// death is the death report that the history entries written while
	// it is set record (see withDeathReport).
	death *pb.DeathReport
}

// withDeathReport runs fn with the history entries it writes carrying d
// as it stands then: the entries of a report filed, decided or reversed.
func (w *changeWriter) withDeathReport(d *pb.DeathReport, fn func() error) error {
	w.death = d
	defer func() { w.death = nil }()
	return fn()
}

// historyDeath is the death report as a history entry keeps it, or nil
// outside withDeathReport: without the retiree's name and number, which
// the entry's retiree has, and with the reporter's phone masked.
func (w *changeWriter) historyDeath() *pb.DeathReport {
	if w.death == nil {
		return nil
	}
	d := proto.Clone(w.death).(*pb.DeathReport)
	d.RetireeName, d.RetireeIdNumberMasked = "", ""
	if d.Reporter != nil {
		d.Reporter.PhoneMasked, d.Reporter.Phone = inputcheck.MaskPhone(d.Reporter.Phone), ""
	}
	return d
}

// update runs fn in a write transaction with a changeWriter and wakes the
// watchers after a successful commit. Concurrent updates share a
// transaction (bbolt's Batch), so many writers pay for one commit; fn may
// therefore run more than once and must only act through tx.
func (s *Store) update(fn func(tx *bolt.Tx, w *changeWriter) error) error {
	return s.updateIn(s.Batch, fn)
}

// updateIn is update in a transaction that run makes: s.Batch, or
// s.Update for a write that is large already and must not be retried.
func (s *Store) updateIn(run func(func(*bolt.Tx) error) error, fn func(tx *bolt.Tx, w *changeWriter) error) error {
	changed := false
	err := run(func(tx *bolt.Tx) error {
		head, oldest := readRevisions(tx)
		w := &changeWriter{s: s, tx: tx, now: s.now(), head: head, oldest: oldest}
		if err := fn(tx, w); err != nil {
			return err
		}
		if w.added == 0 {
			return nil
		}
		changed = true
		return w.finish()
	})
	if err == nil && changed {
		s.changes.Broadcast()
	}
	return err
}

// apply records the change from old (nil on create) to r, with an audit
// entry of actor doing action to r.
func (w *changeWriter) apply(old, r *pb.Retiree, kind pb.ChangeKind, actor Actor, action, reason string) error {
	return w.applyTransfer(old, r, kind, actor, action, reason, nil)
}

// applyTransfer is apply for a change a transfer makes: its history entry
// carries t as it stands.
func (w *changeWriter) applyTransfer(old, r *pb.Retiree, kind pb.ChangeKind, actor Actor, action, reason string, t *pb.Transfer) error {
	if err := w.record(old, r, kind, actor, reason, t); err != nil {
		return err
	}
	return audit.Put(w.tx, audit.NewEntry(actor, action, r.Id, w.now))
}

// record is applyTransfer without the audit entry, for a bulk import that
// audits a group of records with one entry (see
// rosterImporter.auditGroup).
func (w *changeWriter) record(old, r *pb.Retiree, kind pb.ChangeKind, actor Actor, reason string, t *pb.Transfer) error {
	w.head++
	w.added++
	rev := w.head
	ts := timestamppb.New(w.now)
	r.Etag = etagOf(rev)
	r.UpdateTime = ts
	id := []byte(r.Id)

	if err := w.s.PutProto(w.tx, bucketRetirees, id, r); err != nil {
		return err
	}
	if err := boltstore.MoveIndex(w.tx.Bucket(bucketRetireeByCommunity), old.GetCommunityId(), r.CommunityId, r.Id); err != nil {
		return err
	}
	if err := boltstore.MoveIndex(w.tx.Bucket(bucketRetireeByEnterprise), old.GetEnterpriseCreditCode(), r.EnterpriseCreditCode, r.Id); err != nil {
		return err
	}
	if err := moveDated(w.tx, old, r); err != nil {
		return err
	}
	if err := updateStats(w.tx, old, r, dayOf(w.now)); err != nil {
		return err
	}
	if err := indexRegisterEvent(w.tx, old, r, rev, w.now); err != nil {
		return err
	}
	state, err := w.s.stateOf(r)
	if err != nil {
		return err
	}
	change := &pb.WatchRetireesResponse{Revision: apiRevision(rev), Kind: kind, Retiree: state, ChangeTime: ts, Traceparent: actor.Traceparent}
	if err := boltstore.PutProto(w.tx.Bucket(bucketChanges), boltstore.U64(rev), change); err != nil {
		return err
	}
	hist := &pb.HistoryEntry{
		Revision: apiRevision(rev), Kind: kind, ChangeTime: ts,
		Actor: actor.Subject, ActorRole: actor.Role, Changes: diff(old, r), Reason: reason,
		Transfer: historyTransfer(t), DeathReport: w.historyDeath(),
	}
	return w.s.PutProto(w.tx, bucketHistory, historyKey(r.Id, rev), hist)
}

// note records in retiree id's history an event of kind that did not
// change the retiree (a transfer proposed, declined or lapsed): no
// revision, no change-log entry, the retiree's etag unchanged. The entry
// has revision 0 and a key that sorts after the retiree's changes up to
// the head revision and before the next one. A non-empty action is
// audited as the actor's; the lapse sweep, which acts for no one, passes
// none.
func (w *changeWriter) note(id string, kind pb.ChangeKind, actor Actor, action, reason string, t *pb.Transfer) error {
	meta := w.tx.Bucket(bucketMeta)
	var seq uint64
	if v := meta.Get(metaHistoryNoteSeq); v != nil {
		var err error
		if seq, err = boltstore.ParseU64(v); err != nil {
			return err
		}
	}
	seq++
	if err := meta.Put(metaHistoryNoteSeq, boltstore.U64(seq)); err != nil {
		return err
	}
	hist := &pb.HistoryEntry{
		Kind: kind, ChangeTime: timestamppb.New(w.now),
		Actor: actor.Subject, ActorRole: actor.Role, Reason: reason, Transfer: historyTransfer(t),
		DeathReport: w.historyDeath(),
	}
	if err := w.s.PutProto(w.tx, bucketHistory, boltstore.AppendU64(historyKey(id, w.head), seq), hist); err != nil {
		return err
	}
	if action == "" {
		return nil
	}
	return audit.Put(w.tx, audit.NewEntry(actor, action, id, w.now))
}

// historyTransfer is t as a history entry keeps it: without the
// retiree's name and number, which the entry's retiree has.
func historyTransfer(t *pb.Transfer) *pb.Transfer {
	if t == nil {
		return nil
	}
	t = proto.Clone(t).(*pb.Transfer)
	t.RetireeName, t.RetireeIdNumberMasked = "", ""
	return t
}

// finish stores the head revision and prunes the change log down to the
// retention bound, deleting at most twice what this transaction added so
// that no single write pays for a large backlog.
func (w *changeWriter) finish() error {
	meta := w.tx.Bucket(bucketMeta)
	if err := meta.Put(metaHead, boltstore.U64(w.head)); err != nil {
		return err
	}
	if w.head < w.s.retention || w.head-w.s.retention < w.oldest {
		return nil
	}
	c := w.tx.Bucket(bucketChanges).Cursor()
	budget := 2 * w.added
	oldest := w.oldest
	for k, _ := c.First(); k != nil && budget > 0; k, _ = c.Next() {
		rev, err := boltstore.ParseU64(k)
		if err != nil {
			return err
		}
		if w.head-rev < w.s.retention {
			break
		}
		if err := c.Delete(); err != nil {
			return err
		}
		oldest = rev + 1
		budget--
	}
	return meta.Put(metaOldest, boltstore.U64(oldest))
}

func historyKey(id string, rev uint64) []byte {
	return boltstore.AppendU64(boltstore.Prefix(id), rev)
}

// stateOf is the projection other services keep of a retiree.
func (s *Store) stateOf(r *pb.Retiree) (*pb.RetireeState, error) {
	id, err := idnumber.Parse(r.IdNumber)
	if err != nil {
		return nil, err
	}
	return &pb.RetireeState{
		Id:                   r.Id,
		IdNumberKey:          s.keyer.Key(id),
		CommunityId:          r.CommunityId,
		Status:               r.Status,
		ManagementMode:       r.ManagementMode,
		EnterpriseCreditCode: r.EnterpriseCreditCode,
		BirthDate:            r.BirthDate,
		DateOfDeath:          r.DateOfDeath,
		Flags:                slices.Clone(r.Flags),
		RetirementDate:       r.RetirementDate,
		Name:                 r.Name,
		IdNumberMasked:       idnumber.Mask(r.IdNumber),
		PhoneMasked:          inputcheck.MaskPhone(r.Phone),
		StatusEffectiveOn:    r.StatusEffectiveOn,
	}, nil
}

// diff lists the fields that changed from old (nil on create) to r, with
// the phone numbers masked (the retiree's and the carers'). The ID number
// never changes and is not listed.
func diff(old, r *pb.Retiree) []*pb.FieldChange {
	if old == nil {
		old = &pb.Retiree{}
	}
	var out []*pb.FieldChange
	add := func(field, a, b string) {
		if a != b {
			out = append(out, &pb.FieldChange{Field: field, OldValue: a, NewValue: b})
		}
	}
	add("name", old.Name, r.Name)
	add("phone", inputcheck.MaskPhone(old.Phone), inputcheck.MaskPhone(r.Phone))
	add("residenceAddress", old.ResidenceAddress, r.ResidenceAddress)
	add("retirementDate", old.RetirementDate, r.RetirementDate)
	add("enterpriseCreditCode", old.EnterpriseCreditCode, r.EnterpriseCreditCode)
	add("communityId", old.CommunityId, r.CommunityId)
	add("managementMode", enumName(old.ManagementMode), enumName(r.ManagementMode))
	add("status", enumName(old.Status), enumName(r.Status))
	add("statusEffectiveOn", old.StatusEffectiveOn, r.StatusEffectiveOn)
	add("dateOfDeath", old.DateOfDeath, r.DateOfDeath)
	add("movedOutTo", destinationString(old.MovedOutTo), destinationString(r.MovedOutTo))
	add("movedOutDate", old.MovedOutDate, r.MovedOutDate)
	add("flags", flagsString(old.Flags), flagsString(r.Flags))
	add("residence.kind", enumName(old.GetResidence().GetKind()), enumName(r.GetResidence().GetKind()))
	add("residence.divisionCode", old.GetResidence().GetDivisionCode(), r.GetResidence().GetDivisionCode())
	add("residence.country", old.GetResidence().GetCountry(), r.GetResidence().GetCountry())
	add("carers", carersString(old.Carers), carersString(r.Carers))
	return out
}

func enumName[E interface {
	~int32
	String() string
}](e E) string {
	if e == 0 {
		return ""
	}
	return e.String()
}

// destinationString is a destination as a history entry lists it.
func destinationString(d *pb.TransferDestination) string {
	if d == nil {
		return ""
	}
	if d.DivisionCode == "" {
		return d.Description
	}
	return d.Description + " (" + d.DivisionCode + ")"
}

// carersString is the carers as a history entry lists them, one
// "name (RELATION, masked phone, flags)" after another.
func carersString(carers []*pb.Carer) string {
	items := make([]string, len(carers))
	for i, c := range carers {
		parts := []string{enumName(c.Relation)}
		if c.Phone != "" {
			parts = append(parts, inputcheck.MaskPhone(c.Phone))
		}
		if c.LegallyResponsible {
			parts = append(parts, "legally responsible")
		}
		if c.EmergencyContact {
			parts = append(parts, "emergency contact")
		}
		items[i] = c.Name + " (" + strings.Join(parts, ", ") + ")"
	}
	return strings.Join(items, "; ")
}

func flagsString(flags []pb.RetireeFlag) string {
	names := make([]string, len(flags))
	for i, f := range flags {
		names[i] = f.String()
	}
	return strings.Join(names, ",")
}

// ReadChanges returns up to limit change-log entries after revision since,
// with the oldest revision still kept (so a caller can tell it fell behind).
func (s *Store) ReadChanges(since uint64, limit int) (out []*pb.WatchRetireesResponse, head, oldest uint64, err error) {
	err = s.DB().View(func(tx *bolt.Tx) error {
		head, oldest = readRevisions(tx)
		c := tx.Bucket(bucketChanges).Cursor()
		for k, v := c.Seek(boltstore.U64(since + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			m := new(pb.WatchRetireesResponse)
			if err := proto.Unmarshal(v, m); err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	return out, head, oldest, err
}

// SnapshotPage returns up to limit retiree states after the retiree id
// after, for a WatchRetirees snapshot taken in several short transactions.
func (s *Store) SnapshotPage(after string, limit int) ([]*pb.RetireeState, error) {
	var out []*pb.RetireeState
	err := s.DB().View(func(tx *bolt.Tx) error {
		var afterKey []byte
		if after != "" {
			afterKey = []byte(after)
		}
		_, err := boltstore.Scan{After: afterKey, Size: limit}.Page(tx.Bucket(bucketRetirees).Cursor(), func(k, v []byte) (bool, error) {
			r := new(pb.Retiree)
			if err := s.Decode(bucketRetirees, k, v, r); err != nil {
				return false, err
			}
			st, err := s.stateOf(r)
			if err != nil {
				return false, err
			}
			out = append(out, st)
			return true, nil
		})
		return err
	})
	return out, err
}

// Changed returns a channel closed at the next committed retiree change.
func (s *Store) Changed() <-chan struct{} { return s.changes.Wait() }

// apiRevision is a change-log revision as the API's int64. Revisions count
// up by one per change from 1, so they stay far below 2^63.
func apiRevision(rev uint64) int64 { return int64(rev) } //nolint:gosec // G115: far below 2^63, as said above
