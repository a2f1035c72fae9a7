package handover

import (
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Bucket names of the handover's bbolt file, all in one place. Keys are
// order-preserving: ids as strings, sequences as 8-byte big-endian numbers,
// composite keys joined by a zero byte.
var (
	// bucketMeta holds the last outbox sequence and, under keys boltstore
	// owns, the storage schema version and the page-token secret.
	bucketMeta = boltstore.MetaBucket
	// bucketHandovers maps handover id to Handover.
	bucketHandovers = []byte("handovers")
	// bucketByEnterprise holds credit code, 0, handover id.
	bucketByEnterprise = []byte("handovers_by_enterprise")
	// bucketByCommunity holds community id, 0, handover id for the
	// community a package is addressed to and every community with a part
	// of it (schema 3).
	bucketByCommunity = []byte("handovers_by_community")
	// bucketEvents holds handover id, 0, sequence -> Event: the timeline.
	bucketEvents = []byte("events")
	// bucketByReceiver holds receiving unit code, 0, handover id (schema
	// 3).
	bucketByReceiver = []byte("handovers_by_receiver")
	// bucketClaims maps retiree id to the id of the open handover that
	// holds it: claimed at submit, released on withdraw and on delivery.
	bucketClaims = []byte("claims")
	// bucketOutbox holds lane byte, sequence -> encoded command: what a
	// completion still has to deliver to other services.
	bucketOutbox = []byte("outbox")
	// bucketObligations holds credit code, 0, handover id, 0, index ->
	// OwedObligation, written when a handover completes.
	bucketObligations = []byte("obligations")
	// bucketObligationsByRetiree holds retiree id, 0, obligations key ->
	// empty: the obligations a retiree's death stops (schema 2).
	bucketObligationsByRetiree = []byte("obligations_by_retiree")
	// bucketPartyCounts holds "S", street, enterprise and "E",
	// enterprise, street -> the party transfers and confirmed ones of
	// submitted handovers (see party_report.go). New buckets are created
	// on open, and no handover stored before had party transfers, so it
	// needs no migration.
	bucketPartyCounts = []byte("party_transfer_counts")
	// bucketTasks maps task id (handover id, "-", kind, position) to
	// HandoverTask, written when a handover completes.
	bucketTasks = []byte("tasks")
	// bucketTasksByCommunity holds community id, 0, due date, 0, task id
	// -> empty: a community's tasks by due date.
	bucketTasksByCommunity = []byte("tasks_by_community")

	// bucketArchiveFiles maps archive file id to ArchiveFile: the files
	// in the archivists' custody (schema 4).
	bucketArchiveFiles = []byte("archive_files")
	// bucketArchiveFilesByDistrict holds district code, 0, file id.
	bucketArchiveFilesByDistrict = []byte("archive_files_by_district")
	// bucketArchiveLoansDue holds district code, 0, due date, 0, file id
	// -> empty for each file on loan: the overdue are a prefix walk.
	bucketArchiveLoansDue = []byte("archive_loans_due")
	// bucketArchiveEvents holds file id, 0, sequence -> CustodyEvent.
	bucketArchiveEvents = []byte("archive_file_events")
	// bucketArchiveStats holds district code, 0, date, 0, measure ->
	// 8-byte count: the statistics of intake and use, per day.
	bucketArchiveStats = []byte("archive_stats")

	// custodyBuckets are the buckets schema 4 adds.
	custodyBuckets = [][]byte{
		bucketArchiveFiles, bucketArchiveFilesByDistrict, bucketArchiveLoansDue,
		bucketArchiveEvents, bucketArchiveStats,
	}

	allBuckets = append([][]byte{
		bucketMeta, bucketHandovers, bucketByEnterprise, bucketByCommunity,
		bucketEvents, bucketClaims, bucketOutbox, bucketObligations,
		bucketObligationsByRetiree, bucketByReceiver, bucketPartyCounts,
		bucketTasks, bucketTasksByCommunity,
	}, slices.Concat(custodyBuckets, signalfeed.Buckets)...)

	// metaOutboxSeq is the last outbox sequence handed out; it is global
	// across lanes so that the outbox keeps the order of completions.
	metaOutboxSeq = []byte("outbox_seq")
)

// storageSchema is the layout of handover.db, which OpenStore opens with
// boltstore.OpenVersioned; boltstore.Schema says how to change it.
var storageSchema = boltstore.Schema{
	Meta:    bucketMeta,
	Buckets: allBuckets,
	Version: 6,
	Migrations: []boltstore.Migration{
		boltstore.RecordFirstVersion,
		{From: 1, To: 2, Name: "index obligations by retiree", Apply: migrateIndexObligations},
		{From: 2, To: 3, Name: "handovers become agreements with a receiving unit, allocations and tracks", Apply: migrateAgreements},
		{From: 3, To: 4, Name: "archive files in custody", Apply: migrateArchiveCustody},
		// The feed's buckets are created empty on open; the step leaves a
		// mark and OpenStore emits the signals of the open tasks and the
		// submitted packages (backfillSignals), whose due dates count in
		// the store's calendar.
		{From: 4, To: 5, Name: "the work-signal feed of tasks and receive steps", Apply: func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaSignalBackfill, []byte{1})
		}},
		// Nothing to convert: version 6 may hold outbox commands encoded
		// with their trace context (commandVersionTraced), which a build of
		// version 5 cannot read; the step makes such a build refuse the
		// file at open instead of stalling its outbox on the first one.
		{From: 5, To: 6, Name: "outbox commands may carry their trace context", Apply: func(*bolt.Tx) error { return nil }},
	},
}

// migrateArchiveCustody (schema 3 → 4) adds the buckets of the archive
// files in custody. Dossiers received before hold no file: custody starts
// with the receipts made from this version on.
func migrateArchiveCustody(tx *bolt.Tx) error {
	for _, b := range custodyBuckets {
		if _, err := tx.CreateBucketIfNotExists(b); err != nil {
			return err
		}
	}
	return nil
}
