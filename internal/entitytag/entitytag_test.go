package entitytag

import (
	"strings"
	"testing"
)

// FuzzEntityTags: any If-Match or If-None-Match is read without panicking;
// an If-Match taken is "*" or holds the quoted etag it is read as, and
// matches that etag.
func FuzzEntityTags(f *testing.F) {
	for _, s := range []string{`"r7"`, `W/"r7"`, `*`, `"r6", "r7"`, `r7`, `""`, `"`, `"a"b"`, " \"r7\" ", `"r7",`, `","`} {
		f.Add(s, "r7")
	}
	f.Fuzz(func(t *testing.T, header, etag string) {
		_ = Match(header, Quote(etag), true)
		_ = Match(header, Quote(etag), false)
		got, ok := One(header)
		if !ok {
			return
		}
		if got == "" && strings.TrimSpace(header) != "*" || got != "" && !strings.Contains(header, Quote(got)) {
			t.Fatalf("If-Match %q read as %q", header, got)
		}
		if got != "" && !Match(header, Quote(got), false) {
			t.Fatalf("If-Match %q does not match its own tag", header)
		}
	})
}

// TestMatch: If-None-Match compares weakly, If-Match strongly; "*" names
// any tag; a header that does not parse matches nothing.
func TestMatch(t *testing.T) {
	for _, c := range []struct {
		header, tag string
		weak, want  bool
	}{
		{`"r7"`, `"r7"`, false, true},
		{`W/"r7"`, `"r7"`, true, true},
		{`W/"r7"`, `"r7"`, false, false},
		{`"r6", "r7"`, `"r7"`, false, true},
		{`*`, `"r7"`, false, true},
		{`r7`, `"r7"`, true, false},
		{`"r6"`, `"r7"`, true, false},
	} {
		if got := Match(c.header, c.tag, c.weak); got != c.want {
			t.Errorf("Match(%q, %q, weak %v) = %v", c.header, c.tag, c.weak, got)
		}
	}
}
