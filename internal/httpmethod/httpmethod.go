// Package httpmethod names a request's HTTP method where a client must not
// choose the name: a metric's label, a span's name.
package httpmethod

import "net/http"

// Label is m when it is a standard method the REST API can route, and
// "OTHER" for anything a client made up.
func Label(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return m
	}
	return "OTHER"
}
