package pension

import (
	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// maxReferenceLen bounds the bureau's reference of a certification or a
// decision.
const maxReferenceLen = 64

// certificationRecord is one certification record on its way through an
// import.
type certificationRecord struct {
	recordHead
	day       string
	channel   pb.CertificationMethod
	reference string

	// st is the retiree, and found what the store holds of him: the
	// certification with this identity, if any, and the latest; both are
	// filled in by the commit.
	st    *registryv1.RetireeState
	found foundCertification
}

// certificationKind is the importKind of ImportCertifications. A
// certification is one (retiree, certified_on, channel); it is stored
// with addCertification, as RecordCertification stores one, so that the
// due-date index follows the same rules. A re-sent record with another
// reference is a correction of the reference, audited for its retiree.
// A new certification is audited with its group (see
// importer.auditGroup), not on its own: each carries its batch id and the
// time of its import, which lead from the group's entry to it.
type certificationKind struct {
	// msg is reused from record to record.
	msg pb.Certification
}

var _ importKind[*pb.CertificationRecord, certificationRecord, *pb.Certification] = (*certificationKind)(nil)

func (*certificationKind) head(r *certificationRecord) *recordHead { return &r.recordHead }

// check turns a received record into a certificationRecord, rejected or
// not.
func (*certificationKind) check(c *recordChecker, in *pb.CertificationRecord) certificationRecord {
	h, now := c.begin(in.GetIndex(), in.GetIdNumber())
	r := certificationRecord{recordHead: h}
	if r.reason != "" {
		return r
	}
	day, ok := parseCivil(in.GetCertifiedOn())
	switch {
	case !ok:
		r.reject(ReasonDateInvalid, "certifiedOn must be a date YYYY-MM-DD")
		return r
	case day < civilDate(minCertificationYear*10000+101):
		r.reject(ReasonDateInvalid, "certifiedOn is before 2000")
		return r
	case day > civilOf(now):
		r.reject(ReasonDateInFuture, "certifiedOn is after today")
		return r
	}
	r.day = in.GetCertifiedOn()
	if !importableChannel(in.GetChannel()) {
		r.reject(ReasonChannelInvalid, "channel must be one of DATA_MATCH, FACE_APP, CONSULAR, OTHER_REGION, IN_PERSON, HOME_VISIT, ACTIVITY")
		return r
	}
	r.channel = in.GetChannel()
	if !validReference(in.GetReference()) {
		r.reject(ReasonReferenceInvalid, "reference must be at most 64 characters of letters, digits, '.', '_', '/' and '-'")
		return r
	}
	r.reference = in.GetReference()
	return r
}

// importableChannel reports whether a bureau's file may carry a channel:
// any the API names but PENSION_START, which is never recorded.
func importableChannel(m pb.CertificationMethod) bool {
	_, known := pb.CertificationMethod_name[int32(m)]
	return known && m != pb.CertificationMethod_CERTIFICATION_METHOD_UNSPECIFIED && m != pb.CertificationMethod_PENSION_START
}

// validReference reports whether s is a bureau's reference: empty, or up
// to maxReferenceLen characters of [A-Za-z0-9._/-].
func validReference(s string) bool {
	if len(s) > maxReferenceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '/' || c == '-') {
			return false
		}
	}
	return true
}

// lookUp reads the retiree's projected state ahead of the commit.
func (*certificationKind) lookUp(tx *bolt.Tx, r *certificationRecord) {
	// Not found, the commit reads it again and says why.
	r.st, _ = getRetiree(tx, r.retireeID)
}

// identify loads r's retiree, unless it was looked up ahead, refuses a
// certification after the recorded death as RecordCertification does,
// and sets r's identity key: retiree id, 0, certified_on, 0, channel.
func (*certificationKind) identify(g *groupTx, r *certificationRecord) error {
	st := r.st
	if !r.lookedUp || st == nil {
		var err error
		if st, err = getRetiree(g.tx, r.retireeID); err != nil {
			return err
		}
	}
	if st.GetStatus() == registryv1.RetireeStatus_DECEASED && st.GetDateOfDeath() != "" && r.day > st.GetDateOfDeath() {
		r.reject(ReasonDateInvalid, "the retiree's death is recorded before this date")
		return nil
	}
	r.st = st
	start := len(g.buf)
	g.buf = append(append(g.buf, boltstore.Prefix(r.retireeID, r.day)...), byte(r.channel)) //nolint:gosec // G115: checked to be a named channel
	r.key = g.keep(start)
	return nil
}

// load looks the record's identity up, and the retiree's latest
// certification with it.
func (*certificationKind) load(g *groupTx, r *certificationRecord) (*pb.Certification, bool, error) {
	var err error
	r.found, err = findCertification(g.tx.Bucket(bucketCertifications).Cursor(), r.retireeID, r.day, r.channel)
	if err != nil || r.found.value == nil {
		return nil, false, err
	}
	c := new(pb.Certification)
	if err := unmarshal(r.found.value, c, "certification"); err != nil {
		return nil, false, err
	}
	return c, true, nil
}

func (*certificationKind) same(c *pb.Certification, r *certificationRecord) bool {
	return c.Reference == r.reference
}

// add stores r as a new certification, encoded into the group's buffer.
func (k *certificationKind) add(g *groupTx, r *certificationRecord) error {
	k.msg = pb.Certification{
		RetireeId: r.retireeID, Method: r.channel, CertifiedOn: r.day, RecordedBy: g.actor.Subject,
		RecordTime: g.ts, Reference: r.reference, BatchId: g.batchID,
	}
	var err error
	g.buf, err = addCertification(g.tx, g.signals, r.st, r.found.latest, &k.msg, g.buf)
	return err
}

// correct stores the new reference and audits the change.
func (*certificationKind) correct(g *groupTx, r *certificationRecord, c *pb.Certification) error {
	c.Reference = r.reference
	if err := boltstore.PutProto(g.tx.Bucket(bucketCertifications), r.found.key, c); err != nil {
		return err
	}
	return audit.Put(g.tx, audit.NewEntry(g.actor, g.rpc, r.retireeID, g.now))
}
