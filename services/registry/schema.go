package registry

import (
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Bucket names of the registry's bbolt file, all in one place. Keys are
// order-preserving: ids as strings, revisions and sequences as 8-byte
// big-endian numbers, composite keys joined by a zero byte.
var (
	// bucketMeta holds the head revision, the oldest retained revision
	// and, under keys boltstore owns, the storage schema version and the
	// page-token secret.
	bucketMeta = boltstore.MetaBucket
	// bucketCommunities maps community id to Community.
	bucketCommunities = []byte("communities")
	// bucketEnterprises maps credit code to Enterprise.
	bucketEnterprises = []byte("enterprises")
	// bucketRetirees maps retiree id to Retiree (with the full ID number,
	// the phone number and the address), sealed (see sealedBuckets).
	bucketRetirees = []byte("retirees")
	// bucketRetireeByIDKey maps the HMAC of an ID number to a retiree id.
	bucketRetireeByIDKey = []byte("retirees_by_idkey")
	// bucketRetireeByCommunity holds community id, 0, retiree id.
	bucketRetireeByCommunity = []byte("retirees_by_community")
	// bucketRetireeByEnterprise holds credit code, 0, retiree id.
	bucketRetireeByEnterprise = []byte("retirees_by_enterprise")
	// bucketRetireeByBirth holds birth date, 0, retiree id: the retirees
	// by age (see retiree_index.go).
	bucketRetireeByBirth = []byte("retirees_by_birth")
	// bucketRetireeByCommunityBirth holds community id, 0, birth date, 0,
	// retiree id.
	bucketRetireeByCommunityBirth = []byte("retirees_by_community_birth")
	// bucketRetireeByFlag holds a stored flag's number (flagKey), 0, birth
	// date, 0, retiree id.
	bucketRetireeByFlag = []byte("retirees_by_flag")
	// bucketRetireeByCommunityFlag holds community id, 0, flag number, 0,
	// birth date, 0, retiree id.
	bucketRetireeByCommunityFlag = []byte("retirees_by_community_flag")
	// bucketChanges maps revision to WatchRetireesResponse: the change log.
	bucketChanges = []byte("changes")
	// bucketHistory holds retiree id, 0, revision -> HistoryEntry, sealed
	// (an address change lists both addresses); kept for good, unlike the
	// change log.
	bucketHistory = []byte("history")
	// bucketAudit is the audit log of reads and changes of retirees (see
	// audit.Bucket).
	bucketAudit = audit.Bucket
	// bucketStats maps community id to its SocialisationRow counters.
	bucketStats = []byte("stats")
	// bucketStatsDays holds community id, 0, day (YYYY-MM-DD, China time)
	// -> the community's SocialisationRow counters at the end of that day,
	// for every day on which they changed: the durable record that reports
	// as of a past day read. Unlike the change log it is never pruned.
	// Community first, so that a report finds each community's last day
	// up to asOf with one seek.
	bucketStatsDays = []byte("stats_days")
	// bucketRegisterEvents holds month (YYYY-MM, China time), 0, community
	// id, 0, revision -> retiree id: the changes that the monthly registers
	// list (a retiree created, or its status or community changed), under
	// each community concerned (a transfer under both). The history entry
	// of the retiree at that revision says the rest. A migrated file's is
	// filled from the history when the store opens (see
	// register_backfill.go).
	bucketRegisterEvents = []byte("register_events")
	// bucketAssignments maps an AssignRetirees request key to its answer.
	bucketAssignments = []byte("assignments")
	// bucketRevoked maps a sequence number to a RevokedToken: the
	// revocation list, in the order tokens were revoked.
	bucketRevoked = []byte("revoked_tokens")
	// bucketRevokedByID maps a token id (jti) to its sequence number.
	bucketRevokedByID = []byte("revoked_tokens_by_id")
	// bucketRevokedByExpiry holds expiry (Unix seconds), sequence number:
	// the order in which entries lapse and are pruned.
	bucketRevokedByExpiry = []byte("revoked_tokens_by_expiry")
	// bucketTransfers maps a transfer id to its Transfer, sealed (a
	// destination may be an address).
	bucketTransfers = []byte("transfers")
	// bucketTransferByFrom holds sending community id, 0, transfer id.
	bucketTransferByFrom = []byte("transfers_by_from")
	// bucketTransferByTo holds receiving community id, 0, transfer id
	// (none for a move out of the city).
	bucketTransferByTo = []byte("transfers_by_to")
	// bucketTransferOpen maps a retiree id to the id of its one PROPOSED
	// transfer.
	bucketTransferOpen = []byte("transfers_open")
	// bucketTransferDue holds lapse time (Unix seconds), transfer id for
	// each PROPOSED transfer: the order in which they lapse.
	bucketTransferDue = []byte("transfers_due")
	// bucketImportBatches maps a roster import's batch id to its
	// RetireeImportSummary: the counts of every stream of the batch.
	bucketImportBatches = []byte("import_batches")
	// bucketDeathReports maps a death report id to its DeathReport,
	// sealed (the reporter's name and phone number).
	bucketDeathReports = []byte("death_reports")
	// bucketDeathReportByRetiree holds retiree id, 0, report id.
	bucketDeathReportByRetiree = []byte("death_reports_by_retiree")
	// bucketDeathReportByCommunity holds community id, 0, report id.
	bucketDeathReportByCommunity = []byte("death_reports_by_community")
	// bucketDeathReportByState holds state name, 0, report id.
	bucketDeathReportByState = []byte("death_reports_by_state")
	// bucketDeathReportByCommunityState holds community id, ".", state
	// name, 0, report id: one community's reports in one state.
	bucketDeathReportByCommunityState = []byte("death_reports_by_community_state")
	// bucketDeathReportOpen maps a retiree id to the id of its one
	// REPORTED death report.
	bucketDeathReportOpen = []byte("death_reports_open")

	allBuckets = append([][]byte{
		bucketMeta, bucketCommunities, bucketEnterprises, bucketRetirees,
		bucketRetireeByIDKey, bucketRetireeByCommunity, bucketRetireeByEnterprise,
		bucketChanges, bucketHistory, bucketAudit, bucketStats, bucketAssignments,
		bucketRevoked, bucketRevokedByID, bucketRevokedByExpiry,
		bucketTransfers, bucketTransferByFrom, bucketTransferByTo, bucketTransferOpen, bucketTransferDue,
		bucketRetireeByBirth, bucketRetireeByCommunityBirth, bucketRetireeByFlag, bucketRetireeByCommunityFlag,
		bucketImportBatches,
		bucketStatsDays, bucketRegisterEvents,
		bucketDeathReports, bucketDeathReportByRetiree, bucketDeathReportByCommunity,
		bucketDeathReportByState, bucketDeathReportByCommunityState, bucketDeathReportOpen,
	}, signalfeed.Buckets...)

	// sealedBuckets hold personal data: their values are stored sealed
	// under the data keys (see servicedb.Options.Sealed). The change log
	// holds only masked numbers and the ID number's HMAC.
	sealedBuckets = [][]byte{bucketRetirees, bucketHistory, bucketTransfers, bucketDeathReports}

	metaHead   = []byte("head_revision")
	metaOldest = []byte("oldest_revision")
	// metaRevocationSeq holds the last sequence number of the revocation
	// list.
	metaRevocationSeq = []byte("revocation_sequence")
	// metaHistoryNoteSeq holds the last sequence number of the history
	// entries that record no change (see changeWriter.note).
	metaHistoryNoteSeq = []byte("history_note_sequence")
	// metaReindexRetirees, while present, says that the dated indexes
	// are still to be built from the retirees (see reindexRetirees).
	metaReindexRetirees = []byte("reindex_retirees")
	// metaStatsDaysFrom holds the first day (YYYY-MM-DD) of bucketStatsDays:
	// the day this layout was created or migrated to.
	metaStatsDaysFrom = []byte("stats_days_from")
)

// storageSchema is the layout of registry.db, which OpenStore opens with
// boltstore.OpenVersioned (as schemaAt(its clock)); boltstore.Schema says
// how to change it.
var storageSchema = schemaAt(time.Now)

// schemaAt is the layout whose migrations date what they record by now.
func schemaAt(now func() time.Time) boltstore.Schema {
	return boltstore.Schema{
		Meta:       bucketMeta,
		Buckets:    allBuckets,
		Version:    10,
		Migrations: migrations(now),
	}
}

func migrations(now func() time.Time) []boltstore.Migration {
	return []boltstore.Migration{
		boltstore.RecordFirstVersion,
		// The buckets are created empty on open; the step records that a
		// build without them must not open the file, which would accept
		// the tokens on the list.
		{From: 1, To: 2, Name: "the revocation list of bearer tokens"},
		audit.Migration(2),
		servicedb.SealingMigration(3, bucketMeta),
		// The buckets are created empty on open; the step records that a
		// build without them must not open the file, which would move
		// retirees with transfers pending and never lapse them.
		{From: 4, To: 5, Name: "transfers proposed and answered"},
		{
			From: 5, To: 6, Name: "retirees indexed by flag and birth date; aged 80+ computed, not stored",
			// The retirees may be sealed, and the data keys are known only
			// after the migrations: the step leaves a mark, and OpenStore
			// builds the indexes once it can read the records.
			Apply: func(tx *bolt.Tx) error {
				return tx.Bucket(bucketMeta).Put(metaReindexRetirees, []byte{1})
			},
		},
		// Created empty on open, like the revocation list: the step keeps
		// an older build, which would not see the batches' progress, from
		// opening the file.
		{From: 6, To: 7, Name: "the progress of roster imports"},
		{From: 7, To: 8, Name: "daily socialisation counters and the monthly registers' index", Apply: func(tx *bolt.Tx) error {
			if err := seedStatsDays(tx, dayOf(now())); err != nil {
				return err
			}
			return markRegisterBackfill(tx)
		}},
		// Created empty on open: the step keeps an older build, which
		// would record deaths without reports and ignore open ones, from
		// opening the file.
		{From: 8, To: 9, Name: "death reports"},
		// The feed's buckets are created empty on open; the death reports
		// open already are sealed, so the step leaves a mark and OpenStore
		// emits their signals once it can read them (backfillSignals).
		{From: 9, To: 10, Name: "the work-signal feed of death reports", Apply: func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaSignalBackfill, []byte{1})
		}},
	}
}
