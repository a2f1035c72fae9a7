// Package adminhttp builds the handler of the admin HTTP port that every
// socmgmt program serves beside its API, the services and the gateway
// alike. The port may be opened to a metrics scraper on another machine,
// so only the routes a program names as open answer anyone. The profiles
// and the program's admin routes (a database backup holds every retiree's
// personal data) need two things: a caller on this machine, and an admin
// bearer token, verified as the gRPC services verify theirs.
//
// A token rather than a Unix socket whose file mode admits only the
// service's user: the token names who fetched a backup (the log says so),
// works the same on every program and in every deployment the TCP port
// already works in (containers, systemd units, `make run`), and is what
// an operator already has, minted by `socmgmt token` or `socmgmt backup`.
// A socket would prove only "some process of that user", and every
// deployment would have to agree on a path and a group. The caller must
// also be on loopback, or else have connected over TLS with a client
// certificate the program's client CAs verified (the admin port serves
// TLS when the program is started with --admin-tls): either way the
// token never crosses a network in plain text, and a caller from another
// machine (a backup job in another pod) is one the program's CA vouches
// for.
package adminhttp

import (
	"net"
	"net/http"
	"net/http/pprof"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// Verifier checks a bearer token and returns the principal it names;
// *authn.Verifier is one.
type Verifier interface {
	Verify(token string) (*authn.Principal, error)
}

// Options says what an admin port serves besides the profiles under
// /debug/pprof/. Keys are http.ServeMux patterns.
type Options struct {
	// Open are the routes any caller may reach: /metrics for a scraper,
	// /healthz for a load balancer.
	Open map[string]http.Handler
	// Admin are the routes, such as /debug/backup, that like the profiles
	// answer only a caller on the loopback interface or with a verified
	// TLS client certificate, and with an admin token.
	Admin map[string]http.Handler
	// Verifier checks the tokens of the profiles and the Admin routes.
	// Nil refuses them to everyone: a program without a verification key
	// serves no profiles and no backups.
	Verifier Verifier
	// Logger records who was given or refused an admin route; nil logs
	// nothing.
	Logger *zap.Logger
}

// NewHandler returns the admin handler that o describes. A pattern that
// http.ServeMux rejects, or that collides with another, panics as
// http.ServeMux.Handle does: it is a programming error.
func NewHandler(o Options) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range o.Open {
		mux.Handle(pattern, h)
	}
	guard := func(h http.Handler) http.Handler { return RequireAdmin(o.Verifier, o.Logger, h) }
	mux.Handle("/debug/pprof/", guard(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", guard(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", guard(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", guard(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", guard(http.HandlerFunc(pprof.Trace)))
	for pattern, h := range o.Admin {
		mux.Handle(pattern, guard(h))
	}
	return mux
}

// RequireAdmin serves h to a caller on the loopback interface, or one
// whose TLS client certificate was verified (see Trusted), whose
// Authorization header carries a token v accepts for role admin. Anyone
// else is refused: 403 from another machine without a verified client
// certificate, 401 without a valid token
// (with a WWW-Authenticate challenge), 403 for a token of another role.
// A nil v refuses everyone with 403. Every answer is logged with the
// path and, once known, the caller's subject; never the token.
func RequireAdmin(v Verifier, log *zap.Logger, h http.Handler) http.Handler {
	if log == nil {
		log = zap.NewNop()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		refuse := func(code int, msg, why string, fields ...zap.Field) {
			log.Warn("admin route refused", append(fields,
				zap.String("path", r.URL.Path), zap.String("remote", r.RemoteAddr), zap.String("why", why))...)
			http.Error(w, msg, code)
		}
		if !Trusted(r) {
			refuse(http.StatusForbidden, "forbidden: only from this machine, or over TLS with a client certificate", "not loopback, no client certificate")
			return
		}
		if v == nil {
			refuse(http.StatusForbidden, "forbidden: this program has no token key to check an admin token with", "no token key")
			return
		}
		p, why := verify(v, r)
		if p == nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="socmgmt-admin"`)
			refuse(http.StatusUnauthorized, "unauthorized: an admin bearer token is required", why)
			return
		}
		if p.Role != authn.RoleAdmin {
			refuse(http.StatusForbidden, "forbidden: an admin token is required", "not admin",
				zap.String("subject", p.Subject), zap.String("role", string(p.Role)))
			return
		}
		log.Info("admin route", zap.String("path", r.URL.Path), zap.String("subject", p.Subject))
		h.ServeHTTP(w, r)
	})
}

// verify returns the principal of r's bearer token, or nil and why not.
func verify(v Verifier, r *http.Request) (*authn.Principal, string) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return nil, "no token"
	case 1:
	default:
		// Two credentials are ambiguous, as on the gRPC side.
		return nil, "several Authorization headers"
	}
	token, ok := authn.ParseBearer(vals[0])
	if !ok {
		return nil, "not a bearer token"
	}
	p, err := v.Verify(token)
	if err != nil {
		return nil, "invalid token"
	}
	return p, ""
}

// Trusted reports whether r may reach an admin route at all, token
// aside: it comes from the loopback interface, or over TLS with a client
// certificate that verified against the listener's client CAs. A
// certificate offered but not verified (a listener that does not ask for
// one) leaves VerifiedChains empty and does not count.
func Trusted(r *http.Request) bool {
	return fromLoopback(r) || (r.TLS != nil && len(r.TLS.VerifiedChains) > 0)
}

// fromLoopback reports whether r comes from the loopback interface.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}
