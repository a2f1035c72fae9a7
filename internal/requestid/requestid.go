// Package requestid is the rule for the id that ties together the log
// lines of one request, from the gateway through every service it reaches:
// which ids a client may choose, how a new one is made, and the header
// that carries it. The gateway and the services apply the same rule, so
// an id the gateway passes on is never replaced upstream.
package requestid

import "math/rand/v2"

// Key is the gRPC metadata key that carries a request id in to a server
// and back out in its response header.
const Key = "x-request-id"

// Header is the HTTP header that carries a request id between a client and
// the gateway: Key in its canonical form.
const Header = "X-Request-Id"

// MaxLen is the length of the longest id Valid accepts, a UUID's.
const MaxLen = uuidLen

const (
	uuidLen = 36
	ulidLen = 26
)

// Valid reports whether id, which comes from a client, may be logged,
// passed on in gRPC metadata and echoed: only when it has the shape of a
// UUID (8-4-4-4-12 hex digits, RFC 9562) or of a ULID (26 characters of
// Crockford's base 32, the first at most 7). These are what clients and
// proxies send; any free-form id is replaced, since a client could put an
// ID number or a phone number into every log line of its request, or a
// line break to forge one.
func Valid(id string) bool {
	switch len(id) {
	case uuidLen:
		return isUUID(id)
	case ulidLen:
		return isULID(id)
	}
	return false
}

// isUUID reports whether s, 36 bytes long, is hex digits in groups of 8,
// 4, 4, 4 and 12 separated by '-'. Version and variant are not checked:
// a client's tracing system may use any.
func isUUID(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !isHex(c) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// isULID reports whether s, 26 bytes long, is a ULID in either case: a
// 48-bit time and 80 random bits in Crockford's base 32 (no I, L, O or
// U), so that the first character, holding the time's top 3 bits, is at
// most '7'.
func isULID(s string) bool {
	if s[0] < '0' || s[0] > '7' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !isCrockford(s[i]) {
			return false
		}
	}
	return true
}

func isCrockford(c byte) bool {
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch {
	case '0' <= c && c <= '9':
		return true
	case 'A' <= c && c <= 'Z':
		return c != 'I' && c != 'L' && c != 'O' && c != 'U'
	}
	return false
}

// New returns a random (version 4) UUID in lower case, an id that Valid
// accepts, so that the gateway's own ids pass through the services
// unchanged. The id only has to be unique enough to find a request's log
// lines, not secret, so the runtime's per-thread generator is used: it
// neither locks nor makes a system call.
func New() string {
	const hex = "0123456789abcdef"
	hi := rand.Uint64() //nolint:gosec // G404: unique enough to find log lines, not secret (see above)
	lo := rand.Uint64() //nolint:gosec // G404: as above
	// Version 4 in the 13th hex digit, variant 10 in the 17th.
	hi = hi&^(0xf<<12) | 0x4<<12
	lo = lo&^(0x3<<62) | 0x2<<62
	var b [uuidLen]byte
	j := len(b) - 1
	put := func(n uint64, digits int) {
		for range digits {
			if j == 8 || j == 13 || j == 18 || j == 23 {
				b[j] = '-'
				j--
			}
			b[j] = hex[n&0xf]
			n >>= 4
			j--
		}
	}
	put(lo, 16)
	put(hi, 16)
	return string(b[:])
}

// FromClient returns the id a client sent when it is Valid, otherwise a
// New one. An absent id is "".
func FromClient(id string) string {
	if Valid(id) {
		return id
	}
	return New()
}
