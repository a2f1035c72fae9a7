package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// TestHTTPAsClientsExpect drives, against the real stack, what clients'
// HTTP tooling relies on: input that is not text refused before any
// service sees it, 405 with Allow, etags as HTTP's, RFC 6750 challenges,
// the input rules every service applies, and the metrics' names.
func TestHTTPAsClientsExpect(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	send := api.send

	var r retiree
	must(t, "a retiree to work with", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "retirementDate": "2004-12-01",
		}}, http.StatusOK, &r)
	})

	t.Run("a path that is not UTF-8 is 400 without a token", func(t *testing.T) {
		st := api.send(t, call{method: http.MethodGet, path: "/v1/retirees/%FF"}, http.StatusBadRequest, nil).status(t)
		if got := st.violatedFields(); !slices.Equal(got, []string{"id"}) {
			t.Errorf("violations of %q, want id", got)
		}
	})
	t.Run("an unknown query parameter is 400 naming it", func(t *testing.T) {
		st := send(t, call{method: http.MethodGet, path: "/v1/retirees?communityID=" + communityA, token: tk.admin}, http.StatusBadRequest, nil).status(t)
		if got := st.violatedFields(); !slices.Equal(got, []string{"communityID"}) {
			t.Errorf("violations of %q, want communityID", got)
		}
	})
	t.Run("a wrong method is 405 with Allow", func(t *testing.T) {
		reply := send(t, call{method: http.MethodPut, path: retireePath(r.ID), token: tk.admin, body: map[string]any{}}, http.StatusMethodNotAllowed, nil)
		if got := reply.header.Get("Allow"); got != "GET, HEAD, PATCH" {
			t.Errorf("Allow %q", got)
		}
	})
	t.Run("HEAD on health", func(t *testing.T) {
		if reply := send(t, call{method: http.MethodHead, path: "/healthz"}, http.StatusOK, nil); len(reply.body) != 0 {
			t.Errorf("a body of %d bytes", len(reply.body))
		}
	})
	t.Run("etags as HTTP's", func(t *testing.T) {
		got := send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: tk.clerkA}, http.StatusOK, nil)
		if tag := got.header.Get("ETag"); tag != `"`+r.Etag+`"` {
			t.Fatalf("ETag %q, etag %q", tag, r.Etag)
		}
		send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: tk.clerkA, header: map[string]string{"If-None-Match": `"` + r.Etag + `"`}}, http.StatusNotModified, nil)
		var updated retiree
		send(t, call{method: http.MethodPatch, path: retireePath(r.ID), token: tk.clerkA, body: map[string]any{"residenceAddress": "和平区太原街2号"},
			header: map[string]string{"If-Match": `"` + r.Etag + `"`}}, http.StatusOK, &updated)
		if updated.Etag == r.Etag || updated.Etag == "" {
			t.Errorf("etag %q after an update from %q", updated.Etag, r.Etag)
		}
		send(t, call{method: http.MethodPatch, path: retireePath(r.ID), token: tk.clerkA, body: map[string]any{"residenceAddress": "和平区太原街3号"},
			header: map[string]string{"If-Match": `"` + r.Etag + `"`}}, http.StatusPreconditionFailed, nil)
	})
	t.Run("401 challenges", func(t *testing.T) {
		for token, want := range map[string]string{"": "Bearer", s.expiredToken(t): `Bearer error="invalid_token"`} {
			reply := send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: token}, http.StatusUnauthorized, nil)
			if got := reply.header.Get("WWW-Authenticate"); got != want {
				t.Errorf("WWW-Authenticate %q, want %q", got, want)
			}
		}
	})
	t.Run("input rules", func(t *testing.T) {
		born1899, err := idnumber.Build("210102", time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC), 11)
		if err != nil {
			t.Fatal(err)
		}
		s.secret(born1899.Digits())
		for _, tc := range []struct {
			name, path string
			body       map[string]any
			field      string
		}{
			{"community without a province", "/v1/communities", map[string]any{"id": "990102001001", "name": "某社区", "district": "和平区", "street": "太原街街道", "kind": "BLOCK"}, "id"},
			{"name written backwards", "/v1/communities", map[string]any{"id": "210102001003", "name": "社区\u202e名", "district": "和平区", "street": "太原街街道", "kind": "BLOCK"}, "name"},
			{"born before 1900", "/v1/retirees", map[string]any{"idNumber": born1899.Digits(), "name": "赵一", "communityId": communityA, "managementMode": "COMMUNITY"}, "birthDate"},
			{"retired at 30", "/v1/retirees", map[string]any{"idNumber": idNumber2, "name": "李建国", "communityId": communityA, "managementMode": "COMMUNITY", "retirementDate": "1988-01-01"}, "retirementDate"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				st := send(t, call{method: http.MethodPost, path: tc.path, token: tk.admin, body: tc.body}, http.StatusBadRequest, nil).status(t)
				if got := st.violatedFields(); !slices.Equal(got, []string{tc.field}) {
					t.Errorf("violations of %q, want %s", got, tc.field)
				}
			})
		}
	})
	t.Run("metrics carry the project's prefix", func(t *testing.T) {
		if len(s.adminAddrs) != 5 {
			t.Fatalf("admin addresses of %d programs, want the gateway's and four services'", len(s.adminAddrs))
		}
		for name, addr := range s.adminAddrs {
			names := scrapeNames(t, "http://"+addr+"/metrics")
			for _, n := range names {
				if !strings.HasPrefix(n, "socmgmt_") && !standardMetric(n) {
					t.Errorf("%s exports %s", name, n)
				}
			}
			if (name == "activity" || name == "pension") && !slices.Contains(names, "socmgmt_projection_revision") {
				t.Errorf("%s exports no projection revision: %q", name, names)
			}
		}
	})
}

// standardMetric reports the metrics of the Prometheus client library,
// named alike by every exporter.
func standardMetric(name string) bool {
	for _, p := range []string{"go_", "process_", "promhttp_"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// scrapeNames returns the names of the metric families url exports.
func scrapeNames(t *testing.T, url string) []string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", url, resp.StatusCode)
	}
	var names []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var name string
		if _, err := fmt.Sscanf(sc.Text(), "# TYPE %s", &name); err == nil {
			names = append(names, name)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return names
}
