package gateway

import (
	"net/http"

	"go.uber.org/zap"

	"github.com/socmgmt/socmgmt/gateway/console"
)

// consoleRoute is the one route label of every console request in the
// metrics and logs: the page, each asset and the development identities
// alike, so that asset names never become label values.
const consoleRoute = "console"

// withConsole puts the console in front of the API: its page and assets
// (unless cfg.Console is off) and, with cfg.DevIdentities, the
// development identities. Every other path goes to api as before, so an
// unknown path outside /assets/ is the API's 404. The console is
// compressed as the API is, by compress.
func (g *Gateway) withConsole(api http.Handler) (http.Handler, error) {
	var page, dev http.Handler
	if g.cfg.Console {
		h, err := console.New()
		if err != nil {
			return nil, err
		}
		page = compress(h)
	}
	if g.cfg.DevIdentities != "" {
		g.quiet.Warn("serving development identities at "+console.DevIdentitiesPath+": anyone reaching this port can sign in as each of them; never in production",
			zap.String("file", g.cfg.DevIdentities))
		dev = console.NewDevIdentities(g.cfg.DevIdentities, g.logger)
	}
	if page == nil && dev == nil {
		return api, nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var h http.Handler
		switch p := r.URL.Path; {
		case dev != nil && p == console.DevIdentitiesPath:
			h = dev
		case page != nil && console.Owns(p):
			h = page
		default:
			api.ServeHTTP(w, r)
			return
		}
		if st := stateFrom(r.Context()); st != nil {
			st.route = consoleRoute
		}
		h.ServeHTTP(w, r)
	}), nil
}
