package e2e

import (
	"net/http"
	"slices"
	"testing"
)

// TestSupervisorsREST: the street and district supervisors of community
// A, with tokens the CLI mints, read its retirees through the gateway
// (the whole area when they name no community, the numbers masked even
// in a single read) and its report rows; they get 403 for community B's
// retirees, for a retiree that does not exist and for any change, and the
// other services take their tokens with the same scope.
func TestSupervisorsREST(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)
	api.send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: tk.bureau,
		body: map[string]any{"creditCode": creditCode, "name": "福州第一机械厂", "ownership": "STATE", "status": "BANKRUPT"}}, http.StatusOK, nil)
	create := func(token, community, idNumber string) retiree {
		var r retiree
		api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: token, body: map[string]any{
			"idNumber": idNumber, "name": "张桂英", "communityId": community, "managementMode": "COMMUNITY",
			"enterpriseCreditCode": creditCode, "phone": phone1,
		}}, http.StatusOK, &r)
		return r
	}
	inA := create(tk.clerkA, communityA, idNumber1)
	inB := create(tk.clerkB, communityB, idNumber4)

	mint := func(args ...string) string { return s.mint(t, args...) }
	supervisors := map[string]string{
		"street":   mint("--role", "street", "--street", communityA[:9], "--subject", "e2e-street"),
		"district": mint("--role", "district", "--district", communityA[:6], "--subject", "e2e-district"),
	}
	for name, token := range supervisors {
		t.Run(name, func(t *testing.T) {
			var list struct{ Retirees []retiree }
			r, ok := api.readMasked(t, call{method: http.MethodGet, path: "/v1/retirees", token: token})
			if ok {
				r.decode(t, &list)
			}
			if len(list.Retirees) != 1 || list.Retirees[0].ID != inA.ID || list.Retirees[0].IDNumberMasked != idNumber1Masked {
				t.Errorf("the area's list is %+v, want only %s, masked", list.Retirees, inA.ID)
			}
			var one retiree
			if r, ok := api.readMasked(t, call{method: http.MethodGet, path: retireePath(inA.ID), token: token}); ok {
				r.decode(t, &one)
			}
			if one.ID != inA.ID || one.IDNumberMasked != idNumber1Masked || one.PhoneMasked == "" {
				t.Errorf("a single read answered %+v", one)
			}
			api.readMasked(t, call{method: http.MethodGet, path: retireePath(inA.ID) + "/history", token: token})

			var report struct{ Rows []reportRow }
			api.send(t, call{method: http.MethodGet, path: "/v1/reports/socialisation", token: token}, http.StatusOK, &report)
			if keys := reportKeys(report.Rows); !slices.Equal(keys, []string{communityA}) {
				t.Errorf("report rows %v, want only %s", keys, communityA)
			}

			for _, c := range []call{
				{method: http.MethodGet, path: "/v1/retirees?communityId=" + communityB, token: token},
				{method: http.MethodGet, path: retireePath(inB.ID), token: token},
				{method: http.MethodGet, path: retireePath(missingID), token: token},
				{method: http.MethodPatch, path: retireePath(inA.ID), token: token, body: map[string]any{"name": "改名", "etag": inA.Etag}},
				{method: http.MethodPost, path: retireePath(inA.ID) + ":recordDeath", token: token, body: map[string]any{"dateOfDeath": dateOfDeath}},
				{method: http.MethodPost, path: "/v1/retirees", token: token, body: map[string]any{
					"idNumber": idNumber2, "name": "李明", "communityId": communityA, "managementMode": "COMMUNITY", "enterpriseCreditCode": creditCode,
				}},
				{method: http.MethodGet, path: "/v1/venues?communityId=" + communityB, token: token},
			} {
				api.send(t, c, http.StatusForbidden, nil)
			}
			api.send(t, call{method: http.MethodGet, path: "/v1/venues?communityId=" + communityA, token: token}, http.StatusOK, nil)
			api.send(t, call{method: http.MethodGet, path: "/v1/handovers", token: token}, http.StatusOK, nil)
		})
	}
	// Nothing the supervisors tried changed the retiree.
	var after retiree
	api.send(t, call{method: http.MethodGet, path: retireePath(inA.ID), token: tk.clerkA}, http.StatusOK, &after)
	if after.Etag != inA.Etag || after.Status != inA.Status {
		t.Errorf("the retiree changed: etag %s -> %s, status %s -> %s", inA.Etag, after.Etag, inA.Status, after.Status)
	}
}

// reportKeys are the keys of a report's rows, in order.
func reportKeys(rows []reportRow) []string {
	keys := make([]string, len(rows))
	for i, r := range rows {
		keys[i] = r.Key
	}
	return keys
}
