package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The two communities, in different districts so that the district report
// has two rows.
const (
	communityA     = "210102001001"
	communityAName = "太原街社区"
	districtA      = "和平区"
	communityB     = "210103001001"
	communityBName = "大西社区"
	districtB      = "沈河区"
)

// creditCode is the former employer's unified social credit code.
const creditCode = "91350100M000100Y43"

// Personal data. None of it may ever appear in a log, a URL, a list or an
// error message.
const (
	// idNumber1 is 张桂英's, the retiree whose life the test follows.
	idNumber1       = "11010519491231002X"
	idNumber1Masked = "110105********002X"
	// idNumber1Lower and idNumber1Legacy are the same person written with
	// a lowercase check character and as a 15-digit legacy number.
	idNumber1Lower  = "11010519491231002x"
	idNumber1Legacy = "110105491231002"
	// badCheckIDNumber has a wrong check character; badDateIDNumber a
	// right one, but for 30 February.
	badCheckIDNumber = "110105194912310021"
	badDateIDNumber  = "110105194902300020"
	idNumber2        = "500105195801012713"
	idNumber3        = "210102195505050020"
	idNumber4        = "210103195203140019"
	// unusedIDNumber is valid and never registered.
	unusedIDNumber = "110101198001010010"

	phone1    = "13812345678"
	phone1New = "13987654321"
	phone3    = "13900001111"
)

// personalData lists every value above that identifies a person.
var personalData = []string{
	idNumber1, idNumber1Legacy, badCheckIDNumber, badDateIDNumber,
	idNumber2, idNumber3, idNumber4, unusedIDNumber,
	phone1, phone1New, phone3,
}

// readMasked makes the read c, which must succeed, and fails t when the
// answer shows any personal data in full; it reports whether the read
// succeeded.
func (rc *restClient) readMasked(t *testing.T, c call) (reply, bool) {
	t.Helper()
	r := rc.do(t, c)
	if !r.want(t, c, http.StatusOK) {
		return r, false
	}
	if v := containsAny(r.body, personalData...); v != "" {
		t.Errorf("%s %s shows personal data %q in full: %s", c.method, c.path, v, r.body)
	}
	return r, true
}

// Retiree ids that do not exist: one shaped like a real id, one not.
const (
	missingID   = "aaaaaaaaaaaaaaaa"
	malformedID = "no-such-retiree"
)

// dateOfDeath is in the past whatever the clock says.
const dateOfDeath = "2024-11-02"

// clerkAReadID is the X-Request-Id of clerk A's read of her retiree,
// which the audit log must carry: a ULID, as a client's tracing sends.
const clerkAReadID = "01J2Y8Q6W5K7D3V9X0R4T1M8ZB"

func retireePath(id string) string { return "/v1/retirees/" + id }

// masked is how an 18-character ID number appears in lists.
func masked(idNumber string) string { return idNumber[:6] + "********" + idNumber[14:] }

// TestRegistryREST follows one retiree through her life on the roster,
// through the gateway, as clerks of two communities, the bureau, an
// enterprise and an administrator would, checking access rules, personal
// data handling and the reports on the way. The steps build on each
// other, so run the test whole (a -run pattern that skips "create
// retiree" leaves the later steps without their retiree); a failed step
// that later ones depend on stops the test.
func TestRegistryREST(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)

	// noPersonalData fails t when an error reply repeats personal data.
	noPersonalData := func(t *testing.T, c call, r reply) {
		t.Helper()
		if v := containsAny(r.body, personalData...); v != "" && r.code >= 400 {
			t.Errorf("%s %s: error reply %d repeats personal data %q: %s", c.method, c.path, r.code, v, r.body)
		}
	}

	r1Body := map[string]any{
		"idNumber":             idNumber1,
		"name":                 "张桂英",
		"communityId":          communityA,
		"managementMode":       "COMMUNITY",
		"enterpriseCreditCode": creditCode,
		"phone":                phone1,
	}
	with := func(base map[string]any, kv ...any) map[string]any {
		m := make(map[string]any, len(base)+len(kv)/2)
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}

	var r1, r2, r3, r4 retiree

	must(t, "communities", func(t *testing.T) {
		bodyA, bodyB := communityBodies()
		cases := []struct {
			name  string
			token string
			body  map[string]any
			want  int
		}{
			{"admin creates A", tk.admin, bodyA, http.StatusOK},
			{"admin creates B", tk.admin, bodyB, http.StatusOK},
			{"same id again", tk.admin, with(bodyA, "name", "另一个社区"), http.StatusConflict},
			{"clerk may not create", tk.clerkA, with(bodyA, "id", "210102001002"), http.StatusForbidden},
			{"bureau may not create", tk.bureau, with(bodyA, "id", "210102001003"), http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodPost, path: "/v1/communities", token: tc.token, body: tc.body}
				r := api.do(t, c)
				if !r.want(t, c, tc.want) || tc.want != http.StatusOK {
					return
				}
				var got struct{ ID, Name, District, Kind string }
				r.decode(t, &got)
				want := struct{ ID, Name, District, Kind string }{tc.body["id"].(string), tc.body["name"].(string), tc.body["district"].(string), tc.body["kind"].(string)}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("created community (-want +got):\n%s", diff)
				}
			})
		}
	})

	must(t, "enterprise", func(t *testing.T) {
		body := map[string]any{"creditCode": creditCode, "name": "福州第一机械厂", "ownership": "STATE", "status": "BANKRUPT"}
		cases := []struct {
			name  string
			token string
			want  int
		}{
			{"bureau creates", tk.bureau, http.StatusOK},
			{"same credit code again", tk.bureau, http.StatusConflict},
			{"clerk may not create", tk.clerkA, http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodPost, path: "/v1/enterprises", token: tc.token, body: body}
				r := api.do(t, c)
				if !r.want(t, c, tc.want) || tc.want != http.StatusOK {
					return
				}
				var got struct{ CreditCode, Ownership, Status string }
				r.decode(t, &got)
				if diff := cmp.Diff(struct{ CreditCode, Ownership, Status string }{creditCode, "STATE", "BANKRUPT"}, got); diff != "" {
					t.Errorf("created enterprise (-want +got):\n%s", diff)
				}
			})
		}
	})

	must(t, "create retiree", func(t *testing.T) {
		c := call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: r1Body}
		r := api.do(t, c)
		if !r.want(t, c, http.StatusOK) {
			t.FailNow()
		}
		r.decode(t, &r1)
		if r1.ID == "" || strings.Contains(r1.ID, "19491231") || strings.Contains(r1.ID, "110105") {
			t.Errorf("id %q: want an opaque id that says nothing of the ID number", r1.ID)
		}
		if r1.Etag == "" {
			t.Error("no etag")
		}
		want := retiree{
			ID: r1.ID, IDNumberMasked: idNumber1Masked, Name: "张桂英", Sex: "FEMALE", BirthDate: "1949-12-31",
			EnterpriseCreditCode: creditCode, CommunityID: communityA, ManagementMode: "COMMUNITY", Status: "LIVING",
			Etag: r1.Etag,
		}
		got := r1
		got.IDNumber, got.Phone, got.PhoneMasked = "", "", ""
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("created retiree (-want +got):\n%s", diff)
		}
	})

	t.Run("create rejected", func(t *testing.T) {
		big := bytes.Repeat([]byte("x"), 2<<20)
		bigJSON := []byte(`{"idNumber":"` + unusedIDNumber + `","name":"` + string(big) + `"}`)
		newPerson := with(r1Body, "idNumber", unusedIDNumber, "phone", "")
		cases := []struct {
			name  string
			token string
			body  any
			want  int
			// field must be named by a BadRequest field violation.
			field string
			// mention must be in the status message.
			mention string
		}{
			{name: "wrong check character", token: tk.clerkA, body: with(r1Body, "idNumber", badCheckIDNumber), want: http.StatusBadRequest, field: "idNumber"},
			{name: "no 30 February", token: tk.clerkA, body: with(r1Body, "idNumber", badDateIDNumber), want: http.StatusBadRequest, field: "idNumber"},
			{name: "unknown field", token: tk.clerkA, body: with(newPerson, "nickname", "小张"), want: http.StatusBadRequest, mention: "nickname"},
			{name: "same ID number again", token: tk.clerkA, body: r1Body, want: http.StatusConflict},
			{name: "same ID number, lowercase x", token: tk.clerkA, body: with(r1Body, "idNumber", idNumber1Lower), want: http.StatusConflict},
			{name: "same ID number, 15-digit form", token: tk.clerkA, body: with(r1Body, "idNumber", idNumber1Legacy), want: http.StatusConflict},
			{name: "clerk registers into another community", token: tk.clerkA, body: with(newPerson, "communityId", communityB), want: http.StatusForbidden},
			{name: "no token", token: "", body: newPerson, want: http.StatusUnauthorized},
			{name: "2 MiB body", token: tk.clerkA, body: bigJSON, want: http.StatusRequestEntityTooLarge},
			{name: "2 MiB body, chunked", token: tk.clerkA, body: bytes.NewReader(bigJSON), want: http.StatusRequestEntityTooLarge},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodPost, path: "/v1/retirees", token: tc.token, body: tc.body}
				r := api.do(t, c)
				if !r.want(t, c, tc.want) {
					return
				}
				noPersonalData(t, c, r)
				st := r.status(t)
				if tc.field != "" && !slices.Contains(st.violatedFields(), tc.field) {
					t.Errorf("BadRequest fields %q do not name %q: %s", st.violatedFields(), tc.field, r.body)
				}
				if tc.mention != "" && !strings.Contains(st.Message, tc.mention) {
					t.Errorf("message %q does not name %q", st.Message, tc.mention)
				}
			})
		}
	})

	must(t, "more retirees", func(t *testing.T) {
		cases := []struct {
			name     string
			token    string
			body     map[string]any
			dst      *retiree
			idNumber string
			mode     string
		}{
			{"enterprise registers its own", tk.enterprise, map[string]any{
				"idNumber": idNumber2, "name": "李建国", "communityId": communityA, "managementMode": "ENTERPRISE",
				"enterpriseCreditCode": creditCode, "retirementDate": "2018-01-31",
			}, &r2, idNumber2, "ENTERPRISE"},
			{"clerk registers a community-managed one", tk.clerkA, map[string]any{
				"idNumber": idNumber3, "name": "王秀兰", "communityId": communityA, "managementMode": "COMMUNITY",
				"phone": phone3, "flags": []string{"LIVING_ALONE"},
			}, &r3, idNumber3, "COMMUNITY"},
			{"bureau registers a bureau-managed one", tk.bureau, map[string]any{
				"idNumber": idNumber4, "name": "赵德明", "communityId": communityB, "managementMode": "BUREAU",
			}, &r4, idNumber4, "BUREAU"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodPost, path: "/v1/retirees", token: tc.token, body: tc.body}
				r := api.do(t, c)
				if !r.want(t, c, http.StatusOK) {
					t.FailNow()
				}
				r.decode(t, tc.dst)
				if tc.dst.ID == "" || tc.dst.IDNumberMasked != masked(tc.idNumber) || tc.dst.ManagementMode != tc.mode || tc.dst.Status != "LIVING" {
					t.Errorf("created %+v, want an id, idNumberMasked %s, managementMode %s, status LIVING", *tc.dst, masked(tc.idNumber), tc.mode)
				}
			})
		}
	})

	t.Run("unauthenticated", func(t *testing.T) {
		expired := s.expiredToken(t)
		foreign := s.foreignToken(t)
		s.secret(expired, foreign)
		tokens := []struct{ name, token string }{
			{"no token", ""},
			{"garbage token", "not-a-token"},
			{"token of an untrusted key", foreign},
			{"expired token", expired},
		}
		calls := []call{
			{method: http.MethodGet, path: retireePath(r1.ID)},
			{method: http.MethodGet, path: "/v1/retirees?communityId=" + communityA},
			{method: http.MethodPost, path: "/v1/retirees:lookup", body: map[string]any{"idNumber": idNumber1}},
			{method: http.MethodGet, path: "/v1/communities"},
		}
		for _, tok := range tokens {
			for _, c := range calls {
				t.Run(tok.name+" "+c.method+" "+c.path, func(t *testing.T) {
					c.token = tok.token
					r := api.do(t, c)
					if r.want(t, c, http.StatusUnauthorized) {
						if st := r.status(t); st.Code != int(codes.Unauthenticated) {
							t.Errorf("status code %d, want %d (UNAUTHENTICATED)", st.Code, codes.Unauthenticated)
						}
					}
				})
			}
		}
	})

	// Replies kept by name, to compare the 403 bodies below.
	forbidden := map[string][]byte{}
	t.Run("access", func(t *testing.T) {
		wantFull := func(idNumber, phone string) func(*testing.T, reply) {
			return func(t *testing.T, r reply) {
				var got retiree
				r.decode(t, &got)
				if got.IDNumber != idNumber || got.Phone != phone {
					t.Errorf("idNumber %q, phone %q: want the full numbers", got.IDNumber, got.Phone)
				}
			}
		}
		cases := []struct {
			name  string
			c     call
			want  int
			check func(*testing.T, reply)
		}{
			{name: "clerk A reads her", c: call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.clerkA, requestID: clerkAReadID}, want: http.StatusOK, check: wantFull(idNumber1, phone1)},
			{name: "bureau reads her", c: call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.bureau}, want: http.StatusOK, check: wantFull(idNumber1, phone1)},
			{name: "admin reads her", c: call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.admin}, want: http.StatusOK},
			{name: "clerk B reads her", c: call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.clerkB}, want: http.StatusForbidden},
			{name: "enterprise reads a handed-over retiree", c: call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.enterprise}, want: http.StatusForbidden},
			{name: "enterprise reads its own", c: call{method: http.MethodGet, path: retireePath(r2.ID), token: tk.enterprise}, want: http.StatusOK},
			{name: "clerk B reads a missing id", c: call{method: http.MethodGet, path: retireePath(missingID), token: tk.clerkB}, want: http.StatusForbidden},
			{name: "clerk B reads a malformed id", c: call{method: http.MethodGet, path: retireePath(malformedID), token: tk.clerkB}, want: http.StatusForbidden},
			{name: "enterprise reads a missing id", c: call{method: http.MethodGet, path: retireePath(missingID), token: tk.enterprise}, want: http.StatusForbidden},
			{name: "admin reads a missing id", c: call{method: http.MethodGet, path: retireePath(missingID), token: tk.admin}, want: http.StatusNotFound},
			{name: "admin reads a malformed id", c: call{method: http.MethodGet, path: retireePath(malformedID), token: tk.admin}, want: http.StatusNotFound},
			{name: "bureau reads a missing id", c: call{method: http.MethodGet, path: retireePath(missingID), token: tk.bureau}, want: http.StatusNotFound},
			{name: "clerk B patches her", c: call{method: http.MethodPatch, path: retireePath(r1.ID), token: tk.clerkB, body: map[string]any{"name": "改名", "etag": r1.Etag}}, want: http.StatusForbidden},
			{name: "clerk B patches her with a wrong etag", c: call{method: http.MethodPatch, path: retireePath(r1.ID), token: tk.clerkB, body: map[string]any{"name": "改名", "etag": "r999999"}}, want: http.StatusForbidden},
			{name: "clerk B patches a missing id", c: call{method: http.MethodPatch, path: retireePath(missingID), token: tk.clerkB, body: map[string]any{"name": "改名", "etag": "r1"}}, want: http.StatusForbidden},
			{name: "clerk B transfers her", c: call{method: http.MethodPost, path: retireePath(r1.ID) + ":transfer", token: tk.clerkB, body: map[string]any{"toCommunityId": communityB, "reason": "搬迁"}}, want: http.StatusForbidden},
			{name: "clerk B records her death", c: call{method: http.MethodPost, path: retireePath(r1.ID) + ":recordDeath", token: tk.clerkB, body: map[string]any{"dateOfDeath": dateOfDeath}}, want: http.StatusForbidden},
			{name: "clerk B reads her history", c: call{method: http.MethodGet, path: retireePath(r1.ID) + "/history", token: tk.clerkB}, want: http.StatusForbidden},
			{name: "clerk B lists community A", c: call{method: http.MethodGet, path: "/v1/retirees?communityId=" + communityA, token: tk.clerkB}, want: http.StatusForbidden},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := api.do(t, tc.c)
				if !r.want(t, tc.c, tc.want) {
					return
				}
				noPersonalData(t, tc.c, r)
				if tc.want == http.StatusForbidden {
					forbidden[tc.name] = r.body
				}
				if tc.check != nil {
					tc.check(t, r)
				}
			})
		}
		// A hidden retiree and a missing one must be told apart by nothing.
		for _, pair := range [][2]string{
			{"clerk B reads her", "clerk B reads a missing id"},
			{"clerk B reads her", "clerk B reads a malformed id"},
			{"clerk B patches her", "clerk B patches a missing id"},
		} {
			a, b := forbidden[pair[0]], forbidden[pair[1]]
			if a != nil && b != nil && !bytes.Equal(a, b) {
				t.Errorf("403 bodies differ, which tells an existing retiree from a missing one:\n%s: %s\n%s: %s", pair[0], a, pair[1], b)
			}
		}
	})

	must(t, "update", func(t *testing.T) {
		stale := r1.Etag
		c := call{method: http.MethodPatch, path: retireePath(r1.ID), token: tk.clerkA, body: map[string]any{"phone": phone1New, "etag": stale}}
		r := api.do(t, c)
		if !r.want(t, c, http.StatusOK) {
			t.FailNow()
		}
		var updated retiree
		r.decode(t, &updated)
		// A write answers with the masks only (DESIGN: the full numbers come
		// back from get and lookup alone).
		if updated.Phone != "" || updated.IDNumber != "" || updated.PhoneMasked != phone1New[:3]+"****"+phone1New[7:] ||
			updated.Name != "张桂英" || updated.Etag == "" || updated.Etag == stale {
			t.Errorf("after PATCH: masked phone %q, name %q, etag %q (was %q); want the new phone masked, the old name and a new etag", updated.PhoneMasked, updated.Name, updated.Etag, stale)
		}

		c = call{method: http.MethodPatch, path: retireePath(r1.ID), token: tk.clerkA, body: map[string]any{"name": "张桂芳", "etag": stale}}
		r = api.do(t, c)
		if r.want(t, c, http.StatusConflict) {
			if reasons := r.status(t).reasons(); !slices.Contains(reasons, "ETAG_MISMATCH") {
				t.Errorf("ErrorInfo reasons %q, want ETAG_MISMATCH: %s", reasons, r.body)
			}
		}

		c = call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.clerkA}
		r = api.do(t, c)
		if r.want(t, c, http.StatusOK) {
			var got retiree
			r.decode(t, &got)
			if got.Name != "张桂英" || got.Phone != phone1New || got.Etag != updated.Etag {
				t.Errorf("after the stale PATCH: name %q, phone %q, etag %q; want it unchanged since the first PATCH", got.Name, got.Phone, got.Etag)
			}
		}
		r1 = updated
	})

	t.Run("lookup", func(t *testing.T) {
		cases := []struct {
			name     string
			token    string
			idNumber string
			want     int
			wantID   string
		}{
			{"clerk A", tk.clerkA, idNumber1, http.StatusOK, r1.ID},
			{"clerk A, 15-digit form", tk.clerkA, idNumber1Legacy, http.StatusOK, r1.ID},
			{"enterprise, its own", tk.enterprise, idNumber2, http.StatusOK, r2.ID},
			{"clerk B", tk.clerkB, idNumber1, http.StatusForbidden, ""},
			{"clerk B, unregistered number", tk.clerkB, unusedIDNumber, http.StatusForbidden, ""},
			{"admin, unregistered number", tk.admin, unusedIDNumber, http.StatusNotFound, ""},
			{"clerk A, invalid number", tk.clerkA, badCheckIDNumber, http.StatusBadRequest, ""},
		}
		bodies := map[string][]byte{}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodPost, path: "/v1/retirees:lookup", token: tc.token, body: map[string]any{"idNumber": tc.idNumber}}
				r := api.do(t, c)
				if !r.want(t, c, tc.want) {
					return
				}
				noPersonalData(t, c, r)
				bodies[tc.name] = r.body
				switch tc.want {
				case http.StatusOK:
					var got retiree
					r.decode(t, &got)
					want := idNumber1
					if tc.wantID == r2.ID {
						want = idNumber2
					}
					if got.ID != tc.wantID || got.IDNumber != want {
						t.Errorf("found id %q with idNumber %q, want %q with the full number", got.ID, got.IDNumber, tc.wantID)
					}
				case http.StatusBadRequest:
					if fields := r.status(t).violatedFields(); !slices.Contains(fields, "idNumber") {
						t.Errorf("BadRequest fields %q do not name idNumber", fields)
					}
				}
			})
		}
		a, b := bodies["clerk B"], bodies["clerk B, unregistered number"]
		if a != nil && b != nil && !bytes.Equal(a, b) {
			t.Errorf("403 bodies of a hidden and an unregistered number differ:\n%s\n%s", a, b)
		}
	})

	t.Run("list", func(t *testing.T) {
		cases := []struct {
			name  string
			token string
			query string
			want  map[string]string // retiree id → its ID number
		}{
			{"clerk A, community A", tk.clerkA, "?communityId=" + communityA, map[string]string{r1.ID: idNumber1, r2.ID: idNumber2, r3.ID: idNumber3}},
			{"clerk A, own community by default", tk.clerkA, "", map[string]string{r1.ID: idNumber1, r2.ID: idNumber2, r3.ID: idNumber3}},
			{"admin, community B", tk.admin, "?communityId=" + communityB, map[string]string{r4.ID: idNumber4}},
			{"bureau, bureau-managed", tk.bureau, "?managementMode=BUREAU", map[string]string{r4.ID: idNumber4}},
			{"enterprise, its own", tk.enterprise, "", map[string]string{r2.ID: idNumber2}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodGet, path: "/v1/retirees" + tc.query, token: tc.token}
				r, ok := api.readMasked(t, c)
				if !ok {
					return
				}
				var list struct {
					Retirees []map[string]any `json:"retirees"`
				}
				r.decode(t, &list)
				got := map[string]string{}
				for _, m := range list.Retirees {
					id, _ := m["id"].(string)
					got[id], _ = m["idNumberMasked"].(string)
					for _, key := range []string{"idNumber", "phone"} {
						if _, ok := m[key]; ok {
							t.Errorf("retiree %s in a list has %q: lists show masked numbers only", id, key)
						}
					}
				}
				want := map[string]string{}
				for id, n := range tc.want {
					want[id] = masked(n)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("listed id → idNumberMasked (-want +got):\n%s", diff)
				}
			})
		}
	})

	allLiving := map[string][]reportRow{
		"community": {
			{Key: communityA, Name: communityAName, Living: 3, CommunityManaged: 2, EnterpriseManaged: 1, Rate: 2.0 / 3},
			{Key: communityB, Name: communityBName, Living: 1, BureauManaged: 1, Rate: 1},
		},
		"district": {
			{Key: districtA, Name: districtA, Living: 3, CommunityManaged: 2, EnterpriseManaged: 1, Rate: 2.0 / 3},
			{Key: districtB, Name: districtB, Living: 1, BureauManaged: 1, Rate: 1},
		},
	}
	t.Run("report while all live", func(t *testing.T) {
		total := reportRow{Key: "total", Living: 4, CommunityManaged: 2, BureauManaged: 1, EnterpriseManaged: 1, Rate: 3.0 / 4}
		checkReports(t, api, tk, allLiving, total)
	})

	must(t, "transfer", func(t *testing.T) {
		propose := call{method: http.MethodPost, path: retireePath(r1.ID) + ":transfer", token: tk.clerkA, body: map[string]any{"toCommunityId": communityB, "reason": "搬迁"}}
		var proposed struct {
			Retiree  retiree  `json:"retiree"`
			Transfer transfer `json:"transfer"`
		}
		api.send(t, propose, http.StatusOK, &proposed)
		if proposed.Retiree.CommunityID != communityA || proposed.Transfer.State != "PROPOSED" || proposed.Transfer.ToCommunityID != communityB {
			t.Fatalf("proposal answered %+v", proposed)
		}
		// Clerk B does not see her yet, but finds the proposal among the
		// incoming ones, with her name and masked number to recognise her.
		forB := call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.clerkB}
		api.do(t, forB).want(t, forB, http.StatusForbidden)
		incoming := call{method: http.MethodGet, path: "/v1/transfers?communityId=" + communityB + "&direction=INCOMING&state=PROPOSED", token: tk.clerkB}
		r, ok := api.readMasked(t, incoming)
		if !ok {
			t.FailNow()
		}
		var list struct {
			Transfers []transfer `json:"transfers"`
		}
		r.decode(t, &list)
		if len(list.Transfers) != 1 || list.Transfers[0].ID != proposed.Transfer.ID ||
			list.Transfers[0].RetireeName != "张桂英" || list.Transfers[0].RetireeIDNumberMasked != idNumber1Masked {
			t.Fatalf("incoming transfers of B = %+v", list.Transfers)
		}
		refusals := []struct {
			name string
			c    call
			want int
		}{
			{"clerk A lists B's incoming", call{method: http.MethodGet, path: "/v1/transfers?communityId=" + communityB + "&direction=INCOMING", token: tk.clerkA}, http.StatusForbidden},
			{"clerk A accepts her own proposal", call{method: http.MethodPost, path: "/v1/transfers/" + proposed.Transfer.ID + ":accept", token: tk.clerkA, body: map[string]any{}}, http.StatusForbidden},
			{"clerk A proposes again", propose, http.StatusConflict},
		}
		for _, tc := range refusals {
			t.Run(tc.name, func(t *testing.T) {
				r := api.do(t, tc.c)
				r.want(t, tc.c, tc.want)
				noPersonalData(t, tc.c, r)
			})
		}
		accept := call{method: http.MethodPost, path: "/v1/transfers/" + proposed.Transfer.ID + ":accept", token: tk.clerkB, body: map[string]any{}}
		var accepted struct {
			Retiree  retiree  `json:"retiree"`
			Transfer transfer `json:"transfer"`
		}
		api.send(t, accept, http.StatusOK, &accepted)
		if accepted.Retiree.CommunityID != communityB || accepted.Retiree.Status != "LIVING" || accepted.Transfer.State != "ACCEPTED" {
			t.Errorf("after acceptance: %+v", accepted)
		}
		cases := []struct {
			name string
			c    call
			want int
		}{
			{"clerk A reads her", call{method: http.MethodGet, path: retireePath(r1.ID), token: tk.clerkA}, http.StatusForbidden},
			{"clerk B reads her", forB, http.StatusOK},
			{"clerk B accepts again", accept, http.StatusBadRequest},
			{"clerk A transfers her again", call{method: http.MethodPost, path: retireePath(r1.ID) + ":transfer", token: tk.clerkA, body: map[string]any{"toCommunityId": communityA, "reason": "回迁"}}, http.StatusForbidden},
			{"clerk B transfers her where she is", call{method: http.MethodPost, path: retireePath(r1.ID) + ":transfer", token: tk.clerkB, body: map[string]any{"toCommunityId": communityB, "reason": "搬迁"}}, http.StatusBadRequest},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := api.do(t, tc.c)
				r.want(t, tc.c, tc.want)
				noPersonalData(t, tc.c, r)
			})
		}
	})

	t.Run("transfer declined", func(t *testing.T) {
		c := call{method: http.MethodPost, path: retireePath(r3.ID) + ":transfer", token: tk.clerkA, body: map[string]any{"toCommunityId": communityB, "reason": "随子女居住"}}
		var proposed struct {
			Transfer transfer `json:"transfer"`
		}
		api.send(t, c, http.StatusOK, &proposed)
		decline := call{method: http.MethodPost, path: "/v1/transfers/" + proposed.Transfer.ID + ":decline", token: tk.clerkB, body: map[string]any{"reason": "本社区查无此户"}}
		var declined transfer
		api.send(t, decline, http.StatusOK, &struct {
			Transfer *transfer `json:"transfer"`
		}{&declined})
		if declined.State != "DECLINED" || declined.DeclineReason != "本社区查无此户" {
			t.Errorf("declined = %+v", declined)
		}
		get := call{method: http.MethodGet, path: "/v1/transfers/" + proposed.Transfer.ID, token: tk.clerkA}
		var got transfer
		api.send(t, get, http.StatusOK, &got)
		if got.State != "DECLINED" {
			t.Errorf("clerk A reads the declined transfer as %+v", got)
		}
		forB := call{method: http.MethodGet, path: retireePath(r3.ID), token: tk.clerkB}
		api.do(t, forB).want(t, forB, http.StatusForbidden)
	})

	must(t, "record death", func(t *testing.T) {
		c := call{method: http.MethodPost, path: retireePath(r1.ID) + ":recordDeath", token: tk.clerkB, body: map[string]any{"dateOfDeath": dateOfDeath}}
		r := api.do(t, c)
		if !r.want(t, c, http.StatusOK) {
			t.FailNow()
		}
		var got retiree
		r.decode(t, &got)
		if got.Status != "DECEASED" || got.DateOfDeath != dateOfDeath {
			t.Errorf("status %q, dateOfDeath %q; want DECEASED, %s", got.Status, got.DateOfDeath, dateOfDeath)
		}
		r = api.do(t, c)
		r.want(t, c, http.StatusBadRequest)
	})

	t.Run("history", func(t *testing.T) {
		c := call{method: http.MethodGet, path: retireePath(r1.ID) + "/history", token: tk.clerkB}
		r, ok := api.readMasked(t, c)
		if !ok {
			return
		}
		var h struct {
			Entries []struct {
				Kind   string `json:"kind"`
				Actor  string `json:"actor"`
				Reason string `json:"reason"`
			} `json:"entries"`
		}
		r.decode(t, &h)
		type entry struct{ Kind, Actor, Reason string }
		var got []entry
		for _, e := range h.Entries {
			got = append(got, entry{e.Kind, e.Actor, e.Reason})
		}
		want := []entry{
			{"CREATED", subjectClerkA, ""},
			{"UPDATED", subjectClerkA, ""},
			{"TRANSFER_PROPOSED", subjectClerkA, "搬迁"},
			{"TRANSFERRED", subjectClerkB, "搬迁"},
			{"DIED", subjectClerkB, ""},
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("history (-want +got):\n%s", diff)
		}

		c = call{method: http.MethodGet, path: retireePath(r1.ID) + "/history", token: tk.clerkA}
		api.do(t, c).want(t, c, http.StatusForbidden)
	})

	t.Run("audit log", func(t *testing.T) {
		path := retireePath(r1.ID) + "/auditLog?pageSize=1000"
		cases := []struct {
			name  string
			token string
			path  string
			want  int
		}{
			{"bureau", tk.bureau, path, http.StatusForbidden},
			{"clerk B", tk.clerkB, path, http.StatusForbidden},
			{"admin, missing id", tk.admin, retireePath(missingID) + "/auditLog", http.StatusNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := call{method: http.MethodGet, path: tc.path, token: tc.token}
				api.do(t, c).want(t, c, tc.want)
			})
		}

		// The audit log names who read whom by id, never by personal data.
		r, ok := api.readMasked(t, call{method: http.MethodGet, path: path, token: tk.admin})
		if !ok {
			return
		}
		var audit struct {
			Entries []struct {
				Subject   string `json:"subject"`
				Action    string `json:"action"`
				RetireeID string `json:"retireeId"`
				RequestID string `json:"requestId"`
			} `json:"entries"`
		}
		r.decode(t, &audit)
		type seen struct{ subject, action string }
		got := map[seen]bool{}
		for _, e := range audit.Entries {
			got[seen{e.Subject, e.Action}] = true
			if e.RetireeID != r1.ID {
				t.Errorf("entry %+v of another retiree in her audit log", e)
			}
			if e.RequestID == clerkAReadID && (e.Subject != subjectClerkA || e.Action != "GetRetiree") {
				t.Errorf("entry %+v carries the request id of clerk A's GetRetiree", e)
			}
		}
		for _, w := range []seen{
			{subjectClerkA, "CreateRetiree"},
			{subjectClerkA, "GetRetiree"},
			{subjectClerkA, "UpdateRetiree"},
			{subjectClerkA, "LookupRetiree"},
			{subjectClerkA, "ListRetirees"},
			{subjectClerkA, "TransferRetiree"},
			{subjectClerkB, "ListTransfers"},
			{subjectClerkB, "AcceptTransfer"},
			{subjectBureau, "GetRetiree"},
			{subjectClerkB, "RecordDeath"},
		} {
			if !got[w] {
				t.Errorf("no audit entry of %s by %s; entries: %s", w.action, w.subject, r.body)
			}
		}
		requestIDs := map[string]bool{}
		for _, e := range audit.Entries {
			requestIDs[e.RequestID] = true
		}
		if !requestIDs[clerkAReadID] {
			t.Errorf("no audit entry carries the X-Request-Id the client sent (%s): %s", clerkAReadID, r.body)
		}
	})

	t.Run("report at the end", func(t *testing.T) {
		// 张桂英 moved to B and died there: she counts nowhere now.
		rows := map[string][]reportRow{
			"community": {
				{Key: communityA, Name: communityAName, Living: 2, CommunityManaged: 1, EnterpriseManaged: 1, Rate: 0.5},
				{Key: communityB, Name: communityBName, Living: 1, BureauManaged: 1, Rate: 1},
			},
			"district": {
				{Key: districtA, Name: districtA, Living: 2, CommunityManaged: 1, EnterpriseManaged: 1, Rate: 0.5},
				{Key: districtB, Name: districtB, Living: 1, BureauManaged: 1, Rate: 1},
			},
		}
		total := reportRow{Key: "total", Living: 3, CommunityManaged: 1, BureauManaged: 1, EnterpriseManaged: 1, Rate: 2.0 / 3}
		checkReports(t, api, tk, rows, total)
	})

	t.Run("gateway endpoints", func(t *testing.T) {
		c := call{method: http.MethodGet, path: "/healthz", requestID: "01ARZ3NDEKTSV4RRFFQ69G5FAV"}
		r := api.do(t, c)
		if r.want(t, c, http.StatusOK) {
			var h struct {
				Status    string            `json:"status"`
				Upstreams map[string]string `json:"upstreams"`
			}
			r.decode(t, &h)
			if h.Status != "SERVING" || h.Upstreams["registry"] != "SERVING" {
				t.Errorf("/healthz = %s, want SERVING with registry SERVING", r.body)
			}
		}

		c = call{method: http.MethodGet, path: "/openapi.json"}
		r = api.do(t, c)
		if !r.want(t, c, http.StatusOK) {
			return
		}
		if ct := r.header.Get("Content-Type"); !strings.Contains(ct, "json") {
			t.Errorf("Content-Type %q, want JSON", ct)
		}
		var doc struct {
			OpenAPI string                    `json:"openapi"`
			Paths   map[string]map[string]any `json:"paths"`
		}
		r.decode(t, &doc)
		if !strings.HasPrefix(doc.OpenAPI, "3.") {
			t.Errorf("the document is OpenAPI %q, want 3.x", doc.OpenAPI)
		}
		for _, route := range []struct{ method, path string }{
			{"post", "/v1/communities"}, {"get", "/v1/communities"}, {"get", "/v1/communities/{id}"},
			{"post", "/v1/enterprises"}, {"get", "/v1/enterprises"}, {"get", "/v1/enterprises/{creditCode}"},
			{"post", "/v1/retirees"}, {"get", "/v1/retirees"}, {"get", "/v1/retirees/{id}"},
			{"patch", "/v1/retirees/{id}"}, {"post", "/v1/retirees:lookup"},
			{"post", "/v1/retirees/{id}:transfer"}, {"post", "/v1/retirees/{id}:recordDeath"},
			{"get", "/v1/retirees/{id}/history"}, {"get", "/v1/retirees/{id}/auditLog"},
			{"get", "/v1/reports/socialisation"},
		} {
			if _, ok := doc.Paths[route.path][route.method]; !ok {
				t.Errorf("/openapi.json does not describe %s %s", strings.ToUpper(route.method), route.path)
			}
		}
	})

	t.Run("grpc", func(t *testing.T) {
		conn := s.dialGRPC(t, s.registryAddr)
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()

		health := healthpb.NewHealthClient(conn)
		for _, svc := range []string{"", registryv1.RegistryService_ServiceDesc.ServiceName} {
			resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
			if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
				t.Errorf("health of %q: %v, %v; want SERVING", svc, resp.GetStatus(), err)
			}
		}

		client := registryv1.NewRegistryServiceClient(conn)
		cases := []struct {
			name  string
			token string
			id    string
			want  codes.Code
		}{
			{"admin", tk.admin, r1.ID, codes.OK},
			{"clerk B, her community now", tk.clerkB, r1.ID, codes.OK},
			{"clerk A, no longer hers", tk.clerkA, r1.ID, codes.PermissionDenied},
			{"clerk A, missing id", tk.clerkA, missingID, codes.PermissionDenied},
			{"admin, missing id", tk.admin, missingID, codes.NotFound},
			{"no token", "", r1.ID, codes.Unauthenticated},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var opts []grpc.CallOption
				if tc.token != "" {
					opts = append(opts, grpc.PerRPCCredentials(authn.BearerCredentials(tc.token)))
				}
				resp, err := client.GetRetiree(ctx, &registryv1.GetRetireeRequest{Id: tc.id}, opts...)
				if got := status.Code(err); got != tc.want {
					t.Fatalf("GetRetiree: %v, want code %v", err, tc.want)
				}
				if tc.want != codes.OK {
					return
				}
				got := resp.GetRetiree()
				want := fmt.Sprint(r1.ID, " 张桂英 ", idNumber1, " DECEASED ", communityB)
				if g := fmt.Sprint(got.GetId(), " ", got.GetName(), " ", got.GetIdNumber(), " ", got.GetStatus(), " ", got.GetCommunityId()); g != want {
					t.Errorf("GetRetiree = %q, want %q", g, want)
				}
			})
		}
	})
}

// checkReports compares the socialisation report, grouped by community
// and by district, with want, for the admin; a clerk of A sees A's row
// only. Rows are sorted by key.
func checkReports(t *testing.T, api *restClient, tk tokens, want map[string][]reportRow, total reportRow) {
	t.Helper()
	approx := cmpopts.EquateApprox(0, 1e-9)
	clerkRows := want["community"][:1]
	clerkTotal := clerkRows[0]
	clerkTotal.Key, clerkTotal.Name = "total", ""
	cases := []struct {
		name      string
		token     string
		groupBy   string
		wantRows  []reportRow
		wantTotal reportRow
	}{
		{"admin by community", tk.admin, "community", want["community"], total},
		{"bureau by district", tk.bureau, "district", want["district"], total},
		{"clerk A by community", tk.clerkA, "community", clerkRows, clerkTotal},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := call{method: http.MethodGet, path: "/v1/reports/socialisation?groupBy=" + tc.groupBy, token: tc.token}
			r := api.do(t, c)
			if !r.want(t, c, http.StatusOK) {
				return
			}
			var got report
			r.decode(t, &got)
			if diff := cmp.Diff(tc.wantRows, got.Rows, approx); diff != "" {
				t.Errorf("rows (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.wantTotal, got.Total, approx); diff != "" {
				t.Errorf("total (-want +got):\n%s", diff)
			}
		})
	}
	c := call{method: http.MethodGet, path: "/v1/reports/socialisation?groupBy=planet", token: tk.admin}
	r := api.do(t, c)
	if r.want(t, c, http.StatusBadRequest) {
		if fields := r.status(t).violatedFields(); !slices.Contains(fields, "groupBy") {
			t.Errorf("BadRequest fields %q do not name groupBy", fields)
		}
	}
}
