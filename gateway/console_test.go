package gateway

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
	"golang.org/x/net/html"

	"github.com/socmgmt/socmgmt/gateway/console"
	"github.com/socmgmt/socmgmt/internal/devidentity"
)

// wantConsoleHeaders fails t unless resp carries the console's security
// headers, the Content-Security-Policy exactly.
func wantConsoleHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Content-Type-Options":  "nosniff",
		"Referrer-Policy":         "no-referrer",
		"X-Frame-Options":         "DENY",
	}
	for k, v := range want {
		if got := h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s %q, want %q", what, k, got, v)
		}
	}
}

// pageAssets parses the console's page and returns the paths of the
// scripts and stylesheets it loads. It fails t on an inline script, an
// event-handler attribute, a style attribute, or anything loaded from
// another origin.
func pageAssets(t *testing.T, page []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var assets []string
	sameOrigin := func(ref string) bool {
		u, err := url.Parse(ref)
		return err == nil && u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(ref, "//")
	}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		attrs := map[string]string{}
		for _, a := range n.Attr {
			attrs[strings.ToLower(a.Key)] = a.Val
			if strings.HasPrefix(strings.ToLower(a.Key), "on") || strings.EqualFold(a.Key, "style") {
				t.Errorf("<%s %s=...>: inline code or style, which the CSP refuses", n.Data, a.Key)
			}
		}
		switch {
		case n.Data == "script":
			src, ok := attrs["src"]
			if !ok || n.FirstChild != nil {
				t.Errorf("an inline <script>: every script must have a src and no body")
				continue
			}
			if !sameOrigin(src) {
				t.Errorf("<script src=%q>: not on the gateway's origin", src)
			}
			assets = append(assets, src)
		case n.Data == "style":
			t.Errorf("an inline <style>, which the CSP refuses")
		case n.Data == "link" && attrs["rel"] == "stylesheet":
			if !sameOrigin(attrs["href"]) {
				t.Errorf("<link href=%q>: not on the gateway's origin", attrs["href"])
			}
			assets = append(assets, attrs["href"])
		}
	}
	return assets
}

// TestConsolePage: / and /index.html are the console's page, revalidated
// on each load, with the security headers, loading only scripts of its
// own origin; the assets it names are served with their types, cached
// for good and gzipped; HEAD answers the headers alone.
func TestConsolePage(t *testing.T) {
	t.Parallel()
	_, base := startFullGateway(t, nil)
	page := sendWant(t, newRequest(t, http.MethodGet, base+"/", "", nil), http.StatusOK)
	wantConsoleHeaders(t, "/", page.header)
	if ct, cc := page.header.Get("Content-Type"), page.header.Get("Cache-Control"); ct != "text/html; charset=utf-8" || cc != "no-cache" {
		t.Errorf("/: Content-Type %q, Cache-Control %q", ct, cc)
	}
	index := sendWant(t, newRequest(t, http.MethodGet, base+"/index.html", "", nil), http.StatusOK)
	if !bytes.Equal(index.body, page.body) {
		t.Error("/index.html differs from /")
	}
	etag := page.header.Get("ETag")
	sendWant(t, newRequest(t, http.MethodGet, base+"/", "", map[string]string{"If-None-Match": etag}), http.StatusNotModified)

	assets := pageAssets(t, page.body)
	if len(assets) == 0 {
		t.Fatal("the page loads no script")
	}
	for _, a := range assets {
		t.Run(a, func(t *testing.T) { checkAsset(t, base+a) })
	}
}

// checkAsset fetches the asset at u as a browser would, plain, gzipped and
// by HEAD, and checks the answers.
func checkAsset(t *testing.T, u string) {
	wantType := map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}[filepath.Ext(u)]
	plain := sendWant(t, newRequest(t, http.MethodGet, u, "", map[string]string{"Accept-Encoding": "identity"}), http.StatusOK)
	wantConsoleHeaders(t, u, plain.header)
	if got := plain.header.Get("Content-Type"); got != wantType {
		t.Errorf("Content-Type %q, want %q", got, wantType)
	}
	if got := plain.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("Cache-Control %q", got)
	}
	if plain.header.Get("Content-Encoding") != "" || len(plain.body) == 0 {
		t.Errorf("plain: Content-Encoding %q, %d bytes", plain.header.Get("Content-Encoding"), len(plain.body))
	}

	zipped := sendWant(t, newRequest(t, http.MethodGet, u, "", map[string]string{"Accept-Encoding": "gzip"}), http.StatusOK)
	if len(plain.body) > minGzipBytes {
		if zipped.header.Get("Content-Encoding") != "gzip" {
			t.Fatalf("not gzipped: Content-Encoding %q", zipped.header.Get("Content-Encoding"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(zipped.body))
		if err != nil {
			t.Fatal(err)
		}
		if body, err := io.ReadAll(zr); err != nil || !bytes.Equal(body, plain.body) {
			t.Errorf("gunzipped body differs (%v)", err)
		}
	}

	head := sendWant(t, newRequest(t, http.MethodHead, u, "", map[string]string{"Accept-Encoding": "gzip"}), http.StatusOK)
	wantConsoleHeaders(t, "HEAD "+u, head.header)
	if len(head.body) != 0 || head.header.Get("Content-Type") != wantType || head.header.Get("ETag") != plain.header.Get("ETag") {
		t.Errorf("HEAD: %d bytes, Content-Type %q, ETag %q", len(head.body), head.header.Get("Content-Type"), head.header.Get("ETag"))
	}
}

// TestConsoleBoundaries: the console answers only its own paths; the
// API, /healthz and /openapi.json are as they were and carry none of its
// headers; a path of neither stays the API's 404; --console=false
// leaves the API alone.
func TestConsoleBoundaries(t *testing.T) {
	t.Parallel()
	_, base := startFullGateway(t, nil)
	_, apiOnly := startFullGateway(t, func(c *Config) { c.Console = false })
	tests := []struct {
		name, base, method, path string
		want                     int
		console                  bool // the answer is the console's
	}{
		{"an unknown asset", base, http.MethodGet, "/assets/nothing.js", http.StatusNotFound, true},
		{"a write to the page", base, http.MethodPost, "/", http.StatusMethodNotAllowed, true},
		{"an unknown path", base, http.MethodGet, "/console", http.StatusNotFound, false},
		{"another unknown path", base, http.MethodGet, "/index.htm", http.StatusNotFound, false},
		{"dev identities not offered", base, http.MethodGet, console.DevIdentitiesPath, http.StatusNotFound, false},
		{"the API", base, http.MethodGet, "/v1/retirees/r-1", http.StatusOK, false},
		{"health", base, http.MethodGet, "/healthz", http.StatusOK, false},
		{"the document", base, http.MethodGet, "/openapi.json", http.StatusOK, false},
		{"no console: the page", apiOnly, http.MethodGet, "/", http.StatusNotFound, false},
		{"no console: an asset", apiOnly, http.MethodGet, "/assets/index.js", http.StatusNotFound, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := sendWant(t, newRequest(t, tc.method, tc.base+tc.path, "", nil), tc.want)
			if tc.console {
				wantConsoleHeaders(t, tc.path, resp.header)
				return
			}
			if csp := resp.header.Get("Content-Security-Policy"); csp != "" {
				t.Errorf("the console's CSP on %s", tc.path)
			}
			if tc.want == http.StatusNotFound {
				decodeStatus(t, resp.body) // the API's error body
			}
		})
	}
	if got := send(t, newRequest(t, http.MethodPost, base+"/", "", nil)).header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("POST /: Allow %q", got)
	}
}

// TestConsoleCORSClosed: the console is same-origin, so no origin may
// read the API's answers or the console's: no preflight is answered and
// no answer carries Access-Control-Allow-Origin.
func TestConsoleCORSClosed(t *testing.T) {
	t.Parallel()
	_, base := startFullGateway(t, nil)
	const origin = "https://elsewhere.example.com"
	for _, req := range []*http.Request{
		newRequest(t, http.MethodOptions, base+"/v1/retirees/r-1", "", map[string]string{"Origin": origin, "Access-Control-Request-Method": "PATCH", "Access-Control-Request-Headers": "authorization,if-match"}),
		newRequest(t, http.MethodOptions, base+"/v1/retirees", "", map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"}),
		newRequest(t, http.MethodGet, base+"/v1/retirees/r-1", "", map[string]string{"Origin": origin, "Authorization": "Bearer x.y.z"}),
		newRequest(t, http.MethodOptions, base+"/", "", map[string]string{"Origin": origin, "Access-Control-Request-Method": "GET"}),
		newRequest(t, http.MethodGet, base+"/", "", map[string]string{"Origin": origin}),
	} {
		resp := send(t, req)
		for _, h := range []string{"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Allow-Credentials"} {
			if v := resp.header.Get(h); v != "" {
				t.Errorf("%s %s: %s %q", req.Method, req.URL.Path, h, v)
			}
		}
		if req.Method == http.MethodOptions && resp.code < 400 {
			t.Errorf("OPTIONS %s: status %d, want a refusal", req.URL.Path, resp.code)
		}
	}
}

// TestConsoleMetrics: console requests are counted under one route
// label, whatever the asset.
func TestConsoleMetrics(t *testing.T) {
	t.Parallel()
	up := startUpstream(t)
	g, base := startGateway(t, testConfig(up.addr), zaptest.NewLogger(t))
	for _, p := range []string{"/", "/index.html", "/assets/a-1.js", "/assets/b-2.css"} {
		send(t, newRequest(t, http.MethodGet, base+p, "", nil))
	}
	rec := httptest.NewRecorder()
	g.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	out := rec.Body.String()
	for _, want := range []string{
		`socmgmt_http_requests_total{code="200",method="GET",route="console"} 2`,
		`socmgmt_http_requests_total{code="404",method="GET",route="console"} 2`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(out, "a-1.js") || strings.Contains(out, "index.html") {
		t.Error("metrics contain a console path")
	}
}

// TestDevIdentities: with --dev-identities the file's identities are
// served, read afresh on each request and never stored; a missing or bad
// file answers an empty list and is logged once; without the flag the
// path is the API's 404 (TestConsoleBoundaries).
func TestDevIdentities(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), devidentity.FileName)
	core, logs := observer.New(zap.WarnLevel)
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.DevIdentities = file
	_, base := startGateway(t, cfg, zap.New(core))
	if logs.FilterMessageSnippet("development identities").Len() != 1 {
		t.Errorf("no warning at start that development identities are served")
	}
	get := func() devidentity.File {
		t.Helper()
		resp := sendWant(t, newRequest(t, http.MethodGet, base+console.DevIdentitiesPath, "", nil), http.StatusOK)
		wantConsoleHeaders(t, "dev identities", resp.header)
		if cc, ct := resp.header.Get("Cache-Control"), resp.header.Get("Content-Type"); cc != "no-store" || ct != "application/json" {
			t.Errorf("Cache-Control %q, Content-Type %q", cc, ct)
		}
		var f devidentity.File
		if err := json.Unmarshal(resp.body, &f); err != nil || f.Identities == nil {
			t.Fatalf("body %s: %v", resp.body, err)
		}
		return f
	}
	unavailable := func() int { return logs.FilterMessageSnippet("development identities unavailable").Len() }

	if f := get(); len(f.Identities) != 0 || unavailable() != 1 {
		t.Errorf("missing file: %d identities, logged %d times", len(f.Identities), unavailable())
	}
	get()
	if unavailable() != 1 {
		t.Errorf("missing file logged %d times, want once", unavailable())
	}

	want := devidentity.File{Identities: []devidentity.Identity{
		{Key: "admin", Label: "系统管理员", Role: "admin", Token: "aaa.bbb.ccc"},
		{Key: "clerk-a", Label: "社区专干（泰山街社区）", Role: "clerk", Token: "ddd.eee.fff"},
	}}
	if err := devidentity.Write(file, want); err != nil {
		t.Fatal(err)
	}
	if got := get(); len(got.Identities) != 2 || got.Identities[1] != want.Identities[1] {
		t.Errorf("got %+v, want %+v", got, want)
	}

	for _, bad := range []string{`{"identities":[{"key":"x","label":"x","role":"king","token":"a.b.c"}]}`, `{"identities":`, strings.Repeat(" ", devidentity.MaxFileBytes+1) + "{}"} {
		if err := os.WriteFile(file, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if f := get(); len(f.Identities) != 0 {
			t.Errorf("bad file %.40q: %d identities served", bad, len(f.Identities))
		}
	}
	if n := unavailable(); n != 4 {
		t.Errorf("logged %d times, want 4 (once for each problem)", n)
	}
	for _, e := range logs.All() {
		if line, _ := json.Marshal(e.ContextMap()); bytes.Contains(line, []byte("ddd.eee")) {
			t.Errorf("a token logged: %s", line)
		}
	}
	resp := sendWant(t, newRequest(t, http.MethodPost, base+console.DevIdentitiesPath, "", nil), http.StatusMethodNotAllowed)
	wantConsoleHeaders(t, "POST dev identities", resp.header)

	// A page of another site, by a name rebound to this address or by a
	// cross-site fetch, gets nothing.
	rebound := newRequest(t, http.MethodGet, base+console.DevIdentitiesPath, "", nil)
	rebound.Host = "attacker.example:8080"
	if resp := sendWant(t, rebound, http.StatusNotFound); bytes.Contains(resp.body, []byte("ddd.eee")) {
		t.Errorf("a token served to a rebound name")
	}
	sendWant(t, newRequest(t, http.MethodGet, base+console.DevIdentitiesPath, "", map[string]string{"Sec-Fetch-Site": "cross-site"}), http.StatusNotFound)
	sendWant(t, newRequest(t, http.MethodGet, base+console.DevIdentitiesPath, "", map[string]string{"Sec-Fetch-Site": "same-origin"}), http.StatusOK)
}

// TestDevIdentitiesOnlyOnLoopback: the flag is refused where the console
// is off or the REST port is not a loopback address.
func TestDevIdentitiesOnlyOnLoopback(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		addr    string
		console bool
		ok      bool
	}{
		{"127.0.0.1:8080", true, true},
		{"[::1]:8080", true, true},
		{"0.0.0.0:8080", true, false},
		{"10.1.2.3:8080", true, false},
		{":8080", true, false},
		{"127.0.0.1:8080", false, false},
	} {
		cfg := testConfig("127.0.0.1:9101")
		cfg.HTTPAddr, cfg.Console, cfg.DevIdentities = c.addr, c.console, "/tmp/dev-identities.json"
		err := cfg.Validate()
		if (err == nil) != c.ok || (err != nil && !strings.Contains(err.Error(), "--dev-identities")) {
			t.Errorf("addr %s console %v: %v", c.addr, c.console, err)
		}
	}
}
