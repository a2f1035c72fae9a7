package gateway

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/cors"

	"github.com/socmgmt/socmgmt/internal/requestid"
)

// corsMaxAge is how long, in seconds, a browser may keep a preflight's
// answer.
const corsMaxAge = 600

// withCORS lets browser pages served from the configured origins call the
// API: it answers their preflight requests and marks the answers to them
// as readable. With no origins configured it adds nothing, so that no
// page elsewhere can read an answer.
func withCORS(origins []string, next http.Handler) http.Handler {
	if len(origins) == 0 {
		return next
	}
	return cors.New(cors.Options{
		AllowedOrigins: origins,
		AllowedMethods: []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPatch, http.MethodDelete},
		AllowedHeaders: []string{"Authorization", "Content-Type", "If-Match", "If-None-Match", requestid.Header},
		ExposedHeaders: []string{"ETag", "WWW-Authenticate", "Allow", requestid.Header},
		MaxAge:         corsMaxAge,
		// Tokens travel in the Authorization header, which the page sets
		// itself; cookies are never a credential here.
		AllowCredentials: false,
	}).Handler(next)
}

// checkOrigin reports what is wrong with an entry of --cors-origins: it
// must be an origin as browsers send it, scheme://host[:port], http or
// https, with nothing after it.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL", o)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: the scheme must be http or https", o)
	case u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#"):
		return fmt.Errorf("%q: want scheme://host[:port] and nothing else", o)
	case strings.Contains(u.Host, "*"):
		return fmt.Errorf("%q: wildcards are not allowed; list every origin", o)
	}
	return nil
}
