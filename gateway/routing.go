package gateway

import (
	"context"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// methodsToProbe are the methods an Allow header may list, in its order.
// HEAD is listed after GET wherever GET is served.
var methodsToProbe = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// normalise prepares a request for the routes: a query string that cannot
// be read is refused (see parseQuery), a trailing slash is dropped (the
// same resource as without it), and HEAD is served as GET without the
// body.
func (g *Gateway) normalise(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query, bad := parseQuery(r)
		if bad != nil {
			g.writeError(w, r, http.StatusBadRequest, bad)
			return
		}
		r = trimTrailingSlash(r)
		if r.Method == http.MethodHead {
			r = r.WithContext(r.Context())
			r.Method = http.MethodGet
			w = &bodyless{ResponseWriter: w}
		}
		if st := stateFrom(r.Context()); st != nil {
			st.query = query
		}
		next.ServeHTTP(w, r)
	})
}

// trimTrailingSlash returns r, or a copy whose path has no trailing slash.
func trimTrailingSlash(r *http.Request) *http.Request {
	p := r.URL.Path
	if len(p) <= 1 || !strings.HasSuffix(p, "/") {
		return r
	}
	u := *r.URL
	u.Path = strings.TrimRight(p, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if u.Path == "" {
		u.Path, u.RawPath = "/", ""
	}
	r = r.WithContext(r.Context())
	r.URL = &u
	return r
}

// bodyless answers HEAD: the headers of the GET response, no body.
type bodyless struct {
	http.ResponseWriter
	wroteHeader bool
}

func (b *bodyless) WriteHeader(code int) {
	b.wroteHeader = true
	b.ResponseWriter.WriteHeader(code)
}

func (b *bodyless) Write(p []byte) (int, error) {
	if !b.wroteHeader {
		b.WriteHeader(http.StatusOK)
	}
	return len(p), nil
}

// Unwrap lets http.ResponseController reach the real writer.
func (b *bodyless) Unwrap() http.ResponseWriter { return b.ResponseWriter }

// probeKey is the context key of a probe's *probe (see allowedMethods).
type probeKey struct{}

// probe is what a probe request learns: the number of the route its
// method and path matched, 0 for none, and that route's pattern.
type probe struct {
	route   int
	pattern string
}

// answerProbe is the first mux middleware: a probe request only learns
// which route its method and path matched, and goes no further. The mux
// builds the middlewares once for each route it registers, so the routes
// are numbered here in that order, 1 to g.routes; a test can thus tell
// that its probes reached every route the mux serves.
func (g *Gateway) answerProbe(next runtime.HandlerFunc) runtime.HandlerFunc {
	g.routes++
	route := g.routes
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if p, ok := r.Context().Value(probeKey{}).(*probe); ok {
			p.route = route
			if pat, ok := runtime.HTTPPattern(r.Context()); ok {
				p.pattern = pat.String()
			}
			return
		}
		next(w, r, params)
	}
}

// probeRoute asks the mux which route it serves r with, without serving it.
func (g *Gateway) probeRoute(r *http.Request) probe {
	var p probe
	g.mux.ServeHTTP(discardWriter{header: http.Header{}}, r.WithContext(context.WithValue(r.Context(), probeKey{}, &p)))
	return p
}

// allowedMethods asks the mux which methods it serves r's path with. The
// routes are the mux's own, so the answer cannot drift from them; it is
// asked only for a 405.
func (g *Gateway) allowedMethods(r *http.Request) []string {
	var allow []string
	for _, m := range methodsToProbe {
		req := r.WithContext(r.Context())
		req.Method = m
		if g.probeRoute(req).route != 0 {
			allow = append(allow, m)
			if m == http.MethodGet {
				allow = append(allow, http.MethodHead)
			}
		}
	}
	return allow
}

// discardWriter is where a probe's answer goes.
type discardWriter struct{ header http.Header }

func (d discardWriter) Header() http.Header         { return d.header }
func (d discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d discardWriter) WriteHeader(int)             {}

// routingError answers a request that matched no route. A path served
// with other methods gets 405 and an Allow header naming them (grpc-gateway
// answers 501 without one); anything else is grpc-gateway's default.
func (g *Gateway) routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if _, probing := ctx.Value(probeKey{}).(*probe); probing {
		return
	}
	if httpStatus != http.StatusMethodNotAllowed {
		runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
		return
	}
	allow := strings.Join(g.allowedMethods(r), ", ")
	w.Header().Set("Allow", allow)
	g.writeError(w, r, http.StatusMethodNotAllowed, status.New(codes.Unimplemented, "method not allowed; this resource allows "+allow))
}
