package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromiumPath is Debian's chromium, which make tools and CI install.
const chromiumPath = "/usr/bin/chromium"

// browserWait bounds one step in the browser: generous, because CI runs
// the race detector on two cores.
const browserWait = 45 * time.Second

// repoRoot is the repository's root, two levels above this package.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// browser is one headless chromium for a test; each identity gets a tab of
// its own browser context (its own storage) with newTab.
type browser struct {
	ctx    context.Context
	base   string
	axeJS  string
	shots  string
	cancel context.CancelFunc
}

// requireChromium fails t when chromium or axe-core is missing: CI
// installs both (make tools), so a missing one is a broken machine.
func requireChromium(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("install chromium: make tools (%v)", err)
	}
	axe := filepath.Join(repoRoot(t), "web", "console", "node_modules", "axe-core", "axe.min.js")
	data, err := os.ReadFile(axe)
	if err != nil {
		t.Fatalf("install axe-core: make tools (npm ci in web/console): %v", err)
	}
	return string(data)
}

// browserFlags are the flags of a headless chromium that talks to no one
// but the console's origin.
func browserFlags(userData string) []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(1280, 900),
		chromedp.UserDataDir(userData),
	}
}

// newBrowser starts chromium for t with a fresh profile; base is the
// console's address.
func newBrowser(t *testing.T, base string) *browser {
	t.Helper()
	axe := requireChromium(t)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), browserFlags(t.TempDir())...)
	bctx, bcancel := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		bcancel()
		acancel()
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{ctx: bctx, base: base, axeJS: axe, shots: screenshotDir(t),
		cancel: func() { bcancel(); acancel() }}
	t.Cleanup(b.cancel)
	return b
}

// screenshotDir is $CONSOLE_SCREENSHOTS, else bin/console-screenshots
// under the repository root.
func screenshotDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(t), "bin", "console-screenshots")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	return dir
}

// tab is one identity's tab: its own browser context, with the URL of
// every request it made.
type tab struct {
	b    *browser
	ctx  context.Context
	mu   sync.Mutex
	urls []string
	errs []string
}

// newTab opens a tab in a new browser context, so that no storage is
// shared with another identity's tab.
func (b *browser) newTab(t *testing.T) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	tb := &tab{b: b, ctx: ctx}
	if err := chromedp.Listen(ctx, tb.listen); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	t.Cleanup(func() { tb.checkPageErrors(t) })
	return tb
}

// listen records the tab's request URLs and the page's errors.
func (tb *tab) listen(ev any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		tb.urls = append(tb.urls, e.Request.URL)
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 {
			tb.errs = append(tb.errs, fmt.Sprintf("HTTP %d %s", e.Response.Status, e.Response.URL))
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			tb.errs = append(tb.errs, string(e.Entry.Source)+": "+e.Entry.Text)
		}
	case *runtime.EventExceptionThrown:
		text := e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			text += " " + e.ExceptionDetails.Exception.Description
		}
		tb.errs = append(tb.errs, "uncaught: "+text)
	}
}

// checkPageErrors fails t on a Content-Security-Policy violation or an
// uncaught exception in the page; other errors (a refused request's 403)
// are logged.
func (tb *tab) checkPageErrors(t *testing.T) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	for _, e := range tb.errs {
		if strings.Contains(e, "Content Security Policy") || strings.HasPrefix(e, "uncaught: ") {
			t.Errorf("the page: %s", e)
		} else {
			t.Logf("the page: %s", e)
		}
	}
}

// requestURLs are the URLs of every request the tab made so far.
func (tb *tab) requestURLs() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.urls...)
}

// do runs steps, failing t with what: a step that does not finish within
// browserWait fails too.
func (tb *tab) do(t *testing.T, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates the JavaScript expression js and decodes its value into v
// (a promise is awaited).
func (tb *tab) eval(t *testing.T, js string, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %.80q: %v", js, err)
	}
	if v != nil {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("evaluate %.80q: %v (%s)", js, err, raw)
		}
	}
}

// poll waits until the JavaScript predicate js is truthy.
func (tb *tab) poll(t *testing.T, what, js string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		t.Fatalf("waiting for %s: %v\n%s", what, err, tb.mainText(t))
	}
}

// has reports whether an element matches the CSS selector sel now.
func (tb *tab) has(t *testing.T, sel string) bool {
	t.Helper()
	var ok bool
	tb.eval(t, fmt.Sprintf(`document.querySelector(%s) !== null`, jsString(sel)), &ok)
	return ok
}

// text is the text of the first element matching sel ("" when none).
func (tb *tab) text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	tb.eval(t, fmt.Sprintf(`(document.querySelector(%s)?.innerText ?? "")`, jsString(sel)), &s)
	return s
}

// mainText is the page's text, shortened, for failure messages.
func (tb *tab) mainText(t *testing.T) string {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "(page text unavailable: " + err.Error() + ")"
	}
	if r := []rune(s); len(r) > 1500 {
		s = string(r[:1500]) + "…"
	}
	return "page text:\n" + s
}

// attrs are an attribute of every element matching sel.
func (tb *tab) attrs(t *testing.T, sel, attr string) []string {
	t.Helper()
	var out []string
	tb.eval(t, fmt.Sprintf(`[...document.querySelectorAll(%s)].map(e => e.getAttribute(%s) ?? "")`, jsString(sel), jsString(attr)), &out)
	return out
}

// click clicks the first element matching sel, as a mouse would, once it is
// visible.
func (tb *tab) click(t *testing.T, sel string) {
	t.Helper()
	tb.do(t, "click "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.ScrollIntoView(chromedp.CSS(sel)), chromedp.Click(chromedp.CSS(sel)))
}

// fill sets the control matching sel to value as typing or choosing would,
// with the input and change events the screen listens to.
func (tb *tab) fill(t *testing.T, sel, value string) {
	t.Helper()
	tb.do(t, "find "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
	var ok bool
	tb.eval(t, fmt.Sprintf(`(() => {
		const e = document.querySelector(%s); if (!e) return false;
		const proto = Object.getPrototypeOf(e);
		Object.getOwnPropertyDescriptor(proto, "value").set.call(e, %s);
		e.dispatchEvent(new Event("input", {bubbles: true}));
		e.dispatchEvent(new Event("change", {bubbles: true}));
		return true; })()`, jsString(sel), jsString(value)), &ok)
	if !ok {
		t.Fatalf("no %s to fill", sel)
	}
}

// typeInto types value into the control matching sel, key by key.
func (tb *tab) typeInto(t *testing.T, sel, value string) {
	t.Helper()
	tb.do(t, "type into "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), value))
}

// jsString is s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// open navigates to the console's route (#/name or #/name/id).
func (tb *tab) open(t *testing.T, route string) {
	t.Helper()
	tb.do(t, "open "+route, chromedp.Navigate(tb.b.base+"/"+route))
}

// go changes the route in the running console, as a link would.
func (tb *tab) route(t *testing.T, route string) {
	t.Helper()
	tb.eval(t, fmt.Sprintf(`(location.hash = %s, true)`, jsString(route)), nil)
}

// screen waits for the screen name's root and for its loading to end.
func (tb *tab) screen(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	// The frame (or the sign-in form) shows first; then either the root
	// is there or the screen is not built.
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](`document.querySelector("main") !== null`, chromedp.WithPollingTimeout(browserWait)))
	if err != nil {
		t.Fatalf("the console did not render: %v\n%s", err, tb.mainText(t))
	}
	if !tb.waitRoot(t, name) {
		t.Fatalf("no screen %s: no [data-screen=%q]\n%s", name, name, tb.mainText(t))
	}
	tb.settle(t)
}

// waitRoot waits a while for the root of the screen name; false when it
// does not come.
func (tb *tab) waitRoot(t *testing.T, name string) bool {
	t.Helper()
	root := fmt.Sprintf(`[data-screen=%q]`, name)
	deadline := time.Now().Add(15 * time.Second)
	for !tb.has(t, root) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
	return true
}

// settle waits until no loading notice shows and the page stayed still for
// a moment.
func (tb *tab) settle(t *testing.T) {
	t.Helper()
	tb.poll(t, "loading to end", `document.querySelector(".loading") === null`)
	time.Sleep(150 * time.Millisecond)
	tb.poll(t, "loading to end", `document.querySelector(".loading") === null`)
}

// signIn signs in with token the way a clerk does: pasted into the form.
func (tb *tab) signIn(t *testing.T, token string) {
	t.Helper()
	tb.open(t, "")
	tb.do(t, "the sign-in form", chromedp.WaitVisible(chromedp.CSS(`textarea[name=token]`)))
	tb.fill(t, `textarea[name=token]`, token)
	tb.click(t, `button[data-action=sign-in]`)
	tb.poll(t, "the signed-in frame", `document.querySelector('nav[aria-label="主导航"]') !== null`)
	// A screen that asks "are you sure?" gets yes: a dialog would stop
	// the headless page.
	tb.eval(t, `(window.confirm = () => true, true)`, nil)
}

// axeViolation is what axe-core reports of one rule.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any `json:"target"`
	} `json:"nodes"`
}

// checkAxe runs axe-core's WCAG 2.1 A and AA rules on the page and fails t
// with every serious or critical violation.
func (tb *tab) checkAxe(t *testing.T, name string) {
	t.Helper()
	var loaded bool
	tb.eval(t, `typeof window.axe !== "undefined"`, &loaded)
	if !loaded {
		tb.eval(t, tb.b.axeJS+"\n;true", nil)
	}
	var res struct {
		Passes     int            `json:"passes"`
		Violations []axeViolation `json:"violations"`
	}
	tb.eval(t, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a","wcag2aa","wcag21a","wcag21aa"]}}).then(r => ({passes: r.passes.length, violations: r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({target: n.target}))}))}))`, &res)
	if res.Passes == 0 {
		t.Errorf("axe on %s checked nothing", name)
	}
	for _, v := range res.Violations {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var targets []string
		for _, n := range v.Nodes {
			targets = append(targets, fmt.Sprint(n.Target...))
		}
		t.Errorf("axe on %s: %s (%s): %s; at %s", name, v.ID, v.Impact, v.Help, strings.Join(targets, ", "))
	}
}

// screenshot saves a full-page PNG of the tab as NAME.png.
func (tb *tab) screenshot(t *testing.T, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot of %s: %v", name, err)
		return
	}
	path := filepath.Join(tb.b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot of %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", path)
}

// consoleBase is where the browser loads the console: the gateway, which
// serves it at / under a strict Content-Security-Policy; t fails when it
// does not.
func consoleBase(t testing.TB, gateway string) string {
	t.Helper()
	resp, err := http.Get(gateway + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET / on the gateway: %d %s, want the console's page", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the console's Content-Security-Policy %q has no script-src 'self'", csp)
	}
	return gateway
}

// waitVisible waits for the element sel to be visible.
func waitVisible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}
