package pension

import (
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Actors of the ledger entries the service makes by itself.
const (
	actorProjection = "projection"
	actorImport     = "import"
)

// errCaseNotFound is what a look-up of an unknown case gets.
var errCaseNotFound = fmt.Errorf("recovery case %w", fault.ErrNotFound)

// deathOf returns the date of death of a retiree the projection has as
// DECEASED with a date, and whether it has.
func deathOf(st *registryv1.RetireeState) (time.Time, bool) {
	if st.GetStatus() != registryv1.RetireeStatus_DECEASED {
		return time.Time{}, false
	}
	return parseDate(st.GetDateOfDeath())
}

// applyDeath is the projection hook's part for recovery, in the
// projection's transaction: a retiree who became DECEASED (or whose date of
// death changed) gets a case for what was paid after the month of death;
// one who is no longer DECEASED had the death reversed, and its case is
// voided. Re-applying the same state changes nothing.
func (s *Store) applyDeath(tx *bolt.Tx, old, cur *registryv1.RetireeState) error {
	if cur == nil {
		// Dropped from the projection: its case stays as it is.
		return nil
	}
	oldDay, wasDead := deathOf(old)
	day, isDead := deathOf(cur)
	deaths := tx.Bucket(bucketDeaths)
	switch {
	case isDead && (!wasDead || !oldDay.Equal(day)):
		if err := deaths.Put([]byte(cur.Id), []byte(formatDate(day))); err != nil {
			return err
		}
		return s.recomputePrincipal(tx, cur, monthOf(day))
	case isDead:
		return nil
	case old.GetStatus() == registryv1.RetireeStatus_DECEASED:
		if err := deaths.Delete([]byte(cur.Id)); err != nil {
			return err
		}
		return s.voidCaseOf(tx, cur.Id)
	}
	return nil
}

// currentCase returns the retiree's case that is not void, or nil.
func currentCase(tx *bolt.Tx, b *servicedb.Base, retireeID string) (*pb.RecoveryCase, error) {
	id := tx.Bucket(bucketRecoveryByRetiree).Get([]byte(retireeID))
	if id == nil {
		return nil, nil
	}
	return getCase(tx, b, string(id))
}

// getCase reads a case.
func getCase(tx *bolt.Tx, b *servicedb.Base, id string) (*pb.RecoveryCase, error) {
	c := new(pb.RecoveryCase)
	if err := b.GetProto(tx, bucketRecoveryCases, []byte(id), c, errCaseNotFound); err != nil {
		return nil, err
	}
	return c, nil
}

// putCase writes a case and its indexes: a void case leaves the
// retiree's, so that a later death opens a new one.
func putCase(tx *bolt.Tx, b *servicedb.Base, f *signalfeed.Feed, c *pb.RecoveryCase) error {
	if !invariantHolds(c) {
		return fmt.Errorf("recovery case %s: ledger invariant broken", c.Id)
	}
	if err := b.PutProto(tx, bucketRecoveryCases, []byte(c.Id), c); err != nil {
		return err
	}
	if err := tx.Bucket(bucketRecoveryByCommunity).Put(boltstore.Key(c.CommunityId, c.Id), nil); err != nil {
		return err
	}
	if err := signalRecovery(tx, f, c); err != nil {
		return err
	}
	byRetiree := tx.Bucket(bucketRecoveryByRetiree)
	if c.State == pb.RecoveryState_RECOVERY_VOID {
		return byRetiree.Delete([]byte(c.RetireeId))
	}
	return byRetiree.Put([]byte(c.RetireeId), []byte(c.Id))
}

// newCase is an empty case of a deceased retiree, opened now.
func newCase(st *registryv1.RetireeState, now time.Time) *pb.RecoveryCase {
	return &pb.RecoveryCase{
		Id: inputcheck.NewOpaqueID(), RetireeId: st.Id, CommunityId: st.CommunityId,
		DateOfDeath: st.DateOfDeath, State: pb.RecoveryState_RECOVERY_OPEN, OpenedOn: formatDate(dayOf(now)),
	}
}

// recomputePrincipal brings the principal of the retiree's case to the
// sum of the payments stored for months after the month of death: on a
// new case one entry per payment, on an existing one (the date of death
// changed) one entry with the difference. Nothing paid, no case.
func (s *Store) recomputePrincipal(tx *bolt.Tx, st *registryv1.RetireeState, death month) error {
	payments, err := s.paymentsIn(tx, st.Id, death+1, month(math.MaxInt32-1))
	if err != nil {
		return err
	}
	c, err := currentCase(tx, &s.Base, st.Id)
	if err != nil {
		return err
	}
	now := s.now()
	at := step{actor: actorProjection, time: now}
	if c == nil {
		if len(payments) == 0 {
			return nil
		}
		c = newCase(st, now)
		for _, p := range payments {
			if err := addPrincipal(c, at, principalEntry(p, p.TotalFen)); err != nil {
				return err
			}
		}
		return putCase(tx, &s.Base, s.signals, c)
	}
	var target int64
	months := make([]string, 0, len(payments))
	for _, p := range payments {
		target += p.TotalFen
		if len(months) == 0 || months[len(months)-1] != p.Month {
			months = append(months, p.Month)
		}
	}
	c.DateOfDeath, c.Months = st.DateOfDeath, months
	if err := addPrincipal(c, at, &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_PRINCIPAL_RECOMPUTED, AmountFen: target - c.PrincipalFen, Note: "date of death now " + st.DateOfDeath}); err != nil {
		return err
	}
	return putCase(tx, &s.Base, s.signals, c)
}

// principalEntry is the ledger entry of a payment after the death that
// changes the principal by amount.
func principalEntry(p *pb.Payment, amount int64) *pb.RecoveryEntry {
	return &pb.RecoveryEntry{Kind: pb.RecoveryEntryKind_PRINCIPAL_ADDED, AmountFen: amount, Month: p.Month, PaidOn: p.PaidOn, PaymentKind: p.Kind}
}

// voidCaseOf voids the retiree's current case, if any.
func (s *Store) voidCaseOf(tx *bolt.Tx, retireeID string) error {
	c, err := currentCase(tx, &s.Base, retireeID)
	if c == nil || err != nil {
		return err
	}
	voidCase(c, step{actor: actorProjection, time: s.now()}, voidReasonReversed)
	return putCase(tx, &s.Base, s.signals, c)
}

// paymentAfterDeath is the import's hook: a payment stored (or corrected
// from a total of oldTotal) for a month after a known death changes the
// principal of the retiree's case, which it opens when there is none. It
// costs one key look-up for the living, of id, the retiree id as bytes
// (the import has them: no allocation).
func paymentAfterDeath(tx *bolt.Tx, base *servicedb.Base, f *signalfeed.Feed, now time.Time, id []byte, p *pb.Payment, oldTotal int64) error {
	v := tx.Bucket(bucketDeaths).Get(id)
	if v == nil {
		return nil
	}
	day, ok := parseDate(string(v))
	m, mok := parseMonth(p.Month)
	if !ok || !mok || m <= monthOf(day) || p.TotalFen == oldTotal {
		return nil
	}
	c, err := currentCase(tx, base, p.RetireeId)
	if err != nil {
		return err
	}
	if c == nil {
		st, err := projection.Get(tx, p.RetireeId)
		if err != nil {
			return err
		}
		c = newCase(st, now)
	}
	if err := addPrincipal(c, step{actor: actorImport, time: now}, principalEntry(p, p.TotalFen-oldTotal)); err != nil {
		return err
	}
	return putCase(tx, base, f, c)
}

// RecoveryAction is one change of a case by a caller.
type RecoveryAction struct {
	// Actor is the subject the ledger names; Audit and RPC record the
	// change in the audit log.
	Actor string
	Audit Actor
	RPC   string
	// Allowed is the object check, run on the case inside the transaction.
	Allowed func(*pb.RecoveryCase) error
	// Apply changes the case, or returns why not and leaves it.
	Apply func(c *pb.RecoveryCase, at step) error
	// BankReference, when set, makes the action idempotent by it: a
	// reference already recorded answers the case as it stands.
	BankReference string
}

// ChangeRecoveryCase applies a to case id in one transaction and returns
// the case after it.
func (s *Store) ChangeRecoveryCase(id string, a RecoveryAction) (*pb.RecoveryCase, error) {
	var out *pb.RecoveryCase
	err := s.Update(func(tx *bolt.Tx) error {
		var err error
		out, err = s.changeCase(tx, id, a)
		return err
	})
	return out, err
}

// changeCase is ChangeRecoveryCase inside tx.
func (s *Store) changeCase(tx *bolt.Tx, id string, a RecoveryAction) (*pb.RecoveryCase, error) {
	c, err := getCase(tx, &s.Base, id)
	if errors.Is(err, errCaseNotFound) {
		if aerr := a.Allowed(nil); aerr != nil {
			return nil, aerr
		}
	}
	if err != nil {
		return nil, err
	}
	if err := a.Allowed(c); err != nil {
		return nil, err
	}
	refs := tx.Bucket(bucketRecoveryRefs)
	if a.BankReference != "" {
		if prev := refs.Get([]byte(a.BankReference)); prev != nil {
			if string(prev) != id {
				return nil, fault.Conflict(ReasonBankReferenceReused, "the bank reference was recorded for another case")
			}
			return c, nil
		}
	}
	if err := a.Apply(c, step{actor: a.Actor, time: s.now()}); err != nil {
		return nil, err
	}
	if a.BankReference != "" {
		if err := refs.Put([]byte(a.BankReference), []byte(id)); err != nil {
			return nil, err
		}
	}
	if err := audit.Put(tx, audit.NewEntry(a.Audit, a.RPC, c.RetireeId, s.now())); err != nil {
		return nil, err
	}
	return c, putCase(tx, &s.Base, s.signals, c)
}

// RecoveryCase returns a case; allowed is the object check.
func (s *Store) RecoveryCase(id string, allowed func(*pb.RecoveryCase) error) (*pb.RecoveryCase, error) {
	var out *pb.RecoveryCase
	err := s.DB().View(func(tx *bolt.Tx) error {
		c, err := getCase(tx, &s.Base, id)
		if errors.Is(err, errCaseNotFound) {
			if aerr := allowed(nil); aerr != nil {
				return aerr
			}
		}
		if err != nil {
			return err
		}
		if err := allowed(c); err != nil {
			return err
		}
		out = c
		return nil
	})
	return out, err
}

// RecoveryFilter selects ListRecoveryCases' cases.
type RecoveryFilter struct {
	// CommunityID empty lists every case.
	CommunityID string
	State       pb.RecoveryState
}

// ListRecoveryCases returns a page of cases, by community and id (or by
// id for all communities), without their ledgers.
func (s *Store) ListRecoveryCases(f RecoveryFilter, size int, after []byte) ([]*pb.RecoveryCase, []byte, error) {
	var out []*pb.RecoveryCase
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		keep := func(id string) (bool, error) {
			c, err := getCase(tx, &s.Base, id)
			if err != nil || (f.State != pb.RecoveryState_RECOVERY_STATE_UNSPECIFIED && c.State != f.State) {
				return false, err
			}
			c.Entries = nil
			out = append(out, c)
			return true, nil
		}
		var err error
		if f.CommunityID == "" {
			scan := boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}
			next, err = scan.Page(tx.Bucket(bucketRecoveryCases).Cursor(), func(k, _ []byte) (bool, error) { return keep(string(k)) })
			return err
		}
		prefix := boltstore.Prefix(f.CommunityID)
		scan := boltstore.Scan{Prefix: prefix, After: after, Size: size, MaxExamined: s.maxExamined}
		next, err = scan.Page(tx.Bucket(bucketRecoveryByCommunity).Cursor(), func(k, _ []byte) (bool, error) {
			return keep(string(k[len(prefix):]))
		})
		return err
	})
	return out, next, err
}

// ForEachRecoveryCase calls fn with every case, without its ledger, for
// the report.
func (s *Store) ForEachRecoveryCase(fn func(*pb.RecoveryCase)) error {
	return s.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRecoveryCases).ForEach(func(k, v []byte) error {
			c := new(pb.RecoveryCase)
			if err := s.Decode(bucketRecoveryCases, k, v, c); err != nil {
				return err
			}
			c.Entries = nil
			fn(c)
			return nil
		})
	})
}
