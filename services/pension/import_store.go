package pension

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Bounds of an import.
const (
	// maxAmountFen bounds each component of a payment: 100,000 yuan.
	maxAmountFen = 10_000_000
	// maxBankAccountLen bounds the masked bank account.
	maxBankAccountLen = 32
	// maxBatchIDLen bounds a batch id.
	maxBatchIDLen = 64
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
	ReasonIndexOutOfOrder    = "INDEX_OUT_OF_ORDER"
)

// record is one payment record on its way through an import.
type record struct {
	index int64
	// idKey is the HMAC of the ID number; the number itself goes no
	// further than the checker.
	idKey                                []byte
	month                                month
	basic, personal, transitional, other int64
	paidOn, bank                         string
	// reason and message are set when the record is rejected.
	reason, message string

	// retireeID and key are filled in by the commit.
	retireeID string
	key       []byte
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

// check turns a received record into a record, rejected or not.
func (c *recordChecker) check(in *pb.PaymentRecord) record {
	r := record{index: in.GetIndex()}
	if r.index <= c.prevIndex {
		return r.reject(ReasonIndexOutOfOrder, "index must be greater than the previous record's, "+strconv.FormatInt(c.prevIndex, 10))
	}
	c.prevIndex = r.index
	now := c.now()
	if in.GetIdNumber() == "" {
		return r.reject(ReasonIDNumberInvalid, "ID number is required")
	}
	id, err := idnumber.ParseAt(in.GetIdNumber(), now)
	if err != nil {
		var e *idnumber.Error
		if errors.As(err, &e) {
			return r.reject(ReasonIDNumberInvalid, e.Message)
		}
		return r.reject(ReasonIDNumberInvalid, "invalid ID number")
	}
	m, ok := parseMonth(in.GetMonth())
	if !ok {
		return r.reject(ReasonMonthInvalid, "month must be YYYY-MM, from 1950")
	}
	if m > monthOf(now) {
		return r.reject(ReasonMonthInFuture, "month is after the current month")
	}
	r.month = m
	for _, a := range [...]struct {
		name string
		v    int64
	}{{"basicFen", in.GetBasicFen()}, {"personalAccountFen", in.GetPersonalAccountFen()}, {"transitionalFen", in.GetTransitionalFen()}, {"otherFen", in.GetOtherFen()}} {
		if a.v < 0 || a.v > maxAmountFen {
			return r.reject(ReasonAmountInvalid, a.name+" must be between 0 and 10000000 fen")
		}
	}
	r.basic, r.personal, r.transitional, r.other = in.GetBasicFen(), in.GetPersonalAccountFen(), in.GetTransitionalFen(), in.GetOtherFen()
	paid, ok := parseCivil(in.GetPaidOn())
	if !ok || paid < monthStart(m) || paid > monthEnd(m+1) || paid > civilOf(now) {
		return r.reject(ReasonPaidOnInvalid, "paidOn must be a date YYYY-MM-DD from the first day of the month to the last day of the next, not in the future")
	}
	r.paidOn = in.GetPaidOn()
	if !validBankAccount(in.GetBankAccountMasked()) {
		return r.reject(ReasonBankAccountInvalid, "bankAccountMasked must be masked: digits and '*', at least four '*', at most ten digits shown")
	}
	r.bank = in.GetBankAccountMasked()
	r.idKey = c.keyer.Key(id)
	return r
}

func (r record) reject(reason, message string) record {
	r.reason, r.message = reason, message
	return r
}

// validBankAccount accepts a masked account number: digits and '*', with
// at least four '*' and at most ten digits shown (banks show the first six
// and last four, 622202******1234) — a full account number must not be
// stored. Empty is allowed (not every bureau sends it).
func validBankAccount(s string) bool {
	if s == "" {
		return true
	}
	if len(s) > maxBankAccountLen {
		return false
	}
	stars, digits := 0, 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '*':
			stars++
		case c >= '0' && c <= '9':
			digits++
		default:
			return false
		}
	}
	return stars >= 4 && digits <= 10
}

// importer commits the record groups of one import stream and keeps the
// stream's counts. Its buffers are reused from group to group, so that a
// record costs no allocation in the commit beyond what bbolt makes.
type importer struct {
	s       *Store
	batchID string
	actor   Actor
	// sum is this stream's counts so far.
	sum pb.ImportSummary

	order      []int
	keys, vals []byte
	msg, old   pb.Payment
	marshal    proto.MarshalOptions
}

func (s *Store) newImporter(batchID string, actor Actor) *importer {
	return &importer{s: s, batchID: batchID, actor: actor, sum: pb.ImportSummary{BatchId: batchID}}
}

// groupCounts are the outcomes of one group.
type groupCounts struct {
	accepted, duplicates, corrections, rejected int64
}

// commit checks the group's records against the projection and the
// stored payments and writes them, with the batch's progress, in one
// transaction; then it returns the acknowledgement. Records are written in
// key order, which keeps bbolt's page splits few; records for the same
// month of the same retiree are applied in index order.
//
// A correction, which changes what a retiree was paid, is audited in the
// same transaction. A new payment is not: each carries its batch id and
// import time, and the batch its counts, which traces an import without
// doubling the writes of a million-record one.
func (im *importer) commit(group []record) (*pb.ImportAck, error) {
	durable := durableThrough(im.sum.LastIndex, group)
	var g groupCounts
	var rejections []*pb.RecordRejection
	now := im.s.now()
	err := im.s.DB().Update(func(tx *bolt.Tx) error {
		g = groupCounts{}
		var err error
		if rejections, err = im.resolve(tx, group, &g); err != nil {
			return err
		}
		if err := im.write(tx, group, &g, now); err != nil {
			return err
		}
		return im.recordProgress(tx, int64(len(group)), g, durable)
	})
	if err != nil {
		return nil, err
	}
	im.count(int64(len(group)), g, durable)
	return &pb.ImportAck{DurableThroughIndex: durable, Rejections: rejections}, nil
}

// durableThrough returns the index a group's commit makes durable: the
// highest index in it, or last when it has none higher. A record out of
// order does not count; its index may be any number.
func durableThrough(last int64, group []record) int64 {
	durable := last
	for i := range group {
		if group[i].reason != ReasonIndexOutOfOrder && group[i].index > durable {
			durable = group[i].index
		}
	}
	return durable
}

// resolve finds the retiree of each record the checker passed, rejects
// the records of unknown ID numbers, and lists the rest in im.order by
// payment key. It returns the group's rejections, the checker's and its
// own, in the order they arrived.
func (im *importer) resolve(tx *bolt.Tx, group []record, g *groupCounts) ([]*pb.RecordRejection, error) {
	im.keys, im.order = im.keys[:0], im.order[:0]
	var rejections []*pb.RecordRejection
	for i := range group {
		r := &group[i]
		if r.reason == "" {
			if err := im.keyRecord(tx, r); err != nil {
				return nil, err
			}
		}
		if r.reason != "" {
			rejections = append(rejections, &pb.RecordRejection{Index: r.index, Reason: r.reason, Message: r.message})
			g.rejected++
			continue
		}
		im.order = append(im.order, i)
	}
	slices.SortStableFunc(im.order, func(a, b int) int { return bytes.Compare(group[a].key, group[b].key) })
	return rejections, nil
}

// keyRecord finds r's retiree by the key of its ID number and sets r's
// payment key, or rejects r when no retiree has that ID number.
func (im *importer) keyRecord(tx *bolt.Tx, r *record) error {
	id, err := projection.IDForKey(tx, r.idKey)
	switch {
	case errors.Is(err, projection.ErrUnknownRetiree):
		r.reason, r.message = ReasonUnknownRetiree, "no retiree with this ID number is known"
	case err != nil:
		return err
	default:
		start := len(im.keys)
		im.keys = paymentKey(im.keys, id, r.month)
		r.retireeID, r.key = id, im.keys[start:len(im.keys):len(im.keys)]
	}
	return nil
}

// write stores the records listed in im.order: a duplicate of the stored
// payment is only counted, a correction replaces it as its next version.
func (im *importer) write(tx *bolt.Tx, group []record, g *groupCounts, now time.Time) error {
	im.vals = im.vals[:0]
	payments := tx.Bucket(bucketPayments)
	versions := tx.Bucket(bucketPaymentVersions)
	ts := timestamppb.New(now)
	for _, i := range im.order {
		r := &group[i]
		version := int32(1)
		if v := payments.Get(r.key); v != nil {
			if err := proto.Unmarshal(v, &im.old); err != nil {
				return err
			}
			if sameContent(&im.old, r) {
				g.duplicates++
				continue
			}
			if err := im.keepVersion(tx, versions, r, v, now); err != nil {
				return err
			}
			version = im.old.Version + 1
			g.corrections++
		} else {
			g.accepted++
		}
		if err := im.putPayment(payments, r, version, ts); err != nil {
			return err
		}
	}
	return nil
}

// keepVersion keeps the stored payment v, which r corrects, under its
// version number, and audits the correction. bbolt wants keys and values
// to stay valid until the commit, hence the copies into the group's
// buffer.
func (im *importer) keepVersion(tx *bolt.Tx, versions *bolt.Bucket, r *record, v []byte, now time.Time) error {
	start := len(im.vals)
	im.vals = versionKey(im.vals, r.key, im.old.Version)
	mid := len(im.vals)
	im.vals = append(im.vals, v...)
	if err := versions.Put(im.vals[start:mid:mid], im.vals[mid:len(im.vals):len(im.vals)]); err != nil {
		return err
	}
	return audit.Put(tx, audit.NewEntry(im.actor, "ImportPayments", r.retireeID, now))
}

// putPayment writes r as the given version of its payment, encoded into
// the group's buffer.
func (im *importer) putPayment(payments *bolt.Bucket, r *record, version int32, ts *timestamppb.Timestamp) error {
	im.msg = pb.Payment{
		RetireeId:          r.retireeID,
		Month:              string(r.key[len(r.retireeID)+1:]),
		BasicFen:           r.basic,
		PersonalAccountFen: r.personal,
		TransitionalFen:    r.transitional,
		OtherFen:           r.other,
		TotalFen:           r.basic + r.personal + r.transitional + r.other,
		PaidOn:             r.paidOn,
		BankAccountMasked:  r.bank,
		BatchId:            im.batchID,
		Version:            version,
		ImportTime:         ts,
	}
	start := len(im.vals)
	var err error
	im.vals, err = im.marshal.MarshalAppend(im.vals, &im.msg)
	if err != nil {
		return err
	}
	return payments.Put(r.key, im.vals[start:len(im.vals):len(im.vals)])
}

// count adds a committed group to the stream's counts.
func (im *importer) count(received int64, g groupCounts, durable int64) {
	im.sum.Received += received
	im.sum.Accepted += g.accepted
	im.sum.Duplicates += g.duplicates
	im.sum.Corrections += g.corrections
	im.sum.Rejected += g.rejected
	im.sum.LastIndex = durable
}

// recordProgress adds a group to the batch's counts over all its streams.
func (im *importer) recordProgress(tx *bolt.Tx, received int64, g groupCounts, durable int64) error {
	b := tx.Bucket(bucketBatches)
	p := new(pb.ImportSummary)
	if v := b.Get([]byte(im.batchID)); v != nil {
		if err := unmarshal(v, p, "batch"); err != nil {
			return err
		}
	}
	p.BatchId = im.batchID
	p.Received += received
	p.Accepted += g.accepted
	p.Duplicates += g.duplicates
	p.Corrections += g.corrections
	p.Rejected += g.rejected
	p.LastIndex = max(p.LastIndex, durable)
	return boltstore.PutProto(b, []byte(im.batchID), p)
}

// sameContent reports whether a stored payment says what r says.
func sameContent(p *pb.Payment, r *record) bool {
	return p.BasicFen == r.basic && p.PersonalAccountFen == r.personal && p.TransitionalFen == r.transitional &&
		p.OtherFen == r.other && p.PaidOn == r.paidOn && p.BankAccountMasked == r.bank
}

// BatchProgress returns the counts of every stream of a batch so far, or a
// not-found error.
func (s *Store) BatchProgress(id string) (*pb.ImportSummary, error) {
	p := new(pb.ImportSummary)
	err := s.DB().View(func(tx *bolt.Tx) error {
		v := tx.Bucket(bucketBatches).Get([]byte(id))
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
