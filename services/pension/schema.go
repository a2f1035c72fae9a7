package pension

import (
	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
)

// Bucket names of pension.db, all in one place (the projection keeps its
// own, see internal/projection). Keys are order-preserving: ids, months and
// dates as strings, versions and sequences as 8-byte big-endian numbers,
// composite keys joined by a zero byte.
var (
	// bucketMeta holds only the keys boltstore owns.
	bucketMeta = boltstore.MetaBucket
	// bucketPayments maps retiree id, 0, month (YYYY-MM), 0, paid_on
	// (YYYY-MM-DD), 0, kind (one byte, the PaymentKind number) to the
	// current version of that Payment (see paymentKey). Up to version 1 it
	// mapped retiree id, 0, month to the month's only payment. Sealed (see
	// sealedBuckets) from version 5.
	bucketPayments = []byte("payments")
	// bucketPaymentVersions maps a payments key, 0, version (8 bytes,
	// big-endian) to a Payment a correction replaced. Sealed from version
	// 5.
	bucketPaymentVersions = []byte("payment_versions")
	// bucketCertifications maps retiree id, 0, certified_on, 0, sequence to
	// a Certification.
	bucketCertifications = []byte("certifications")
	// bucketDue indexes the living retirees of each community by the day
	// of their last certification (see due_index.go): community id, 0, that
	// day (YYYY-MM-DD, the start of the pension when nothing later is
	// recorded; empty when neither is known), 0, retiree id -> its channel
	// (one byte, the CertificationMethod number). Up to version 2 it filed
	// them under a rolling due date, with the last certified_on as value.
	bucketDue = []byte("certification_due")
	// bucketBatches maps a batch id to an ImportSummary of every stream of
	// that batch so far: who last sent it is in the log, the counts and the
	// last durable index here.
	bucketBatches = []byte("batches")
	// bucketDecisions maps retiree id, 0, effective month (YYYY-MM), 0,
	// action (one byte, the DecisionAction number) to the current version of
	// the bureau's EntitlementDecision for them.
	bucketDecisions = []byte("decisions")
	// bucketDecisionVersions maps a decisions key, 0, version (4 bytes,
	// big-endian) to a version a correction replaced.
	bucketDecisionVersions = []byte("decision_versions")
	// bucketRules maps region prefix, 0, effective_on (YYYY-MM-DD), 0, rule
	// id to a CertificationRule.
	bucketRules = []byte("certification_rules")
	// bucketBenefitRules maps region prefix, 0, effective_on, 0, rule id
	// to a BenefitRule (from version 6).
	bucketBenefitRules = []byte("benefit_rules")
	// bucketClaims maps a claim id to its DeathBenefitClaim, with the
	// claimant's phone and ID number and the bank account in it: sealed
	// (from version 6).
	bucketClaims = []byte("death_benefit_claims")
	// bucketClaimsByCommunity indexes the claims by the community they
	// were filed in: community id, 0, claim id -> the claim's state (one
	// byte, the DeathBenefitClaimState number).
	bucketClaimsByCommunity = []byte("death_benefit_claims_by_community")
	// bucketClaimsByRetiree indexes the claims by retiree: retiree id, 0,
	// claim id -> the claim's state (one byte), which finds a retiree's
	// open claim without decoding any.
	bucketClaimsByRetiree = []byte("death_benefit_claims_by_retiree")
	// bucketAudit is the audit log of reads and changes of retirees (see
	// audit.Bucket).
	bucketAudit = audit.Bucket

	// bucketDeaths maps the id of a retiree the projection has as
	// DECEASED with a date to that date (YYYY-MM-DD), so that an import
	// learns with one look-up whether a payment is for a month after a
	// death. From version 7.
	bucketDeaths = []byte("deaths")
	// bucketRecoveryCases maps a recovery case id to its RecoveryCase,
	// ledger included. Sealed: it names the debtor. From version 7.
	bucketRecoveryCases = []byte("recovery_cases")
	// bucketRecoveryByRetiree maps a retiree id to the id of its recovery
	// case that is not void.
	bucketRecoveryByRetiree = []byte("recovery_by_retiree")
	// bucketRecoveryByCommunity indexes the cases: community id, 0, case
	// id -> nothing.
	bucketRecoveryByCommunity = []byte("recovery_by_community")
	// bucketRecoveryRefs maps a repayment's bank reference to the id of
	// the case it was recorded for.
	bucketRecoveryRefs = []byte("recovery_bank_refs")

	// bucketCertSignalled maps the id of a retiree with an open
	// CERTIFICATION_DUE signal to the due date signalled and the earliest
	// certification day that satisfies it (see signals.go). From version
	// 8, with the work-signal feed's buckets.
	bucketCertSignalled = []byte("certification_signalled")
	// bucketAnomalySignalled maps retiree id, 0, month, 0, kind (one
	// byte) to the community id signalled, for every anomaly with an open
	// ANOMALY_UNEXPLAINED signal (see anomaly_signals.go). From version 9;
	// version 8 kept bucketAnomalySignalledV8 instead.
	bucketAnomalySignalled = []byte("anomaly_signalled_by_retiree")
	// bucketAnomalySignalledV8 held, in version 8 only, community id, 0,
	// month, 0, retiree id, 0, kind -> nothing: keyed by community, it
	// lost track of a retiree who moved (see anomalySignalsByRetiree).
	bucketAnomalySignalledV8 = []byte("anomaly_signalled")
	// bucketAnomalyExplanations maps retiree id, 0, month, 0, kind (one
	// byte) to an Anomaly holding only the clerk's explanation of that
	// anomaly (ExplainPaymentAnomaly). From version 8.
	bucketAnomalyExplanations = []byte("anomaly_explanations")

	// sealedBuckets hold personal data, the payments' bank-account
	// fragments: their values are stored sealed under the data keys (see
	// servicedb.Options.Sealed).
	sealedBuckets = [][]byte{bucketPayments, bucketPaymentVersions, bucketClaims, bucketRecoveryCases}

	allBuckets = append([][]byte{
		bucketMeta, bucketPayments, bucketPaymentVersions, bucketCertifications,
		bucketDue, bucketBatches, bucketDecisions, bucketDecisionVersions,
		bucketRules, bucketAudit, bucketBenefitRules, bucketClaims, bucketClaimsByCommunity, bucketClaimsByRetiree,
		bucketDeaths, bucketRecoveryCases, bucketRecoveryByRetiree, bucketRecoveryByCommunity, bucketRecoveryRefs,
		bucketCertSignalled, bucketAnomalySignalled, bucketAnomalyExplanations,
	}, signalfeed.Buckets...)
)

// storageSchema is the layout of pension.db, which OpenStore opens with
// boltstore.OpenVersioned; boltstore.Schema says how to change it.
var storageSchema = boltstore.Schema{
	Meta:    bucketMeta,
	Buckets: allBuckets,
	Version: 9,
	Migrations: []boltstore.Migration{
		boltstore.RecordFirstVersion, paymentIdentity, dueByLastCertification, audit.Migration(3),
		servicedb.SealingMigration(4, bucketMeta),
		// The death benefits' buckets are new and empty: opening creates
		// them.
		{From: 5, To: 6, Name: "death-benefit rules and claims"},
		recoveryMigration,
		// The feed's buckets are created empty on open; the step leaves a
		// mark and OpenStore emits the signals of what is open
		// (backfillSignals): the recovery cases are sealed, and the
		// certifications due depend on the day.
		{From: 7, To: 8, Name: "the work-signal feed", Apply: func(tx *bolt.Tx) error {
			return tx.Bucket(bucketMeta).Put(metaSignalBackfill, []byte{1})
		}},
		anomalySignalsByRetiree,
	},
}
