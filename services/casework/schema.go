package casework

import (
	"slices"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// Bucket names of the casework service's bbolt file, all in one place
// (the retiree projection keeps its own, see internal/projection). Keys
// are order-preserving: ids and community ids as strings ended by a 0
// byte (boltstore.Prefix), times as 8-byte big-endian Unix seconds,
// clocks and kinds as one byte.
var (
	// bucketMeta holds the keys boltstore owns and the at-risk share
	// the transition index was built with (transitions.go).
	bucketMeta = boltstore.MetaBucket
	// bucketAudit is the audit log of reads of retirees (see audit.Bucket).
	bucketAudit = audit.Bucket
	// bucketItems maps a work item's id to its WorkItem.
	bucketItems = []byte("work_items")
	// bucketOpenByDue holds community, 0, due, id -> idxValue: the open
	// items of a community by due time, the queue.
	bucketOpenByDue = []byte("work_open_by_due")
	// bucketOpenByClock holds community, 0, clock, due, id -> idxValue:
	// the same items by stored clock first, for a queue of one clock.
	bucketOpenByClock = []byte("work_open_by_clock")
	// bucketOpenByAssignee holds assignee, 0, due, id -> idxValue (with
	// the community): a person's open items by due time.
	bucketOpenByAssignee = []byte("work_open_by_assignee")
	// bucketTransitions holds time, id -> nil: when each open item's
	// stored clock next changes (to AT_RISK or BREACHED), for the sweeper.
	// Paused, breached and closed items have none.
	bucketTransitions = []byte("work_transitions")
	// bucketSources maps source, 0, source key -> item id: one item ever
	// per signal of a feed, visit or ticket.
	bucketSources = []byte("work_sources")
	// bucketOpenByRetiree holds retiree id, 0, item id -> nil: the open
	// items about a retiree, which move with them.
	bucketOpenByRetiree = []byte("work_open_by_retiree")
	// bucketClosedByCommunity holds community, 0, close time, id -> nil:
	// a community's closed items, for history lists.
	bucketClosedByCommunity = []byte("work_closed_by_community")
	// bucketCounts holds the counters of open items by clock (see
	// countKey): four big-endian int64s, on track, at risk, breached,
	// waiting.
	bucketCounts = []byte("work_counts")
	// bucketRequestKeys maps a CreateWorkItem request key, scoped to its
	// caller, to the fingerprint of the item it created and its id.
	bucketRequestKeys = []byte("work_request_keys")

	// bucketTickets maps a ticket's id to its Ticket.
	bucketTickets = []byte("tickets")
	// bucketTicketsByCommunity holds community, 0, create time, id ->
	// state (one byte): a community's tickets, newest last.
	bucketTicketsByCommunity = []byte("tickets_by_community")
	// bucketTicketCategories maps a category code to its TicketCategory.
	bucketTicketCategories = []byte("ticket_categories")
	// bucketTicketRequestKeys maps a CreateTicket request key, scoped to
	// its caller, to the fingerprint of the ticket it created and its id.
	bucketTicketRequestKeys = []byte("ticket_request_keys")

	// --- following the feeds and messages (issue 16, part "follow") ---

	// bucketFollowKeys maps source, 0, signal key -> the snapshot
	// generation (8 bytes) that last named it: every key of a source that
	// the store holds open (as an item or waiting), so that the end of a
	// snapshot closes those the source no longer has (see follow.go). The
	// followers' cursors are in signalfeed.CursorBuckets.
	bucketFollowKeys = []byte("follow_keys")
	// bucketPending maps source, 0, signal key -> start time (8 bytes)
	// and the WorkSignal: a signal whose start time is still ahead.
	bucketPending = []byte("follow_pending")
	// bucketPendingByStart holds start time, source, 0, signal key -> nil:
	// the waiting signals in the order the sweeper opens them.
	bucketPendingByStart = []byte("follow_pending_by_start")
	// bucketMessagePrefs maps a retiree id to their MessagePreferences.
	bucketMessagePrefs = []byte("message_preferences")

	// bucketsFollow are the buckets of the feeds' followers and of the
	// messages: those above, the cursors and the SMS outbox's.
	bucketsFollow = slices.Concat([][]byte{bucketFollowKeys, bucketPending, bucketPendingByStart, bucketMessagePrefs},
		signalfeed.CursorBuckets, sms.Buckets)

	// --- care visits (care_*.go)

	// bucketCareProfiles maps a retiree id to the stored part of its
	// CareProfile: the override, the last visit and its outcome, the
	// failed contacts in a row (the tiers are derived on reading).
	bucketCareProfiles = []byte("care_profiles")
	// bucketCareTierChanged maps a retiree id to when its override last
	// changed (8-byte Unix seconds): a period begun before then gets no
	// new item.
	bucketCareTierChanged = []byte("care_tier_changed")
	// bucketVisits maps a visit id to its Visit.
	bucketVisits = []byte("care_visits")
	// bucketVisitsByRetiree holds retiree, 0, visit time, id -> nil.
	bucketVisitsByRetiree = []byte("care_visits_by_retiree")
	// bucketVisitsByCommunity holds community, 0, visit time, id -> nil.
	bucketVisitsByCommunity = []byte("care_visits_by_community")
	// bucketVisitKeys maps a RecordVisit request key, scoped to its
	// caller, to the fingerprint of the request and the visit's id.
	bucketVisitKeys = []byte("care_visit_keys")
	// bucketReportRetirees holds month, 0, retiree -> reportEntry: the
	// HIGH and KEY period items a retiree had in a month and how many of
	// them a visit closed within their period.
	bucketReportRetirees = []byte("care_report_retirees")
	// bucketReportCounts holds month, 0, community -> eligible, visited as
	// scheduled (two big-endian int64s): the visit report's counters.
	bucketReportCounts = []byte("care_report_counts")
	// bucketCareOutbox holds sequence -> careCommand: the registry calls
	// visits' outcomes still have to make (see care_outbox.go).
	bucketCareOutbox = []byte("care_outbox")

	// bucketsV1 are the buckets of storage version 1.
	bucketsV1 = slices.Concat([][]byte{
		bucketMeta, bucketAudit, bucketItems, bucketOpenByDue, bucketOpenByClock, bucketOpenByAssignee,
		bucketTransitions, bucketSources, bucketOpenByRetiree, bucketClosedByCommunity, bucketCounts,
		bucketRequestKeys,
		bucketTickets, bucketTicketsByCommunity, bucketTicketCategories, bucketTicketRequestKeys,
		bucketCareProfiles, bucketCareTierChanged, bucketVisits, bucketVisitsByRetiree, bucketVisitsByCommunity,
		bucketVisitKeys, bucketReportRetirees, bucketReportCounts, bucketCareOutbox,
	}, bucketsFollow)
)

// storageSchema is the layout of casework.db, which OpenStore opens with
// servicedb.Open; boltstore.Schema says how to change it.
var storageSchema = boltstore.Schema{
	Meta:    bucketMeta,
	Buckets: bucketsV1,
	Version: 1,
	// No migrations yet: casework was never released, so its buckets
	// (the tickets' and the care visits' too) are all version 1's.
}
