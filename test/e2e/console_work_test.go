package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/idnumber"
)

// consoleStandardFen is the handover's funds per retiree.
const consoleStandardFen = 300000

// submittedHandover is a package an enterprise built and submitted to
// community A, with the bureau's roster verification done: what is left
// is the clerk's part. It is made once per city.
func (c *consoleCity) submittedHandover(t *testing.T) handoverDoc {
	t.Helper()
	if c.handover != nil {
		return *c.handover
	}
	c.api.send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: c.bureau, body: map[string]any{
		"creditCode": creditCode, "name": "沈阳重型机械厂", "ownership": "STATE", "status": "BANKRUPT",
	}}, http.StatusOK, nil)
	ent := c.s.mint(t, "--role", "enterprise", "--enterprise", creditCode, "--subject", "e2e-console-enterprise")
	var ids []string
	dossiers := []map[string]any{}
	for i := range 2 {
		n, err := idnumber.Build("210102", time.Date(1952, 6, 1+i, 0, 0, 0, 0, time.UTC), 611+i)
		if err != nil {
			t.Fatal(err)
		}
		c.s.secret(n.Digits())
		var r retiree
		c.api.send(t, call{method: http.MethodPost, path: "/v1/retirees", token: ent, body: map[string]any{
			"idNumber": n.Digits(), "name": fmt.Sprintf("机械厂职工%d", i+1), "communityId": communityA,
			"enterpriseCreditCode": creditCode, "managementMode": "ENTERPRISE", "retirementDate": "2012-05-01",
		}}, http.StatusOK, &r)
		ids = append(ids, r.ID)
		dossiers = append(dossiers, map[string]any{"retireeId": r.ID, "dossierNo": fmt.Sprintf("SY-2026-%03d", i+1), "volumes": 1,
			"checklist": []string{"RESUME", "AUTOBIOGRAPHY", "APPRAISAL", "EDUCATION_TITLES", "WAGES_APPOINTMENTS"}})
	}
	var h handoverDoc
	c.api.send(t, call{method: http.MethodPost, path: "/v1/handovers", token: ent, body: map[string]any{
		"enterpriseCreditCode": creditCode, "communityId": communityA, "retireeIds": ids,
		"funds":    map[string]any{"amountFen": consoleStandardFen * len(ids), "perRetireeStandardFen": consoleStandardFen},
		"dossiers": dossiers,
		"premises": []any{map[string]any{"name": "机械厂老干部活动室", "address": "和平区太原北街18号", "areaSqm": 80.5, "capacity": 30, "use": "文体活动"}},
	}}, http.StatusOK, &h)
	c.api.send(t, call{method: http.MethodPost, path: "/v1/handovers/" + h.ID + ":submit", token: ent, body: map[string]any{"etag": h.Etag}}, http.StatusOK, &h)
	c.api.send(t, call{method: http.MethodPost, path: "/v1/handovers/" + h.ID + ":verifyRoster", token: c.bureau, body: map[string]any{
		"documentSha256": strings.Repeat("ab", 32), "note": "花名册已签字盖章"}}, http.StatusOK, &h)
	c.handover = &h
	return h
}

// consoleHandover: the clerk works a submitted handover to completion on
// its page: funds received, archives received, premises inspected,
// completed; the API shows it completed.
func consoleHandover(t *testing.T, b *browser, c *consoleCity) {
	h := c.submittedHandover(t)
	tb := b.newTab(t)
	tb.signIn(t, c.clerkA)
	tb.route(t, "#/handovers")
	tb.screen(t, "handovers")
	tb.poll(t, "the handover in the inbox", fmt.Sprintf(`document.querySelector('tr[data-id=%q] a[data-action=open]') !== null`, h.ID))
	tb.click(t, fmt.Sprintf(`tr[data-id=%q] a[data-action=open]`, h.ID))
	tb.screen(t, "handover")
	for _, track := range []string{"SOCIAL_INSURANCE", "ARCHIVES", "PARTY", "PREMISES", "FUNDS"} {
		if !tb.has(t, fmt.Sprintf(`[data-track=%q]`, track)) {
			t.Errorf("no %s track on the handover's page", track)
		}
	}
	values := map[string]string{
		"amountFen": fmt.Sprint(consoleStandardFen * len(h.RetireeIDs)), "voucherNo": "HZ-2026-1207",
		"receivedOn": time.Now().In(chinaZone()).Format(time.DateOnly), "notes": "房屋结构完好，消防设施齐全", "note": "已核对",
	}
	// Archives are received one dossier at a time.
	steps := []string{"receive-funds"}
	for range h.Dossiers {
		steps = append(steps, "receive-archives")
	}
	for _, step := range append(steps, "inspect-premises", "complete") {
		tb.handoverStep(t, step, values)
	}
	var got handoverDoc
	c.get(t, c.clerkA, "/v1/handovers/"+h.ID, &got)
	if got.State != "COMPLETED" {
		t.Fatalf("the handover is %s after the clerk's steps in the console; tracks %v", got.State, got.trackStates())
	}
	tb.poll(t, "the state shown completed (办结 or 完成)", `/办结|完成/.test(document.querySelector("[data-field=state]")?.innerText ?? "")`)
	tb.screenshot(t, "scenario-handover-completed")
}

// handoverStep does the step on the handover's page: its button, the
// form in place filled where empty, confirm; a refusal fails t.
func (tb *tab) handoverStep(t *testing.T, step string, values map[string]string) {
	t.Helper()
	sel := fmt.Sprintf(`button[data-action=%q]`, step)
	tb.poll(t, step+" offered", fmt.Sprintf(`document.querySelector(%s) !== null`, jsString(sel)))
	tb.click(t, sel)
	tb.do(t, "the form of "+step, waitVisible(`button[data-action=confirm]`))
	tb.fillEmpty(t, values)
	tb.click(t, `button[data-action=confirm]`)
	tb.poll(t, step+" done", `document.querySelector("button[data-action=confirm]") === null || document.querySelector(".notice.error, .field.invalid") !== null`)
	if tb.has(t, ".notice.error, .field.invalid") {
		t.Fatalf("%s refused: %s", step, tb.text(t, ".notice.error, .field.invalid"))
	}
	tb.settle(t)
}

// fillEmpty fills each visible, empty control named in values; an
// unchecked checkbox named accepted is checked.
func (tb *tab) fillEmpty(t *testing.T, values map[string]string) {
	t.Helper()
	for name, v := range values {
		sel := fmt.Sprintf(`input[name=%q]:not([type=checkbox]):not([type=radio]), textarea[name=%q]`, name, name)
		var empty bool
		tb.eval(t, fmt.Sprintf(`(() => { const e = document.querySelector(%s); return e !== null && e.offsetParent !== null && e.value === ""; })()`, jsString(sel)), &empty)
		if empty {
			tb.fill(t, sel, v)
		}
	}
	if tb.has(t, `input[type=checkbox][name=accepted]:not(:checked)`) {
		tb.click(t, `input[type=checkbox][name=accepted]`)
	}
	if tb.has(t, `input[type=radio][name=accepted][value=true]`) {
		tb.click(t, `input[type=radio][name=accepted][value=true]`)
	}
}

// chinaZone is China's time zone, in which the console's dates are.
func chinaZone() *time.Location {
	return time.FixedZone("CST", 8*3600)
}

// venueOfA is a seeded venue of community A.
func (c *consoleCity) venueOfA(t *testing.T) string {
	t.Helper()
	var venues struct {
		Venues []struct {
			ID string `json:"id"`
		} `json:"venues"`
	}
	c.get(t, c.clerkA, "/v1/venues?communityId="+communityA, &venues)
	if len(venues.Venues) == 0 {
		t.Fatal("the seeded city has no venue in community A")
	}
	return venues.Venues[0].ID
}

// consoleActivityClash: the clerk creates a weekly activity, then another
// at the same venue and time, which is refused with the clash shown in
// place; only the first exists.
func consoleActivityClash(t *testing.T, b *browser, c *consoleCity) {
	venue := c.venueOfA(t)
	day := time.Now().In(chinaZone()).AddDate(0, 0, 45).Format(time.DateOnly)
	tb := b.newTab(t)
	tb.signIn(t, c.clerkA)
	tb.route(t, "#/activities")
	tb.screen(t, "activities")
	create := func(title string) {
		t.Helper()
		tb.click(t, `button[data-action=new-activity]`)
		tb.do(t, "the create form", waitVisible(`[name=title]`))
		tb.fill(t, `[name=title]`, title)
		tb.fill(t, `[name=venueId]`, venue)
		tb.fill(t, `[name=startDate]`, day)
		tb.fill(t, `[name=startTime]`, "06:30")
		tb.fill(t, `[name=durationMinutes]`, "60")
		tb.fill(t, `[name=capacity]`, "20")
		if !tb.has(t, `[name=weekly]:checked`) {
			tb.click(t, `[name=weekly]`)
		}
		if tb.has(t, `[name=weeks]`) {
			tb.fill(t, `[name=weeks]`, "4")
		}
		tb.click(t, `button[data-action=create-activity]`)
	}
	create("晨练太极（测试）")
	tb.poll(t, "the activity created", `document.querySelector("button[data-action=create-activity]") === null || document.querySelector(".notice.ok, .notice.error, .field.invalid") !== null`)
	if tb.has(t, ".notice.error, .field.invalid") {
		t.Fatalf("the first activity was refused: %s", tb.text(t, ".notice.error, .field.invalid"))
	}
	if tb.has(t, `button[data-action=create-activity]`) || !tb.has(t, `button[data-action=new-activity]`) {
		tb.route(t, "#/activities")
		tb.screen(t, "activities")
	}
	create("健康讲座（冲突）")
	tb.poll(t, "the clash in place", `document.querySelector(".notice.error, .field.invalid .error-text") !== null`)
	msg := tb.text(t, ".notice.error, .field.invalid .error-text")
	if !hasHan(msg) {
		t.Errorf("the clash's message is not Chinese: %q", msg)
	}
	t.Logf("the clash shown: %s", msg)
	tb.screenshot(t, "scenario-activity-clash")
	// Only the first exists: its sessions, and none of the second's.
	from := time.Now().In(chinaZone()).AddDate(0, 0, 40)
	var list occurrences
	c.get(t, c.clerkA, "/v1/activities?communityId="+communityA+"&pageSize=500&from="+url.QueryEscape(from.Format(time.RFC3339))+
		"&to="+url.QueryEscape(from.AddDate(0, 0, 40).Format(time.RFC3339)), &list)
	ids := map[string][]string{}
	sessions := 0
	for _, o := range list.Occurrences {
		if !slices.Contains(ids[o.Title], o.ActivityID) {
			ids[o.Title] = append(ids[o.Title], o.ActivityID)
		}
		if o.Title == "晨练太极（测试）" {
			sessions++
		}
	}
	if sessions < 2 {
		t.Errorf("the weekly activity has %d sessions in the five weeks from its first, want 4 (weekly)", sessions)
	}
	if len(ids["晨练太极（测试）"]) != 1 || len(ids["健康讲座（冲突）"]) != 0 {
		t.Errorf("activities by title: 晨练太极 %v, 健康讲座 %v; want one and none", ids["晨练太极（测试）"], ids["健康讲座（冲突）"])
	}
}

// consoleWaitingList: on an activity of capacity one the clerk registers
// two retirees, the second waits; cancelling the first moves the second up.
func consoleWaitingList(t *testing.T, b *browser, c *consoleCity) {
	venue := c.venueOfA(t)
	start := time.Now().In(chinaZone()).AddDate(0, 0, 50).Truncate(24 * time.Hour).Add(21*time.Hour + 10*time.Minute)
	var a struct {
		ID string `json:"id"`
	}
	c.api.send(t, call{method: http.MethodPost, path: "/v1/activities", token: c.clerkA, body: map[string]any{
		"communityId": communityA, "venueId": venue, "title": "书法小组（名额一人）", "category": "CULTURE",
		"startTime": start.UTC().Format(time.RFC3339), "endTime": start.Add(time.Hour).UTC().Format(time.RFC3339), "capacity": 1,
	}}, http.StatusOK, &a)
	ids := c.retirees(t, c.clerkA, communityA, "")
	if len(ids) < 2 {
		t.Fatal("community A has fewer than two living retirees")
	}
	first, second := ids[0], ids[1]
	tb := b.newTab(t)
	tb.signIn(t, c.clerkA)
	tb.route(t, "#/activities/"+a.ID)
	tb.screen(t, "activity")
	register := func(id string) {
		t.Helper()
		tb.fill(t, `input[name=retireeId]`, id)
		tb.click(t, `button[data-action=register]`)
	}
	register(first)
	tb.poll(t, "the first registered", fmt.Sprintf(`document.querySelector('[data-list=registrations] tr[data-id=%q]') !== null || document.querySelector(".notice.error") !== null`, first))
	register(second)
	tb.poll(t, "the second waiting", fmt.Sprintf(`document.querySelector('[data-list=waiting] tr[data-id=%q]') !== null || document.querySelector(".notice.error") !== null`, second))
	if tb.has(t, ".notice.error") {
		t.Fatalf("registering refused: %s", tb.text(t, ".notice.error"))
	}
	tb.screenshot(t, "scenario-waiting-list")
	tb.click(t, fmt.Sprintf(`[data-list=registrations] tr[data-id=%q] button[data-action=cancel-registration]`, first))
	tb.poll(t, "the waiting retiree moved up", fmt.Sprintf(`document.querySelector('[data-list=registrations] tr[data-id=%q]') !== null && document.querySelector('[data-list=waiting] tr[data-id=%q]') === null`, second, second))
	if tb.has(t, fmt.Sprintf(`[data-list=registrations] tr[data-id=%q]`, first)) {
		t.Error("the cancelled registration is still listed")
	}
}
