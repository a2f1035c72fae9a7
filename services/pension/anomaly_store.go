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
//   - MISSING: a living retiree, past the month of retirement and not
//     suspended for the month, has no payment.
//   - PAID_AFTER_DEATH: a payment for a month after the month of death.
//   - PAID_WHILE_SUSPENDED: a payment for a month the pension was suspended
//     throughout (see entitlement.go).
//   - AMOUNT_DROP: the total is below (1 - DropShare) of the previous
//     month's.
func (s *Store) ListAnomalies(f AnomalyFilter, size int, after []byte) ([]*pb.Anomaly, []byte, error) {
	var out []*pb.Anomaly
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		a := anomalyScan{tx: tx, f: f}
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
	return append(append([]byte(id), 0), byte(kind)) //nolint:gosec // G115: the kinds are 0 to 4
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
	tx *bolt.Tx
	f  AnomalyFilter
}

// payment returns a retiree's payments for m, of every kind, summed into
// one, or nil when there is none.
func (a *anomalyScan) payment(id string, m month) (*pb.Payment, error) {
	list, err := paymentsOfMonth(a.tx, id, m)
	if err != nil || len(list) == 0 {
		return nil, err
	}
	sum := &pb.Payment{RetireeId: id, Month: m.String()}
	for _, p := range list {
		sum.TotalFen += p.TotalFen
	}
	return sum, nil
}

// of returns one retiree's anomalies of the month, in kind order.
func (a *anomalyScan) of(st *registryv1.RetireeState) ([]*pb.Anomaly, error) {
	m := a.f.Month
	t := termsOf(st)
	cur, err := a.payment(st.Id, m)
	if err != nil {
		return nil, err
	}
	if cur == nil && !(living(st) && t.payable(m)) {
		return nil, nil
	}
	h, err := certHistoryIn(a.tx, st.Id)
	if err != nil {
		return nil, err
	}
	lastCertified := ""
	if last, ok := h.lastOn(m.lastDay()); ok {
		lastCertified = formatDate(last)
	}
	var out []*pb.Anomaly
	add := func(kind pb.AnomalyKind) *pb.Anomaly {
		x := &pb.Anomaly{Kind: kind, RetireeId: st.Id, Month: m.String(), TotalFen: cur.GetTotalFen(), LastCertifiedOn: lastCertified, DateOfDeath: t.dateOfDeath}
		out = append(out, x)
		return x
	}
	if cur == nil {
		if !h.suspendedIn(m) {
			add(pb.AnomalyKind_MISSING)
		}
		return out, nil
	}
	if t.deceased && m > t.until {
		add(pb.AnomalyKind_PAID_AFTER_DEATH)
	} else if h.suspendedIn(m) {
		add(pb.AnomalyKind_PAID_WHILE_SUSPENDED)
	}
	prev, err := a.payment(st.Id, m-1)
	if err != nil {
		return nil, err
	}
	if prev != nil && float64(cur.TotalFen) < (1-a.f.DropShare)*float64(prev.TotalFen) {
		add(pb.AnomalyKind_AMOUNT_DROP).PreviousTotalFen = prev.TotalFen
	}
	return out, nil
}
