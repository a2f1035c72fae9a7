package e2e

import (
	"net/http"
	"strconv"
	"testing"
)

// TestClerkTokenRateLimited: with the default budgets, a clerk's token
// that reads the same retiree as fast as it can through the gateway gets
// its burst, then 429 with Retry-After; the bureau's reads go on, and so
// do the clerk's reads of things that are not personal data.
func TestClerkTokenRateLimited(t *testing.T) {
	t.Parallel()
	_, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)
	api.send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: tk.bureau,
		body: map[string]any{"creditCode": creditCode, "name": "福州第一机械厂", "ownership": "STATE", "status": "BANKRUPT"}}, http.StatusOK, nil)
	var r retiree
	api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
		"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY",
		"enterpriseCreditCode": creditCode, "phone": phone1,
	}}, http.StatusOK, &r)

	get := call{method: http.MethodGet, path: retireePath(r.ID), token: tk.clerkA}
	// The default burst is 50 reads; they refill at 5 a second, so the
	// refusal comes within a few reads past the burst.
	const burst, tries = 50, 200
	var limited reply
	for i := 0; i < tries && limited.code == 0; i++ {
		switch rep := api.do(t, get); rep.code {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			if i < burst {
				t.Fatalf("429 after %d reads, before the burst of %d was spent", i, burst)
			}
			limited = rep
		default:
			t.Fatalf("read %d: %d %s", i+1, rep.code, rep.body)
		}
	}
	if limited.code == 0 {
		t.Fatalf("%d reads in a row with a clerk's token, none refused", tries)
	}
	if after, err := strconv.Atoi(limited.header.Get("Retry-After")); err != nil || after < 1 {
		t.Errorf("Retry-After %q, want a whole number of seconds", limited.header.Get("Retry-After"))
	}
	if reasons := limited.status(t).reasons(); len(reasons) != 1 || reasons[0] != "RATE_LIMITED" {
		t.Errorf("reasons %v, want RATE_LIMITED", reasons)
	}

	api.send(t, call{method: http.MethodGet, path: retireePath(r.ID), token: tk.bureau}, http.StatusOK, nil)
	api.send(t, call{method: http.MethodGet, path: "/v1/communities/" + communityA, token: tk.clerkA}, http.StatusOK, nil)
}
