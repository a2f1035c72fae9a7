// Package console serves the clerks' web console, built from web/console
// by `make console` into dist and embedded here, so that the gateway
// binary carries it and `make run` needs only Go. The console is
// same-origin with the API it calls, so its pages need no CORS; every
// answer here carries a strict Content-Security-Policy.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/socmgmt/socmgmt/internal/entitytag"
)

//go:embed all:dist
var dist embed.FS

// Paths the console serves; everything else is the API's.
const (
	indexPath    = "/index.html"
	assetsPrefix = "/assets/"
)

// Cache policies: the page is revalidated on every load (its ETag makes
// that a 304), the assets' names carry a hash of their content, so they
// never change.
const (
	indexCache = "no-cache"
	assetCache = "public, max-age=31536000, immutable"
)

// SecurityHeaders are set on every answer of the console: scripts,
// styles and calls only from the gateway's own origin, no inline script,
// no framing, no referrer.
var SecurityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":  "nosniff",
	"Referrer-Policy":         "no-referrer",
	"X-Frame-Options":         "DENY",
}

// contentTypes are the types of the files a Vite build writes, fixed
// here rather than read from the machine's MIME tables.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".mjs":   "text/javascript; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".json":  "application/json",
	".map":   "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".webp":  "image/webp",
	".woff2": "font/woff2",
	".woff":  "font/woff",
	".txt":   "text/plain; charset=utf-8",
}

// file is one embedded file, ready to serve.
type file struct {
	body        []byte
	contentType string
	etag        string
	cache       string
}

// Handler serves the embedded console: / and /index.html, and the files
// under /assets/. It is safe for concurrent use.
type Handler struct {
	files map[string]*file
}

var _ http.Handler = (*Handler)(nil)

// New loads the embedded build. It fails when the build has no
// index.html (dist was not built).
func New() (*Handler, error) {
	return newHandler(dist)
}

func newHandler(fsys fs.FS) (*Handler, error) {
	root, err := fs.Sub(fsys, "dist")
	if err != nil {
		return nil, err
	}
	h := &Handler{files: map[string]*file{}}
	index, err := fs.ReadFile(root, "index.html")
	if err != nil {
		return nil, fmt.Errorf("console: the build has no index.html (make console): %w", err)
	}
	h.files[indexPath] = newFile(indexPath, index, indexCache)
	h.files["/"] = h.files[indexPath]
	err = fs.WalkDir(root, "assets", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, name)
		if err != nil {
			return err
		}
		h.files["/"+name] = newFile(name, body, assetCache)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("console: read assets: %w", err)
	}
	return h, nil
}

func newFile(name string, body []byte, cache string) *file {
	sum := sha256.Sum256(body)
	ct, ok := contentTypes[path.Ext(name)]
	if !ok {
		ct = "application/octet-stream"
	}
	return &file{
		body:        body,
		contentType: ct,
		etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:18]) + `"`,
		cache:       cache,
	}
}

// Owns reports whether the console answers requests for urlPath: the
// page and anything under /assets/ (an unknown asset is the console's
// 404).
func Owns(urlPath string) bool {
	return urlPath == "/" || urlPath == indexPath || strings.HasPrefix(urlPath, assetsPrefix)
}

// ServeHTTP answers GET and HEAD of the page and the assets, with their
// ETags (If-None-Match gives 304). Ranges are not offered: the files are
// small, and mostly sent gzipped.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	SetSecurityHeaders(hdr)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := h.files[r.URL.Path]
	if !ok {
		hdr.Set("Cache-Control", "no-store")
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	hdr.Set("Cache-Control", f.cache)
	hdr.Set("ETag", f.etag)
	if inm := r.Header.Values("If-None-Match"); len(inm) > 0 && entitytag.Match(strings.Join(inm, ","), f.etag, true) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", f.contentType)
	hdr.Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body) // a failed write means the client has gone
	}
}

// SetSecurityHeaders sets SecurityHeaders on h.
func SetSecurityHeaders(h http.Header) {
	for k, v := range SecurityHeaders {
		h.Set(k, v)
	}
}
