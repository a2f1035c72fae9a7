package pension

import (
	"bytes"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// paymentKey is retiree id, 0, month, 0, paid_on, 0, kind (one byte, the
// PaymentKind number): a payment is one (retiree, month, kind, paid_on),
// and a month's payments are listed by the day they were paid.
func paymentKey(dst []byte, id string, m month, paidOn string, kind pb.PaymentKind) []byte {
	dst = paymentMonthPrefix(dst, id, m)
	dst = append(dst, paidOn...)
	return append(dst, 0, byte(kind)) //nolint:gosec // G115: the kinds are 1 to 3
}

// paymentMonthPrefix is retiree id, 0, month, 0: the prefix of the keys
// of a month's payments.
func paymentMonthPrefix(dst []byte, id string, m month) []byte {
	dst = append(dst, id...)
	dst = append(dst, 0)
	return append(m.appendTo(dst), 0)
}

// kindOfPaymentKey returns the kind a payment key ends with.
func kindOfPaymentKey(k []byte) pb.PaymentKind { return pb.PaymentKind(k[len(k)-1]) }

// versionKey is a payment key, 0, version.
func versionKey(dst, payment []byte, version int32) []byte {
	dst = append(dst, payment...)
	dst = append(dst, 0)
	return boltstore.AppendU64(dst, uint64(version)) //nolint:gosec // G115: versions count up from 1
}

// paysMonth reports whether a payment of a kind counts as the month's
// pension: REGULAR or ARREARS (an ADJUSTMENT only adds to it).
func paysMonth(k pb.PaymentKind) bool {
	return k == pb.PaymentKind_REGULAR || k == pb.PaymentKind_ARREARS
}

// Payments returns a retiree's payments of the months from..to, oldest
// first; a month's payments by the day they were paid.
func (s *Store) Payments(id string, from, to month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		out, err = s.paymentsIn(tx, id, from, to)
		return err
	})
	return out, err
}

// paymentsIn returns a retiree's payments of the months from..to, read
// in tx.
func (s *Store) paymentsIn(tx *bolt.Tx, id string, from, to month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	// Every key of the months up to to sorts before to+1's prefix.
	end := paymentMonthPrefix(nil, id, to+1)
	c := tx.Bucket(bucketPayments).Cursor()
	for k, v := c.Seek(paymentMonthPrefix(nil, id, from)); k != nil && bytes.Compare(k, end) < 0; k, v = c.Next() {
		p := new(pb.Payment)
		if err := s.Decode(bucketPayments, k, v, p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// paymentsOfMonth returns every current payment of a retiree for month m,
// of any kind, by the day they were paid.
func (s *Store) paymentsOfMonth(tx *bolt.Tx, id string, m month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	err := boltstore.ScanPrefix(tx.Bucket(bucketPayments).Cursor(), paymentMonthPrefix(nil, id, m), nil,
		servicedb.Collect(&s.Base, bucketPayments, &out, nil))
	return out, err
}

// monthPaid reports whether a REGULAR or ARREARS payment of a retiree is
// recorded for month m. It reads only keys.
func monthPaid(tx *bolt.Tx, id string, m month) bool {
	prefix := paymentMonthPrefix(nil, id, m)
	c := tx.Bucket(bucketPayments).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		if paysMonth(kindOfPaymentKey(k)) {
			return true
		}
	}
	return false
}

// PaymentVersions returns every version of a retiree's payments for a
// month: each payment of the month, by the day it was paid, followed by
// the versions its corrections replaced, newest first. None when the
// month was never paid.
func (s *Store) PaymentVersions(id string, m month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	err := s.DB().View(func(tx *bolt.Tx) error {
		versions := tx.Bucket(bucketPaymentVersions)
		return boltstore.ScanPrefix(tx.Bucket(bucketPayments).Cursor(), paymentMonthPrefix(nil, id, m), nil, func(k, v []byte) (bool, error) {
			cur := new(pb.Payment)
			if err := s.Decode(bucketPayments, k, v, cur); err != nil {
				return false, err
			}
			out = append(out, cur)
			var older []*pb.Payment
			err := boltstore.ScanPrefix(versions.Cursor(), append(bytes.Clone(k), 0), nil,
				servicedb.Collect(&s.Base, bucketPaymentVersions, &older, nil))
			slices.Reverse(older)
			out = append(out, older...)
			return err == nil, err
		})
	})
	return out, err
}

// Statement returns a retiree's statement for a year: the year's payments
// of every kind with their totals, and the payable months up to today
// without a REGULAR or ARREARS payment. A month is payable after the month
// of retirement, up to the month of death, while the bureau has the
// pension ACTIVE.
func (s *Store) Statement(st *registryv1.RetireeState, year int, today time.Time) (*pb.GetStatementResponse, error) {
	resp := &pb.GetStatementResponse{RetireeId: st.Id, Year: int32(year)} //nolint:gosec // G115: the server passes a validated int32 year
	first := month(year * 12)
	last := first + 11
	if cur := monthOf(today); last > cur {
		last = cur
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		payments, err := s.paymentsIn(tx, st.Id, first, first+11)
		if err != nil {
			return err
		}
		decisions, err := decisionsOf(tx, st.Id)
		if err != nil {
			return err
		}
		view := bureauView(st, decisions)
		paid := make(map[string]bool, 12)
		for _, p := range payments {
			if paysMonth(p.Kind) {
				paid[p.Month] = true
			}
			resp.BasicFen += p.BasicFen
			resp.PersonalAccountFen += p.PersonalAccountFen
			resp.TransitionalFen += p.TransitionalFen
			resp.OtherFen += p.OtherFen
			resp.TotalFen += p.TotalFen
		}
		resp.Payments = payments
		resp.MonthsPaid = int32(len(paid)) //nolint:gosec // G115: at most 12 months
		for m := first; m <= last; m++ {
			if view.terms.payable(m) && view.stateIn(m).state == pb.EntitlementState_ACTIVE && !paid[m.String()] {
				resp.MonthsMissing = append(resp.MonthsMissing, m.String())
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return resp, nil
}
