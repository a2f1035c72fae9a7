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
package casework
