package activity

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Logger receives bbolt's own messages, audit-writer failures and the
	// projection's reconnects.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DurableReads makes every read of registrations wait until its audit
	// record is on disk before the data is answered (see
	// audit.Log.Record); otherwise records are group-committed within
	// milliseconds of the answer.
	DurableReads bool
	// Checkpoints say how the audit log is signed (see audit.Checkpoints).
	Checkpoints audit.Checkpoints
	// SignalRetention is the number of work-signal feed entries kept
	// (0: signalfeed.DefaultRetention).
	SignalRetention uint64
	// MaxSignalWatchers bounds the WatchWorkSignals streams open at once
	// (0: 64).
	MaxSignalWatchers int
	// TracerProvider, when set, links the retiree projection's applies to
	// the traces of registry's changes (see projection.Options); nil
	// traces nothing.
	TracerProvider trace.TracerProvider
}

// Store is the activity service's bbolt-backed storage: venues,
// activities with their sessions and the per-venue clash index,
// registrations, attendance, the audit log, and the projection of
// registry's retirees that registration rules read. Every request's
// writes happen in one transaction.
type Store struct {
	servicedb.Base
	now        func() time.Time
	log        *zap.Logger
	zones      *zoneCache
	projection *projection.Projection
	// signals is the work-signal feed (see signals.go).
	signals *signalfeed.Feed
}

// OpenStore opens (creating if needed) the activity database at path,
// migrating it to storageSchema (or refusing it with
// boltstore.ErrSchemaTooNew when a newer build wrote it), and prepares the
// retiree projection in it, which follows registry through the given
// client once Projection().Run is called. A nil client is for tests that
// never run the projection.
func OpenStore(path string, registry registryv1.RegistryServiceClient, o StoreOptions) (*Store, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	base, err := servicedb.Open(path, storageSchema, servicedb.Options{
		Logger: o.Logger, Now: o.Now, Audit: true, DurableReads: o.DurableReads, Checkpoints: o.Checkpoints,
	})
	if err != nil {
		return nil, err
	}
	s := &Store{Base: base, now: o.Now, log: o.Logger, zones: newZoneCache()}
	s.signals, err = signalfeed.New(base.DB(), signalfeed.Options{Source: "activity", Retention: o.SignalRetention, MaxWatchers: o.MaxSignalWatchers, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return nil, errors.Join(err, base.Close())
	}
	s.projection, err = projection.New(base.DB(), registry, projection.Options{
		Logger:         o.Logger.Named("projection"),
		TracerProvider: o.TracerProvider,
		OnApply:        s.applyRetiree,
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	return s, nil
}

// Close clears the work-signal feed's in-use mark and closes the store.
func (s *Store) Close() error {
	var err error
	if s.signals != nil {
		err = s.signals.Close()
	}
	return errors.Join(err, s.Base.Close())
}

// Signals is the store's work-signal feed.
func (s *Store) Signals() *signalfeed.Feed { return s.signals }

// Projection returns the retiree projection kept in the store's file.
func (s *Store) Projection() *projection.Projection { return s.projection }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// Actor is who makes a change or a read, for the audit log.
type Actor = audit.Actor

// Scope is the object check of a caller: the store calls it inside its
// transaction with the community of the object a request names, or with
// "" when the object does not exist. It returns nil to go on, or the
// error to answer (PermissionDenied for an object the caller may not
// see, or may not learn the absence of).
type Scope func(community string) error

// Errors particular to the activity store; the general ones come from
// fault.
var (
	errVenueNotFound        = fmt.Errorf("venue %w", fault.ErrNotFound)
	errActivityNotFound     = fmt.Errorf("activity %w", fault.ErrNotFound)
	errRegistrationNotFound = fmt.Errorf("registration %w", fault.ErrNotFound)
)

// Rule-failure reasons the activity service returns in ErrorInfo; clients
// match on them.
const (
	// ReasonScheduleConflict (AlreadyExists) refuses an activity with a
	// session overlapping a booking of its venue; the metadata name the
	// conflicting activity and session and the new session that clashes.
	ReasonScheduleConflict = "SCHEDULE_CONFLICT"
	// ReasonAlreadyRegistered (AlreadyExists) refuses a second
	// registration of a retiree who has not cancelled the first.
	ReasonAlreadyRegistered = "ALREADY_REGISTERED"
	// ReasonRequestKeyReused refuses a CreateVenue whose request key
	// created a different venue.
	ReasonRequestKeyReused = "REQUEST_KEY_REUSED"
	// ReasonActivityCancelled refuses changes to a cancelled activity or
	// session.
	ReasonActivityCancelled = "ACTIVITY_CANCELLED"
	// ReasonActivityEnded refuses changes to an activity whose last
	// session is over.
	ReasonActivityEnded = "ACTIVITY_ENDED"
	// ReasonWaitlistFull refuses a registration when the activity is full
	// and its waiting list too.
	ReasonWaitlistFull = "WAITLIST_FULL"
	// ReasonSessionNotStarted refuses attendance of a session yet to
	// begin.
	ReasonSessionNotStarted = "SESSION_NOT_STARTED"
)

// CreateVenue stores a validated new venue. With a request key, a repeated
// request returns the venue the key first created, and the key used for a
// different venue is a REQUEST_KEY_REUSED failure.
func (s *Store) CreateVenue(in *pb.Venue, requestKey string) (*pb.Venue, error) {
	v := proto.Clone(in).(*pb.Venue)
	v.CreateTime = timestamppb.New(s.now())
	fp := venueFingerprint(v)
	err := s.Update(func(tx *bolt.Tx) error {
		keys := tx.Bucket(bucketVenueKeys)
		if requestKey != "" {
			if rec := keys.Get([]byte(requestKey)); rec != nil {
				if len(rec) != len(fp)+idLen || !bytes.Equal(rec[:len(fp)], fp) {
					return fault.Rule(ReasonRequestKeyReused, "this request key was used for a different venue")
				}
				return boltstore.GetProto(tx.Bucket(bucketVenues), rec[len(fp):], v, errVenueNotFound)
			}
		}
		venues := tx.Bucket(bucketVenues)
		v.Id = unusedID(venues)
		if err := boltstore.PutProto(venues, []byte(v.Id), v); err != nil {
			return err
		}
		if err := tx.Bucket(bucketVenuesByCommunity).Put(boltstore.Key(v.CommunityId, v.Id), nil); err != nil {
			return err
		}
		if requestKey != "" {
			return keys.Put([]byte(requestKey), append(append([]byte(nil), fp...), v.Id...))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

// venueFingerprint identifies a venue's content, so that a request key
// reused for another venue is refused instead of answered wrongly.
func venueFingerprint(v *pb.Venue) []byte {
	h := sha256.New()
	for _, s := range []string{v.CommunityId, v.Name, v.Address} {
		h.Write(binary.AppendUvarint(nil, uint64(len(s))))
		h.Write([]byte(s))
	}
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(v.Capacity))) //nolint:gosec // G115: hashed as bits, not used as a number
	h.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(v.AreaSqm)))
	return h.Sum(nil)
}

// GetVenue returns a venue the caller may see.
func (s *Store) GetVenue(id string, scope Scope) (*pb.Venue, error) {
	var v *pb.Venue
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		v, err = loadVenue(tx, id, scope)
		return err
	})
	return v, err
}

// loadVenue reads a venue and applies scope to it.
func loadVenue(tx *bolt.Tx, id string, scope Scope) (*pb.Venue, error) {
	return loadScoped[pb.Venue](tx.Bucket(bucketVenues), id, scope, errVenueNotFound)
}

// loadScoped reads the object of a community stored under id in b and
// applies scope to it. An id that cannot be one, or names nothing, is
// absent: scope's refusal for a caller that may not learn so, else
// notFound. Venues and activities are read through it, so that both hide
// what does not exist in the same way.
func loadScoped[M any, P interface {
	*M
	proto.Message
	GetCommunityId() string
}](b *bolt.Bucket, id string, scope Scope, notFound error) (P, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, absent(scope, notFound)
	}
	m := P(new(M))
	if err := boltstore.GetProto(b, []byte(id), m, notFound); err != nil {
		if errors.Is(err, fault.ErrNotFound) {
			return nil, absent(scope, err)
		}
		return nil, err
	}
	if err := scope(m.GetCommunityId()); err != nil {
		return nil, err
	}
	return m, nil
}

// absent answers a request for an object that does not exist: the
// scope's error when the caller may not learn that, else notFound.
func absent(scope Scope, notFound error) error {
	if err := scope(""); err != nil {
		return err
	}
	return notFound
}

// ListVenues returns a page of a community's venues in id order.
func (s *Store) ListVenues(community string, size int, after []byte) ([]*pb.Venue, []byte, error) {
	var out []*pb.Venue
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		venues := tx.Bucket(bucketVenues)
		prefix := boltstore.Prefix(community)
		var err error
		next, err = boltstore.Scan{Prefix: prefix, After: after, Size: size}.Page(tx.Bucket(bucketVenuesByCommunity).Cursor(), func(k, _ []byte) (bool, error) {
			v := new(pb.Venue)
			if err := boltstore.GetProto(venues, k[len(prefix):], v, errVenueNotFound); err != nil {
				// Not wrapped: corruption must not read as 404.
				return false, fmt.Errorf("venue index inconsistent: %v", err) //nolint:errorlint // see above
			}
			out = append(out, v)
			return true, nil
		})
		return err
	})
	return out, next, err
}

// unusedID returns a new id that is not yet a key of b. A collision of 80
// random bits is all but impossible, but a stored record must never be
// overwritten by a new one.
func unusedID(b *bolt.Bucket) string {
	for {
		id := inputcheck.NewOpaqueID()
		if b.Get([]byte(id)) == nil {
			return id
		}
	}
}
