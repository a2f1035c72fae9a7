package pension

import (
	"bytes"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// paymentKey is retiree id, 0, month.
func paymentKey(dst []byte, id string, m month) []byte {
	dst = append(dst, id...)
	dst = append(dst, 0)
	return m.appendTo(dst)
}

// versionKey is a payment key, 0, version.
func versionKey(dst, payment []byte, version int32) []byte {
	dst = append(dst, payment...)
	dst = append(dst, 0)
	return boltstore.AppendU64(dst, uint64(version)) //nolint:gosec // G115: versions count up from 1
}

// Payments returns a retiree's payments of the months from..to, oldest
// first.
func (s *Store) Payments(id string, from, to month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		out, err = paymentsIn(tx, id, from, to)
		return err
	})
	return out, err
}

func paymentsIn(tx *bolt.Tx, id string, from, to month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	end := paymentKey(nil, id, to)
	c := tx.Bucket(bucketPayments).Cursor()
	for k, v := c.Seek(paymentKey(nil, id, from)); k != nil && bytes.Compare(k, end) <= 0; k, v = c.Next() {
		p := new(pb.Payment)
		if err := unmarshal(v, p, "payment"); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// PaymentVersions returns every version of a retiree's payment for a
// month, newest first; none when the month was never paid.
func (s *Store) PaymentVersions(id string, m month) ([]*pb.Payment, error) {
	var out []*pb.Payment
	err := s.DB().View(func(tx *bolt.Tx) error {
		key := paymentKey(nil, id, m)
		v := tx.Bucket(bucketPayments).Get(key)
		if v == nil {
			return nil
		}
		cur := new(pb.Payment)
		if err := unmarshal(v, cur, "payment"); err != nil {
			return err
		}
		out = append(out, cur)
		prefix := append(key, 0)
		var older []*pb.Payment
		err := boltstore.ScanPrefix(tx.Bucket(bucketPaymentVersions).Cursor(), prefix, nil, func(_, v []byte) (bool, error) {
			p := new(pb.Payment)
			if err := unmarshal(v, p, "payment version"); err != nil {
				return false, err
			}
			older = append(older, p)
			return true, nil
		})
		slices.Reverse(older)
		out = append(out, older...)
		return err
	})
	return out, err
}

// Statement returns a retiree's statement for a year: the year's payments
// with their totals, and the payable months up to today that were not
// paid. A month is payable after the month of retirement, up to the month
// of death, and when the pension was not suspended for the whole month.
func (s *Store) Statement(st *registryv1.RetireeState, year int, today time.Time) (*pb.GetStatementResponse, error) {
	resp := &pb.GetStatementResponse{RetireeId: st.Id, Year: int32(year)} //nolint:gosec // G115: the server passes a validated int32 year
	first := month(year * 12)
	last := first + 11
	if cur := monthOf(today); last > cur {
		last = cur
	}
	err := s.DB().View(func(tx *bolt.Tx) error {
		payments, err := paymentsIn(tx, st.Id, first, first+11)
		if err != nil {
			return err
		}
		h, err := certHistoryIn(tx, st.Id)
		if err != nil {
			return err
		}
		paid := make(map[string]bool, len(payments))
		for _, p := range payments {
			paid[p.Month] = true
			resp.BasicFen += p.BasicFen
			resp.PersonalAccountFen += p.PersonalAccountFen
			resp.TransitionalFen += p.TransitionalFen
			resp.OtherFen += p.OtherFen
			resp.TotalFen += p.TotalFen
		}
		resp.Payments = payments
		resp.MonthsPaid = int32(len(payments)) //nolint:gosec // G115: one payment a month, at most 12
		t := termsOf(st)
		for m := first; m <= last; m++ {
			if t.payable(m) && !h.suspendedIn(m) && !paid[m.String()] {
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

// Entitlement evaluates a retiree's entitlement as of a day.
func (s *Store) Entitlement(st *registryv1.RetireeState, asOf time.Time) (*pb.GetEntitlementResponse, error) {
	var resp *pb.GetEntitlementResponse
	err := s.DB().View(func(tx *bolt.Tx) error {
		h, err := certHistoryIn(tx, st.Id)
		if err != nil {
			return err
		}
		payments := tx.Bucket(bucketPayments)
		var key []byte
		paid := func(m month) bool {
			key = paymentKey(key[:0], st.Id, m)
			return payments.Get(key) != nil
		}
		resp = entitlementAsOf(st, h, paid, asOf)
		return nil
	})
	return resp, err
}
