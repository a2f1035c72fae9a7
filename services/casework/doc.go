// Package casework is the casework service of socmgmt: a clerk's day as
// one queue of work items with deadlines. Items are made by hand (OTHER,
// HARDSHIP), and by the service itself from the other services'
// work-signal feeds, its care visits and its complaints, through the
// store's openItem and resolveAtSource (items_api.go).
//
// Every open item carries a clock (ON_TRACK, AT_RISK, BREACHED) against
// its due time; a sweeper moves the stored clock when an item passes its
// at-risk or due time, so that queues and their counts by clock are read
// from indexes and counters kept in the same transaction as every change,
// and escalates a breached item once by itself. The service knows
// retirees through a projection of registry's change log
// (internal/projection) kept in its own file: a retiree who moves takes
// their open items to the new community.
//
// Complaints (ticket_*.go) are tickets of a category whose deadline is
// data (TicketCategory: hours, or working days on the --holiday-calendar
// counted from the day after the ticket was made and ending at 23:59:59
// China time). Each ticket opens a COMPLAINT item (source "tickets", key
// "ticket/<id>") that carries its due time, clock and escalation; the
// ticket is resolved by ResolveTicket or by completing the item, which
// end in the same state, and closed by its call-back (a DISSATISFIED one
// opens an escalated follow-up item, "ticket/<id>/follow-up"). Resolving
// a retiree's ticket calls the OnComplaintResolved hook, where the
// messages part queues the COMPLAINT_RESOLVED text.
//
// Following the feeds (follow.go): one signalfeed.Follower per source
// (registry always; pension, handover and activity when --pension-addr,
// --handover-addr, --activity-addr are set), each a task of the server
// with its metrics, applying every entry in the transaction that stores
// its cursor. Work kinds open items (defaults per kind in signalRules),
// resolved signals close them at source, signals whose start is ahead
// wait for the sweeper, and the end of a snapshot closes what the source
// no longer holds open. Activity notices only send messages.
//
// Messages (messages.go, package sms): the store's outbox is filled in
// the transactions of the causes (a certification item opened, an
// activity notice, a complaint resolved through EnqueueMessage) and sent
// by an sms.Sender the program runs over the gateway --sms-file or
// --sms-url chooses, never in --sms-quiet-hours.
//
// Care visits (care_*.go; the rules are written out in care_tier.go and
// care_visits.go) give each living retiree a risk tier derived from the
// projection's flags and age (HIGH weekly, KEY monthly, REGULAR
// quarterly) unless a clerk overrides it. ScheduleVisits, and the visit
// scheduler each day for the current month, make CARE_VISIT items under
// source "care", key "visit/<retiree>/<period>", so a second run makes
// nothing; ReportCrisis makes an URGENT CRISIS_VISIT due in 24 hours. A
// recorded visit closes the items it answers and starts what its outcome
// asks: a HARDSHIP item, LOST_CONTACT in registry with a supervisor's
// LOST_CONTACT_CONFIRMATION item, or a CLERK_VISIT death report. The
// registry calls are written to the care outbox in the visit's
// transaction and delivered by CareDispatcher with the service token, so
// an outage or a crash loses none. The visit report is read from
// counters per month and community kept in the transactions that make
// and close the period items.
package casework
