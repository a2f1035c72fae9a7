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

// MaxLen bounds an id taken from a client, which lands in every log line
// of the request.
const MaxLen = 64

// Valid reports whether id, which comes from a client, is short and plain
// enough to be put into logs and gRPC metadata and echoed: 1 to MaxLen
// letters, digits, '.', '_' or '-'. That takes the ids clients and proxies
// commonly send (UUIDs, hex, base32) and nothing that could forge a log
// line.
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// New returns 16 random hex characters. The id only has to be unique
// enough to find a request's log lines, not secret, so the runtime's
// per-thread generator is used: it neither locks nor makes a system call.
func New() string {
	const hex = "0123456789abcdef"
	var b [16]byte
	n := rand.Uint64() //nolint:gosec // G404: unique enough to find log lines, not secret (see above)
	for i := range b {
		b[i] = hex[n&0xf]
		n >>= 4
	}
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
