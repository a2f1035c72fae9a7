package e2e

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// Two more communities of community A's street office (太原街街道, the
// first 9 digits of their ids), which the agreement's retirees are
// allocated to besides community A.
const (
	communityA2 = "210102001002"
	communityA3 = "210102001003"
)

// Subjects of the receiving unit's people in TestAgreementREST.
const (
	subjectStreet    = "e2e-street"
	subjectArchivist = "e2e-archivist"
)

// agreementTokens are the bearer tokens of the receiving side of an
// agreement with community A's street office, minted by the CLI.
type agreementTokens struct {
	// street and district supervise community A's street office and
	// district; streetB supervises community B's street office.
	street, district, streetB string
	// archivist keeps the archives of community A's district.
	archivist string
	// clerks are the clerks of the street's three communities, by
	// community.
	clerks map[string]string
}

// mintAgreementTokens mints the receiving side's tokens with the CLI.
func (s *stack) mintAgreementTokens(t *testing.T) agreementTokens {
	t.Helper()
	at := agreementTokens{
		street:    s.mint(t, "--role", "street", "--street", communityA[:9], "--subject", subjectStreet),
		district:  s.mint(t, "--role", "district", "--district", communityA[:6], "--subject", "e2e-district"),
		streetB:   s.mint(t, "--role", "street", "--street", communityB[:9], "--subject", "e2e-street-b"),
		archivist: s.mint(t, "--role", "archivist", "--district", communityA[:6], "--subject", subjectArchivist),
		clerks:    map[string]string{},
	}
	for _, c := range []string{communityA, communityA2, communityA3} {
		at.clerks[c] = s.mint(t, "--role", "clerk", "--community", c, "--subject", "e2e-clerk-"+c)
	}
	return at
}

// submitAgreement creates and submits, with the enterprise's token, an
// agreement with community A's street office for the retirees ids, with
// a dossier each, a plan that counts them and premises, and no funds.
func (rc *restClient) submitAgreement(t *testing.T, token, agreementNo string, ids []string, premises []any) handoverDoc {
	t.Helper()
	dossiers := make([]map[string]any, len(ids))
	volumes := 0
	for i, id := range ids {
		dossiers[i] = map[string]any{"retireeId": id, "dossierNo": fmt.Sprintf("%s-%03d", agreementNo, i+1), "volumes": 1 + i%2,
			"checklist": []string{"RESUME", "AUTOBIOGRAPHY", "APPRAISAL", "EDUCATION_TITLES", "WAGES_APPOINTMENTS"}}
		volumes += 1 + i%2
	}
	var h handoverDoc
	rc.send(t, call{method: http.MethodPost, path: "/v1/handovers", token: token, body: map[string]any{
		"enterpriseCreditCode": creditCode, "receiverCode": communityA[:9], "retireeIds": ids, "dossiers": dossiers, "premises": premises,
		"plan": map[string]any{"retirees": len(ids), "archiveVolumes": volumes, "assets": "老干部活动中心一处", "agreementNo": agreementNo,
			"startOn": "2026-01-05", "finishBy": "2026-06-30", "emergencyPlanRef": "应急预案〔2026〕3号"},
	}}, http.StatusOK, &h)
	if h.State != "DRAFT" || h.ReceiverCode != communityA[:9] || h.CommunityID != "" || h.Kind != "AGREEMENT" {
		t.Fatalf("created %+v", h)
	}
	rc.send(t, call{method: http.MethodPost, path: "/v1/handovers/" + h.ID + ":submit", token: token, body: map[string]any{"etag": h.Etag}}, http.StatusOK, &h)
	if h.State != "SUBMITTED" || len(h.Allocations) != 0 {
		t.Fatalf("after submit: state %s, allocations %+v", h.State, h.Allocations)
	}
	return h
}

// wantTracks fails t unless h's tracks are in the states want, by kind.
func wantTracks(t *testing.T, h handoverDoc, want map[string]string) {
	t.Helper()
	if got := h.trackStates(); !maps.Equal(got, want) {
		t.Errorf("tracks %v, want %v", got, want)
	}
}

// TestAgreementREST is an agreement as the street office receives it,
// through the gateway and the real registry, handover and activity
// programs: an enterprise agrees to hand nine retirees and a clubhouse
// over to community A's street office; only the office's supervisors
// allocate and only the bureau verifies the roster; the street supervisor
// allocates the retirees in thirds to three communities, whose clerks
// each see their own part; the district's archivist receives the
// archives, the supervisor the premises with the group's approval, the
// bureau verifies the roster, each track completing on its own; the
// supervisor completes, and registry shows each retiree managed by the
// community it was allocated to.
func TestAgreementREST(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	send := api.send
	communities := []string{communityA, communityA2, communityA3}

	must(t, "registry: three communities of one street office, one elsewhere, and the enterprise", func(t *testing.T) {
		api.createCommunities(t, tk.admin)
		a, _ := communityBodies()
		for i, id := range communities[1:] {
			body := maps.Clone(a)
			body["id"], body["name"], body["households"] = id, fmt.Sprintf("太原街第%d社区", i+2), 1200+100*i
			send(t, call{method: http.MethodPost, path: "/v1/communities", token: tk.admin, body: body}, http.StatusOK, nil)
		}
		send(t, call{method: http.MethodPost, path: "/v1/enterprises", token: tk.bureau, body: map[string]any{
			"creditCode": creditCode, "name": "沈阳重型机械厂", "ownership": "STATE", "status": "BANKRUPT",
		}}, http.StatusOK, nil)
	})

	// Nine retirees for the agreement, a tenth for a probe package the
	// authorisation table may change.
	var ids []string
	var probeRetiree string
	must(t, "the enterprise registers its retirees", func(t *testing.T) {
		all := api.registerRetirees(t, s, tk.enterprise, 10)
		ids, probeRetiree = all[:9], all[9]
	})
	at := s.mintAgreementTokens(t)
	parts := map[string][]string{communityA: ids[0:3], communityA2: ids[3:6], communityA3: ids[6:9]}

	var h, probe handoverDoc
	must(t, "the enterprise agrees with the street office and submits", func(t *testing.T) {
		h = api.submitAgreement(t, tk.enterprise, "SY-XY-2026-001", ids, []any{map[string]any{
			"name": "机械厂老干部活动中心", "address": "和平区太原北街18号", "areaSqm": 260.5, "capacity": 60, "use": "文体活动",
		}})
		// The enterprise may read no party transfer: it gets no PARTY track.
		wantTracks(t, h, map[string]string{"SOCIAL_INSURANCE": "OPEN", "ARCHIVES": "OPEN", "PREMISES": "OPEN", "FUNDS": "NOT_APPLICABLE"})
		probe = api.submitAgreement(t, tk.enterprise, "SY-XY-2026-002", []string{probeRetiree}, nil)
	})
	path := "/v1/handovers/" + h.ID

	must(t, "who may allocate and verify the roster", func(t *testing.T) {
		agreementAuthorisation(t, api, tk, at, h, probe, ids[0])
	})

	must(t, "the street supervisor allocates the retirees in thirds", func(t *testing.T) {
		// Not complete while retirees are unallocated.
		r := send(t, call{method: http.MethodPost, path: path + ":complete", token: at.street, body: map[string]any{}}, http.StatusBadRequest, nil)
		if fields := r.status(t).violatedFields(); !slices.Contains(fields, "allocations") {
			t.Errorf("completion before the allocation names %q, want allocations among them", fields)
		}
		for _, c := range communities {
			send(t, call{method: http.MethodPost, path: path + ":allocate", token: at.street, body: map[string]any{
				"etag": h.Etag, "communityId": c, "retireeIds": parts[c],
			}}, http.StatusOK, &h)
		}
		if len(h.Allocations) != 3 || len(h.RetireeIDs) != len(ids) {
			t.Fatalf("the supervisor sees allocations %+v of %d retirees", h.Allocations, len(h.RetireeIDs))
		}
		for _, a := range h.Allocations {
			if !slices.Equal(a.RetireeIDs, parts[a.CommunityID]) {
				t.Errorf("allocated to %s: %q, want %q", a.CommunityID, a.RetireeIDs, parts[a.CommunityID])
			}
		}
	})

	must(t, "each clerk sees its own part", func(t *testing.T) {
		clerksSeeTheirParts(t, api, at, h.ID, parts)
		// Nor may a clerk of one part act for the receiving unit.
		send(t, call{method: http.MethodPost, path: path + ":return", token: at.clerks[communityA], body: map[string]any{"reason": "人数不符"}}, http.StatusForbidden, nil)
		// A clerk of another street's community sees nothing of it.
		send(t, call{method: http.MethodGet, path: path, token: tk.clerkB}, http.StatusForbidden, nil)
		var list struct {
			Handovers []handoverDoc `json:"handovers"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/handovers", token: tk.clerkB}, http.StatusOK, &list)
		if slices.ContainsFunc(list.Handovers, func(o handoverDoc) bool { return o.ID == h.ID }) {
			t.Errorf("clerk B's list shows %s", h.ID)
		}
	})

	must(t, "the archivist receives the archives", func(t *testing.T) {
		send(t, call{method: http.MethodGet, path: path, token: at.archivist}, http.StatusOK, nil)
		send(t, call{method: http.MethodPost, path: path + ":receiveArchives", token: at.archivist, body: map[string]any{
			"etag": h.Etag, "received": ids,
		}}, http.StatusOK, &h)
		// Nor does the archivist read a PARTY track.
		wantTracks(t, h, map[string]string{"SOCIAL_INSURANCE": "OPEN", "ARCHIVES": "COMPLETED", "PREMISES": "OPEN", "FUNDS": "NOT_APPLICABLE"})
		for _, tr := range h.Tracks {
			if tr.Kind == "ARCHIVES" && (tr.CompletedBy != subjectArchivist || tr.Items != int64(len(ids)) || tr.Settled != tr.Items) {
				t.Errorf("archives track %+v, want %d items settled by %s", tr, len(ids), subjectArchivist)
			}
		}
		// An archivist receives archives, and nothing else.
		send(t, call{method: http.MethodPost, path: path + ":inspectPremises", token: at.archivist, body: map[string]any{
			"premisesId": h.Premises[0].ID, "accepted": true, "groupApprovalRef": "X", "communityId": communityA2}}, http.StatusForbidden, nil)
	})

	must(t, "the street supervisor accepts the premises into a community with the group's approval", func(t *testing.T) {
		r := send(t, call{method: http.MethodPost, path: path + ":inspectPremises", token: at.street, body: map[string]any{
			"premisesId": h.Premises[0].ID, "accepted": true, "notes": "房屋结构完好"}}, http.StatusBadRequest, nil)
		if got := slices.Sorted(slices.Values(r.status(t).violatedFields())); !slices.Equal(got, []string{"communityId", "groupApprovalRef"}) {
			t.Errorf("accepted without approval and community: violations of %q, want communityId and groupApprovalRef: %s", got, r.body)
		}
		send(t, call{method: http.MethodPost, path: path + ":inspectPremises", token: at.street, body: map[string]any{
			"etag": h.Etag, "premisesId": h.Premises[0].ID, "accepted": true, "notes": "房屋结构完好，消防设施齐全",
			"groupApprovalRef": "沈重集团〔2026〕12号", "communityId": communityA2,
		}}, http.StatusOK, &h)
		if pr := h.Premises[0]; pr.Inspection != "ACCEPTED" || pr.CommunityID != communityA2 || pr.GroupApprovalRef == "" {
			t.Errorf("premises %+v", pr)
		}
		wantTracks(t, h, map[string]string{"SOCIAL_INSURANCE": "OPEN", "ARCHIVES": "COMPLETED", "PARTY": "NOT_APPLICABLE", "PREMISES": "COMPLETED", "FUNDS": "NOT_APPLICABLE"})
	})

	must(t, "the bureau verifies the roster", func(t *testing.T) {
		r := send(t, call{method: http.MethodPost, path: path + ":complete", token: at.street, body: map[string]any{}}, http.StatusBadRequest, nil)
		if got := r.status(t).violatedFields(); !slices.Equal(got, []string{"rosterVerification"}) {
			t.Errorf("completion before the verification names %q, want rosterVerification only: %s", got, r.body)
		}
		sha := strings.Repeat("AB", 32)
		send(t, call{method: http.MethodPost, path: path + ":verifyRoster", token: tk.bureau, body: map[string]any{
			"etag": h.Etag, "documentSha256": sha, "note": "花名册已签字盖章"}}, http.StatusOK, &h)
		if v := h.RosterVerification; v.VerifiedBy != subjectBureau || v.DocumentSha256 != strings.ToLower(sha) {
			t.Errorf("roster verification %+v", v)
		}
		wantTracks(t, h, map[string]string{"SOCIAL_INSURANCE": "COMPLETED", "ARCHIVES": "COMPLETED", "PARTY": "NOT_APPLICABLE", "PREMISES": "COMPLETED", "FUNDS": "NOT_APPLICABLE"})
	})

	must(t, "the street supervisor completes, and registry follows the allocation", func(t *testing.T) {
		send(t, call{method: http.MethodPost, path: path + ":complete", token: at.street, body: map[string]any{"etag": h.Etag}}, http.StatusOK, &h)
		// One assignment per community, one venue.
		if h.State != "COMPLETED" || h.Delivery.Commands != 4 {
			t.Fatalf("after complete: state %s, delivery %+v", h.State, h.Delivery)
		}
		for c, part := range parts {
			for _, id := range part {
				waitfor.NoError(t, "retiree "+id+" to be managed by "+c, func(context.Context) error {
					var r retiree
					send(t, call{method: http.MethodGet, path: retireePath(id), token: tk.admin}, http.StatusOK, &r)
					if r.CommunityID != c || r.ManagementMode != "COMMUNITY" {
						return fmt.Errorf("in %s, %s-managed", r.CommunityID, r.ManagementMode)
					}
					return nil
				})
			}
		}
		waitfor.NoError(t, "the handover to be delivered", func(context.Context) error {
			send(t, call{method: http.MethodGet, path: path, token: at.street}, http.StatusOK, &h)
			if h.Delivery.State != "DELIVERED" {
				return fmt.Errorf("delivery %+v", h.Delivery)
			}
			return nil
		})
		var venues struct {
			Venues []struct {
				ID string `json:"id"`
			} `json:"venues"`
		}
		send(t, call{method: http.MethodGet, path: "/v1/venues?communityId=" + communityA2, token: at.clerks[communityA2]}, http.StatusOK, &venues)
		if len(venues.Venues) != 1 || venues.Venues[0].ID != h.Premises[0].VenueID {
			t.Errorf("venues of %s: %+v, want the clubhouse %s", communityA2, venues.Venues, h.Premises[0].VenueID)
		}
	})

	must(t, "the timeline tells the story", func(t *testing.T) {
		var ev struct {
			Events []struct {
				Action    string `json:"action"`
				Actor     string `json:"actor"`
				ActorRole string `json:"actorRole"`
			} `json:"events"`
		}
		send(t, call{method: http.MethodGet, path: path + "/events", token: tk.enterprise}, http.StatusOK, &ev)
		var actions []string
		for _, e := range ev.Events {
			actions = append(actions, e.Action)
			if e.Action == "ARCHIVES_RECEIVED" && (e.Actor != subjectArchivist || e.ActorRole != "archivist") {
				t.Errorf("archives received by %s/%s", e.Actor, e.ActorRole)
			}
			if e.Action == "ALLOCATED" && (e.Actor != subjectStreet || e.ActorRole != "street") {
				t.Errorf("allocated by %s/%s", e.Actor, e.ActorRole)
			}
		}
		want := []string{"CREATED", "SUBMITTED", "ALLOCATED", "ALLOCATED", "ALLOCATED", "ARCHIVES_RECEIVED", "PREMISES_INSPECTED",
			"ROSTER_VERIFIED", "COMPLETED", "DELIVERED", "DELIVERED", "DELIVERED", "DELIVERED"}
		if !slices.Equal(actions, want) {
			t.Errorf("timeline %q, want %q", actions, want)
		}
	})
}

// clerksSeeTheirParts checks that the clerk of each community of parts
// reads handover id with that community's retirees, dossiers and
// allocation only, and finds it in its list.
func clerksSeeTheirParts(t *testing.T, api *restClient, at agreementTokens, id string, parts map[string][]string) {
	t.Helper()
	for c, part := range parts {
		t.Run(c, func(t *testing.T) {
			var got handoverDoc
			api.send(t, call{method: http.MethodGet, path: "/v1/handovers/" + id, token: at.clerks[c]}, http.StatusOK, &got)
			var dossiers []string
			for _, d := range got.Dossiers {
				dossiers = append(dossiers, d.RetireeID)
			}
			if !slices.Equal(got.RetireeIDs, part) || !slices.Equal(dossiers, part) {
				t.Errorf("clerk of %s sees retirees %q and dossiers %q, want %q", c, got.RetireeIDs, dossiers, part)
			}
			if len(got.Allocations) != 1 || got.Allocations[0].CommunityID != c {
				t.Errorf("clerk of %s sees allocations %+v", c, got.Allocations)
			}
			var list struct {
				Handovers []handoverDoc `json:"handovers"`
			}
			api.send(t, call{method: http.MethodGet, path: "/v1/handovers", token: at.clerks[c]}, http.StatusOK, &list)
			i := slices.IndexFunc(list.Handovers, func(o handoverDoc) bool { return o.ID == id })
			if i < 0 || !slices.Equal(list.Handovers[i].RetireeIDs, part) {
				t.Errorf("clerk of %s lists %+v, want %s with its part %q", c, list.Handovers, id, part)
			}
		})
	}
}

// agreementAuthorisation is the table of who may allocate the retirees
// of a submitted agreement and verify its roster, over REST: the callers
// that may not get 403 and change nothing of h; those that may succeed on
// probe, a package of the same street office whose only retiree is
// probe.RetireeIDs[0]; bad input is 400 naming the field; a missing
// handover is 404 only for those who may know it exists. notInProbe is a
// retiree of h.
func agreementAuthorisation(t *testing.T, api *restClient, tk tokens, at agreementTokens, h, probe handoverDoc, notInProbe string) {
	t.Helper()
	const missing = "/v1/handovers/H0000000000000000"
	mainPath, probePath := "/v1/handovers/"+h.ID, "/v1/handovers/"+probe.ID
	allocate := map[string]any{"communityId": communityA, "retireeIds": probe.RetireeIDs}
	verify := map[string]any{"documentSha256": strings.Repeat("0f", 32), "note": "花名册已核对"}
	tooMany := make([]string, 1001)
	for i := range tooMany {
		tooMany[i] = opaqueID(i)
	}
	type row struct {
		name   string
		token  string
		path   string // the handover's path; the route's suffix is the verb's
		verb   string
		body   map[string]any
		want   int
		fields []string // for a 400, the fields named
	}
	rows := []row{
		{"clerk allocates", at.clerks[communityA], mainPath, ":allocate", allocate, http.StatusForbidden, nil},
		{"clerk verifies", at.clerks[communityA], mainPath, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"enterprise allocates", tk.enterprise, mainPath, ":allocate", allocate, http.StatusForbidden, nil},
		{"enterprise verifies", tk.enterprise, mainPath, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"archivist allocates", at.archivist, mainPath, ":allocate", allocate, http.StatusForbidden, nil},
		{"archivist verifies", at.archivist, mainPath, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"street elsewhere allocates", at.streetB, mainPath, ":allocate", allocate, http.StatusForbidden, nil},
		{"street elsewhere verifies", at.streetB, mainPath, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"street verifies", at.street, mainPath, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"district verifies", at.district, mainPath, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"bureau allocates", tk.bureau, mainPath, ":allocate", allocate, http.StatusForbidden, nil},

		{"bureau verifies", tk.bureau, probePath, ":verifyRoster", verify, http.StatusOK, nil},
		{"admin verifies", tk.admin, probePath, ":verifyRoster", verify, http.StatusOK, nil},
		{"street allocates", at.street, probePath, ":allocate", allocate, http.StatusOK, nil},
		{"district allocates", at.district, probePath, ":allocate", map[string]any{"communityId": communityA2, "retireeIds": probe.RetireeIDs}, http.StatusOK, nil},
		{"admin allocates", tk.admin, probePath, ":allocate", map[string]any{"communityId": communityA3, "retireeIds": probe.RetireeIDs}, http.StatusOK, nil},

		{"clerk, a missing handover", at.clerks[communityA], missing, ":allocate", allocate, http.StatusForbidden, nil},
		{"street elsewhere, a missing handover", at.streetB, missing, ":allocate", allocate, http.StatusForbidden, nil},
		{"street, a missing handover", at.street, missing, ":allocate", allocate, http.StatusForbidden, nil},
		{"clerk verifies a missing handover", at.clerks[communityA], missing, ":verifyRoster", verify, http.StatusForbidden, nil},
		{"admin allocates in a missing handover", tk.admin, missing, ":allocate", allocate, http.StatusNotFound, nil},
		{"admin verifies a missing handover", tk.admin, missing, ":verifyRoster", verify, http.StatusNotFound, nil},
		{"bureau verifies a missing handover", tk.bureau, missing, ":verifyRoster", verify, http.StatusNotFound, nil},

		{"a community outside the street", at.street, mainPath, ":allocate", map[string]any{"communityId": communityB, "retireeIds": probe.RetireeIDs}, http.StatusBadRequest, []string{"communityId"}},
		{"a retiree not in the package", at.street, probePath, ":allocate", map[string]any{"communityId": communityA, "retireeIds": []string{notInProbe}}, http.StatusBadRequest, []string{"retireeIds[0]"}},
		{"more than 1,000 retirees", at.street, mainPath, ":allocate", map[string]any{"communityId": communityA, "retireeIds": tooMany}, http.StatusBadRequest, []string{"retireeIds"}},
		{"a malformed sha", tk.bureau, mainPath, ":verifyRoster", map[string]any{"documentSha256": "abc"}, http.StatusBadRequest, []string{"documentSha256"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			c := call{method: http.MethodPost, path: r.path + r.verb, token: r.token, body: r.body}
			reply := api.do(t, c)
			if !reply.want(t, c, r.want) || r.fields == nil {
				return
			}
			if got := reply.status(t).violatedFields(); !slices.Equal(got, r.fields) {
				t.Errorf("violations of %q, want %q: %s", got, r.fields, reply.body)
			}
		})
	}
	// Nothing refused changed the agreement.
	var after handoverDoc
	api.send(t, call{method: http.MethodGet, path: mainPath, token: tk.bureau}, http.StatusOK, &after)
	if after.Etag != h.Etag || len(after.Allocations) != 0 || after.RosterVerification.VerifiedBy != "" {
		t.Errorf("refused calls changed the agreement: etag %s -> %s, allocations %+v, verification %+v",
			h.Etag, after.Etag, after.Allocations, after.RosterVerification)
	}
	// The calls that might went through on the probe.
	api.send(t, call{method: http.MethodGet, path: probePath, token: tk.bureau}, http.StatusOK, &after)
	if len(after.Allocations) != 1 || after.Allocations[0].CommunityID != communityA3 || after.RosterVerification.VerifiedBy != subjectAdmin {
		t.Errorf("the probe after the table: allocations %+v, verification %+v", after.Allocations, after.RosterVerification)
	}
}

// opaqueID is the i-th of a run of well-formed retiree ids no retiree
// has: "zz" and i in base 32, in 16 characters of the ids' alphabet.
func opaqueID(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz234567"
	b := []byte("zzaaaaaaaaaaaaaa")
	for j := len(b) - 1; i > 0; j-- {
		b[j] = alphabet[i%len(alphabet)]
		i /= len(alphabet)
	}
	return string(b)
}
