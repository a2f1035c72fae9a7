package casework

import (
	"errors"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/broadcast"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Logger receives bbolt's own messages, audit-writer failures and the
	// projection's reconnects.
	Logger *zap.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// DurableReads makes every audited read wait until its audit record
	// is on disk before the data is answered (see audit.Log.Record).
	DurableReads bool
	// Checkpoints say how the audit log is signed (see audit.Checkpoints).
	Checkpoints audit.Checkpoints
	// AtRiskShare is the share of an item's time left at which its clock
	// turns AT_RISK; DefaultAtRiskShare when 0.
	AtRiskShare float64
	// Calendar counts working days for deadlines given in them;
	// workdays.Default() when nil.
	Calendar *workdays.Calendar
	// Messages configure the SMS outbox (see messages.go).
	Messages MessageOptions
	// TracerProvider, when set, links the retiree projection's applies to
	// the traces of registry's changes (see projection.Options); nil
	// traces nothing.
	TracerProvider trace.TracerProvider
}

// Store is the casework service's bbolt-backed storage: work items with
// their indexes and counters, the audit log, and the projection of
// registry's retirees. Every request's writes happen in one transaction.
type Store struct {
	servicedb.Base
	now        func() time.Time
	log        *zap.Logger
	share      float64
	calendar   *workdays.Calendar
	projection *projection.Projection
	outbox     *sms.Outbox

	// completions are what completing an item of a kind also does (see
	// onComplete); registered before the store serves.
	mu          sync.RWMutex
	completions map[pb.WorkKind]completion
	// complaintResolved is the hook of OnComplaintResolved.
	complaintResolved ComplaintResolved

	// careOutbox wakes the care outbox's dispatcher after a commit that
	// queued a registry call.
	careOutbox broadcast.Signal
}

// completion is a hook registered with onComplete.
type completion func(tx *bolt.Tx, it *pb.WorkItem, actor Actor) error

// OpenStore opens (creating if needed) the casework database at path,
// migrating it to storageSchema (or refusing it with
// boltstore.ErrSchemaTooNew when a newer build wrote it), and prepares
// the retiree projection in it, which follows registry through the given
// client once Projection().Run is called. A nil client is for tests that
// never run the projection.
func OpenStore(path string, registry registryv1.RegistryServiceClient, o StoreOptions) (*Store, error) {
	o.Logger, o.Now = boltstore.LoggerAndClock(o.Logger, o.Now)
	if o.AtRiskShare == 0 {
		o.AtRiskShare = DefaultAtRiskShare
	}
	if o.AtRiskShare <= 0 || o.AtRiskShare >= 1 {
		return nil, fmt.Errorf("casework: at-risk share %v is not in (0, 1)", o.AtRiskShare)
	}
	if o.Calendar == nil {
		o.Calendar = workdays.Default()
	}
	base, err := servicedb.Open(path, storageSchema, servicedb.Options{
		Logger: o.Logger, Now: o.Now, Audit: true, DurableReads: o.DurableReads, Checkpoints: o.Checkpoints,
	})
	if err != nil {
		return nil, err
	}
	s := &Store{
		Base: base, now: o.Now, log: o.Logger, share: o.AtRiskShare, calendar: o.Calendar,
		completions: map[pb.WorkKind]completion{},
	}
	if err := s.keepTransitionsAtShare(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if s.outbox, err = s.newOutbox(o.Messages); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.complaintResolved = s.complaintMessage
	s.projection, err = projection.New(base.DB(), registry, projection.Options{
		Logger:         o.Logger.Named("projection"),
		TracerProvider: o.TracerProvider,
		OnApply:        s.applyRetiree,
	})
	if err != nil {
		return nil, errors.Join(err, s.Close())
	}
	if err := s.seedCategories(); err != nil {
		return nil, errors.Join(err, s.Close())
	}
	s.onComplete(pb.WorkKind_COMPLAINT, s.ticketItemCompleted)
	s.onComplete(pb.WorkKind_LOST_CONTACT_CONFIRMATION, s.confirmLostContact)
	return s, nil
}

// Projection returns the retiree projection kept in the store's file.
func (s *Store) Projection() *projection.Projection { return s.projection }

// Now returns the store's clock reading.
func (s *Store) Now() time.Time { return s.now() }

// Calendar returns the working-day calendar deadlines count in.
func (s *Store) Calendar() *workdays.Calendar { return s.calendar }

// Actor is who makes a change or a read, for the audit log and the
// items' history.
type Actor = audit.Actor

// serviceSubject names the service in the history of what it did itself.
const serviceSubject = "casework"

// Errors particular to the casework store; the general ones come from
// fault.
var (
	errItemNotFound    = fmt.Errorf("work item %w", fault.ErrNotFound)
	errRetireeNotFound = fmt.Errorf("retiree %w", fault.ErrNotFound)
)

// Rule-failure reasons the casework service returns in ErrorInfo; clients
// match on them.
const (
	// ReasonRequestKeyReused refuses a CreateWorkItem whose request key
	// created a different item.
	ReasonRequestKeyReused = "REQUEST_KEY_REUSED"
	// ReasonItemClosed refuses a change to a DONE or CANCELLED item.
	ReasonItemClosed = "ITEM_CLOSED"
	// ReasonWrongState refuses a change the item's state does not allow
	// (claiming an item someone works, resuming one that does not wait).
	ReasonWrongState = "WRONG_STATE"
	// ReasonNotAssignee refuses a clerk's change to an item assigned to
	// someone else.
	ReasonNotAssignee = "NOT_ASSIGNEE"
	// ReasonRetireeNotInCommunity refuses an item about a retiree who does
	// not live in its community.
	ReasonRetireeNotInCommunity = "RETIREE_NOT_IN_COMMUNITY"
	// ReasonClosedAtSource refuses cancelling an item made from a feed,
	// which closes when its source says so.
	ReasonClosedAtSource = "CLOSES_AT_SOURCE"
)

// retireeOf returns the projection's state of a retiree (name,
// community, flags, birth date, status) in tx, or errRetireeNotFound.
func retireeOf(tx *bolt.Tx, id string) (*registryv1.RetireeState, error) {
	st, err := projection.Get(tx, id)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return nil, errRetireeNotFound
	}
	return st, err
}

// onComplete registers what completing an item of a kind also does, in
// the same transaction as the completion (care visits record a visit,
// tickets resolve…). One function per kind; register before serving.
func (s *Store) onComplete(kind pb.WorkKind, fn func(tx *bolt.Tx, it *pb.WorkItem, actor Actor) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.completions[kind] = fn
}

// completionOf returns the hook of kind, or nil.
func (s *Store) completionOf(kind pb.WorkKind) completion {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.completions[kind]
}
