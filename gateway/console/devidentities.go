package console

import (
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/internal/devidentity"
)

// DevIdentitiesPath is where the sign-in screen asks for the development
// identities.
const DevIdentitiesPath = "/console/dev-identities"

// DevIdentities serves the identities of a devidentity file, for
// development only: anyone who reaches it can sign in as each of them.
// The file is read on every request, so that a seed run while the
// gateway runs adds its city's clerks at once; a missing or bad file
// answers an empty list and is logged once, until it changes.
type DevIdentities struct {
	file   string
	logger *zap.Logger

	mu sync.Mutex // guards logged
	// logged is the last problem logged; "" while the file reads well.
	logged string
}

var _ http.Handler = (*DevIdentities)(nil)

// NewDevIdentities serves file; a nil logger logs nothing.
func NewDevIdentities(file string, logger *zap.Logger) *DevIdentities {
	if logger == nil {
		logger = zap.NewNop()
	}
	return &DevIdentities{file: file, logger: logger}
}

// ServeHTTP answers GET and HEAD with the file's identities, never
// stored by the browser.
func (d *DevIdentities) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	SetSecurityHeaders(h)
	h.Set("Cache-Control", "no-store")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if !fromLoopbackPage(r) {
		// A page of another site that rebound its name to this address,
		// or a request from elsewhere: nothing is here for it.
		http.NotFound(w, r)
		return
	}
	f, err := devidentity.Read(d.file)
	d.note(err)
	if err != nil || f.Identities == nil {
		f = devidentity.File{Identities: []devidentity.Identity{}}
	}
	body, err := json.Marshal(f)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.Set("Content-Type", "application/json")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body) // a failed write means the client has gone
}

// note logs err when it is a problem other than the last one logged. The
// error names the file and what is wrong, never a token.
func (d *DevIdentities) note(err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	d.mu.Lock()
	changed := msg != d.logged
	d.logged = msg
	d.mu.Unlock()
	if changed && err != nil {
		d.logger.Warn("development identities unavailable; the sign-in screen offers none", zap.Error(err))
	}
}

// fromLoopbackPage reports whether r names this gateway by a loopback
// name in its Host (so a DNS-rebound name of another site does not pass)
// and, when the browser says so, comes from the console's own origin.
func fromLoopbackPage(r *http.Request) bool {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host != "localhost" {
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() {
			return false
		}
	}
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
		return true
	}
	return false
}
