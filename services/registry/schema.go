package registry

import (
	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
)

// Bucket names of the registry's bbolt file, all in one place. Keys are
// order-preserving: ids as strings, revisions and sequences as 8-byte
// big-endian numbers, composite keys joined by a zero byte.
var (
	// bucketMeta holds the head revision, the oldest retained revision
	// and, under keys boltstore owns, the storage schema version and the
	// page-token secret.
	bucketMeta = []byte("meta")
	// bucketCommunities maps community id to Community.
	bucketCommunities = []byte("communities")
	// bucketEnterprises maps credit code to Enterprise.
	bucketEnterprises = []byte("enterprises")
	// bucketRetirees maps retiree id to Retiree (with the full ID number).
	bucketRetirees = []byte("retirees")
	// bucketRetireeByIDKey maps the HMAC of an ID number to a retiree id.
	bucketRetireeByIDKey = []byte("retirees_by_idkey")
	// bucketRetireeByCommunity holds community id, 0, retiree id.
	bucketRetireeByCommunity = []byte("retirees_by_community")
	// bucketRetireeByEnterprise holds credit code, 0, retiree id.
	bucketRetireeByEnterprise = []byte("retirees_by_enterprise")
	// bucketChanges maps revision to WatchRetireesResponse: the change log.
	bucketChanges = []byte("changes")
	// bucketHistory holds retiree id, 0, revision -> HistoryEntry; kept for
	// good, unlike the change log.
	bucketHistory = []byte("history")
	// bucketAudit holds retiree id, 0, sequence -> AuditEntry.
	bucketAudit = audit.Bucket
	// bucketStats maps community id to its SocialisationRow counters.
	bucketStats = []byte("stats")
	// bucketAssignments maps an AssignRetirees request key to its answer.
	bucketAssignments = []byte("assignments")

	allBuckets = [][]byte{
		bucketMeta, bucketCommunities, bucketEnterprises, bucketRetirees,
		bucketRetireeByIDKey, bucketRetireeByCommunity, bucketRetireeByEnterprise,
		bucketChanges, bucketHistory, bucketAudit, bucketStats, bucketAssignments,
	}

	metaHead   = []byte("head_revision")
	metaOldest = []byte("oldest_revision")
)

// storageSchema is the layout of registry.db, which OpenStore opens with
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
