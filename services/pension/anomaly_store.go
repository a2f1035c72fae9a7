package pension

import (
	"bytes"
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
		scan := boltstore.Scan{Size: size + 1, MaxExamined: s.maxExamined}
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

// paidIn sums a retiree's payments for m.
func (a *anomalyScan) paidIn(id string, m month) (monthTotals, error) {
	payments, err := a.s.paymentsOfMonth(a.tx, id, m)
	var out monthTotals
	for _, p := range payments {
		out.any = true
		out.total += p.TotalFen
		switch p.Kind {
		case pb.PaymentKind_REGULAR:
			out.regular += p.TotalFen
			out.regularCount++
			out.paid = true
		case pb.PaymentKind_ARREARS:
			out.paid = true
		}
	}
	return out, err
}

// of returns one retiree's anomalies of the month, in kind order.
func (a *anomalyScan) of(st *registryv1.RetireeState) ([]*pb.Anomaly, error) {
	f := monthFacts{month: a.f.Month, terms: termsOf(st), living: living(st), dropShare: a.f.DropShare}
	var err error
	if f.cur, err = a.paidIn(st.Id, f.month); err != nil {
		return nil, err
	}
	if !f.cur.any && !(f.living && f.terms.payable(f.month)) {
		return nil, nil
	}
	if f.cur.regularCount > 0 {
		if f.prev, err = a.paidIn(st.Id, f.month-1); err != nil {
			return nil, err
		}
	}
	decisions, err := decisionsOf(a.tx, st.Id)
	if err != nil {
		return nil, err
	}
	f.view = bureauView(st, decisions)
	day, channel, err := latestRecordedBy(a.tx, st.Id, formatDate(f.month.lastDay()))
	if err != nil {
		return nil, err
	}
	lastCertified := lastCertOf(st, day, channel).day
	var out []*pb.Anomaly
	for _, kind := range f.kinds() {
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
