package pension

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/gather"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The import engine: one protocol for every stream a bureau sends
// (payments, certifications, decisions). A receiving goroutine checks each
// record on its own (importKind.check); the handler commits what has
// arrived in groups, one transaction each, which finds each record's
// retiree, rejects the unknown, and writes the rest in the order of their
// identity keys: a record whose identity is stored with the same content
// is a duplicate, with other content a correction, else new. What is
// particular to a kind of record is an importKind.

// Bounds of an import.
const (
	// maxGroup bounds how many records one transaction commits: large
	// enough that a commit's fsync is shared by thousands of records, small
	// enough that an acknowledgement follows within a fraction of a second.
	maxGroup = 4096
	// DefaultMaxStreamRecords is how many records one import stream may
	// carry unless configured otherwise.
	DefaultMaxStreamRecords = 2_000_000
)

// The reasons a record is rejected (RecordRejection.reason), part of the
// API.
const (
	ReasonIDNumberInvalid    = "ID_NUMBER_INVALID"
	ReasonUnknownRetiree     = "UNKNOWN_RETIREE"
	ReasonMonthInvalid       = "MONTH_INVALID"
	ReasonMonthInFuture      = "MONTH_IN_FUTURE"
	ReasonAmountInvalid      = "AMOUNT_INVALID"
	ReasonPaidOnInvalid      = "PAID_ON_INVALID"
	ReasonBankAccountInvalid = "BANK_ACCOUNT_INVALID"
	ReasonKindInvalid        = "KIND_INVALID"
	ReasonIndexOutOfOrder    = "INDEX_OUT_OF_ORDER"
	ReasonDateInvalid        = "DATE_INVALID"
	ReasonDateInFuture       = "DATE_IN_FUTURE"
	ReasonChannelInvalid     = "CHANNEL_INVALID"
	ReasonReferenceInvalid   = "REFERENCE_INVALID"
	ReasonActionInvalid      = "ACTION_INVALID"
	ReasonReasonInvalid      = "REASON_INVALID"
	ReasonNoteInvalid        = "NOTE_INVALID"
)

// The import RPCs, as the audit log and the batches' progress name them.
const (
	rpcImportPayments       = "ImportPayments"
	rpcImportCertifications = "ImportCertifications"
	rpcImportDecisions      = "ImportDecisions"
)

// importKind is what the engine needs to know of one kind of record: In
// is the record as received, R as checked, S as stored. check and
// lookUp run on goroutines of their own while the previous group commits,
// so they must leave alone whatever the other methods keep between calls;
// the others run in the group's transaction, one record after another.
type importKind[In, R, S any] interface {
	// check validates a received record on its own, before the store sees
	// it, starting with recordChecker.begin.
	check(c *recordChecker, in In) R
	// head returns the part of r that every kind has.
	head(r *R) *recordHead
	// lookUp reads, in a read transaction, what identify needs of r's
	// retiree (head(r).retireeID), for identify to use when
	// head(r).lookedUp is still set then. It may leave r alone.
	lookUp(tx *bolt.Tx, r *R)
	// identify sets r's identity key (in g's buffer) once its retiree is
	// known, or rejects r for what the store says about the retiree.
	identify(g *groupTx, r *R) error
	// load returns the stored record with r's identity, if there is one.
	load(g *groupTx, r *R) (stored S, found bool, err error)
	// same reports whether stored says what r says: r is a duplicate.
	same(stored S, r *R) bool
	// add stores r as a new record.
	add(g *groupTx, r *R) error
	// correct stores r in place of stored, keeping what a correction keeps.
	correct(g *groupTx, r *R, stored S) error
}

// recordHead is the part of a record every kind has.
type recordHead struct {
	index int64
	// idKey is the HMAC of the ID number; the number itself goes no
	// further than the checker.
	idKey []byte
	// reason and message are set when the record is rejected.
	reason, message string
	// retireeID and key are filled in by the commit: the record's retiree
	// and its identity key, whose order the group is written in.
	retireeID string
	key       []byte
	// lookedUp says that retireeID (and what the kind's lookUp read) was
	// read ahead of the commit, in the read transaction lookedUpAt.
	lookedUp   bool
	lookedUpAt uint64
}

// reject marks the record rejected.
func (h *recordHead) reject(reason, message string) {
	h.reason, h.message, h.idKey = reason, message, nil
}

// recordChecker validates records on their own, before the store sees
// them. It does the CPU work of an import (parsing, keying the ID number),
// so that it can run while the previous group commits.
type recordChecker struct {
	keyer *idnumber.Keyer
	now   func() time.Time
	// prevIndex is the index of the last record in order.
	prevIndex int64
}

// begin starts the check of a record: its index must follow the previous
// one's and its ID number be valid. It returns the record's head, rejected
// or keyed, and the time the rest of the check compares dates with.
func (c *recordChecker) begin(index int64, idNumber string) (recordHead, time.Time) {
	h := recordHead{index: index}
	now := c.now()
	if index <= c.prevIndex {
		h.reject(ReasonIndexOutOfOrder, "index must be greater than the previous record's, "+strconv.FormatInt(c.prevIndex, 10))
		return h, now
	}
	c.prevIndex = index
	if idNumber == "" {
		h.reject(ReasonIDNumberInvalid, "ID number is required")
		return h, now
	}
	id, err := idnumber.ParseAt(idNumber, now)
	if err != nil {
		var e *idnumber.Error
		if errors.As(err, &e) {
			h.reject(ReasonIDNumberInvalid, e.Message)
		} else {
			h.reject(ReasonIDNumberInvalid, "invalid ID number")
		}
		return h, now
	}
	h.idKey = c.keyer.Key(id)
	return h, now
}

// groupTx is one group's transaction and what the writes of its records
// share.
type groupTx struct {
	// base seals the records of sealed buckets.
	base *servicedb.Base
	// signals is the store's work-signal feed.
	signals *signalfeed.Feed
	tx      *bolt.Tx
	now     time.Time
	ts      *timestamppb.Timestamp
	actor   Actor
	// rpc is the import's RPC, the action of the audit entries it writes.
	rpc     string
	batchID string
	// buf holds the keys and values the group writes: bbolt wants them to
	// stay valid until the commit. It is reused from group to group, so
	// that a record costs no allocation here beyond what bbolt makes.
	buf []byte
}

// keep returns what was appended to g.buf from start on, capped so that a
// later append cannot overwrite it.
func (g *groupTx) keep(start int) []byte { return g.buf[start:len(g.buf):len(g.buf)] }

// importer commits the record groups of one import stream and keeps the
// stream's counts.
type importer[In, R, S any] struct {
	s    *Store
	kind importKind[In, R, S]
	g    groupTx
	// sum is this stream's counts so far.
	sum   pb.ImportSummary
	order []int
	// trustFrom is, during a commit, the oldest read transaction whose
	// look-ups still hold (see projection.LastWrite).
	trustFrom uint64
}

// newImporter returns the importer of one stream of batchID, sent by
// actor through rpc.
func newImporter[In, R, S any](s *Store, kind importKind[In, R, S], rpc, batchID string, actor Actor) *importer[In, R, S] {
	return &importer[In, R, S]{
		s: s, kind: kind,
		g:   groupTx{base: &s.Base, signals: s.signals, actor: actor, rpc: rpc, batchID: batchID},
		sum: pb.ImportSummary{BatchId: batchID},
	}
}

// groupCounts are the outcomes of one group.
type groupCounts struct {
	accepted, duplicates, corrections, rejected int64
	// first and last are the lowest and highest index of the records the
	// group stored, new or corrected.
	first, last int64
}

// stored notes that the group stored the record with index.
func (c *groupCounts) stored(index int64) {
	if c.first == 0 || index < c.first {
		c.first = index
	}
	c.last = max(c.last, index)
}

// commit checks the group's records against the projection and the
// stored records and writes them, with the batch's progress, in one
// transaction; then it returns the acknowledgement. Records are written in
// identity-key order, which keeps bbolt's page splits few; records with
// the same identity are applied in index order.
func (im *importer[In, R, S]) commit(group []R) (*pb.ImportAck, error) {
	durable := im.durableThrough(group)
	var c groupCounts
	var rejections []*pb.RecordRejection
	now := im.s.now()
	err := im.s.Update(func(tx *bolt.Tx) error {
		c = groupCounts{}
		im.g.tx, im.g.now, im.g.ts, im.g.buf = tx, now, timestamppb.New(now), im.g.buf[:0]
		// The writer holds the database: no projection transaction runs.
		im.trustFrom = im.s.proj.LastWrite()
		var err error
		if rejections, err = im.resolve(group, &c); err != nil {
			return err
		}
		if err := im.write(group, &c); err != nil {
			return err
		}
		if err := im.auditGroup(c); err != nil {
			return err
		}
		return recordProgress(tx, im.g.rpc, im.g.batchID, int64(len(group)), c, durable)
	})
	im.g.tx = nil
	if err != nil {
		return nil, err
	}
	im.count(int64(len(group)), c, durable)
	return &pb.ImportAck{DurableThroughIndex: durable, Rejections: rejections}, nil
}

// durableThrough returns the index a group's commit makes durable: the
// highest index in it, or the last acknowledged when it has none higher.
// A record out of order does not count; its index may be any number.
func (im *importer[In, R, S]) durableThrough(group []R) int64 {
	durable := im.sum.LastIndex
	for i := range group {
		if h := im.kind.head(&group[i]); h.reason != ReasonIndexOutOfOrder && h.index > durable {
			durable = h.index
		}
	}
	return durable
}

// resolve finds the retiree of each record the checker passed, rejects
// the records of unknown ID numbers and those the kind refuses, and lists
// the rest in im.order by identity key. It returns the group's
// rejections, the checker's and its own, in the order they arrived.
func (im *importer[In, R, S]) resolve(group []R, c *groupCounts) ([]*pb.RecordRejection, error) {
	im.order = im.order[:0]
	var rejections []*pb.RecordRejection
	for i := range group {
		r := &group[i]
		h := im.kind.head(r)
		if h.reason == "" {
			if err := im.identify(r, h); err != nil {
				return nil, err
			}
		}
		if h.reason != "" {
			rejections = append(rejections, &pb.RecordRejection{Index: h.index, Reason: h.reason, Message: h.message})
			c.rejected++
			continue
		}
		im.order = append(im.order, i)
	}
	slices.SortStableFunc(im.order, func(a, b int) int {
		return bytes.Compare(im.kind.head(&group[a]).key, im.kind.head(&group[b]).key)
	})
	return rejections, nil
}

// identify finds r's retiree by the key of its ID number, unless it was
// looked up ahead and the projection has not written since, and lets the
// kind set r's identity key; it rejects r when no retiree has that ID
// number.
func (im *importer[In, R, S]) identify(r *R, h *recordHead) error {
	if h.lookedUp && h.lookedUpAt >= im.trustFrom {
		return im.kind.identify(&im.g, r)
	}
	h.lookedUp = false
	id, err := projection.IDForKey(im.g.tx, h.idKey)
	switch {
	case errors.Is(err, projection.ErrUnknownRetiree):
		h.reject(ReasonUnknownRetiree, "no retiree with this ID number is known")
		return nil
	case err != nil:
		return err
	}
	h.retireeID = id
	return im.kind.identify(&im.g, r)
}

// lookAheadBatch bounds how many records one look-up transaction reads:
// short, so that it never holds up a commit that must grow the file.
const lookAheadBatch = 256

// lookAhead forwards the checked records from in, each with its retiree
// looked up in a read transaction beside the group that commits
// meanwhile: the commit, which alone holds the database, then only checks
// that the projection has not written since (identify). A record whose
// retiree is not found is left to the commit. It closes the returned
// channel when in is closed, and stops when ctx ends.
func (im *importer[In, R, S]) lookAhead(ctx context.Context, in <-chan R) <-chan R {
	out := make(chan R, maxGroup)
	go func() {
		defer close(out)
		batch := make([]R, 0, lookAheadBatch)
		for r := range in {
			batch = gather.Queued(append(batch[:0], r), in, lookAheadBatch)
			// A failed read leaves the records as they were, to the commit.
			_ = im.s.DB().View(func(tx *bolt.Tx) error {
				im.lookUp(tx, batch)
				return nil
			})
			for _, r := range batch {
				select {
				case out <- r:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}

// lookUp finds the retirees of the batch's records in tx.
func (im *importer[In, R, S]) lookUp(tx *bolt.Tx, batch []R) {
	at := uint64(tx.ID()) //nolint:gosec // G115: bbolt's transaction ids count up from 0
	for i := range batch {
		h := im.kind.head(&batch[i])
		if h.reason != "" {
			continue
		}
		id, err := projection.IDForKey(tx, h.idKey)
		if err != nil {
			continue
		}
		h.retireeID, h.lookedUp, h.lookedUpAt = id, true, at
		im.kind.lookUp(tx, &batch[i])
	}
}

// write stores the records listed in im.order: a duplicate of the stored
// record is only counted, a correction replaces it, anything else is new.
func (im *importer[In, R, S]) write(group []R, c *groupCounts) error {
	for _, i := range im.order {
		r := &group[i]
		stored, found, err := im.kind.load(&im.g, r)
		switch {
		case err != nil:
		case !found:
			err = im.kind.add(&im.g, r)
			c.accepted++
			c.stored(im.kind.head(r).index)
		case im.kind.same(stored, r):
			c.duplicates++
		default:
			err = im.kind.correct(&im.g, r, stored)
			c.corrections++
			c.stored(im.kind.head(r).index)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// auditGroup writes the group's one change-audit entry, naming the batch
// and the records it stored, when it stored any. A bureau's feed of a
// million records is audited a group at a time: an entry per record would
// double the writes of the import, and each stored record carries its
// batch id and import time, which lead from the entry to it. What a kind
// audits on its own, it audits besides (corrections; every decision).
func (im *importer[In, R, S]) auditGroup(c groupCounts) error {
	if c.accepted+c.corrections == 0 {
		return nil
	}
	e := audit.NewEntry(im.g.actor, im.g.rpc, "", im.g.now)
	e.ImportGroup = &registryv1.AuditedImportGroup{
		BatchId: im.g.batchID, FirstIndex: c.first, LastIndex: c.last, Records: c.accepted + c.corrections,
	}
	return audit.Put(im.g.tx, e)
}

// ended is called when the import stream ends, however it ends: a
// payment stream that stored payments asks for an anomaly sweep then,
// once, rather than after each group, which during a long import kept a
// sweep of every community running beside it.
func (im *importer[In, R, S]) ended() {
	if im.g.rpc == rpcImportPayments && im.sum.Accepted+im.sum.Corrections > 0 {
		im.s.kickSweep()
	}
}

// count adds a committed group to the stream's counts.
func (im *importer[In, R, S]) count(received int64, c groupCounts, durable int64) {
	addCounts(&im.sum, received, c)
	im.sum.LastIndex = durable
}

func addCounts(s *pb.ImportSummary, received int64, c groupCounts) {
	s.Received += received
	s.Accepted += c.accepted
	s.Duplicates += c.duplicates
	s.Corrections += c.corrections
	s.Rejected += c.rejected
}

// batchKey is the key of a batch's progress in bucketBatches: the batch id
// for payments, as before the other streams existed, and the RPC, 0 and
// the batch id for the others, so that a bureau may give a payment file
// and a certification file the same batch id.
func batchKey(rpc, batchID string) []byte {
	if rpc == rpcImportPayments {
		return []byte(batchID)
	}
	return boltstore.Key(rpc, batchID)
}

// recordProgress adds a group to the batch's counts over all its streams.
func recordProgress(tx *bolt.Tx, rpc, batchID string, received int64, c groupCounts, durable int64) error {
	b := tx.Bucket(bucketBatches)
	key := batchKey(rpc, batchID)
	p := new(pb.ImportSummary)
	if v := b.Get(key); v != nil {
		if err := unmarshal(v, p, "batch"); err != nil {
			return err
		}
	}
	p.BatchId = batchID
	addCounts(p, received, c)
	p.LastIndex = max(p.LastIndex, durable)
	return boltstore.PutProto(b, key, p)
}

// BatchProgress returns the counts of every stream of a batch sent through
// an import RPC (ImportPayments, ImportCertifications or ImportDecisions)
// so far, or a not-found error.
func (s *Store) BatchProgress(rpc, id string) (*pb.ImportSummary, error) {
	p := new(pb.ImportSummary)
	err := s.DB().View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBatches).Get(batchKey(rpc, id))
		if v == nil {
			return errBatchNotFound
		}
		return unmarshal(v, p, "batch")
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

var errBatchNotFound = fmt.Errorf("batch %w", fault.ErrNotFound)
