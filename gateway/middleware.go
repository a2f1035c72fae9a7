package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/socmgmt/socmgmt/internal/httpmethod"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/requestid"
	"github.com/socmgmt/socmgmt/internal/tracing"
)

// routeUnmatched labels requests that matched no route, so that arbitrary
// paths never become metric labels or log entries.
const routeUnmatched = "unmatched"

// requestStateKey is the context key of *requestState.
type requestStateKey struct{}

// requestState travels in the request context from observe, which creates
// it, to the mux middleware, which fills in what only the mux knows, and on
// to the call of the upstream (see restGuard), which reads it.
//
// It is itself that context: the request's, with itself under
// requestStateKey; and it holds the request's statusRecorder. One
// allocation for the three, rather than one each on every request.
type requestState struct {
	context.Context

	rec statusRecorder
	id  string
	// idValue backs the value of the request id metadata sent upstream.
	idValue [1]string
	route   string
	// query is the parsed query string; nil when there is none.
	query url.Values
	// req is the request the matched handler got: its Form is still nil
	// at the upstream call unless the handler read the query.
	req *http.Request
	// ifMatch is the etag of the If-Match header of a write, unquoted;
	// empty when there is none or it is "*".
	ifMatch string
}

// Value returns the requestState itself under requestStateKey, else what
// the request's context holds.
func (st *requestState) Value(key any) any {
	if key == (requestStateKey{}) {
		return st
	}
	return st.Context.Value(key)
}

func stateFrom(ctx context.Context) *requestState {
	st, _ := ctx.Value(requestStateKey{}).(*requestState)
	return st
}

// observe gives every request an id, then logs and measures it once it is
// done. It logs the route pattern, never the path or query, which may hold
// personal data.
func (g *Gateway) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The services' rule (requestid), so that an id the gateway passes
		// on is never replaced upstream.
		id := requestid.FromClient(r.Header.Get(requestid.Header))
		st := &requestState{Context: r.Context(), id: id, route: routeUnmatched}
		st.idValue[0] = id
		rec := &st.rec
		rec.ResponseWriter, rec.requestID = w, id
		next.ServeHTTP(rec, r.WithContext(st))
		elapsed := time.Since(start)
		code := rec.status
		if code == 0 {
			code = http.StatusOK
		}
		method := httpmethod.Label(r.Method)
		g.metrics.observe(method, st.route, code, elapsed)
		level := zapcore.InfoLevel
		switch {
		case code >= 500:
			level = zapcore.WarnLevel
		case st.route == healthzRoute:
			// Probes arrive every few seconds and would drown the rest.
			level = zapcore.DebugLevel
		}
		g.logRequest(level, r, method, st.route, code, elapsed, id)
	})
}

// logRequest writes the access log line of a request, with its trace id
// when it is traced.
func (g *Gateway) logRequest(level zapcore.Level, r *http.Request, method, route string, code int, elapsed time.Duration, id string) {
	ce := g.quiet.Check(level, "http request")
	if ce == nil {
		return
	}
	fields := []zap.Field{
		zap.String("method", method),
		zap.String("route", route),
		zap.Int("status", code),
		zap.Duration("duration", elapsed),
		zap.String("request_id", id),
	}
	if g.cfg.TracerProvider != nil {
		fields = append(fields, tracing.LogFields(r.Context())...)
	}
	ce.Write(fields...)
}

// statusRecorder remembers the status code and makes sure every response
// carries the request id: the upstream's if it sent one back, else the
// gateway's.
type statusRecorder struct {
	http.ResponseWriter
	requestID string
	status    int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
		if h := r.Header(); h.Get(requestid.Header) == "" {
			h.Set(requestid.Header, r.requestID)
		}
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	return r.ResponseWriter.Write(b)
}

// Flush keeps streamed responses streaming through the recorder.
func (r *statusRecorder) Flush() {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestIDMetadata sends the request id to the upstream, so that its logs
// and the gateway's share it, and the client's wish for Chinese (see
// languageMetadata).
func requestIDMetadata(ctx context.Context, r *http.Request) metadata.MD {
	md := languageMetadata(r)
	if st := stateFrom(ctx); st != nil {
		if md == nil {
			return metadata.MD{requestid.Key: st.idValue[:]}
		}
		md[requestid.Key] = st.idValue[:]
	}
	return md
}

// zhCN is the accept-language the gateway sends upstream for a client that
// prefers Chinese.
var zhCN = []string{apierror.LocaleZH}

// languageMetadata is the accept-language metadata of a request whose
// Accept-Language prefers Chinese: always "zh-CN", so that what reaches the
// services is bounded whatever the client sent; nil (nothing sent, the
// services answer in English alone) otherwise.
func languageMetadata(r *http.Request) metadata.MD {
	if !wantsChinese(r) {
		return nil
	}
	return metadata.MD{apierror.AcceptLanguageKey: zhCN}
}

// wantsChinese reports whether the request's Accept-Language prefers
// Chinese (see apierror.WantsChinese).
func wantsChinese(r *http.Request) bool {
	// Join returns a single value as it is, without a copy.
	return apierror.WantsChinese(strings.Join(r.Header.Values("Accept-Language"), ","))
}

// incomingHeader forwards no HTTP header to the upstream as metadata.
// grpc-gateway forwards Authorization itself, the request id goes as
// requestIDMetadata and Accept-Language, bounded, as languageMetadata;
// the services read nothing else. Its default would
// send every standard header (Accept, User-Agent, ...) as grpcgateway-*
// metadata and any Grpc-Metadata-* header a client chose, for nothing
// but work on both sides of every call.
func incomingHeader(string) (string, bool) { return "", false }

// outgoingHeader returns the upstream's request id as X-Request-Id, drops
// the gRPC content type (application/grpc says nothing about the JSON
// response) and keeps grpc-gateway's Grpc-Metadata- prefix for the rest.
func outgoingHeader(key string) (string, bool) {
	switch key {
	case requestid.Key:
		return requestid.Header, true
	case "content-type":
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// recordRoute tells observe which route pattern matched. grpc-gateway wraps
// each registered handler separately, so the pattern is computed once per
// route and kept in the closure.
func (g *Gateway) recordRoute(next runtime.HandlerFunc) runtime.HandlerFunc {
	var route atomic.Pointer[string]
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		p := route.Load()
		if p == nil {
			s := routeOf(r)
			p = &s
			route.Store(p)
		}
		if st := stateFrom(r.Context()); st != nil {
			st.route = *p
		}
		if g.cfg.TracerProvider != nil {
			tracing.SetRoute(r.Context(), httpmethod.Label(r.Method), *p)
		}
		next(w, r, params)
	}
}

// routeOf spells the matched pattern as in the HTTP rules,
// "/v1/retirees/{id}" rather than grpc-gateway's "/v1/retirees/{id=*}".
func routeOf(r *http.Request) string {
	pat, ok := runtime.HTTPPattern(r.Context())
	if !ok {
		return routeUnmatched
	}
	return strings.ReplaceAll(pat.String(), "=*}", "}")
}

// limitBody answers 413 to bodies over MaxBodyBytes before any of them is
// decoded. A declared Content-Length is checked up front (net/http never
// reads past it); a body of unknown length (chunked) is read up to one byte
// past the limit and handed on from memory.
func (g *Gateway) limitBody(next runtime.HandlerFunc) runtime.HandlerFunc {
	limit := g.cfg.MaxBodyBytes
	return func(w http.ResponseWriter, r *http.Request, params map[string]string) {
		if r.ContentLength > limit {
			g.bodyTooLarge(w, r)
			return
		}
		if r.ContentLength < 0 && r.Body != nil {
			body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
			if err != nil {
				g.writeError(w, r, http.StatusBadRequest, status.New(codes.InvalidArgument, "cannot read request body"))
				return
			}
			if int64(len(body)) > limit {
				g.bodyTooLarge(w, r)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		next(w, r, params)
	}
}

func (g *Gateway) bodyTooLarge(w http.ResponseWriter, r *http.Request) {
	msg := fmt.Sprintf("request body exceeds %d bytes", g.cfg.MaxBodyBytes)
	g.writeError(w, r, http.StatusRequestEntityTooLarge, status.New(codes.InvalidArgument, msg))
}

// writeError answers with st as google.rpc.Status JSON, like every other
// error of the gateway, but with an HTTP status of our choosing.
func (g *Gateway) writeError(w http.ResponseWriter, r *http.Request, httpStatus int, st *status.Status) {
	_, out := runtime.MarshalerForRequest(g.mux, r)
	runtime.HTTPError(r.Context(), g.mux, out, w, r, &runtime.HTTPStatusError{HTTPStatus: httpStatus, Err: st.Err()})
}

// apiPrefix is the path prefix of the REST API's routes.
const apiPrefix = "/v1/"

// noStore marks every response of the API Cache-Control: no-store before
// the route is served: any of them may carry personal data (a retiree,
// an ID number, a pension), which no browser, proxy or CDN may keep, and
// an error answer of a route is no different. A route that knows better
// may set its own. /healthz and /openapi.json carry none and stay
// cacheable.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, apiPrefix) {
			w.Header().Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}
