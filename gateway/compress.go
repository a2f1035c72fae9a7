package gateway

import (
	"compress/gzip"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// minGzipBytes is the size above which a response is compressed: below
// about a kilobyte, gzip's own header and the work outweigh the saving.
const minGzipBytes = 1024

// gzipWriters are reused: each holds about 800 KiB of compression state.
var gzipWriters = sync.Pool{New: func() any {
	// BestSpeed: the gateway shares its cores with the services, and JSON
	// loses most of its redundancy at the fastest level already.
	zw, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // the level is valid
	return zw
}}

// compress gzips responses of more than minGzipBytes for clients that
// accept gzip. A response is not compressed when it has no body (HEAD,
// 204, 304) or already has a Content-Encoding.
func compress(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding")
		if r.Method == http.MethodHead || !acceptsGzip(r.Header.Values("Accept-Encoding")) {
			next.ServeHTTP(w, r)
			return
		}
		gw := &gzipWriter{ResponseWriter: w}
		defer gw.finish()
		next.ServeHTTP(gw, r)
	})
}

// acceptsGzip reads Accept-Encoding: gzip (or x-gzip), or *, with a q
// value above zero, and gzip not refused by name.
func acceptsGzip(values []string) bool {
	star, gz := false, 0 // gz: 0 not named, 1 accepted, -1 refused
	for _, v := range values {
		for _, item := range strings.Split(v, ",") {
			coding, params, _ := strings.Cut(strings.TrimSpace(item), ";")
			ok := qAboveZero(params)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				if ok {
					gz = 1
				} else {
					gz = -1
				}
			case "*":
				star = ok
			}
		}
	}
	return gz == 1 || gz == 0 && star
}

// qAboveZero reads the q parameter of an Accept-Encoding item; none is 1.
func qAboveZero(params string) bool {
	for _, p := range strings.Split(params, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(strings.TrimSpace(name), "q") {
			q, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
			return err == nil && q > 0
		}
	}
	return true
}

// gzipWriter holds back the first minGzipBytes of a response: when more
// follow, it sends the response compressed; when the handler finishes or
// flushes first, as it is.
type gzipWriter struct {
	http.ResponseWriter
	code int
	buf  []byte
	zw   *gzip.Writer
	// plain is set once the response goes out uncompressed.
	plain bool
}

func (g *gzipWriter) WriteHeader(code int) {
	if g.code != 0 || g.plain || g.zw != nil {
		return
	}
	g.code = code
	if code < http.StatusOK || code == http.StatusNoContent || code == http.StatusNotModified || g.Header().Get("Content-Encoding") != "" {
		g.sendPlain()
	}
}

func (g *gzipWriter) Write(p []byte) (int, error) {
	if g.code == 0 {
		g.WriteHeader(http.StatusOK)
	}
	switch {
	case g.plain:
		return g.ResponseWriter.Write(p)
	case g.zw != nil:
		return g.zw.Write(p)
	}
	g.buf = append(g.buf, p...)
	if len(g.buf) > minGzipBytes {
		if err := g.startGzip(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// startGzip sends the header with Content-Encoding and the held-back bytes
// through the compressor.
func (g *gzipWriter) startGzip() error {
	h := g.Header()
	h.Set("Content-Encoding", "gzip")
	h.Del("Content-Length")
	g.ResponseWriter.WriteHeader(g.code)
	g.zw = gzipWriters.Get().(*gzip.Writer)
	g.zw.Reset(g.ResponseWriter)
	buf := g.buf
	g.buf = nil
	_, err := g.zw.Write(buf)
	return err
}

// sendPlain sends the header and whatever is held back as it is.
func (g *gzipWriter) sendPlain() {
	g.plain = true
	if g.code == 0 {
		g.code = http.StatusOK
	}
	g.ResponseWriter.WriteHeader(g.code)
	if len(g.buf) > 0 {
		_, _ = g.ResponseWriter.Write(g.buf) // a failed write means the client has gone
		g.buf = nil
	}
}

// Flush sends what is there: a response still small goes out plain.
func (g *gzipWriter) Flush() {
	switch {
	case g.zw != nil:
		_ = g.zw.Flush() // a failed write means the client has gone
	case !g.plain:
		g.sendPlain()
	}
	if f, ok := g.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// finish ends the response: the compressor's last bytes, or a response
// that stayed small, as it is.
func (g *gzipWriter) finish() {
	switch {
	case g.zw != nil:
		_ = g.zw.Close() // a failed write means the client has gone
		g.zw.Reset(nil)
		gzipWriters.Put(g.zw)
		g.zw = nil
	case !g.plain && g.code != 0:
		g.sendPlain()
	}
}

// Unwrap lets http.ResponseController reach the real writer.
func (g *gzipWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }
