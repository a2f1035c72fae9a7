// Package adminhttp builds the handler of the admin HTTP port that every
// socmgmt program serves beside its API, the services and the gateway
// alike. The port may be opened to a metrics scraper on another machine,
// so only the routes a program names as open answer anyone; the profiles
// and the program's local routes (a database backup holds every retiree's
// personal data) answer callers on this machine only.
package adminhttp

import (
	"net"
	"net/http"
	"net/http/pprof"
)

// Options says what an admin port serves besides the profiles under
// /debug/pprof/. Keys are http.ServeMux patterns.
type Options struct {
	// Open are the routes any caller may reach: /metrics for a scraper,
	// /healthz for a load balancer.
	Open map[string]http.Handler
	// Local are the routes only callers on the loopback interface may
	// reach, such as /debug/backup.
	Local map[string]http.Handler
}

// NewHandler returns the admin handler that o describes. A pattern that
// http.ServeMux rejects, or that collides with another, panics as
// http.ServeMux.Handle does: it is a programming error.
func NewHandler(o Options) http.Handler {
	mux := http.NewServeMux()
	for pattern, h := range o.Open {
		mux.Handle(pattern, h)
	}
	mux.Handle("/debug/pprof/", LoopbackOnly(http.HandlerFunc(pprof.Index)))
	mux.Handle("/debug/pprof/cmdline", LoopbackOnly(http.HandlerFunc(pprof.Cmdline)))
	mux.Handle("/debug/pprof/profile", LoopbackOnly(http.HandlerFunc(pprof.Profile)))
	mux.Handle("/debug/pprof/symbol", LoopbackOnly(http.HandlerFunc(pprof.Symbol)))
	mux.Handle("/debug/pprof/trace", LoopbackOnly(http.HandlerFunc(pprof.Trace)))
	for pattern, h := range o.Local {
		mux.Handle(pattern, LoopbackOnly(h))
	}
	return mux
}

// LoopbackOnly serves h to callers on the loopback interface and answers
// 403 to anyone else.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "forbidden: only from this machine", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}
