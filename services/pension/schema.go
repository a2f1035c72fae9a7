package pension

import "github.com/socmgmt/socmgmt/internal/audit"

// Bucket names of pension.db, all in one place (the projection keeps its
// own, see internal/projection). Keys are order-preserving: ids, months and
// dates as strings, versions and sequences as 8-byte big-endian numbers,
// composite keys joined by a zero byte.
var (
	// bucketMeta holds the page-token secret.
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

	metaPageSecret = []byte("page_secret")
)
