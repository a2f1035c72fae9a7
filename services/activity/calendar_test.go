package activity

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ical "github.com/arran4/golang-ical"
	"github.com/google/go-cmp/cmp"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// longTitle is a Chinese title of 123 octets, which must be folded
// between characters.
const longTitle = "沈阳市和平区北市场街道社区老年大学书法绘画与传统戏曲欣赏系列讲座（第一期）"

// TestCalendarFeed renders a community's calendar through the server,
// checks it line by line (CRLF, 75-octet folding between characters,
// continuations) and parses it back with an independent iCalendar parser.
func TestCalendarFeed(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	venue := h.mustVenue(communityA, 50)
	hall := &pb.Venue{CommunityId: communityA, Name: "文化活动中心", Address: "和平区北市场街1号; 二楼, 东侧", Capacity: 50}
	if err := checkVenue(hall, "", false); err != nil {
		t.Fatal(err)
	}
	hall, err := h.store.CreateVenue(hall, "")
	if err != nil {
		t.Fatal(err)
	}
	byCount := weekly(hall, sh(2026, 7, 6, 9, 0), 90*time.Minute, 2, 6)
	byCount.Title = longTitle
	byCount.Description = "请带好毛笔\n地点: 二楼; 东侧, 右转 \\ 谢谢"
	byCount.Category = pb.Category_EDUCATION
	a1 := h.mustActivity(byCount)
	byUntil := weekly(hall, sh(2026, 7, 7, 19, 30), time.Hour, 1, 0)
	byUntil.Recurrence = &pb.Recurrence{Until: "2026-08-04"}
	a2 := h.mustActivity(byUntil)
	paris := oneOff(hall, sh(2026, 7, 8, 9, 0), time.Hour)
	paris.TimeZone = "Europe/Paris"
	paris.Title = "视频连线"
	a3 := h.mustActivity(paris)
	cancelled := h.mustActivity(oneOff(hall, sh(2026, 7, 9, 9, 0), time.Hour))
	ctx := h.as(clerkP)
	if _, err := h.client.CancelActivity(ctx, &pb.CancelActivityRequest{Id: cancelled.Id, Reason: "下雨"}); err != nil {
		t.Fatal(err)
	}
	// Neither another community's activity nor one long over is listed.
	h.mustActivity(oneOff(h.mustVenue(communityB, 10), sh(2026, 7, 6, 9, 0), time.Hour))
	h.mustActivity(oneOff(venue, sh(2026, 3, 1, 9, 0), time.Hour))

	resp, err := h.client.GetCommunityCalendar(ctx, &pb.GetCommunityCalendarRequest{CommunityId: communityA})
	if err != nil {
		t.Fatal(err)
	}
	ics := resp.Ics

	t.Run("lines", func(t *testing.T) {
		if !bytes.HasSuffix(ics, []byte("\r\n")) {
			t.Fatal("the feed does not end with CRLF")
		}
		lines := strings.Split(strings.TrimSuffix(string(ics), "\r\n"), "\r\n")
		folded := 0
		for i, l := range lines {
			if strings.ContainsAny(l, "\r\n") {
				t.Errorf("line %d has a bare CR or LF: %q", i+1, l)
			}
			if len(l) > maxLineOctets {
				t.Errorf("line %d is %d octets: %q", i+1, len(l), l)
			}
			if !utf8.ValidString(l) {
				t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, l)
			}
			if strings.HasPrefix(l, " ") {
				folded++
				if i == 0 {
					t.Error("the feed starts with a continuation")
				}
			} else if !strings.Contains(l, ":") {
				t.Errorf("line %d is neither a property nor a continuation: %q", i+1, l)
			}
		}
		if folded == 0 {
			t.Error("nothing was folded, so folding was not tested")
		}
		unfolded := strings.ReplaceAll(string(ics), "\r\n ", "")
		want := "SUMMARY:" + longTitle + "\r\n"
		if !strings.Contains(unfolded, want) {
			t.Errorf("unfolding does not restore %q", want)
		}
		if strings.Contains(string(ics), want) {
			t.Errorf("the %d-octet SUMMARY line was not folded", len(want)-2)
		}
		for _, prop := range []string{
			"BEGIN:VCALENDAR", "VERSION:2.0", "CALSCALE:GREGORIAN", "END:VCALENDAR",
			// Shanghai's VTIMEZONE: +08:00 since daylight saving time ended
			// in 1991; Paris's: summer time since March 2026.
			"BEGIN:VTIMEZONE", "TZID:Asia/Shanghai", "TZOFFSETFROM:+0900", "TZOFFSETTO:+0800", "DTSTART:19910915T020000",
			"TZID:Europe/Paris", "BEGIN:DAYLIGHT", "DTSTART:20260329T020000", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST",
			"REFRESH-INTERVAL;VALUE=DURATION:PT1H",
			"DTSTART;TZID=Asia/Shanghai:20260706T090000", "DTEND;TZID=Asia/Shanghai:20260706T103000",
			"RRULE:FREQ=WEEKLY;INTERVAL=2;COUNT=6",
			"RRULE:FREQ=WEEKLY;INTERVAL=1;UNTIL=20260804T113000Z",
			"DTSTART;TZID=Europe/Paris:20260708T030000", "DTEND;TZID=Europe/Paris:20260708T040000",
			`LOCATION:文化活动中心\, 和平区北市场街1号\; 二楼\, 东侧`,
			`DESCRIPTION:请带好毛笔\n地点: 二楼\; 东侧\, 右转 \\ 谢谢`,
			"DTSTAMP:20260615T100000Z",
		} {
			if !strings.Contains(unfolded, "\r\n"+prop+"\r\n") && !strings.HasPrefix(unfolded, prop+"\r\n") {
				t.Errorf("no line %q", prop)
			}
		}
	})

	t.Run("parsed back", func(t *testing.T) {
		cal, err := ical.ParseCalendar(bytes.NewReader(ics))
		if err != nil {
			t.Fatalf("ParseCalendar: %v", err)
		}
		var zones []string
		for _, tz := range cal.Timezones() {
			zones = append(zones, tz.GetProperty(ical.ComponentPropertyTzid).Value)
		}
		if want := []string{"Asia/Shanghai", "Europe/Paris"}; !slices.Equal(zones, want) {
			t.Errorf("timezones = %v, want %v", zones, want)
		}
		type event struct {
			UID, Summary, Location, Status, Categories, RRule string
			Start, End                                        time.Time
		}
		var got []event
		for _, e := range cal.Events() {
			ev := event{UID: e.Id()}
			for prop, dst := range map[ical.ComponentProperty]*string{
				ical.ComponentPropertySummary: &ev.Summary, ical.ComponentPropertyLocation: &ev.Location,
				ical.ComponentPropertyStatus: &ev.Status, ical.ComponentPropertyCategories: &ev.Categories,
				ical.ComponentPropertyRrule: &ev.RRule,
			} {
				if p := e.GetProperty(prop); p != nil {
					*dst = p.Value
				}
			}
			if ev.Start, err = e.GetStartAt(); err != nil {
				t.Errorf("%s: DTSTART: %v", ev.UID, err)
			}
			if ev.End, err = e.GetEndAt(); err != nil {
				t.Errorf("%s: DTEND: %v", ev.UID, err)
			}
			if stamp, err := e.GetDtStampTime(); err != nil || !stamp.Equal(testNow) {
				t.Errorf("%s: DTSTAMP = %v (%v), want %v", ev.UID, stamp, err, testNow)
			}
			got = append(got, ev)
		}
		location := "文化活动中心, 和平区北市场街1号; 二楼, 东侧"
		want := []event{
			{UID: a1.Id + "@socmgmt", Summary: longTitle, Location: location, Status: "CONFIRMED", Categories: "EDUCATION",
				RRule: "FREQ=WEEKLY;INTERVAL=2;COUNT=6", Start: sh(2026, 7, 6, 9, 0), End: sh(2026, 7, 6, 10, 30)},
			{UID: a2.Id + "@socmgmt", Summary: "太极拳", Location: location, Status: "CONFIRMED", Categories: "SPORTS",
				RRule: "FREQ=WEEKLY;INTERVAL=1;UNTIL=20260804T113000Z", Start: sh(2026, 7, 7, 19, 30), End: sh(2026, 7, 7, 20, 30)},
			{UID: a3.Id + "@socmgmt", Summary: "视频连线", Location: location, Status: "CONFIRMED", Categories: "SPORTS",
				Start: sh(2026, 7, 8, 9, 0), End: sh(2026, 7, 8, 10, 0)},
			{UID: cancelled.Id + "@socmgmt", Summary: "太极拳", Location: location, Status: "CANCELLED", Categories: "SPORTS",
				Start: sh(2026, 7, 9, 9, 0), End: sh(2026, 7, 9, 10, 0)},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestFolding(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want []string
	}{
		{"short", "SUMMARY:x", []string{"SUMMARY:x"}},
		{"exactly 75 octets", strings.Repeat("a", 75), []string{strings.Repeat("a", 75)}},
		{"76 octets", strings.Repeat("a", 76), []string{strings.Repeat("a", 75), " a"}},
		{"a character across the limit moves down whole", strings.Repeat("a", 74) + "中文",
			[]string{strings.Repeat("a", 74), " 中文"}},
		{"continuations carry 74 octets", strings.Repeat("a", 75+74+1),
			[]string{strings.Repeat("a", 75), " " + strings.Repeat("a", 74), " a"}},
		{"four-octet characters", strings.Repeat("𠀀", 20),
			[]string{strings.Repeat("𠀀", 18), " " + strings.Repeat("𠀀", 2)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var w icsWriter
			w.line(tc.in)
			got := strings.Split(strings.TrimSuffix(w.buf.String(), "\r\n"), "\r\n")
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("lines (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscapeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain 文字", "plain 文字"},
		{`a\b`, `a\\b`},
		{"a;b,c", `a\;b\,c`},
		{"line1\nline2", `line1\nline2`},
		{"line1\r\nline2", `line1\nline2`},
		{"bell\x07 tab\t", "bell tab\t"},
	} {
		if got := escapeText(tc.in); got != tc.want {
			t.Errorf("escapeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzFoldedText checks that any text, escaped and folded, gives lines of
// at most 75 octets that unfold and unescape to the text (less the control
// characters TEXT cannot carry), never splitting a UTF-8 sequence.
func FuzzFoldedText(f *testing.F) {
	for _, s := range []string{"", longTitle, strings.Repeat("a", 80), "a;b,c\\d\ne", strings.Repeat("中", 30) + "x", "\xff\xfe" + strings.Repeat("\x80", 90)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var w icsWriter
		line := "SUMMARY:" + escapeText(s)
		w.line(line)
		out := w.buf.String()
		if !strings.HasSuffix(out, "\r\n") {
			t.Fatalf("no CRLF at the end: %q", out)
		}
		for i, l := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(l) > maxLineOctets {
				t.Fatalf("line of %d octets: %q", len(l), l)
			}
			if i > 0 && !strings.HasPrefix(l, " ") {
				t.Fatalf("continuation without a space: %q", l)
			}
			if utf8.ValidString(line) && !utf8.ValidString(l) {
				t.Fatalf("a fold splits a character: %q", l)
			}
		}
		unfolded := strings.ReplaceAll(strings.TrimSuffix(out, "\r\n"), "\r\n ", "")
		if unfolded != line {
			t.Fatalf("unfolded %q, want %q", unfolded, line)
		}
		want := strings.ReplaceAll(s, "\r\n", "\n")
		want = strings.Map(func(r rune) rune {
			if r == '\r' {
				return '\n'
			}
			if r < 0x20 && r != '\t' && r != '\n' || r == 0x7f {
				return -1
			}
			return r
		}, want)
		if got := unescapeText(strings.TrimPrefix(unfolded, "SUMMARY:")); got != want && utf8.ValidString(s) {
			t.Fatalf("unescaped %q, want %q", got, want)
		}
	})
}

// unescapeText reverses escapeText, as a calendar reader does.
func unescapeText(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
			if s[i] == 'n' || s[i] == 'N' {
				b.WriteByte('\n')
			} else {
				b.WriteByte(s[i])
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
