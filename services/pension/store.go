// Package pension is the pension service: the monthly payments that
// social-security bureaus stream in, the annual certifications that each
// pensioner is alive, and what follows from them — entitlement, overdue
// certifications and payment anomalies. It knows retirees through its own
// projection of registry's change log, kept in the same bbolt file, and
// never calls registry while serving.
package pension

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Logger receives bbolt's own messages, audit-writer and projection
	// failures.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DurableReads makes every read wait until its audit record is on disk
	// before the data is answered. Off, records are group-committed within
	// milliseconds of the answer, and a crash can lose the last commit's.
	DurableReads bool
	// Registry is the client the projection follows WatchRetirees with; it
	// is only used once Projection().Run is called.
	Registry registryv1.RegistryServiceClient
	// ProjectionMinBackoff and ProjectionMaxBackoff bound the projection's
	// reconnect wait (zero: the projection's defaults).
	ProjectionMinBackoff, ProjectionMaxBackoff time.Duration
	// Checkpoints say how the audit log is signed (see audit.Checkpoints).
	Checkpoints audit.Checkpoints
	// DataKeys seal the personal data (the payments' bank-account
	// fragments); nil keeps it in plain text, which a file already sealed
	// refuses (see servicedb.Open).
	DataKeys *datakey.Ring
	// AmountDropShare is the AMOUNT_DROP threshold of the anomaly signals
	// (DefaultAmountDropShare when zero): the server's.
	AmountDropShare float64
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

// Store is the pension service's storage: payments with their superseded
// versions, certifications with the due-date index, import batches, the
// audit log, and the retiree projection, all in one bbolt file.
type Store struct {
	servicedb.Base
	keyer *idnumber.Keyer
	now   func() time.Time
	log   *zap.Logger
	proj  *projection.Projection
	// maxExamined bounds the keys a list page examines (0: boltstore's
	// default); tests lower it to see the bound without a huge table.
	maxExamined int
	// signals is the work-signal feed (see signals.go).
	signals *signalfeed.Feed
	// dropShare is the AMOUNT_DROP threshold of the anomaly signals.
	dropShare float64
	// sweep, when it holds a token, asks the sweep task for an anomaly
	// sweep (a payment import stream ended, having stored payments), and
	// certSweep for a certification sweep (the projection put retirees in
	// the due index); certKickTx is the last write transaction that asks
	// for one when it commits (see sweepCertsAfter).
	sweep, certSweep chan struct{}
	certKickTx       atomic.Pointer[bolt.Tx]
}

// Actor is who makes a change or a read, for the audit log.
type Actor = audit.Actor

// errRetireeNotFound is what a read of a retiree unknown to the projection
// gets; the server turns it into 403 for callers who may not learn that.
var errRetireeNotFound = fmt.Errorf("retiree %w", fault.ErrNotFound)

// OpenStore opens (creating if needed) the pension database at path,
// migrating it to storageSchema (or refusing it with
// boltstore.ErrSchemaTooNew when a newer build wrote it), and prepares the
// projection in it.
func OpenStore(path string, keyer *idnumber.Keyer, o StoreOptions) (*Store, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	base, err := servicedb.Open(path, storageSchema, servicedb.Options{
		Logger: o.Logger, Now: o.Now, Audit: true, DurableReads: o.DurableReads, Checkpoints: o.Checkpoints,
		Sealed: sealedBuckets, DataKeys: o.DataKeys,
	})
	if err != nil {
		return nil, err
	}
	if o.AmountDropShare == 0 {
		o.AmountDropShare = DefaultAmountDropShare
	}
	s := &Store{Base: base, keyer: keyer, now: o.Now, log: o.Logger, dropShare: o.AmountDropShare,
		sweep: make(chan struct{}, 1), certSweep: make(chan struct{}, 1)}
	s.signals, err = signalfeed.New(base.DB(), signalfeed.Options{Source: "pension", Retention: o.SignalRetention, MaxWatchers: o.MaxSignalWatchers, Logger: o.Logger, Now: o.Now})
	if err != nil {
		return nil, errors.Join(err, base.Close())
	}
	s.proj, err = projection.New(base.DB(), o.Registry, projection.Options{
		Logger:         o.Logger.Named("projection"),
		TracerProvider: o.TracerProvider,
		MinBackoff:     o.ProjectionMinBackoff,
		MaxBackoff:     o.ProjectionMaxBackoff,
		OnApply:        s.applyRetiree,
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.backfillRecovery(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.backfillSignals(); err != nil {
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

// Projection returns the retiree projection; main runs it.
func (s *Store) Projection() *projection.Projection { return s.proj }

// Retiree returns a retiree's projected state, or a not-found error.
func (s *Store) Retiree(id string) (*registryv1.RetireeState, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, errRetireeNotFound
	}
	var st *registryv1.RetireeState
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		st, err = getRetiree(tx, id)
		return err
	})
	return st, err
}

// LookupRetiree returns the projected state of the retiree with an ID
// number, or a not-found error.
func (s *Store) LookupRetiree(id idnumber.ID) (*registryv1.RetireeState, error) {
	key := s.keyer.Key(id)
	var st *registryv1.RetireeState
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		st, err = projection.LookupKey(tx, key)
		if errors.Is(err, projection.ErrUnknownRetiree) {
			return errRetireeNotFound
		}
		return err
	})
	return st, err
}

// getRetiree is projection.Get with the store's not-found error.
func getRetiree(tx *bolt.Tx, id string) (*registryv1.RetireeState, error) {
	st, err := projection.Get(tx, id)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return nil, errRetireeNotFound
	}
	return st, err
}

func unmarshal(v []byte, m proto.Message, what string) error {
	if err := proto.Unmarshal(v, m); err != nil {
		return fmt.Errorf("decode %s: %w", what, err)
	}
	return nil
}
