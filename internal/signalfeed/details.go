package signalfeed

// Keys of a notice's details (feedv1.WorkSignal.details), which casework
// puts in its message to the retiree: an activity source sets them on
// ACTIVITY_CHANGED, ACTIVITY_CANCELLED and WAITLIST_PROMOTED. Title and
// start are required (casework sends no message without them); place and
// note are optional. Values are bounded by MaxDetailLen, and casework's
// templates take at most 64 characters of each.
const (
	// DetailTitle is the activity's title, e.g. "太极拳".
	DetailTitle = "title"
	// DetailStart is when the activity (or session) starts, as it now
	// stands, in RFC 3339 ("2026-06-20T09:30:00+08:00").
	DetailStart = "start"
	// DetailPlace is where it is, e.g. "社区活动室".
	DetailPlace = "place"
	// DetailNote is a short note: what changed, why it was cancelled.
	DetailNote = "note"
)
