package apierror

import (
	"context"
	"strconv"
	"strings"

	"google.golang.org/grpc/metadata"
)

// LocaleZH is the locale of the Chinese rendering of errors.
const LocaleZH = "zh-CN"

// AcceptLanguageKey is the metadata key a gRPC client asks for a language
// with, as HTTP's Accept-Language. A status is rendered in Chinese too
// when the client's first choice that this system speaks is Chinese.
const AcceptLanguageKey = "accept-language"

// gatewayLanguageKey is the key under which grpc-gateway forwards the
// header when its incoming-header matcher passes it with the default
// prefix.
const gatewayLanguageKey = "grpcgateway-accept-language"

// Bounds of what ChineseAsked reads: a header is short; a longer one is
// read only so far, and only so many of its ranges.
const (
	maxAcceptLanguage = 512
	maxLanguageRanges = 16
)

// ChineseAsked reports whether the call of ctx asks, with the metadata
// AcceptLanguageKey (or as grpc-gateway forwards it), for Chinese.
func ChineseAsked(ctx context.Context) bool {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return false
	}
	for _, key := range []string{AcceptLanguageKey, gatewayLanguageKey} {
		if vals := md.Get(key); len(vals) > 0 {
			return WantsChinese(strings.Join(vals, ","))
		}
	}
	return false
}

// WantsChinese reports whether an Accept-Language header (RFC 9110
// section 12.5.4) prefers Chinese to English, the two languages errors
// are written in: of its language ranges by falling quality (the header's
// order among equals), the first that is Chinese ("zh", "zh-CN",
// "zh-Hans", "zh-Hans-CN", also "zh-TW": Simplified Chinese reads better
// than English there) or English or "*" decides; English and "*" mean no
// Chinese, as does a header naming neither, or none. A range of q=0 is
// refused and skipped.
func WantsChinese(header string) bool {
	if len(header) > maxAcceptLanguage {
		header = header[:maxAcceptLanguage]
	}
	best, bestQ := "", 0
	for i, part := range strings.Split(header, ",") {
		if i == maxLanguageRanges {
			break
		}
		tag, q, ok := languageRange(part)
		if !ok || q == 0 || !(tag == "*" || isLanguage(tag, "zh") || isLanguage(tag, "en")) {
			continue
		}
		if q > bestQ {
			best, bestQ = tag, q
		}
	}
	return bestQ > 0 && isLanguage(best, "zh")
}

// isLanguage reports whether tag's primary subtag is lang.
func isLanguage(tag, lang string) bool {
	return tag == lang || strings.HasPrefix(tag, lang+"-")
}

// languageRange parses one element of the header: a range, lower-cased,
// and its quality in thousandths (1000 when not given).
func languageRange(s string) (tag string, q int, ok bool) {
	tag, params, _ := strings.Cut(s, ";")
	tag = strings.ToLower(strings.TrimSpace(tag))
	if !validRange(tag) {
		return "", 0, false
	}
	q = 1000
	for p := range strings.SplitSeq(params, ";") {
		name, val, found := strings.Cut(strings.TrimSpace(p), "=")
		if !found || strings.TrimSpace(strings.ToLower(name)) != "q" {
			continue
		}
		q, ok = qValue(strings.TrimSpace(val))
		if !ok {
			return "", 0, false
		}
	}
	return tag, q, true
}

// validRange reports whether tag is "*" or subtags of 1 to 8 letters or
// digits joined by "-", the first of letters.
func validRange(tag string) bool {
	if tag == "*" {
		return true
	}
	if tag == "" || len(tag) > 64 {
		return false
	}
	for i, sub := range strings.Split(tag, "-") {
		if len(sub) < 1 || len(sub) > 8 {
			return false
		}
		for _, c := range []byte(sub) {
			letter := 'a' <= c && c <= 'z'
			if !letter && (i == 0 || c < '0' || c > '9') {
				return false
			}
		}
	}
	return true
}

// qValue parses a quality value, "0" to "1" with up to three decimals, in
// thousandths.
func qValue(s string) (int, bool) {
	whole, frac, _ := strings.Cut(s, ".")
	if (whole != "0" && whole != "1") || len(frac) > 3 {
		return 0, false
	}
	for _, c := range []byte(frac) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, _ := strconv.Atoi((frac + "000")[:3])
	if whole == "1" {
		if n != 0 {
			return 0, false
		}
		return 1000, true
	}
	return n, true
}
