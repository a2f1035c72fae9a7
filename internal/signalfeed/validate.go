package signalfeed

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// Bounds of a signal's fields (see feedv1.WorkSignal).
const (
	MaxKeyLen        = 128
	MaxIDLen         = 64
	MaxSummaryLen    = 200
	MaxResolutionLen = 200
	MaxDetails       = 8
	MaxDetailKeyLen  = 32
	MaxDetailLen     = 200
)

// personalNumber finds what may be an ID or phone number: a run of 11 or
// more digits (a mobile number has 11, an ID number 17 and a check
// character). Summaries, resolutions and details must carry none.
var personalNumber = regexp.MustCompile(`[0-9]{11,}`)

// Validate checks a signal before it enters a feed: a key of 1 to 128
// printable ASCII characters; a kind and a subject kind that this build
// knows; ids of printable ASCII (a community id a 12-digit division code);
// a summary, a resolution and at most 8 details of single-line text
// without anything that looks like an ID or phone number. The error is a
// fault.Violations naming every field at fault.
func Validate(sig *feedv1.WorkSignal) error {
	var v fault.Violations
	if sig == nil {
		v.Add("signal", "required")
		return v.Err()
	}
	asciiID(&v, "key", sig.Key, true, MaxKeyLen)
	if _, ok := feedv1.SignalKind_name[int32(sig.Kind)]; !ok || sig.Kind == feedv1.SignalKind_SIGNAL_KIND_UNSPECIFIED {
		v.Add("kind", "must be a known signal kind")
	}
	if _, ok := feedv1.SubjectKind_name[int32(sig.SubjectKind)]; !ok || sig.SubjectKind == feedv1.SubjectKind_SUBJECT_KIND_UNSPECIFIED {
		v.Add("subject_kind", "must be a known subject kind")
	}
	asciiID(&v, "subject_id", sig.SubjectId, true, MaxIDLen)
	asciiID(&v, "retiree_id", sig.RetireeId, false, MaxIDLen)
	if sig.CommunityId != "" {
		inputcheck.CommunityID(&v, "community_id", sig.CommunityId)
	}
	if sig.StartTime != nil && sig.StartTime.CheckValid() != nil {
		v.Add("start_time", "not a valid time")
	}
	if sig.DueTime != nil && sig.DueTime.CheckValid() != nil {
		v.Add("due_time", "not a valid time")
	}
	cleanText(&v, "summary", sig.Summary, !sig.Resolved, MaxSummaryLen)
	cleanText(&v, "resolution", sig.Resolution, false, MaxResolutionLen)
	if len(sig.Details) > MaxDetails {
		v.Addf("details", "more than %d entries", MaxDetails)
	}
	for k, val := range sig.Details {
		asciiID(&v, "details", k, true, MaxDetailKeyLen)
		cleanText(&v, "details."+strconv.Quote(k), val, false, MaxDetailLen)
	}
	return v.Err()
}

// asciiID checks that s is at most max printable ASCII characters, and
// present when required.
func asciiID(v *fault.Violations, field, s string, required bool, max int) {
	switch {
	case s == "":
		if required {
			v.Add(field, "required")
		}
		return
	case len(s) > max:
		v.Addf(field, "longer than %d characters", max)
		return
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			v.Add(field, "must be printable ASCII without spaces")
			return
		}
	}
}

// cleanText is inputcheck.Text that also refuses personal numbers.
func cleanText(v *fault.Violations, field, s string, required bool, max int) {
	inputcheck.Text(v, field, s, required, max)
	if utf8.ValidString(s) && personalNumber.MatchString(s) {
		v.Add(field, "must not contain an ID or phone number")
	}
}

// Clean makes s fit a summary, a resolution or a detail of at most max
// characters: whatever looks like an ID or phone number is masked, line
// breaks become spaces, and a longer text is cut (with "…"). A source
// puts its own users' text (a title, a venue's name) through it, so that
// such text never fails the change that emits it.
func Clean(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || r == '\u2028' || r == '\u2029':
			return ' '
		case unicode.Is(unicode.Cf, r) || inputcheck.IsNoncharacter(r):
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	s = personalNumber.ReplaceAllStringFunc(s, func(m string) string { return strings.Repeat("*", len(m)) })
	if utf8.RuneCountInString(s) > max {
		r := []rune(s)
		s = string(r[:max-1]) + "…"
	}
	return s
}
