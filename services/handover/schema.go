package handover

import "github.com/socmgmt/socmgmt/internal/boltstore"

// Bucket names of the handover's bbolt file, all in one place. Keys are
// order-preserving: ids as strings, sequences as 8-byte big-endian numbers,
// composite keys joined by a zero byte.
var (
	// bucketMeta holds the last outbox sequence and, under keys boltstore
	// owns, the storage schema version and the page-token secret.
	bucketMeta = []byte("meta")
	// bucketHandovers maps handover id to Handover.
	bucketHandovers = []byte("handovers")
	// bucketByEnterprise holds credit code, 0, handover id.
	bucketByEnterprise = []byte("handovers_by_enterprise")
	// bucketByCommunity holds receiving community id, 0, handover id.
	bucketByCommunity = []byte("handovers_by_community")
	// bucketEvents holds handover id, 0, sequence -> Event: the timeline.
	bucketEvents = []byte("events")
	// bucketClaims maps retiree id to the id of the open handover that
	// holds it: claimed at submit, released on withdraw and on delivery.
	bucketClaims = []byte("claims")
	// bucketOutbox holds lane byte, sequence -> encoded command: what a
	// completion still has to deliver to other services.
	bucketOutbox = []byte("outbox")
	// bucketObligations holds credit code, 0, handover id, 0, index ->
	// OwedObligation, written when a handover completes.
	bucketObligations = []byte("obligations")

	allBuckets = [][]byte{
		bucketMeta, bucketHandovers, bucketByEnterprise, bucketByCommunity,
		bucketEvents, bucketClaims, bucketOutbox, bucketObligations,
	}

	// metaOutboxSeq is the last outbox sequence handed out; it is global
	// across lanes so that the outbox keeps the order of completions.
	metaOutboxSeq = []byte("outbox_seq")
)

// storageSchema is the layout of handover.db, which OpenStore opens with
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
