package registry

import (
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// DefaultRetention is how many change-log entries the store keeps for
// WatchRetirees consumers to replay.
const DefaultRetention = 1_000_000

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Retention is the number of change-log entries kept; older ones are
	// pruned as new ones are written. Zero means DefaultRetention.
	Retention uint64
	// Logger receives bbolt's own messages and audit-writer failures.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DurableReads makes every read wait until its audit record is on disk
	// before the data is answered. Off, records are group-committed within
	// milliseconds of the answer, and a crash can lose the last commit's.
	DurableReads bool
}

// Store is the registry's bbolt-backed storage: communities, enterprises,
// retirees with their indexes, the change log, history, audit and the
// socialisation counters. Every write to a retiree and its change-log entry
// happen in one transaction.
type Store struct {
	db        *bolt.DB
	keyer     *idnumber.Keyer
	retention uint64
	pages     *boltstore.PageTokens
	now       func() time.Time
	log       *zap.Logger
	changes   *notifier
	audit     *audit.Log
	// maxExamined bounds the keys a list page examines (0: boltstore's
	// default); tests lower it to see the bound without a huge table.
	maxExamined int
}

// OpenStore opens (creating if needed) the registry database at path,
// migrating it to storageSchema, or refusing it with
// boltstore.ErrSchemaTooNew when a newer build wrote it.
func OpenStore(path string, keyer *idnumber.Keyer, o StoreOptions) (*Store, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	db, pages, err := boltstore.OpenVersioned(path, storageSchema, boltstore.Options{Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	s := &Store{
		db:        db,
		keyer:     keyer,
		retention: o.Retention,
		pages:     pages,
		now:       o.Now,
		log:       o.Logger,
		changes:   newNotifier(),
	}
	s.audit = audit.NewLog(db, o.Logger, o.Now, o.DurableReads)
	return s, nil
}

// Close stops the audit writer and closes the database.
func (s *Store) Close() error {
	s.audit.Close()
	return s.db.Close()
}

// DB returns the underlying database, for the online-backup handler.
func (s *Store) DB() *bolt.DB { return s.db }

// Errors particular to the registry store; the general ones come from
// fault.
var (
	errCommunityNotFound  = fmt.Errorf("community %w", fault.ErrNotFound)
	errEnterpriseNotFound = fmt.Errorf("enterprise %w", fault.ErrNotFound)
	errRetireeNotFound    = fmt.Errorf("retiree %w", fault.ErrNotFound)
)

// CreateCommunity stores a new community; ErrAlreadyExists for a known id.
func (s *Store) CreateCommunity(c *pb.Community) (*pb.Community, error) {
	c = proto.Clone(c).(*pb.Community)
	c.CreateTime = timestamppb.New(s.now())
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketCommunities)
		if b.Get([]byte(c.Id)) != nil {
			return fault.Conflict("COMMUNITY_EXISTS", "a community with this id already exists")
		}
		return boltstore.PutProto(b, []byte(c.Id), c)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// GetCommunity returns a community or ErrNotFound.
func (s *Store) GetCommunity(id string) (*pb.Community, error) {
	c := new(pb.Community)
	err := s.db.View(func(tx *bolt.Tx) error {
		return boltstore.GetProto(tx.Bucket(bucketCommunities), []byte(id), c, errCommunityNotFound)
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// ListCommunities returns a page of communities in id order.
func (s *Store) ListCommunities(district, street string, size int, after []byte) ([]*pb.Community, []byte, error) {
	var out []*pb.Community
	var next []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}.Page(tx.Bucket(bucketCommunities).Cursor(), func(_, v []byte) (bool, error) {
			c := new(pb.Community)
			if err := proto.Unmarshal(v, c); err != nil {
				return false, err
			}
			if (district != "" && c.District != district) || (street != "" && c.Street != street) {
				return false, nil
			}
			out = append(out, c)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// CreateEnterprise stores a new enterprise; a known credit code is a
// conflict.
func (s *Store) CreateEnterprise(e *pb.Enterprise) (*pb.Enterprise, error) {
	e = proto.Clone(e).(*pb.Enterprise)
	e.CreateTime = timestamppb.New(s.now())
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEnterprises)
		if b.Get([]byte(e.CreditCode)) != nil {
			return fault.Conflict("ENTERPRISE_EXISTS", "an enterprise with this credit code already exists")
		}
		return boltstore.PutProto(b, []byte(e.CreditCode), e)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// GetEnterprise returns an enterprise or ErrNotFound.
func (s *Store) GetEnterprise(code string) (*pb.Enterprise, error) {
	e := new(pb.Enterprise)
	err := s.db.View(func(tx *bolt.Tx) error {
		return boltstore.GetProto(tx.Bucket(bucketEnterprises), []byte(code), e, errEnterpriseNotFound)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

// ListEnterprises returns a page of enterprises in credit-code order.
func (s *Store) ListEnterprises(status pb.EnterpriseStatus, size int, after []byte) ([]*pb.Enterprise, []byte, error) {
	var out []*pb.Enterprise
	var next []byte
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}.Page(tx.Bucket(bucketEnterprises).Cursor(), func(_, v []byte) (bool, error) {
			e := new(pb.Enterprise)
			if err := proto.Unmarshal(v, e); err != nil {
				return false, err
			}
			if status != pb.EnterpriseStatus_ENTERPRISE_STATUS_UNSPECIFIED && e.Status != status {
				return false, nil
			}
			out = append(out, e)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// PageTokens returns the store's page-token codec.
func (s *Store) PageTokens() *boltstore.PageTokens { return s.pages }

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, fault.ErrNotFound) }
