package pension

import (
	"bytes"
	"cmp"
	"errors"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// AnomalyFilter selects ListAnomalies' entries.
type AnomalyFilter struct {
	CommunityID string
	Month       month
	// DropShare is the share of the previous month's total below which a
	// payment is an AMOUNT_DROP: 0.2 reports totals under 80 % of it.
	DropShare float64
}

// ListAnomalies returns a page of a month's payment anomalies among the
// retirees of a community, by retiree id and then kind. A page token's key
// is the retiree id, 0 and the kind of the page's last anomaly.
//
//   - MISSING: a living retiree, past the month of retirement, whom the
//     bureau has ACTIVE for the month, has no REGULAR or ARREARS payment.
//   - PAID_AFTER_DEATH: a payment for a month after the month of death.
//   - PAID_WHILE_SUSPENDED: a payment for a month the bureau suspended and
//     has not restored since (see entitlement.go); socmgmt's own
//     certification status plays no part.
//   - AMOUNT_DROP: the month's REGULAR total is below (1 - DropShare) of
//     the previous month's; arrears and adjustments are left out.
//   - PAID_TWICE: two or more REGULAR payments for the month.
func (s *Store) ListAnomalies(f AnomalyFilter, size int, after []byte) ([]*pb.Anomaly, []byte, error) {
	var out []*pb.Anomaly
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		a := anomalyScan{s: s, tx: tx, f: f}
		afterID := ""
		if after != nil {
			id, kind, ok := splitAnomalyKey(after)
			if !ok {
				return errBadAnomalyKey
			}
			afterID = id
			st, err := projection.Get(tx, id)
			switch {
			case errors.Is(err, projection.ErrUnknownRetiree):
			case err != nil:
				return err
			case st.CommunityId == f.CommunityID:
				found, err := a.of(st)
				if err != nil {
					return err
				}
				for _, x := range found {
					if x.Kind > kind {
						out = append(out, x)
					}
				}
			}
		}
		// A page needs at most size+1 retirees with anomalies: one more
		// anomaly than fits says a next page exists.
		scan := boltstore.Scan{Size: size + 1, MaxExamined: cmp.Or(s.maxExamined, maxAnomalyExamined)}
		resume, err := projection.PageCommunity(tx, f.CommunityID, afterID, scan, func(st *registryv1.RetireeState) (bool, error) {
			found, err := a.of(st)
			out = append(out, found...)
			return len(found) > 0, err
		})
		if resume != "" && len(out) <= size {
			// The page examined its bound of retirees without filling up:
			// the next page starts after the last one examined.
			next = anomalyKey(resume, maxAnomalyKind)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	if len(out) <= size {
		return out, next, nil
	}
	out = out[:size]
	last := out[size-1]
	return out, anomalyKey(last.RetireeId, last.Kind), nil
}

// maxAnomalyExamined bounds the retirees whose anomalies one page
// computes. Each costs several reads (the retiree, two months of sealed
// payments, the bureau's decisions), about 10 µs on a city's file, so a
// page stays near 20 ms however large the community; a page cut short by
// it holds fewer anomalies than asked and a token to read on.
const maxAnomalyExamined = 2000

// maxAnomalyKind sorts after every kind: a page token naming a retiree
// with it resumes at the next retiree.
const maxAnomalyKind = pb.AnomalyKind(0xff)

var errBadAnomalyKey = errors.New("malformed anomaly page key")

func anomalyKey(id string, kind pb.AnomalyKind) []byte {
	return append(append([]byte(id), 0), byte(kind)) //nolint:gosec // G115: the kinds are 0 to 5
}

func splitAnomalyKey(k []byte) (string, pb.AnomalyKind, bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 || i != len(k)-2 || !inputcheck.IsOpaqueID(string(k[:i])) {
		return "", 0, false
	}
	return string(k[:i]), pb.AnomalyKind(k[i+1]), true
}

// anomalyScan holds what the anomalies of one month share.
type anomalyScan struct {
	s  *Store
	tx *bolt.Tx
	f  AnomalyFilter
	// payments and decisions are cursors reused from one retiree to the
	// next, and key a buffer for the keys they seek.
	payments, decisions *bolt.Cursor
	key                 []byte
}

// monthTotals sums one month's payments of a retiree.
type monthTotals struct {
	// total is over every kind; regular over the REGULAR payments, of
	// which there are regularCount.
	total, regular int64
	regularCount   int
	// paid says a REGULAR or an ARREARS payment pays the month.
	paid, any bool
}

// add counts payment p, of kind.
func (t *monthTotals) add(kind pb.PaymentKind, p *pb.Payment) {
	t.any = true
	t.total += p.TotalFen
	switch kind {
	case pb.PaymentKind_REGULAR:
		t.regular += p.TotalFen
		t.regularCount++
		t.paid = true
	case pb.PaymentKind_ARREARS:
		t.paid = true
	}
}

// paid sums a retiree's payments for the filter's month and the month
// before it, whose keys are next to each other: one seek reads both.
func (a *anomalyScan) paid(id string) (cur, prev monthTotals, err error) {
	if a.payments == nil {
		a.payments = a.tx.Bucket(bucketPayments).Cursor()
	}
	a.key = paymentMonthPrefix(a.key[:0], id, a.f.Month-1)
	n := len(a.key)
	a.key = paymentMonthPrefix(a.key, id, a.f.Month)
	prevPrefix, curPrefix := a.key[:n], a.key[n:]
	p := new(pb.Payment)
	for k, v := a.payments.Seek(prevPrefix); k != nil; k, v = a.payments.Next() {
		t := &prev
		if !bytes.HasPrefix(k, prevPrefix) {
			if !bytes.HasPrefix(k, curPrefix) {
				break
			}
			t = &cur
		}
		if err := a.s.Decode(bucketPayments, k, v, p); err != nil {
			return cur, prev, err
		}
		t.add(kindOfPaymentKey(k), p)
	}
	return cur, prev, nil
}

// of returns one retiree's anomalies of the month, in kind order.
func (a *anomalyScan) of(st *registryv1.RetireeState) ([]*pb.Anomaly, error) {
	f := monthFacts{month: a.f.Month, terms: termsOf(st), living: living(st), dropShare: a.f.DropShare}
	var err error
	if f.cur, f.prev, err = a.paid(st.Id); err != nil {
		return nil, err
	}
	if !f.cur.any && !(f.living && f.terms.payable(f.month)) {
		return nil, nil
	}
	if a.decisions == nil {
		a.decisions = a.tx.Bucket(bucketDecisions).Cursor()
	}
	decisions, err := decisionsAt(a.decisions, st.Id)
	if err != nil {
		return nil, err
	}
	f.view = bureauView(st, decisions)
	kinds := f.kinds()
	if len(kinds) == 0 {
		// Most retirees have none: the certification index is read only
		// for those who do.
		return nil, nil
	}
	day, channel, err := latestRecordedBy(a.tx, st.Id, formatDate(f.month.lastDay()))
	if err != nil {
		return nil, err
	}
	lastCertified := lastCertOf(st, day, channel).day
	out := make([]*pb.Anomaly, 0, len(kinds))
	for _, kind := range kinds {
		x := &pb.Anomaly{Kind: kind, RetireeId: st.Id, Month: f.month.String(), TotalFen: f.cur.total, LastCertifiedOn: lastCertified, DateOfDeath: f.terms.dateOfDeath}
		if kind == pb.AnomalyKind_AMOUNT_DROP {
			x.TotalFen, x.PreviousTotalFen = f.cur.regular, f.prev.regular
		}
		if err := withExplanation(a.tx, x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// monthFacts are what the anomalies of one retiree's month follow from.
type monthFacts struct {
	month     month
	terms     terms
	living    bool
	view      entitlementView
	cur, prev monthTotals
	dropShare float64
}

// kinds returns the month's anomalies, in kind order.
func (f monthFacts) kinds() []pb.AnomalyKind {
	var out []pb.AnomalyKind
	m := f.month
	if !f.cur.paid && f.living && f.terms.payable(m) && f.view.stateIn(m).state == pb.EntitlementState_ACTIVE {
		out = append(out, pb.AnomalyKind_MISSING)
	}
	if !f.cur.any {
		return out
	}
	if f.terms.deceased && m > f.terms.until {
		out = append(out, pb.AnomalyKind_PAID_AFTER_DEATH)
	} else if f.view.suspendedUnrestored(m) {
		out = append(out, pb.AnomalyKind_PAID_WHILE_SUSPENDED)
	}
	if f.cur.regularCount > 0 && f.prev.regularCount > 0 && float64(f.cur.regular) < (1-f.dropShare)*float64(f.prev.regular) {
		out = append(out, pb.AnomalyKind_AMOUNT_DROP)
	}
	if f.cur.regularCount > 1 {
		out = append(out, pb.AnomalyKind_PAID_TWICE)
	}
	return out
}
