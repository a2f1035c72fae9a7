package registry

import (
	"bytes"
	"errors"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// MaxRevokedTokens bounds the revocation list: every program keeps
	// it in memory. Entries lapse when their tokens expire, at most a
	// service token's lifetime after they were made, so the bound is met
	// only by a mass revocation, which a key rotation answers better.
	MaxRevokedTokens = 100_000
	// revocationLapse is how long after its token's expiry an entry is
	// pruned: longer than any verifier's leeway.
	revocationLapse = 5 * time.Minute
	// prunePerWrite bounds the entries one revocation prunes, so that no
	// single request pays for a large backlog.
	prunePerWrite = 64
)

// reasonTooManyRevoked is the ErrorInfo reason of a revocation refused
// because the list is full.
const reasonTooManyRevoked = "TOO_MANY_REVOKED_TOKENS"

// RevokeToken puts t (token id, expiry, reason and who revoked it) on the
// revocation list under the next sequence number, and returns the entry
// with its sequence and revoke time. A token already on the list is
// answered with its first entry and replayed true.
func (s *Store) RevokeToken(t *pb.RevokedToken) (entry *pb.RevokedToken, replayed bool, err error) {
	t = proto.Clone(t).(*pb.RevokedToken)
	now := s.now()
	err = s.Update(func(tx *bolt.Tx) error {
		if _, err := pruneRevocations(tx, now, prunePerWrite); err != nil {
			return err
		}
		byID := tx.Bucket(bucketRevokedByID)
		if seq := byID.Get([]byte(t.TokenId)); seq != nil {
			replayed = true
			entry = new(pb.RevokedToken)
			return boltstore.GetProto(tx.Bucket(bucketRevoked), seq, entry, fault.ErrNotFound)
		}
		if tx.Bucket(bucketRevokedByID).Stats().KeyN >= s.maxRevoked {
			return fault.Limit(reasonTooManyRevoked, "the revocation list is full; rotate the signing key instead")
		}
		meta := tx.Bucket(bucketMeta)
		var last uint64
		if v := meta.Get(metaRevocationSeq); v != nil {
			last, _ = boltstore.ParseU64(v)
		}
		last++
		t.Sequence = int64(last) //nolint:gosec // G115: counts up by one from 0
		t.RevokeTime = timestamppb.New(now)
		seq := boltstore.U64(last)
		if err := boltstore.PutProto(tx.Bucket(bucketRevoked), seq, t); err != nil {
			return err
		}
		if err := byID.Put([]byte(t.TokenId), seq); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRevokedByExpiry).Put(expiryKey(t.ExpireTime.AsTime(), last), nil); err != nil {
			return err
		}
		entry = t
		return meta.Put(metaRevocationSeq, seq)
	})
	if err != nil {
		return nil, false, err
	}
	return entry, replayed, nil
}

// ListRevokedTokens returns up to limit entries of the revocation list
// after sequence number after, in sequence order.
func (s *Store) ListRevokedTokens(after int64, limit int) ([]*pb.RevokedToken, error) {
	var out []*pb.RevokedToken
	err := s.DB().View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRevoked).Cursor()
		for k, v := c.Seek(boltstore.U64(uint64(max(after, 0)) + 1)); k != nil && len(out) < limit; k, v = c.Next() { //nolint:gosec // G115: not negative
			t := new(pb.RevokedToken)
			if err := proto.Unmarshal(v, t); err != nil {
				return err
			}
			out = append(out, t)
		}
		return nil
	})
	return out, err
}

// Revocations returns the whole revocation list as the verifier keeps
// it: what registry's own verifier starts with.
func (s *Store) Revocations() ([]authn.Revocation, error) {
	var out []authn.Revocation
	err := s.DB().View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRevoked).ForEach(func(_, v []byte) error {
			t := new(pb.RevokedToken)
			if err := proto.Unmarshal(v, t); err != nil {
				return err
			}
			out = append(out, authn.Revocation{TokenID: t.TokenId, Expires: t.ExpireTime.AsTime()})
			return nil
		})
	})
	return out, err
}

// pruneRevocations drops every lapsed entry; OpenStore calls it, so that
// a registry that revokes nothing for months does not serve a list of
// long-expired tokens.
func (s *Store) pruneRevocations() error {
	return s.Update(func(tx *bolt.Tx) error {
		_, err := pruneRevocations(tx, s.now(), MaxRevokedTokens)
		return err
	})
}

// pruneRevocations drops up to budget entries whose tokens expired more
// than revocationLapse before now, soonest expired first.
func pruneRevocations(tx *bolt.Tx, now time.Time, budget int) (int, error) {
	byExpiry := tx.Bucket(bucketRevokedByExpiry)
	revoked, byID := tx.Bucket(bucketRevoked), tx.Bucket(bucketRevokedByID)
	cutoff := expiryKey(now.Add(-revocationLapse), 0)
	var gone [][]byte
	c := byExpiry.Cursor()
	for k, _ := c.First(); k != nil && len(gone) < budget && bytes.Compare(k, cutoff) < 0; k, _ = c.Next() {
		gone = append(gone, bytes.Clone(k))
	}
	for _, k := range gone {
		seq := k[8:]
		t := new(pb.RevokedToken)
		if err := boltstore.GetProto(revoked, seq, t, fault.ErrNotFound); err != nil {
			return 0, err
		}
		if err := errors.Join(revoked.Delete(seq), byID.Delete([]byte(t.TokenId)), byExpiry.Delete(k)); err != nil {
			return 0, err
		}
	}
	return len(gone), nil
}

// expiryKey orders entries by expiry, then sequence.
func expiryKey(exp time.Time, seq uint64) []byte {
	return boltstore.AppendU64(boltstore.U64(uint64(max(exp.Unix(), 0))), seq) //nolint:gosec // G115: not negative
}
