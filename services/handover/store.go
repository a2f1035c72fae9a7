// Package handover is the handover service: an enterprise hands its
// retirees over to the community where they live — with funds, personnel
// archives, premises and continuing obligations — through DRAFT →
// SUBMITTED → (RETURNED → SUBMITTED)… → COMPLETED, or WITHDRAWN. Every
// step is an event on the handover's timeline. Completion reaches registry
// and activity only through a transactional outbox, written in the same
// bbolt transaction as the state change and delivered by a Dispatcher.
package handover

import (
	"cmp"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/broadcast"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Logger receives bbolt's own messages.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Registry is the client the retiree projection follows
	// WatchRetirees with, to stop obligations at a death (see
	// death_stops.go); nil for tests that never run the projection.
	Registry registryv1.RegistryServiceClient
	// Calendar counts the working days of the tasks' due dates;
	// workdays.Default() when nil.
	Calendar *workdays.Calendar
	// SignalRetention is the number of work-signal feed entries kept
	// (0: signalfeed.DefaultRetention).
	SignalRetention uint64
	// MaxSignalWatchers bounds the WatchWorkSignals streams open at once
	// (0: 64).
	MaxSignalWatchers int
	// TracerProvider, when set, links the retiree projection's applies to
	// the traces of registry's changes (see projection.Options); nil
	// traces nothing.
	TracerProvider trace.TracerProvider
}

// Store is the handover service's bbolt-backed storage: handovers with
// their indexes and timelines, the retirees' claims, the outbox and the
// obligations of completed handovers. Each workflow step, its event and
// whatever it queues for delivery are written in one transaction.
type Store struct {
	servicedb.Base
	now func() time.Time
	log *zap.Logger
	// outbox wakes the dispatcher when commands are queued.
	outbox broadcast.Signal
	// backlog is the number of commands in the outbox, kept beside the
	// bucket so that the metric costs no transaction.
	backlog atomic.Int64
	// projection is handover's copy of registry's retirees.
	projection *projection.Projection
	// maxExamined bounds the keys a list page examines (0: boltstore's
	// default); tests lower it to see the bound without a huge table.
	maxExamined int
	// calendar counts the working days of the tasks' due dates.
	calendar *workdays.Calendar
	// signals is the work-signal feed (see signals.go).
	signals *signalfeed.Feed
}

// OpenStore opens (creating if needed) the handover database at path,
// migrating it to storageSchema, or refusing it with
// boltstore.ErrSchemaTooNew when a newer build wrote it.
func OpenStore(path string, o StoreOptions) (*Store, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	base, err := servicedb.Open(path, storageSchema, servicedb.Options{Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	if o.Calendar == nil {
		o.Calendar = workdays.Default()
	}
	s := &Store{Base: base, now: o.Now, log: o.Logger, calendar: o.Calendar}
	s.signals, err = signalfeed.New(base.DB(), signalfeed.Options{Source: "handover", Retention: o.SignalRetention, MaxWatchers: o.MaxSignalWatchers, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return nil, errors.Join(err, base.Close())
	}
	if err := s.backfillSignals(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.projection, err = projection.New(base.DB(), o.Registry, projection.Options{
		Logger:         o.Logger.Named("projection"),
		TracerProvider: o.TracerProvider,
		OnApply:        s.applyRetiree,
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	err = s.DB().View(func(tx *bolt.Tx) error {
		s.backlog.Store(int64(tx.Bucket(bucketOutbox).Stats().KeyN))
		return nil
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Close clears the work-signal feed's in-use mark and closes the store.
func (s *Store) Close() error {
	var err error
	if s.signals != nil {
		err = s.signals.Close()
	}
	return errors.Join(err, s.Base.Close())
}

// Projection returns the retiree projection kept in the store's file,
// which stops obligations at a verified death once its Run follows
// registry.
func (s *Store) Projection() *projection.Projection { return s.projection }

// Actor is who takes a step, as the timeline records it: the same actor,
// with its request id, as the audit logs of the other services.
type Actor = audit.Actor

// errHandoverNotFound is what a read or step of an unknown handover gets
// (turned into 403 for callers who may not learn that).
var errHandoverNotFound = fmt.Errorf("handover %w", fault.ErrNotFound)

// handoverIDAlphabet is the base32 alphabet of handover ids: its byte
// order is the order of the encoded bytes, so that ids sort by creation
// time.
const handoverIDAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV"

var handoverIDEncoding = base32.NewEncoding(handoverIDAlphabet).WithPadding(base32.NoPadding)

// handoverIDLen is the length of a handover id: "H" and 16 characters.
const handoverIDLen = 17

// newHandoverID returns "H" and the base32 of 6 bytes of milliseconds and
// 4 random bytes: sorted by creation, and not guessable from a neighbour.
func newHandoverID(now time.Time) string {
	var b [10]byte
	ms := uint64(now.UnixMilli())
	binary.BigEndian.PutUint16(b[0:2], uint16(ms>>32&0xffff))
	binary.BigEndian.PutUint32(b[2:6], uint32(ms&0xffff_ffff))
	if _, err := rand.Read(b[6:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return "H" + handoverIDEncoding.EncodeToString(b[:])
}

// validHandoverID reports whether s has the shape of a handover id, so
// that malformed ids never reach a key.
func validHandoverID(s string) bool {
	return len(s) == handoverIDLen && s[0] == 'H' && strings.Trim(s[1:], handoverIDAlphabet) == ""
}

// etagOf is the etag of a handover's revision.
func etagOf(rev uint64) string { return "r" + strconv.FormatUint(rev, 10) }

// revisionOf reads the revision back from an etag; 0 when malformed.
func revisionOf(etag string) uint64 {
	if len(etag) < 2 || etag[0] != 'r' {
		return 0
	}
	n, err := strconv.ParseUint(etag[1:], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// txn is one write transaction of the store with the helpers that the
// workflow steps need: saving the handover, its events, claims, the
// outbox and obligations.
type txn struct {
	s   *Store
	tx  *bolt.Tx
	now time.Time
	// queued counts the commands added to the outbox; removed those
	// deleted from it. The store's backlog follows once the commit is done.
	queued, removed int
	// actor takes the step mutate applies: who signs for what it records.
	actor Actor
}

// update runs fn in a write transaction and, after a successful commit,
// brings the backlog up to date and wakes the dispatcher for new
// commands. Plain Update rather than Batch: steps are few, and fn's side
// effects on its handover must not run twice.
func (s *Store) update(fn func(w *txn) error) error {
	w := &txn{s: s, now: s.now()}
	err := s.Update(func(tx *bolt.Tx) error {
		w.tx = tx
		w.queued, w.removed = 0, 0
		return fn(w)
	})
	if err != nil {
		return err
	}
	if d := w.queued - w.removed; d != 0 {
		s.backlog.Add(int64(d))
	}
	if w.queued > 0 {
		s.outbox.Broadcast()
	}
	return nil
}

// get reads a handover inside the transaction.
func (w *txn) get(id string) (*pb.Handover, error) {
	h := new(pb.Handover)
	if err := boltstore.GetProto(w.tx.Bucket(bucketHandovers), []byte(id), h, errHandoverNotFound); err != nil {
		return nil, err
	}
	return h, nil
}

// save writes h as its next revision and keeps the indexes in step with
// old (nil for a new handover).
func (w *txn) save(old, h *pb.Handover) error {
	h.Etag = etagOf(revisionOf(old.GetEtag()) + 1)
	h.UpdateTime = timestamppb.New(w.now)
	if err := boltstore.PutProto(w.tx.Bucket(bucketHandovers), []byte(h.Id), h); err != nil {
		return err
	}
	if err := boltstore.MoveIndex(w.tx.Bucket(bucketByEnterprise), old.GetEnterpriseCreditCode(), h.EnterpriseCreditCode, h.Id); err != nil {
		return err
	}
	if err := boltstore.MoveIndex(w.tx.Bucket(bucketByReceiver), old.GetReceiverCode(), h.ReceiverCode, h.Id); err != nil {
		return err
	}
	if err := moveIndexSet(w.tx.Bucket(bucketByCommunity), indexedCommunities(old), allocationCommunities(h), h.Id); err != nil {
		return err
	}
	if err := w.signalReceive(old, h); err != nil {
		return err
	}
	return w.countParty(old, h)
}

// indexedCommunities are the communities old is indexed under; none for
// a new handover.
func indexedCommunities(old *pb.Handover) []string {
	if old == nil {
		return nil
	}
	return allocationCommunities(old)
}

// moveIndexSet indexes id under the values to instead of from, touching
// only those that changed.
func moveIndexSet(b *bolt.Bucket, from, to []string, id string) error {
	for _, v := range from {
		if !slices.Contains(to, v) {
			if err := boltstore.MoveIndex(b, v, "", id); err != nil {
				return err
			}
		}
	}
	for _, v := range to {
		if !slices.Contains(from, v) {
			if err := boltstore.MoveIndex(b, "", v, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// event appends a step to h's timeline, with the state h is in now.
func (w *txn) event(h *pb.Handover, actor Actor, action, detail string) error {
	prefix := boltstore.Prefix(h.Id)
	seq, err := nextSequence(w.tx.Bucket(bucketEvents), prefix)
	if err != nil {
		return err
	}
	e := &pb.Event{
		Sequence:  int64(seq), //nolint:gosec // G115: counted up one by one from 1
		Time:      timestamppb.New(w.now),
		Actor:     actor.Subject,
		ActorRole: actor.Role,
		RequestId: actor.RequestID,
		Action:    action,
		Detail:    detail,
		State:     h.State,
	}
	return boltstore.PutProto(w.tx.Bucket(bucketEvents), boltstore.AppendU64(prefix, seq), e)
}

// CreateHandover stores a new handover prepared by newDraft, with its
// CREATED event.
func (s *Store) CreateHandover(h *pb.Handover, actor Actor, detail string) (*pb.Handover, error) {
	h = proto.Clone(h).(*pb.Handover)
	err := s.update(func(w *txn) error { return w.create(h, actor, detail) })
	if err != nil {
		return nil, err
	}
	return h, nil
}

// create stores h as a new handover under a fresh id, with its CREATED
// event.
func (w *txn) create(h *pb.Handover, actor Actor, detail string) error {
	for {
		h.Id = newHandoverID(w.now)
		if w.tx.Bucket(bucketHandovers).Get([]byte(h.Id)) == nil {
			break
		}
	}
	h.CreateTime = timestamppb.New(w.now)
	if err := w.save(nil, h); err != nil {
		return err
	}
	return w.event(h, actor, actionCreated, detail)
}

// GetHandover returns a handover or ErrNotFound.
func (s *Store) GetHandover(id string) (*pb.Handover, error) {
	if !validHandoverID(id) {
		return nil, errHandoverNotFound
	}
	h := new(pb.Handover)
	err := s.DB().View(func(tx *bolt.Tx) error {
		return boltstore.GetProto(tx.Bucket(bucketHandovers), []byte(id), h, errHandoverNotFound)
	})
	if err != nil {
		return nil, err
	}
	return h, nil
}

// step is one workflow step applied to a stored handover inside the
// store's write transaction: it changes h in place (w gives it the
// claims, outbox and obligations) and names the event to record.
type step func(w *txn, h *pb.Handover) (action, detail string, err error)

// mutate loads a handover, checks that the caller may act on it and the
// etag (when given), applies fn and saves the result with its event — all
// in one transaction. allowed is called with nil when the handover does
// not exist, so that the caller's answer can be 403 rather than 404.
func (s *Store) mutate(id, etag string, actor Actor, allowed func(*pb.Handover) error, fn step) (*pb.Handover, error) {
	var out *pb.Handover
	err := s.update(func(w *txn) error {
		old, err := boltstore.GetForChange(w.tx.Bucket(bucketHandovers), id, validHandoverID(id), errHandoverNotFound, etag, allowed)
		if err != nil {
			return err
		}
		h := proto.Clone(old).(*pb.Handover)
		w.actor = actor
		action, detail, err := fn(w, h)
		if err != nil {
			return err
		}
		refreshTracks(h, actor.Subject, timestamppb.New(w.now))
		if err := w.save(old, h); err != nil {
			return err
		}
		if err := w.event(h, actor, action, detail); err != nil {
			return err
		}
		out = h
		return nil
	})
	return out, err
}

// Filter selects handovers in ListHandovers; zero fields match all.
type Filter struct {
	State pb.Handover_State
	// CommunityID is a community with a part of the handover.
	CommunityID string
	// Area is a prefix of the receiving units' codes: a supervisor's
	// street office or district code, or an archivist's district.
	Area           string
	EnterpriseCode string
	// Visible, when set, leaves out what the caller may not see.
	Visible func(*pb.Handover) bool
}

func (f Filter) match(h *pb.Handover) bool {
	return (f.State == pb.Handover_STATE_UNSPECIFIED || h.State == f.State) &&
		(f.CommunityID == "" || slices.Contains(allocationCommunities(h), f.CommunityID)) &&
		strings.HasPrefix(h.ReceiverCode, f.Area) &&
		(f.EnterpriseCode == "" || h.EnterpriseCreditCode == f.EnterpriseCode) &&
		(f.Visible == nil || f.Visible(h))
}

// listBudget bounds the bytes of one page of handovers: a handover of
// 10,000 retirees is most of a megabyte, and a page must stay well under
// the 4 MiB a gRPC message may have.
const listBudget = 2 << 20

// ListHandovers returns a page of handovers matching f in id (creation)
// order, walking the community or enterprise index when f names one. A
// page ends after size handovers or once it holds listBudget bytes.
func (s *Store) ListHandovers(f Filter, size int, after []byte) ([]*pb.Handover, []byte, error) {
	var out []*pb.Handover
	var next []byte
	indexes := []boltstore.Index{
		{Bucket: bucketByCommunity, Value: f.CommunityID},
		{Bucket: bucketByReceiver, Value: f.Area, Prefix: true},
		{Bucket: bucketByEnterprise, Value: f.EnterpriseCode},
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		used := 0
		collect := boltstore.Collect(&out, f.match)
		scan := boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined, Full: func() bool { return used >= listBudget }}
		var err error
		next, err = scan.Records(tx, bucketHandovers, indexes, func(k, v []byte) (bool, error) {
			kept, err := collect(k, v)
			if kept {
				used += len(v)
			}
			return kept, err
		})
		return err
	})
	return out, next, err
}

// ListEvents returns a page of a handover's timeline, oldest first.
func (s *Store) ListEvents(id string, size int, after []byte) ([]*pb.Event, []byte, error) {
	var out []*pb.Event
	var next []byte
	if !validHandoverID(id) {
		return nil, nil, nil
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{Prefix: boltstore.Prefix(id), After: after, Size: size}.Page(tx.Bucket(bucketEvents).Cursor(), boltstore.Collect(&out, nil))
		return err
	})
	return out, next, err
}

// OtherClaims returns, for each of ids that a handover other than self
// holds, that handover's id.
func (s *Store) OtherClaims(self string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	err := s.DB().View(func(tx *bolt.Tx) error {
		out = otherClaims(tx.Bucket(bucketClaims), self, ids)
		return nil
	})
	return out, err
}

func otherClaims(b *bolt.Bucket, self string, ids []string) map[string]string {
	out := map[string]string{}
	for _, id := range ids {
		if v := b.Get([]byte(id)); v != nil && string(v) != self {
			out[id] = string(v)
		}
	}
	return out
}

// claim makes h the holder of its retirees. It changes nothing and returns
// the conflicts when another handover holds any of them.
func (w *txn) claim(h *pb.Handover) (map[string]string, error) {
	b := w.tx.Bucket(bucketClaims)
	if others := otherClaims(b, h.Id, h.RetireeIds); len(others) > 0 {
		return others, nil
	}
	for _, id := range h.RetireeIds {
		if err := b.Put([]byte(id), []byte(h.Id)); err != nil {
			return nil, err
		}
	}
	return nil, nil
}

// release gives up the claims that handover id holds on ids.
func (w *txn) release(id string, ids []string) error {
	b := w.tx.Bucket(bucketClaims)
	for _, rid := range ids {
		if v := b.Get([]byte(rid)); v != nil && string(v) == id {
			if err := b.Delete([]byte(rid)); err != nil {
				return err
			}
		}
	}
	return nil
}

// afterComplete writes what a completion leaves behind, in the
// completion's transaction: the obligations the enterprise keeps paying
// and the tasks of the receiving communities.
func (w *txn) afterComplete(h *pb.Handover) error {
	if err := w.putObligations(h); err != nil {
		return err
	}
	return w.putTasks(h)
}

// putObligations files the obligations of a completed handover under its
// enterprise.
func (w *txn) putObligations(h *pb.Handover) error {
	b := w.tx.Bucket(bucketObligations)
	alloc := retireeCommunities(h)
	for i, o := range h.Obligations {
		owed := &pb.OwedObligation{
			HandoverId:           h.Id,
			EnterpriseCreditCode: h.EnterpriseCreditCode,
			CommunityId:          cmp.Or(alloc[o.RetireeId], h.CommunityId),
			Obligation:           o,
			CompleteTime:         h.CompleteTime,
		}
		key := boltstore.AppendU64(boltstore.Prefix(h.EnterpriseCreditCode, h.Id), uint64(i))
		if err := boltstore.PutProto(b, key, owed); err != nil {
			return err
		}
		if err := w.indexObligation(h, o.RetireeId, key); err != nil {
			return err
		}
	}
	return nil
}

// ObligationFilter selects obligations in ListObligations.
type ObligationFilter struct {
	// EnterpriseCode limits the list to one enterprise; "" lists all.
	EnterpriseCode string
	// ActiveOn (YYYY-MM-DD) keeps the obligations owed on that day: the
	// handover was completed by then and the obligation runs until then.
	ActiveOn string
	// Visible, when set, leaves out what the caller may not see.
	Visible func(*pb.OwedObligation) bool
}

func (f ObligationFilter) match(o *pb.OwedObligation) bool {
	return owedOn(o, f.ActiveOn) && (f.Visible == nil || f.Visible(o))
}

// ListObligations returns a page of obligations of completed handovers,
// by enterprise and handover.
func (s *Store) ListObligations(f ObligationFilter, size int, after []byte) ([]*pb.OwedObligation, []byte, error) {
	var out []*pb.OwedObligation
	var next []byte
	var prefix []byte
	if f.EnterpriseCode != "" {
		prefix = boltstore.Prefix(f.EnterpriseCode)
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{Prefix: prefix, After: after, Size: size, MaxExamined: s.maxExamined}.Page(tx.Bucket(bucketObligations).Cursor(), boltstore.Collect(&out, f.match))
		return err
	})
	return out, next, err
}

// owedOn reports whether o is owed on day (YYYY-MM-DD).
func owedOn(o *pb.OwedObligation, day string) bool {
	if day == "" {
		return true
	}
	if o.CompleteTime != nil && dateIn(o.CompleteTime.AsTime()) > day {
		return false
	}
	if stoppedBy(o, day) {
		return false
	}
	until := o.GetObligation().GetUntil()
	return until == "" || until >= day
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, fault.ErrNotFound) }
