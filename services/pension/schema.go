package pension

import (
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// Bucket names of pension.db, all in one place (the projection keeps its
// own, see internal/projection). Keys are order-preserving: ids, months and
// dates as strings, versions and sequences as 8-byte big-endian numbers,
// composite keys joined by a zero byte.
var (
	// bucketMeta holds, under keys boltstore owns, the storage schema
	// version and the page-token secret.
	bucketMeta = []byte("meta")
	// bucketPayments maps retiree id, 0, month (YYYY-MM) to the current
	// Payment of that month.
	bucketPayments = []byte("payments")
	// bucketPaymentVersions maps retiree id, 0, month, 0, version to a
	// Payment a correction replaced.
	bucketPaymentVersions = []byte("payment_versions")
	// bucketCertifications maps retiree id, 0, certified_on, 0, sequence to
	// a Certification.
	bucketCertifications = []byte("certifications")
	// bucketDue indexes the living retirees of each community by when their
	// next certification is due: community id, 0, due date (empty when never
	// certified), 0, retiree id -> the last certified_on (empty when none).
	bucketDue = []byte("certification_due")
	// bucketBatches maps a batch id to an ImportSummary of every stream of
	// that batch so far: who last sent it is in the log, the counts and the
	// last durable index here.
	bucketBatches = []byte("batches")
	// bucketAudit holds retiree id, 0, sequence -> AuditEntry.
	bucketAudit = audit.Bucket

	allBuckets = [][]byte{
		bucketMeta, bucketPayments, bucketPaymentVersions, bucketCertifications,
		bucketDue, bucketBatches, bucketAudit,
	}
)

// storageSchema is the layout of pension.db, which OpenStore opens with
// boltstore.OpenVersioned.
//
// To change what is stored, raise Version and append a Migration from the
// old version to the new one whose Apply rewrites the affected records in
// its transaction; never edit or drop a step that has shipped, since a file
// may still be at any earlier version. Add a case to the test that writes
// the previous layout with plain bbolt, opens it and reads it back.
var storageSchema = boltstore.Schema{
	Meta:    bucketMeta,
	Buckets: allBuckets,
	Version: 1,
	Migrations: []boltstore.Migration{
		// Version 1 is the layout written before versions were recorded,
		// unchanged: the step only records the version.
		{From: 0, To: 1, Name: "record the storage schema version"},
	},
}
