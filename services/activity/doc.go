// Package activity is the activity service of socmgmt: community venues,
// activities scheduled without clashes at a venue (one-off or weekly, in
// the wall clock of their time zone), registrations with waiting lists,
// attendance, participation reports and an RFC 5545 calendar feed.
//
// The service keeps its own bbolt file. It knows retirees through a
// projection of registry's change log (internal/projection) kept in the
// same file, so that registering a retiree never calls registry. Every
// request's writes happen in one transaction: the clash check and the
// bookings of an activity's sessions, the capacity count and the
// registration, the cancellation and the promotion from the waiting list.
package activity
