// Package entitytag reads and writes HTTP entity tags (RFC 9110 section
// 8.8.3): the quoting of an etag, the lists of If-Match and If-None-Match,
// and their strong and weak comparison. The gateway's conditional requests
// and the console's files share it.
package entitytag

import "strings"

// Quote quotes etag as an HTTP entity tag, or returns "" when there is
// none or it holds characters an entity tag cannot.
func Quote(etag string) string {
	if etag == "" {
		return ""
	}
	for i := 0; i < len(etag); i++ {
		if c := etag[i]; c <= ' ' || c == '"' || c == 0x7f {
			return ""
		}
	}
	return `"` + etag + `"`
}

// One reads an If-Match header that names one strong entity tag,
// returning the etag in it, or "*", returning "".
func One(h string) (string, bool) {
	if strings.TrimSpace(h) == "*" {
		return "", true
	}
	tags, ok := parseEntityTags(h)
	if !ok || len(tags) != 1 || tags[0].weak || tags[0].opaque == "" {
		return "", false
	}
	return tags[0].opaque, true
}

// parsedTag is one entity tag of a header: its etag, and whether W/ made
// it weak.
type parsedTag struct {
	opaque string
	weak   bool
}

// parseEntityTags reads a comma-separated list of entity tags (RFC 9110
// section 8.8.3), reporting false when the header is not one.
func parseEntityTags(h string) ([]parsedTag, bool) {
	var tags []parsedTag
	for {
		h = strings.TrimLeft(h, " \t,")
		if h == "" {
			return tags, len(tags) > 0
		}
		var t parsedTag
		h, t.weak = strings.CutPrefix(h, "W/")
		rest, ok := strings.CutPrefix(h, `"`)
		if !ok {
			return nil, false
		}
		end := strings.IndexByte(rest, '"')
		if end < 0 || (end > 0 && Quote(rest[:end]) == "") {
			return nil, false
		}
		t.opaque, h = rest[:end], rest[end+1:]
		tags = append(tags, t)
		if h = strings.TrimLeft(h, " \t"); h != "" && h[0] != ',' {
			return nil, false
		}
	}
}

// Match reports whether the header's list of entity tags (or "*")
// names the etag of the entity tag tag. A weak comparison ignores W/
// (If-None-Match); a strong one (If-Match) never matches a weak tag. A
// header that does not parse matches nothing.
func Match(header, tag string, weak bool) bool {
	if strings.TrimSpace(header) == "*" {
		return true
	}
	cur, ok := parseEntityTags(tag)
	if !ok || len(cur) != 1 {
		return false
	}
	tags, _ := parseEntityTags(header)
	for _, t := range tags {
		if t.opaque == cur[0].opaque && (weak || !t.weak && !cur[0].weak) {
			return true
		}
	}
	return false
}
