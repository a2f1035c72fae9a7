package pension

import (
	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Bounds of a payment record.
const (
	// maxAmountFen bounds each component of a payment: 100,000 yuan.
	maxAmountFen = 10_000_000
	// maxBankAccountLen bounds the masked bank account.
	maxBankAccountLen = 32
)

// paymentRecord is one payment record on its way through an import.
type paymentRecord struct {
	recordHead
	month                                month
	basic, personal, transitional, other int64
	paidOn, bank                         string
	kind                                 pb.PaymentKind
}

// paymentKind is the importKind of ImportPayments. A payment is one
// (retiree, month, kind, paid_on): a record is new when that is not
// stored, and a correction, kept as the next version, when it is stored
// with other amounts or account. A correction, which changes
// what a retiree was paid, is audited for the retiree in the same
// transaction. A new payment is audited with its group (see
// importer.auditGroup): each carries its batch id and import time, which
// traces an import without doubling the writes of a million-record one.
type paymentKind struct {
	// msg, old and plain are reused from record to record; oldRaw is the
	// encoding of old, unsealed, and plain msg's.
	msg, old      pb.Payment
	oldRaw, plain []byte
	marshal       proto.MarshalOptions
}

var _ importKind[*pb.PaymentRecord, paymentRecord, *pb.Payment] = (*paymentKind)(nil)

func (*paymentKind) head(r *paymentRecord) *recordHead { return &r.recordHead }

// check turns a received record into a paymentRecord, rejected or not.
func (*paymentKind) check(c *recordChecker, in *pb.PaymentRecord) paymentRecord {
	h, now := c.begin(in.GetIndex(), in.GetIdNumber())
	r := paymentRecord{recordHead: h}
	if r.reason != "" {
		return r
	}
	m, ok := parseMonth(in.GetMonth())
	if !ok {
		r.reject(ReasonMonthInvalid, "month must be YYYY-MM, from 1950")
		return r
	}
	if m > monthOf(now) {
		r.reject(ReasonMonthInFuture, "month is after the current month")
		return r
	}
	r.month = m
	for _, a := range [...]struct {
		name string
		v    int64
	}{{"basicFen", in.GetBasicFen()}, {"personalAccountFen", in.GetPersonalAccountFen()}, {"transitionalFen", in.GetTransitionalFen()}, {"otherFen", in.GetOtherFen()}} {
		if a.v < 0 || a.v > maxAmountFen {
			r.reject(ReasonAmountInvalid, a.name+" must be between 0 and 10000000 fen")
			return r
		}
	}
	r.basic, r.personal, r.transitional, r.other = in.GetBasicFen(), in.GetPersonalAccountFen(), in.GetTransitionalFen(), in.GetOtherFen()
	paid, ok := parseCivil(in.GetPaidOn())
	if !ok || paid < monthStart(m) || paid > civilOf(now) {
		r.reject(ReasonPaidOnInvalid, "paidOn must be a date YYYY-MM-DD from the first day of the month up to today")
		return r
	}
	r.paidOn = in.GetPaidOn()
	if r.kind, ok = paymentKindOf(in.GetKind(), m, paid); !ok {
		r.reject(ReasonKindInvalid, "kind must be REGULAR, ARREARS or ADJUSTMENT")
		return r
	}
	if !validBankAccount(in.GetBankAccountMasked()) {
		r.reject(ReasonBankAccountInvalid, "bankAccountMasked must be masked: digits and '*', at least four '*', at most ten digits shown")
		return r
	}
	r.bank = in.GetBankAccountMasked()
	return r
}

// paymentKindOf is the kind of a payment for month m paid on paid that
// says it is of kind said: a payment paid by the end of the following
// month is REGULAR unless it says otherwise; a later one is ARREARS (even
// when it says REGULAR) unless it says ADJUSTMENT. ok is false for a kind
// the API does not know.
func paymentKindOf(said pb.PaymentKind, m month, paid civilDate) (kind pb.PaymentKind, ok bool) {
	switch said {
	case pb.PaymentKind_PAYMENT_KIND_UNSPECIFIED, pb.PaymentKind_REGULAR:
		if paid > monthEnd(m+1) {
			return pb.PaymentKind_ARREARS, true
		}
		return pb.PaymentKind_REGULAR, true
	case pb.PaymentKind_ARREARS, pb.PaymentKind_ADJUSTMENT:
		return said, true
	}
	return 0, false
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

// lookUp needs nothing beyond the retiree's id.
func (*paymentKind) lookUp(*bolt.Tx, *paymentRecord) {}

// identify sets r's payment key.
func (*paymentKind) identify(g *groupTx, r *paymentRecord) error {
	start := len(g.buf)
	g.buf = paymentKey(g.buf, r.retireeID, r.month, r.paidOn, r.kind)
	r.key = g.keep(start)
	return nil
}

// load decodes the stored payment into k.old.
func (k *paymentKind) load(g *groupTx, r *paymentRecord) (*pb.Payment, bool, error) {
	v := g.tx.Bucket(bucketPayments).Get(r.key)
	if v == nil {
		return nil, false, nil
	}
	var err error
	if k.oldRaw, err = g.base.Unseal(bucketPayments, r.key, v); err != nil {
		return nil, false, err
	}
	if err := unmarshal(k.oldRaw, &k.old, "payment"); err != nil {
		return nil, false, err
	}
	return &k.old, true, nil
}

// same reports whether a stored payment says what r says; month, kind
// and paid_on are its identity.
func (*paymentKind) same(p *pb.Payment, r *paymentRecord) bool {
	return p.BasicFen == r.basic && p.PersonalAccountFen == r.personal && p.TransitionalFen == r.transitional &&
		p.OtherFen == r.other && p.BankAccountMasked == r.bank
}

// add stores a new payment; one for a month after a known death adds to
// the principal of the retiree's recovery case.
func (k *paymentKind) add(g *groupTx, r *paymentRecord) error {
	if err := k.put(g, r, 1); err != nil {
		return err
	}
	return paymentAfterDeath(g.tx, g.base, g.signals, g.now, r.key[:len(r.retireeID)], &k.msg, 0)
}

// correct keeps the stored payment, which r corrects, under its version
// number, audits the correction and stores r as the next version.
func (k *paymentKind) correct(g *groupTx, r *paymentRecord, old *pb.Payment) error {
	start := len(g.buf)
	g.buf = versionKey(g.buf, r.key, old.Version)
	key := g.keep(start)
	start = len(g.buf)
	g.buf = g.base.AppendSealed(g.buf, bucketPaymentVersions, key, k.oldRaw)
	if err := g.tx.Bucket(bucketPaymentVersions).Put(key, g.keep(start)); err != nil {
		return err
	}
	if err := audit.Put(g.tx, audit.NewEntry(g.actor, g.rpc, r.retireeID, g.now)); err != nil {
		return err
	}
	oldTotal := old.TotalFen
	if err := k.put(g, r, old.Version+1); err != nil {
		return err
	}
	// A correction changes the principal by the difference.
	return paymentAfterDeath(g.tx, g.base, g.signals, g.now, r.key[:len(r.retireeID)], &k.msg, oldTotal)
}

// put writes r as the given version of its payment, encoded and sealed
// into the group's buffer.
func (k *paymentKind) put(g *groupTx, r *paymentRecord, version int32) error {
	k.msg = pb.Payment{
		RetireeId:          r.retireeID,
		Month:              string(r.key[len(r.retireeID)+1 : len(r.retireeID)+8]),
		BasicFen:           r.basic,
		PersonalAccountFen: r.personal,
		TransitionalFen:    r.transitional,
		OtherFen:           r.other,
		TotalFen:           r.basic + r.personal + r.transitional + r.other,
		PaidOn:             r.paidOn,
		BankAccountMasked:  r.bank,
		BatchId:            g.batchID,
		Version:            version,
		ImportTime:         g.ts,
		Kind:               r.kind,
	}
	var err error
	if k.plain, err = k.marshal.MarshalAppend(k.plain[:0], &k.msg); err != nil {
		return err
	}
	start := len(g.buf)
	g.buf = g.base.AppendSealed(g.buf, bucketPayments, r.key, k.plain)
	return g.tx.Bucket(bucketPayments).Put(r.key, g.keep(start))
}
