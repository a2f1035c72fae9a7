package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
)

// TestNew: the embedded build has its page and the assets it names; a
// build without index.html is refused.
func TestNew(t *testing.T) {
	h, err := New()
	if err != nil {
		t.Fatal(err)
	}
	page := h.files["/"]
	if page == nil || page != h.files[indexPath] || page.cache != indexCache {
		t.Fatalf("no page at / and %s", indexPath)
	}
	for name, f := range h.files {
		if strings.HasPrefix(name, assetsPrefix) && (f.cache != assetCache || !strings.Contains(string(page.body), name)) {
			t.Errorf("%s: cache %q, or the page does not load it (a stale file in dist?)", name, f.cache)
		}
	}
	if _, err := newHandler(fstest.MapFS{"dist/assets/a.js": {Data: []byte("x")}}); err == nil {
		t.Error("a build without index.html accepted")
	}
}

// TestOwns: the console's paths are the page and /assets/; the rest are
// the API's.
func TestOwns(t *testing.T) {
	for p, want := range map[string]bool{
		"/": true, "/index.html": true, "/assets/x.js": true, "/assets/": true,
		"/v1/retirees": false, "/healthz": false, "/openapi.json": false, "/index.html/": false, "/assets": false, "": false,
	} {
		if got := Owns(p); got != want {
			t.Errorf("Owns(%q) = %v", p, got)
		}
	}
}

// TestServeHTTP: a range request gets the whole file, and says nothing
// of ranges; an unknown type is served as bytes, never sniffed; an ETag
// listed in If-None-Match, weak or not, gives 304.
func TestServeHTTP(t *testing.T) {
	h, err := newHandler(fstest.MapFS{
		"dist/index.html":   {Data: []byte("<!doctype html>")},
		"dist/assets/x.bin": {Data: []byte("0123456789")},
	})
	if err != nil {
		t.Fatal(err)
	}
	serve := func(header map[string]string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, "/assets/x.bin", nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	rec := serve(map[string]string{"Range": "bytes=0-3"})
	if rec.Code != http.StatusOK || rec.Body.String() != "0123456789" || rec.Header().Get("Content-Type") != "application/octet-stream" || rec.Header().Get("Accept-Ranges") != "" {
		t.Errorf("status %d, body %q, header %v", rec.Code, rec.Body, rec.Header())
	}
	etag := rec.Header().Get("ETag")
	for _, inm := range []string{etag, `"other", W/` + etag, "*"} {
		if rec := serve(map[string]string{"If-None-Match": inm}); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 || rec.Header().Get("ETag") != etag {
			t.Errorf("If-None-Match %s: status %d", inm, rec.Code)
		}
	}
	if rec := serve(map[string]string{"If-None-Match": `"other"`}); rec.Code != http.StatusOK {
		t.Errorf("another ETag: status %d", rec.Code)
	}
}
