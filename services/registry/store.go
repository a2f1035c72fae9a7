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
	"github.com/socmgmt/socmgmt/internal/broadcast"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
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
	// Checkpoints say how the audit log is signed (see audit.Checkpoints).
	Checkpoints audit.Checkpoints
	// DataKeys seal the personal data (ID and phone numbers, addresses);
	// nil keeps it in plain text, which a file already sealed refuses
	// (see servicedb.Open).
	DataKeys *datakey.Ring
	// SignalRetention is the number of work-signal feed entries kept
	// (0: signalfeed.DefaultRetention).
	SignalRetention uint64
	// MaxSignalWatchers bounds the WatchWorkSignals streams open at once
	// (0: 64).
	MaxSignalWatchers int
	// Calendar counts the working days of a death report's verification
	// (nil: the calendar built in).
	Calendar *workdays.Calendar
}

// Store is the registry's bbolt-backed storage: communities, enterprises,
// retirees with their indexes, the change log, history, audit and the
// socialisation counters. Every write to a retiree and its change-log entry
// happen in one transaction.
type Store struct {
	servicedb.Base
	keyer     *idnumber.Keyer
	retention uint64
	now       func() time.Time
	log       *zap.Logger
	// changes wakes the watchers after a commit.
	changes broadcast.Signal
	// maxExamined bounds the keys a list page examines (0: boltstore's
	// default); tests lower it to see the bound without a huge table.
	maxExamined int
	// epoch is the change log's epoch, fixed while the store is open.
	epoch string
	// maxRevoked bounds the revocation list (MaxRevokedTokens; tests
	// lower it).
	maxRevoked int
	// maxExportRows bounds an exported register (MaxExportRows; tests
	// lower it).
	maxExportRows int
	// backfillBatch is about how many history entries one transaction
	// of the register index's filling reads (see register_backfill.go).
	backfillBatch int
	// signals is the work-signal feed (see signals.go).
	signals *signalfeed.Feed
	// calendar counts working days for the signals' due times.
	calendar *workdays.Calendar
}

// OpenStore opens (creating if needed) the registry database at path,
// migrating it to storageSchema, or refusing it with
// boltstore.ErrSchemaTooNew when a newer build wrote it.
func OpenStore(path string, keyer *idnumber.Keyer, o StoreOptions) (*Store, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	if o.Retention == 0 {
		o.Retention = DefaultRetention
	}
	if o.Calendar == nil {
		o.Calendar = workdays.Default()
	}
	base, err := servicedb.Open(path, schemaAt(o.Now), servicedb.Options{
		Logger: o.Logger, Now: o.Now, Audit: true, DurableReads: o.DurableReads, Checkpoints: o.Checkpoints,
		Sealed: sealedBuckets, DataKeys: o.DataKeys,
	})
	if err != nil {
		return nil, err
	}
	s := &Store{Base: base, keyer: keyer, retention: o.Retention, now: o.Now, log: o.Logger, maxRevoked: MaxRevokedTokens, maxExportRows: MaxExportRows, backfillBatch: backfillBatch, calendar: o.Calendar}
	if s.epoch, err = s.openEpoch(); err != nil {
		return nil, errors.Join(err, base.Close())
	}
	s.signals, err = signalfeed.New(base.DB(), signalfeed.Options{Source: "registry", Retention: o.SignalRetention, MaxWatchers: o.MaxSignalWatchers, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.backfillSignals(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.pruneRevocations(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.reindexRetirees(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.startStatsDays(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.backfillRegisterEvents(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

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
	if err := s.insert(bucketCommunities, []byte(c.Id), c, fault.Conflict("COMMUNITY_EXISTS", "a community with this id already exists")); err != nil {
		return nil, err
	}
	return c, nil
}

// GetCommunity returns a community or ErrNotFound.
func (s *Store) GetCommunity(id string) (*pb.Community, error) {
	return get[pb.Community](s.DB(), bucketCommunities, []byte(id), errCommunityNotFound)
}

// ListCommunities returns a page of communities in id order.
func (s *Store) ListCommunities(district, street string, size int, after []byte) ([]*pb.Community, []byte, error) {
	return page(s, bucketCommunities, size, after, func(c *pb.Community) bool {
		return (district == "" || c.District == district) && (street == "" || c.Street == street)
	})
}

// CreateEnterprise stores a new enterprise; a known credit code is a
// conflict.
func (s *Store) CreateEnterprise(e *pb.Enterprise) (*pb.Enterprise, error) {
	e = proto.Clone(e).(*pb.Enterprise)
	e.CreateTime = timestamppb.New(s.now())
	if err := s.insert(bucketEnterprises, []byte(e.CreditCode), e, fault.Conflict("ENTERPRISE_EXISTS", "an enterprise with this credit code already exists")); err != nil {
		return nil, err
	}
	return e, nil
}

// GetEnterprise returns an enterprise or ErrNotFound.
func (s *Store) GetEnterprise(code string) (*pb.Enterprise, error) {
	return get[pb.Enterprise](s.DB(), bucketEnterprises, []byte(code), errEnterpriseNotFound)
}

// ListEnterprises returns a page of enterprises in credit-code order.
func (s *Store) ListEnterprises(status pb.EnterpriseStatus, size int, after []byte) ([]*pb.Enterprise, []byte, error) {
	return page(s, bucketEnterprises, size, after, func(e *pb.Enterprise) bool {
		return status == pb.EnterpriseStatus_ENTERPRISE_STATUS_UNSPECIFIED || e.Status == status
	})
}

// message is a stored protobuf message type T, for the generic helpers
// below: PT is *T.
type message[T any] interface {
	*T
	proto.Message
}

// get reads the message stored under key in bucket, or notFound.
func get[T any, PT message[T]](db *bolt.DB, bucket, key []byte, notFound error) (PT, error) {
	m := PT(new(T))
	err := db.View(func(tx *bolt.Tx) error {
		return boltstore.GetProto(tx.Bucket(bucket), key, m, notFound)
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// insert stores m under a new key in bucket; exists is the error when
// the key is taken.
func (s *Store) insert(bucket, key []byte, m proto.Message, exists error) error {
	return s.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b.Get(key) != nil {
			return exists
		}
		return boltstore.PutProto(b, key, m)
	})
}

// page returns a page of the messages of bucket that keep accepts, in key
// order, examining at most the store's bound of entries.
func page[T any, PT message[T]](s *Store, bucket []byte, size int, after []byte, keep func(PT) bool) ([]PT, []byte, error) {
	var out []PT
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}.Page(tx.Bucket(bucket).Cursor(), boltstore.Collect(&out, keep))
		return err
	})
	return out, next, err
}

// isNotFound reports whether err says the object does not exist.
func isNotFound(err error) bool { return errors.Is(err, fault.ErrNotFound) }
