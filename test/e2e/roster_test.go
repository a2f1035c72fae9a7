package e2e

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// rosterRetiree is a Retiree with the roster's fields, as a client reads
// it.
type rosterRetiree struct {
	retiree
	StatusEffectiveOn string `json:"statusEffectiveOn"`
	StatusReason      string `json:"statusReason"`
	ResidenceAddress  string `json:"residenceAddress"`
	Residence         struct {
		Kind    string `json:"kind"`
		Address string `json:"address"`
	} `json:"residence"`
	Carers []struct {
		Name             string `json:"name"`
		Relation         string `json:"relation"`
		Phone            string `json:"phone"`
		PhoneMasked      string `json:"phoneMasked"`
		EmergencyContact bool   `json:"emergencyContact"`
	} `json:"carers"`
}

// TestRosterREST keeps a community's roster through the gateway: special
// groups by flag and age (the computed AGED_80_PLUS included), residence
// elsewhere with carers, and a status change with its date and reason,
// with the refusals a client must be able to read.
func TestRosterREST(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)

	// Ages on the real clock: far from any birthday boundary.
	now := time.Now().UTC()
	born := func(age int, seq int) string {
		id, err := idnumber.Build("210102", time.Date(now.Year()-age-1, 7, 1, 0, 0, 0, 0, time.UTC), seq)
		if err != nil {
			t.Fatal(err)
		}
		s.secret(id.Digits())
		return id.Digits()
	}
	const carerPhone = "13755556666"
	s.secret(carerPhone)
	create := func(idNumber string, extra map[string]any) rosterRetiree {
		body := map[string]any{"idNumber": idNumber, "name": "花名册", "communityId": communityA, "managementMode": "COMMUNITY"}
		for k, v := range extra {
			body[k] = v
		}
		var r rosterRetiree
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: body}, http.StatusOK, &r)
		return r
	}
	var oldAlone, youngAlone, oldTogether rosterRetiree
	must(t, "create the roster", func(t *testing.T) {
		oldAlone = create(born(86, 1), map[string]any{
			"flags":     []string{"LIVING_ALONE"},
			"residence": map[string]any{"kind": "OTHER_CITY", "address": "大连市中山区人民路1号", "divisionCode": "210202"},
			"carers":    []map[string]any{{"name": "李明", "relation": "CHILD", "phone": carerPhone, "emergencyContact": true}},
		})
		youngAlone = create(born(70, 2), map[string]any{"flags": []string{"LIVING_ALONE"}})
		oldTogether = create(born(88, 3), map[string]any{"flags": []string{"EMPTY_NEST"}, "name": "Aygül Tursun"})
		if oldAlone.ResidenceAddress != "大连市中山区人民路1号" || oldAlone.Residence.Kind != "OTHER_CITY" {
			t.Errorf("created residence %+v, address %q", oldAlone.Residence, oldAlone.ResidenceAddress)
		}
		if len(oldAlone.Carers) != 1 || oldAlone.Carers[0].Phone != "" || oldAlone.Carers[0].PhoneMasked != "137****6666" {
			t.Errorf("created carers %+v: want the phone masked only", oldAlone.Carers)
		}
	})

	t.Run("aged 80+ is computed, not set", func(t *testing.T) {
		c := call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": born(81, 4), "name": "花名册", "communityId": communityA, "managementMode": "COMMUNITY", "flags": []string{"AGED_80_PLUS"},
		}}
		r := api.do(t, c)
		if r.want(t, c, http.StatusBadRequest) && !slices.Contains(r.status(t).violatedFields(), "flags") {
			t.Errorf("refusal names %v, want flags", r.status(t).violatedFields())
		}
		if !slices.Contains(oldAlone.Flags, "AGED_80_PLUS") || slices.Contains(youngAlone.Flags, "AGED_80_PLUS") {
			t.Errorf("computed flags: 86 has %v, 70 has %v", oldAlone.Flags, youngAlone.Flags)
		}
	})

	list := func(t *testing.T, query string) []string {
		t.Helper()
		var page struct {
			Retirees []rosterRetiree `json:"retirees"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/retirees?" + query, token: tk.clerkA}, http.StatusOK, &page)
		var ids []string
		for _, r := range page.Retirees {
			ids = append(ids, r.ID)
			for _, c := range r.Carers {
				if c.Phone != "" {
					t.Errorf("a list shows a carer's phone number")
				}
			}
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	t.Run("special groups", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"flags=LIVING_ALONE&flags=AGED_80_PLUS&minAge=80", sorted(oldAlone.ID)},
			{"flags=LIVING_ALONE", sorted(oldAlone.ID, youngAlone.ID)},
			{"flags=AGED_80_PLUS&maxAge=87", sorted(oldAlone.ID)},
			{"minAge=85&maxAge=95", sorted(oldAlone.ID, oldTogether.ID)},
			{"residenceKind=OTHER_CITY", sorted(oldAlone.ID)},
		} {
			if got := list(t, tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("?%s listed %v, want %v", tc.query, got, tc.want)
			}
		}
		for _, query := range []string{"flags=NO_SUCH_FLAG", "minAge=80&maxAge=70", "minAge=old"} {
			c := call{method: http.MethodGet, path: "/v1/retirees?" + query, token: tk.clerkA}
			api.do(t, c).want(t, c, http.StatusBadRequest)
		}
	})

	t.Run("search by name and ID number's end", func(t *testing.T) {
		s.secret("Aygül Tursun")
		tail := func(r rosterRetiree) string { return r.IDNumberMasked[len(r.IDNumberMasked)-4:] }
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"name=" + url.QueryEscape("名册"), sorted(oldAlone.ID, youngAlone.ID)},
			{"name=" + url.QueryEscape(" TURSUN "), sorted(oldTogether.ID)},
			{"idNumberTail=" + tail(youngAlone), sorted(youngAlone.ID)},
			{"name=" + url.QueryEscape("名册") + "&idNumberTail=" + tail(oldTogether), nil},
			{"name=" + url.QueryEscape("花名") + "&flags=LIVING_ALONE&flags=AGED_80_PLUS", sorted(oldAlone.ID)},
		} {
			if got := list(t, tc.query); !slices.Equal(got, tc.want) {
				t.Errorf("?%s listed %v, want %v", tc.query, got, tc.want)
			}
		}
		// Another community's clerk finds none of it.
		c := call{method: http.MethodGet, path: "/v1/retirees?communityId=" + communityA + "&name=" + url.QueryEscape("名册"), token: tk.clerkB}
		api.do(t, c).want(t, c, http.StatusForbidden)
		var own struct {
			Retirees []rosterRetiree `json:"retirees"`
		}
		api.send(t, call{method: http.MethodGet, path: "/v1/retirees?idNumberTail=" + tail(oldAlone), token: tk.clerkB}, http.StatusOK, &own)
		if len(own.Retirees) != 0 {
			t.Errorf("community B's clerk found %d retirees by community A's ID number end", len(own.Retirees))
		}
		for _, tc := range []struct{ query, field, value string }{
			{"idNumberTail=" + oldAlone.IDNumberMasked[14:17] + "x", "idNumberTail", ""},
			{"idNumberTail=" + born(75, 5), "idNumberTail", born(75, 5)},
			{"name=" + url.QueryEscape(strings.Repeat("秀", 21)), "name", strings.Repeat("秀", 21)},
		} {
			c := call{method: http.MethodGet, path: "/v1/retirees?" + tc.query, token: tk.clerkA}
			r := api.do(t, c)
			if !r.want(t, c, http.StatusBadRequest) {
				continue
			}
			if got := r.status(t).violatedFields(); !slices.Equal(got, []string{tc.field}) {
				t.Errorf("?%s: refusal names %v, want %s", tc.query, got, tc.field)
			}
			if tc.value != "" && strings.Contains(string(r.body), tc.value) {
				t.Errorf("?%s: the refusal repeats the value", tc.query)
			}
		}
	})

	t.Run("change status", func(t *testing.T) {
		path := retireePath(oldAlone.ID) + ":changeStatus"
		body := map[string]any{"status": "LOST_CONTACT", "effectiveOn": "2025-06-01", "reason": "电话停机，多次上门无人"}
		c := call{method: http.MethodPost, path: path, token: tk.clerkB, body: body}
		api.do(t, c).want(t, c, http.StatusForbidden)

		var changed rosterRetiree
		api.send(t, call{method: http.MethodPost, path: path, token: tk.clerkA, body: body}, http.StatusOK, &changed)
		if changed.Status != "LOST_CONTACT" || changed.StatusEffectiveOn != "2025-06-01" || changed.StatusReason != body["reason"] {
			t.Errorf("after the change: status %s on %s because %q", changed.Status, changed.StatusEffectiveOn, changed.StatusReason)
		}
		c = call{method: http.MethodPost, path: path, token: tk.clerkA, body: body}
		if r := api.do(t, c); r.want(t, c, http.StatusBadRequest) && !slices.Contains(r.status(t).reasons(), "STATUS_UNCHANGED") {
			t.Errorf("the same status again: reasons %v, want STATUS_UNCHANGED", r.status(t).reasons())
		}
		c = call{method: http.MethodPost, path: path, token: tk.clerkA, body: map[string]any{"status": "DECEASED", "effectiveOn": "2025-07-01", "reason": "去世"}}
		if r := api.do(t, c); r.want(t, c, http.StatusBadRequest) && !slices.Contains(r.status(t).violatedFields(), "status") {
			t.Errorf("a death through :changeStatus: fields %v, want status", r.status(t).violatedFields())
		}
		if got := list(t, "status=LOST_CONTACT"); !slices.Equal(got, []string{oldAlone.ID}) {
			t.Errorf("?status=LOST_CONTACT listed %v", got)
		}
		var hist struct {
			Entries []struct {
				Kind   string `json:"kind"`
				Reason string `json:"reason"`
			} `json:"entries"`
		}
		api.send(t, call{method: http.MethodGet, path: retireePath(oldAlone.ID) + "/history", token: tk.clerkA}, http.StatusOK, &hist)
		last := hist.Entries[len(hist.Entries)-1]
		if last.Kind != "STATUS_CHANGED" || last.Reason != body["reason"] {
			t.Errorf("last history entry %+v", last)
		}
	})
}
