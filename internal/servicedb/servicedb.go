// Package servicedb is what every service's store is built on: its bbolt
// file opened and migrated to the service's storage schema, the page tokens
// bound to that file, and, for a service that holds personal data, the
// audit log of reads kept in the same file and the personal data itself
// sealed under the service's data keys (see package datakey). A store
// embeds a Base and adds its own buckets' logic.
package servicedb

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Options configure Open.
type Options struct {
	// Logger receives bbolt's and the audit log's messages; nil discards.
	Logger *zap.Logger
	// Now is the audit log's clock; nil means time.Now.
	Now func() time.Time
	// Audit starts the log of reads (audit.Bucket must be in the schema).
	Audit bool
	// DurableReads makes AuditReads return only once a read's record is on
	// disk (see audit.Log.Read).
	DurableReads bool
	// Checkpoints say how the audit log's chain is signed; Service names
	// the service in them.
	Checkpoints audit.Checkpoints
	// Sealed are the buckets whose values hold personal data: they are
	// stored sealed under DataKeys, through the Base's PutProto, GetProto,
	// Decode, Collect and AppendSealed.
	Sealed [][]byte
	// DataKeys seal the values of the Sealed buckets. Nil keeps them in
	// plain text, which Open refuses for a file whose values are sealed.
	DataKeys *datakey.Ring
}

// Base is a service's open database, its page tokens, its audit log and
// the sealing of its personal data.
type Base struct {
	db    *bolt.DB
	meta  []byte
	pages *boltstore.PageTokens
	audit *audit.Log // nil unless Options.Audit
	seal  *sealer
}

// Open opens (creating or migrating as needed) the database at path with
// schema; see boltstore.OpenVersioned. With DataKeys, values of the
// Sealed buckets that were written in plain text are sealed, and the
// file is then compacted so that their plain text does not linger in its
// free pages; without, a file whose values are sealed is refused
// (ErrDataKeyNeeded). With Audit it starts the audit log, first chaining
// entries a migration left unchained (see audit.NewLog).
func Open(path string, schema boltstore.Schema, o Options) (Base, error) {
	bo := boltstore.Options{Logger: o.Logger}
	db, pages, err := boltstore.OpenVersioned(path, schema, bo)
	if err != nil {
		return Base{}, err
	}
	log, _ := boltstore.LoggerAndClock(o.Logger, nil)
	b := Base{db: db, meta: schema.Meta, pages: pages, seal: &sealer{buckets: o.Sealed}}
	compact, err := b.prepareSealing(schema.Meta, o.DataKeys, log)
	if err == nil && compact {
		if err = db.Close(); err == nil {
			err = boltstore.CompactFile(path, bo)
		}
		if err != nil {
			return Base{}, fmt.Errorf("open %s: compact after encrypting: %w", path, err)
		}
		if b.db, b.pages, err = boltstore.OpenVersioned(path, schema, bo); err != nil {
			return Base{}, err
		}
	}
	if err == nil && o.Audit {
		b.audit, err = audit.NewLog(b.db, audit.Options{
			Logger: o.Logger, Now: o.Now, DurableReads: o.DurableReads, Checkpoints: o.Checkpoints,
		})
	}
	if err != nil {
		return Base{}, errors.Join(fmt.Errorf("open %s: %w", path, err), b.db.Close())
	}
	return b, nil
}

// DB returns the database, for the store's transactions and the online
// backup handler.
func (b *Base) DB() *bolt.DB { return b.db }

// Update runs fn in a read-write transaction; a commit that failed for
// want of room is fault.ErrStorageUnavailable, wrapping the cause (see
// boltstore.StorageFault). Stores write through Update and Batch rather
// than DB, so that a full disk reaches the client as UNAVAILABLE.
func (b *Base) Update(fn func(*bolt.Tx) error) error { return boltstore.Update(b.db, fn) }

// Batch runs fn as part of a batched read-write transaction (see
// bolt.DB.Batch: fn may run more than once), reporting a full disk as
// Update does.
func (b *Base) Batch(fn func(*bolt.Tx) error) error { return boltstore.Batch(b.db, fn) }

// PageTokens returns the codec of the store's page tokens.
func (b *Base) PageTokens() *boltstore.PageTokens { return b.pages }

// AuditReads records that actor read the data of the retirees, as the
// service is configured (see Options.DurableReads). A caller must not
// disclose the data when it fails.
func (b *Base) AuditReads(ctx context.Context, actor audit.Actor, action string, retireeIDs ...string) error {
	if b.audit == nil {
		return errors.New("servicedb: reads audited in a store opened without an audit log")
	}
	return b.audit.Read(ctx, actor, action, retireeIDs...)
}

// AuditReadsWithReason is AuditReads for a disclosure that action alone
// does not explain; reason goes into each entry (see
// audit.Log.ReadWithReason).
func (b *Base) AuditReadsWithReason(ctx context.Context, actor audit.Actor, action, reason string, retireeIDs ...string) error {
	if b.audit == nil {
		return errors.New("servicedb: reads audited in a store opened without an audit log")
	}
	return b.audit.ReadWithReason(ctx, actor, action, reason, retireeIDs...)
}

// Close stops the audit writer, flushing what it holds, and closes the
// database. Stop whatever else uses the database (a projection's Run)
// first.
func (b *Base) Close() error {
	if b.audit != nil {
		b.audit.Close()
	}
	return b.db.Close()
}

// ListAudit returns a page of a retiree's audit entries, oldest first; an
// id that cannot be a retiree's has none.
func (b *Base) ListAudit(id string, size int, after []byte) ([]*registryv1.AuditEntry, []byte, error) {
	if !inputcheck.IsOpaqueID(id) {
		return nil, nil, nil
	}
	return audit.List(b.db, id, size, after)
}
