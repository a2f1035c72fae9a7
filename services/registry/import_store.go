package registry

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The roster import: ImportRetirees follows the protocol of pension's
// import streams (see services/pension/import_store.go), with a record
// kind of its own. A receiving goroutine checks each record on its own
// with CreateRetiree's rules (rowChecker); the handler commits what has
// arrived in groups, one transaction each, which finds each record's
// retiree by the key of its ID number, in key order: an unknown one is
// created, a known one with other values updated, an identical one
// counted as a duplicate. Every change goes through the change log, so
// that watchers and the other services' projections see imported
// retirees as they see any other.

// Bounds of a roster import.
const (
	// maxImportGroup bounds how many records one transaction commits: a
	// commit's fsync is shared by thousands of records, and its
	// acknowledgement follows within a fraction of a second.
	maxImportGroup = 4096
	// DefaultMaxStreamRecords is how many records one ImportRetirees
	// stream may carry unless configured otherwise.
	DefaultMaxStreamRecords = 2_000_000
)

// The reasons a roster record is rejected (RetireeRecordRejection.reason),
// part of the API.
const (
	ReasonIndexOutOfOrder       = "INDEX_OUT_OF_ORDER"
	ReasonRetireeMissing        = "RETIREE_MISSING"
	ReasonIDNumberInvalid       = "ID_NUMBER_INVALID"
	ReasonSexInvalid            = "SEX_INVALID"
	ReasonBirthDateInvalid      = "BIRTH_DATE_INVALID"
	ReasonNameInvalid           = "NAME_INVALID"
	ReasonCommunityInvalid      = "COMMUNITY_INVALID"
	ReasonCommunityUnknown      = "COMMUNITY_UNKNOWN"
	ReasonEnterpriseInvalid     = "ENTERPRISE_INVALID"
	ReasonEnterpriseUnknown     = "ENTERPRISE_UNKNOWN"
	ReasonManagementModeInvalid = "MANAGEMENT_MODE_INVALID"
	ReasonRetirementDateInvalid = "RETIREMENT_DATE_INVALID"
	ReasonPhoneInvalid          = "PHONE_INVALID"
	ReasonAddressInvalid        = "ADDRESS_INVALID"
	ReasonFlagsInvalid          = "FLAGS_INVALID"
	ReasonNotPermitted          = "NOT_PERMITTED"
	ReasonCommunityChanged      = "COMMUNITY_CHANGED"
	ReasonRetireeNotLiving      = "RETIREE_NOT_LIVING"
	ReasonRecordInvalid         = "RECORD_INVALID"
)

// rpcImportRetirees is the import's RPC, as the audit log names it.
const rpcImportRetirees = "ImportRetirees"

// fieldReasons are the rejection reasons of the fields checkNewRetiree
// names in its violations; a field not listed is RECORD_INVALID.
var fieldReasons = map[string]string{
	"idNumber":             ReasonIDNumberInvalid,
	"sex":                  ReasonSexInvalid,
	"birthDate":            ReasonBirthDateInvalid,
	"name":                 ReasonNameInvalid,
	"communityId":          ReasonCommunityInvalid,
	"enterpriseCreditCode": ReasonEnterpriseInvalid,
	"managementMode":       ReasonManagementModeInvalid,
	"retirementDate":       ReasonRetirementDateInvalid,
	"phone":                ReasonPhoneInvalid,
	"residenceAddress":     ReasonAddressInvalid,
	"flags":                ReasonFlagsInvalid,
}

// rosterRow is one roster record on its way through an import.
type rosterRow struct {
	index int64
	// r is the record's retiree, validated and normalised; nil once the
	// record is rejected.
	r *pb.Retiree
	// idKey is the HMAC of the ID number, the record's identity.
	idKey []byte
	// reason and message are set when the record is rejected.
	reason, message string
}

// reject marks the row rejected.
func (w *rosterRow) reject(reason, message string) {
	w.reason, w.message, w.r, w.idKey = reason, message, nil, nil
}

// rowChecker validates roster records on their own, before the store sees
// them: the CPU work of an import (parsing, keying the ID number), which
// runs while the previous group commits.
type rowChecker struct {
	keyer *idnumber.Keyer
	now   func() time.Time
	// enterprise is the credit code of an importing enterprise, which may
	// name only its own retirees; empty for admin and bureau.
	enterprise string
	// prevIndex is the index of the last record in order.
	prevIndex int64
}

// check turns a received record into a rosterRow, rejected or not.
func (c *rowChecker) check(in *pb.RetireeRecord) rosterRow {
	w := rosterRow{index: in.GetIndex()}
	if w.index <= c.prevIndex {
		w.reject(ReasonIndexOutOfOrder, "index must be greater than the previous record's, "+strconv.FormatInt(c.prevIndex, 10))
		return w
	}
	c.prevIndex = w.index
	if in.GetRetiree() == nil {
		w.reject(ReasonRetireeMissing, "the record has no retiree")
		return w
	}
	r := proto.Clone(in.GetRetiree()).(*pb.Retiree)
	id, err := checkNewRetiree(r, c.now())
	if err != nil {
		w.reject(rejectionOf(err))
		return w
	}
	if c.enterprise != "" && (r.EnterpriseCreditCode != c.enterprise || r.ManagementMode != pb.ManagementMode_ENTERPRISE) {
		w.reject(ReasonNotPermitted, "an enterprise imports the retirees it still manages: its own credit code, managementMode ENTERPRISE")
		return w
	}
	w.r, w.idKey = r, c.keyer.Key(id)
	return w
}

// rejectionOf is the reason and message of a record that checkNewRetiree
// refused with err: the reason of its first field, and every field's
// description (none repeats the value).
func rejectionOf(err error) (reason, message string) {
	var ve *fault.ValidationError
	if !errors.As(err, &ve) || len(ve.Fields) == 0 {
		return ReasonRecordInvalid, "invalid record"
	}
	field := ve.Fields[0].Field
	if i := strings.IndexAny(field, "[."); i > 0 {
		field = field[:i]
	}
	reason = fieldReasons[field]
	if reason == "" {
		reason = ReasonRecordInvalid
	}
	parts := make([]string, len(ve.Fields))
	for i, f := range ve.Fields {
		parts[i] = f.Field + ": " + f.Description
	}
	return reason, strings.Join(parts, "; ")
}

// rosterImporter commits the record groups of one ImportRetirees stream
// and keeps the stream's counts.
type rosterImporter struct {
	s       *Store
	actor   Actor
	batchID string
	// enterprise is the credit code of an importing enterprise (see
	// rowChecker.enterprise).
	enterprise string
	// sum is this stream's counts so far.
	sum   pb.RetireeImportSummary
	order []int
	// ids makes the ids of the retirees a group creates, side by side
	// in the file (see inputcheck.OpaqueIDGroup); sortedIDs are ids of
	// it in ascending order, taken one by one (see newIDs).
	ids       *inputcheck.OpaqueIDGroup
	sortedIDs []string
	taken     int
	// known caches the communities and enterprises found to exist: none
	// is ever deleted.
	known map[string]bool
}

// newRosterImporter returns the importer of one stream of batchID sent by
// actor; enterprise is the importing enterprise's credit code, if it is
// one.
func newRosterImporter(s *Store, batchID string, actor Actor, enterprise string) *rosterImporter {
	return &rosterImporter{
		s: s, actor: actor, batchID: batchID, enterprise: enterprise,
		sum:   pb.RetireeImportSummary{BatchId: batchID},
		known: map[string]bool{},
	}
}

// rosterCounts are the outcomes of one group.
type rosterCounts struct {
	accepted, duplicates, corrections, rejected int64
	// first and last are the lowest and highest index of the records the
	// group stored, new or updated.
	first, last int64
	rejections  []*pb.RetireeRecordRejection
}

// stored notes that the group stored the record with index.
func (c *rosterCounts) stored(index int64) {
	if c.first == 0 || index < c.first {
		c.first = index
	}
	c.last = max(c.last, index)
}

// rejected notes that the group rejected w.
func (c *rosterCounts) reject(w *rosterRow) {
	c.rejected++
	c.rejections = append(c.rejections, &pb.RetireeRecordRejection{Index: w.index, Reason: w.reason, Message: w.message})
}

// commit writes the group's records, its audit entry and the batch's
// progress in one transaction, then returns the acknowledgement. Records
// are written in the order of their ID numbers' keys, which keeps the
// look-ups of the key index local; records with the same key in index
// order.
func (im *rosterImporter) commit(group []rosterRow) (*pb.RetireeImportAck, error) {
	durable := im.durableThrough(group)
	var c rosterCounts
	err := im.s.updateIn(im.s.Update, func(tx *bolt.Tx, w *changeWriter) error {
		c = rosterCounts{}
		im.newIDs(len(group))
		fillPages(tx)
		im.sortGroup(group, &c)
		for _, i := range im.order {
			if err := im.write(tx, w, &group[i], &c); err != nil {
				return err
			}
		}
		if err := im.auditGroup(tx, w.now, &c); err != nil {
			return err
		}
		return recordRosterProgress(tx, im.batchID, int64(len(group)), &c, durable)
	})
	if err != nil {
		return nil, err
	}
	addRosterCounts(&im.sum, int64(len(group)), &c)
	im.sum.LastIndex = durable
	slices.SortFunc(c.rejections, func(a, b *pb.RetireeRecordRejection) int { return cmpInt64(a.Index, b.Index) })
	return &pb.RetireeImportAck{DurableThroughIndex: durable, Rejections: c.rejections}, nil
}

// importFillPercent is how full the commit of an import group leaves
// the pages of the buckets the group's new retirees fill: their keys are
// the group's ids, which share a prefix, or revisions in order, so the
// group fills pages of its own that no later group inserts into, and
// bbolt's default of half full would write twice the pages.
const importFillPercent = 0.9

// fillPages sets importFillPercent on the buckets a group fills in order.
func fillPages(tx *bolt.Tx) {
	for _, b := range [][]byte{bucketRetirees, bucketHistory, bucketChanges, bucketRetireeByCommunity, bucketRetireeByEnterprise} {
		tx.Bucket(b).FillPercent = importFillPercent
	}
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// durableThrough returns the index a group's commit makes durable: the
// highest index in it, or the last acknowledged when it has none higher.
// A record out of order does not count; its index may be any number.
func (im *rosterImporter) durableThrough(group []rosterRow) int64 {
	durable := im.sum.LastIndex
	for i := range group {
		if w := &group[i]; w.reason != ReasonIndexOutOfOrder && w.index > durable {
			durable = w.index
		}
	}
	return durable
}

// sortGroup counts the rows the checker rejected and lists the others in
// im.order by key.
func (im *rosterImporter) sortGroup(group []rosterRow, c *rosterCounts) {
	im.order = im.order[:0]
	for i := range group {
		if group[i].reason != "" {
			c.reject(&group[i])
			continue
		}
		im.order = append(im.order, i)
	}
	slices.SortStableFunc(im.order, func(a, b int) int { return bytes.Compare(group[a].idKey, group[b].idKey) })
}

// write stores one checked row: a new retiree, an update of the one on
// file, or nothing for a duplicate; or rejects it for what the store
// says.
func (im *rosterImporter) write(tx *bolt.Tx, w *changeWriter, row *rosterRow, c *rosterCounts) error {
	onFile := tx.Bucket(bucketRetireeByIDKey).Get(row.idKey)
	if onFile == nil {
		return im.create(tx, w, row, c)
	}
	old := new(pb.Retiree)
	if err := im.s.GetProto(tx, bucketRetirees, onFile, old, errRetireeNotFound); err != nil {
		return err
	}
	if im.enterprise != "" && !(old.EnterpriseCreditCode == im.enterprise && old.ManagementMode == pb.ManagementMode_ENTERPRISE) {
		// The refusal tells the enterprise that the number is on file, as
		// CreateRetiree's conflict does: audited as that look-up.
		row.reject(ReasonNotPermitted, "a retiree with this ID number is on file and not managed by this enterprise")
		c.reject(row)
		e := audit.NewEntry(im.actor, "LookupRetiree", old.Id, w.now)
		e.Reason = auditReasonCreateConflict
		return audit.Put(tx, e)
	}
	r := mergeRecord(old, row.r)
	switch {
	case row.r.CommunityId != old.CommunityId:
		row.reject(ReasonCommunityChanged, "the retiree is on file in another community: a move is a transfer")
	case proto.Equal(r, old):
		c.duplicates++
		return nil
	case old.Status != pb.RetireeStatus_LIVING:
		row.reject(ReasonRetireeNotLiving, "the retiree on file is not living: the record would change it")
	case !im.exists(tx, bucketEnterprises, r.EnterpriseCreditCode):
		row.reject(ReasonEnterpriseUnknown, "no enterprise with this credit code")
	}
	if row.reason != "" {
		c.reject(row)
		return nil
	}
	c.corrections++
	c.stored(row.index)
	return w.record(old, r, pb.ChangeKind_UPDATED, im.actor, im.historyReason(), nil)
}

// mergeRecord returns old with what a roster record rec says of it. The
// name and the management mode are the record's; an optional field the
// record leaves empty keeps what is on file, so that a roster, which
// seldom carries phone numbers, carers or where the retiree lives, does
// not erase what the community recorded (a field is cleared with
// UpdateRetiree). A residence without a kind sets only the address of
// the one on file.
func mergeRecord(old, rec *pb.Retiree) *pb.Retiree {
	r := proto.Clone(old).(*pb.Retiree)
	r.Name, r.ManagementMode = rec.Name, rec.ManagementMode
	keepUnlessEmpty(&r.EnterpriseCreditCode, rec.EnterpriseCreditCode)
	keepUnlessEmpty(&r.RetirementDate, rec.RetirementDate)
	keepUnlessEmpty(&r.Phone, rec.Phone)
	if len(rec.Flags) > 0 {
		r.Flags = slices.Clone(rec.Flags)
	}
	if len(rec.Carers) > 0 {
		editableFields["carers"](r, rec)
	}
	switch {
	case rec.Residence.GetKind() != pb.Residence_KIND_UNSPECIFIED:
		editableFields["residence"](r, rec)
	case rec.ResidenceAddress != "":
		if r.Residence == nil {
			r.Residence = new(pb.Residence)
		}
		r.Residence.Address, r.ResidenceAddress = rec.ResidenceAddress, rec.ResidenceAddress
	}
	return r
}

// keepUnlessEmpty sets *dst to v unless v is empty.
func keepUnlessEmpty(dst *string, v string) {
	if v != "" {
		*dst = v
	}
}

// create stores row as a new retiree, unless its community or enterprise
// is unknown.
func (im *rosterImporter) create(tx *bolt.Tx, w *changeWriter, row *rosterRow, c *rosterCounts) error {
	r := row.r
	switch {
	case !im.exists(tx, bucketCommunities, r.CommunityId):
		row.reject(ReasonCommunityUnknown, "no community with this id")
	case !im.exists(tx, bucketEnterprises, r.EnterpriseCreditCode):
		row.reject(ReasonEnterpriseUnknown, "no enterprise with this credit code")
	}
	if row.reason != "" {
		c.reject(row)
		return nil
	}
	// The row's retiree is written as it is: a group that is retried
	// after a failed commit starts from fresh rows (see commit).
	r = proto.Clone(r).(*pb.Retiree)
	r.CreateTime = timestampNow(w.now)
	for {
		r.Id = im.nextID()
		if tx.Bucket(bucketRetirees).Get([]byte(r.Id)) == nil {
			break
		}
	}
	if err := tx.Bucket(bucketRetireeByIDKey).Put(row.idKey, []byte(r.Id)); err != nil {
		return err
	}
	c.accepted++
	c.stored(row.index)
	return w.record(nil, r, pb.ChangeKind_CREATED, im.actor, im.historyReason(), nil)
}

// newIDs makes the ids of a group of n records: a new OpaqueIDGroup,
// and n of its ids in ascending order, so that the retirees the group
// creates, whichever they are, are written in the order of their ids.
// bbolt keeps a node's entries in an array: inserting at its end is a
// copy of one entry, inserting anywhere else moves those after it, and a
// group's new retirees all go to the few nodes of its prefix.
func (im *rosterImporter) newIDs(n int) {
	im.ids = inputcheck.NewOpaqueIDGroup()
	im.sortedIDs, im.taken = im.sortedIDs[:0], 0
	for range n {
		im.sortedIDs = append(im.sortedIDs, im.ids.Next())
	}
	slices.Sort(im.sortedIDs)
}

// nextID returns the group's next id in order, or another of the group
// once they are used up (after a collision).
func (im *rosterImporter) nextID() string {
	if im.taken == len(im.sortedIDs) {
		return im.ids.Next()
	}
	im.taken++
	return im.sortedIDs[im.taken-1]
}

// exists reports whether bucket holds key; an empty key (no enterprise)
// exists.
func (im *rosterImporter) exists(tx *bolt.Tx, bucket []byte, key string) bool {
	if key == "" {
		return true
	}
	cacheKey := string(bucket) + "\x00" + key
	if im.known[cacheKey] {
		return true
	}
	ok := tx.Bucket(bucket).Get([]byte(key)) != nil
	if ok {
		im.known[cacheKey] = true
	}
	return ok
}

// historyReason is the reason of the history entries an import writes:
// the batch, which leads from a retiree's history to the import.
func (im *rosterImporter) historyReason() string { return "imported in batch " + im.batchID }

// auditGroup writes the group's one change-audit entry, naming the batch
// and the records it stored, when it stored any. A roster of a million
// retirees is audited a group at a time; each retiree's history entry
// names its batch, which leads from the entry to it.
func (im *rosterImporter) auditGroup(tx *bolt.Tx, now time.Time, c *rosterCounts) error {
	if c.accepted+c.corrections == 0 {
		return nil
	}
	e := audit.NewEntry(im.actor, rpcImportRetirees, "", now)
	e.ImportGroup = &pb.AuditedImportGroup{
		BatchId: im.batchID, FirstIndex: c.first, LastIndex: c.last, Records: c.accepted + c.corrections,
	}
	return audit.Put(tx, e)
}

func addRosterCounts(s *pb.RetireeImportSummary, received int64, c *rosterCounts) {
	s.Received += received
	s.Accepted += c.accepted
	s.Duplicates += c.duplicates
	s.Corrections += c.corrections
	s.Rejected += c.rejected
}

// recordRosterProgress adds a group to the batch's counts over all its
// streams.
func recordRosterProgress(tx *bolt.Tx, batchID string, received int64, c *rosterCounts, durable int64) error {
	b := tx.Bucket(bucketImportBatches)
	p := new(pb.RetireeImportSummary)
	if err := boltstore.GetProto(b, []byte(batchID), p, nil); err != nil {
		return err
	}
	p.BatchId = batchID
	addRosterCounts(p, received, c)
	p.LastIndex = max(p.LastIndex, durable)
	return boltstore.PutProto(b, []byte(batchID), p)
}

// BatchProgress returns the counts of every ImportRetirees stream of a
// batch so far, or a not-found error.
func (s *Store) BatchProgress(batchID string) (*pb.RetireeImportSummary, error) {
	return get[pb.RetireeImportSummary](s.DB(), bucketImportBatches, []byte(batchID), errBatchNotFound)
}

var errBatchNotFound = fmt.Errorf("batch %w", fault.ErrNotFound)
