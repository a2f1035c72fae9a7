package pension

import (
	"bytes"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// paymentIdentity is the migration from storage version 1 to 2. In
// version 1 a payment was one (retiree, month), keyed retiree id, 0,
// month; from version 2 it is one (retiree, month, kind, paid_on) (see
// paymentKey) and carries its kind. Each stored payment moves to its new
// key with the kind an import would give it now, and the versions its
// corrections replaced move under it, whatever day they said it was paid:
// they were versions of that payment.
var paymentIdentity = boltstore.Migration{
	From: 1, To: 2,
	Name:  "payments keyed by (retiree, month, paid_on, kind), each with its kind",
	Apply: rekeyPayments,
}

// Scratch buckets of rekeyPayments: the new keys extend the old ones, so
// the moved records are gathered apart and copied back into the emptied
// buckets.
var (
	scratchPayments        = []byte("payments_v2_scratch")
	scratchPaymentVersions = []byte("payment_versions_v2_scratch")
)

func rekeyPayments(tx *bolt.Tx) error {
	payments, versions := tx.Bucket(bucketPayments), tx.Bucket(bucketPaymentVersions)
	newPayments, err := tx.CreateBucket(scratchPayments)
	if err != nil {
		return err
	}
	newVersions, err := tx.CreateBucket(scratchPaymentVersions)
	if err != nil {
		return err
	}
	err = payments.ForEach(func(k, v []byte) error {
		p, key, err := rekeyedPayment(k, v)
		if err != nil {
			return err
		}
		return boltstore.PutProto(newPayments, key, p)
	})
	if err != nil {
		return err
	}
	err = versions.ForEach(func(k, v []byte) error {
		return rekeyVersion(payments, newVersions, k, v)
	})
	if err != nil {
		return err
	}
	if err := replaceBucket(tx, bucketPayments, scratchPayments); err != nil {
		return err
	}
	return replaceBucket(tx, bucketPaymentVersions, scratchPaymentVersions)
}

// rekeyedPayment decodes a version-1 payment stored under k, gives it its
// kind and returns it with its version-2 key.
func rekeyedPayment(k, v []byte) (*pb.Payment, []byte, error) {
	id, m, ok := splitV1PaymentKey(k)
	if !ok {
		return nil, nil, fmt.Errorf("version-1 payment key %q: %w", k, boltstore.ErrBadKey)
	}
	p := new(pb.Payment)
	if err := unmarshal(v, p, "payment"); err != nil {
		return nil, nil, err
	}
	paid, ok := parseCivil(p.PaidOn)
	if !ok {
		return nil, nil, fmt.Errorf("payment of retiree %s for %s: paid_on %q is not a date", id, m, p.PaidOn)
	}
	if p.Kind, ok = paymentKindOf(p.Kind, m, paid); !ok {
		return nil, nil, fmt.Errorf("payment of retiree %s for %s: unknown kind %d", id, m, p.Kind)
	}
	return p, paymentKey(nil, id, m, p.PaidOn, p.Kind), nil
}

// rekeyVersion moves a version-1 payment version, key k (the payment's
// key, 0, version), under the version-2 key of the payment it is a
// version of, which payments (version 1) still holds.
func rekeyVersion(payments, newVersions *bolt.Bucket, k, v []byte) error {
	const suffix = 1 + 8 // 0, version
	if len(k) <= suffix || k[len(k)-suffix] != 0 {
		return fmt.Errorf("version-1 payment version key %q: %w", k, boltstore.ErrBadKey)
	}
	old := k[:len(k)-suffix]
	cur := payments.Get(old)
	if cur == nil {
		// A version whose payment is gone cannot be placed; none is
		// ever deleted, so this is a damaged file.
		return fmt.Errorf("payment version %q without its payment: %w", k, boltstore.ErrBadKey)
	}
	curPayment, key, err := rekeyedPayment(old, cur)
	if err != nil {
		return err
	}
	p := new(pb.Payment)
	if err := unmarshal(v, p, "payment version"); err != nil {
		return err
	}
	p.Kind = curPayment.Kind
	return boltstore.PutProto(newVersions, append(append(key, 0), k[len(k)-8:]...), p)
}

// splitV1PaymentKey splits a version-1 payment key, retiree id, 0, month.
func splitV1PaymentKey(k []byte) (string, month, bool) {
	i := bytes.IndexByte(k, 0)
	if i <= 0 {
		return "", 0, false
	}
	m, ok := parseMonth(string(k[i+1:]))
	return string(k[:i]), m, ok
}

// replaceBucket empties bucket name and fills it with the records of
// scratch, which it then deletes.
func replaceBucket(tx *bolt.Tx, name, scratch []byte) error {
	if err := tx.DeleteBucket(name); err != nil {
		return err
	}
	dst, err := tx.CreateBucket(name)
	if err != nil {
		return err
	}
	if err := tx.Bucket(scratch).ForEach(dst.Put); err != nil {
		return err
	}
	return tx.DeleteBucket(scratch)
}
