package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// startFullGateway starts the fake upstream (registry, and the other
// services answering Unimplemented) and a gateway in front of all five.
func startFullGateway(t *testing.T, change func(*Config)) (*testUpstream, string) {
	t.Helper()
	up := startUpstream(t)
	cfg := testConfig(up.addr)
	cfg.HandoverAddr, cfg.PensionAddr, cfg.ActivityAddr, cfg.CaseworkAddr = up.addr, up.addr, up.addr, up.addr
	if change != nil {
		change(&cfg)
	}
	_, url := startGateway(t, cfg, zaptest.NewLogger(t))
	return up, url
}

// wantViolation fails t unless body is a google.rpc.Status with code
// InvalidArgument and one BadRequest violation of field.
func wantViolation(t *testing.T, body []byte, field string) statusBody {
	t.Helper()
	st := decodeStatus(t, body)
	if st.Code != codes.InvalidArgument {
		t.Errorf("code %v, want InvalidArgument; body %s", st.Code, body)
	}
	var fields []string
	for _, d := range st.Details {
		if d["@type"] != "type.googleapis.com/google.rpc.BadRequest" {
			continue
		}
		vs, _ := d["fieldViolations"].([]any)
		for _, v := range vs {
			if m, ok := v.(map[string]any); ok {
				fields = append(fields, fmt.Sprint(m["field"]))
			}
		}
	}
	if !cmp.Equal(fields, []string{field}) {
		t.Errorf("violations of %q, want one of %q; body %s", fields, field, body)
	}
	return st
}

// TestInputThatIsNotText: a path segment or query value that is not UTF-8,
// or a query string that does not parse, is a 400 naming the field, sent
// before anything reaches an upstream (and so before authentication).
func TestInputThatIsNotText(t *testing.T) {
	t.Parallel()
	up, base := startFullGateway(t, nil)
	tests := []struct {
		name, method, target, field string
	}{
		{"retiree id", http.MethodGet, "/v1/retirees/%FF", "id"},
		{"retiree id, truncated sequence", http.MethodGet, "/v1/retirees/%E5%BC", "id"},
		{"retiree id of a custom method", http.MethodPost, "/v1/retirees/%FF:transfer", "id"},
		{"retiree id of an update", http.MethodPatch, "/v1/retirees/%C3%28", "retiree.id"},
		{"credit code", http.MethodGet, "/v1/enterprises/%FF", "creditCode"},
		{"pension's retiree id", http.MethodGet, "/v1/retirees/%FF/payments", "retireeId"},
		{"calendar's community", http.MethodGet, "/v1/communities/%FF/calendar.ics", "id"},
		{"query value", http.MethodGet, "/v1/retirees?communityId=%FF", "communityId"},
		{"query value of a route without query fields", http.MethodGet, "/v1/retirees/r-1?x=%FF", "x"},
		{"query name", http.MethodGet, "/v1/retirees?%FF=1", "query"},
		{"query value whose name is not shown", http.MethodGet, "/v1/retirees?%E4%BD%A0=%FF", "query"},
		{"bad escape in the query", http.MethodGet, "/v1/retirees?communityId=%zz", "query"},
		{"semicolon in the query", http.MethodGet, "/v1/retirees?communityId=1;status=LIVING", "query"},
		{"query of an unknown path", http.MethodGet, "/no/such/path?x=%FF", "x"},
	}
	for _, tc := range tests {
		for _, token := range []string{"", "Bearer aaa.bbb.ccc"} {
			t.Run(fmt.Sprintf("%s, token %v", tc.name, token != ""), func(t *testing.T) {
				noCall := up.fake.noCallsFromNow()
				req := newRequest(t, tc.method, base+tc.target, "{}", map[string]string{"Authorization": token})
				resp := sendWant(t, req, http.StatusBadRequest)
				wantViolation(t, resp.body, tc.field)
				noCall(t)
			})
		}
	}
}

// TestBodyWithMoreThanOneValue: data after the body's JSON value is a 400,
// on every kind of route that takes a body; white space is not data.
func TestBodyWithMoreThanOneValue(t *testing.T) {
	t.Parallel()
	up, base := startBehindGateway(t)
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"create, garbage after", http.MethodPost, "/v1/retirees", `{"name":"张三"} garbage`, http.StatusBadRequest},
		{"create, two values", http.MethodPost, "/v1/retirees", `{"name":"张三"}{"name":"李四"}`, http.StatusBadRequest},
		{"create, closing bracket after", http.MethodPost, "/v1/retirees", `{"name":"张三"}]`, http.StatusBadRequest},
		{"create, a number after", http.MethodPost, "/v1/retirees", "{\"name\":\"张三\"}\n1", http.StatusBadRequest},
		{"create, white space after", http.MethodPost, "/v1/retirees", "{\"name\":\"张三\"} \r\n\t", http.StatusOK},
		{"custom method, two values", http.MethodPost, "/v1/retirees:lookup", `{"idNumber":"11010519491231002X"}{}`, http.StatusBadRequest},
		{"custom method on a resource", http.MethodPost, "/v1/retirees/r-1:transfer", `{"toCommunityId":"210102001002"} x`, http.StatusBadRequest},
		{"update, two values", http.MethodPatch, "/v1/retirees/r-1", `{"name":"张三","etag":"r7"}{"name":"李四"}`, http.StatusBadRequest},
		{"update, white space after", http.MethodPatch, "/v1/retirees/r-1", "{\"name\":\"张三\",\"etag\":\"r7\"}\n", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noCall := up.fake.noCallsFromNow()
			resp := sendWant(t, newRequest(t, tc.method, base+tc.path, tc.body, nil), tc.want)
			if tc.want == http.StatusOK {
				return
			}
			st := decodeStatus(t, resp.body)
			if st.Code != codes.InvalidArgument || !strings.Contains(st.Message, "more than one JSON value") {
				t.Errorf("status %v %q", st.Code, st.Message)
			}
			noCall(t)
		})
	}
}

// TestUnknownQueryParameter: a query parameter that names no field the
// route fills from the query is a 400 naming it, whatever kind of route it
// is sent to; one that does name such a field reaches the upstream.
func TestUnknownQueryParameter(t *testing.T) {
	t.Parallel()
	up, base := startFullGateway(t, nil)
	tests := []struct {
		name, method, target, body, field string
	}{
		{"list", http.MethodGet, "/v1/retirees?communityId=210102001001&bogus=1", "", "bogus"},
		{"misspelt filter", http.MethodGet, "/v1/retirees?communityID=210102001001", "", "communityID"},
		{"a field twice, by both names", http.MethodGet, "/v1/retirees?communityId=210102001001&community_id=210102001001", "", "community_id"},
		{"path parameter given in the query", http.MethodGet, "/v1/retirees/r-1/history?id=r-2", "", "id"},
		{"nested path into a scalar", http.MethodGet, "/v1/retirees?pageSize.value=1", "", "pageSize.value"},
		{"route without query fields", http.MethodGet, "/v1/retirees/r-1?bogus=1", "", "bogus"},
		{"gateway's health", http.MethodGet, "/healthz?verbose=1", "", "verbose"},
		{"gateway's document", http.MethodGet, "/openapi.json?format=yaml", "", "format"},
		{"calendar", http.MethodGet, "/v1/communities/210102001001/calendar.ics?token=x", "", "token"},
		{"custom method with the whole body", http.MethodPost, "/v1/retirees:lookup?idNumber=1", `{"idNumber":"11010519491231002X"}`, "idNumber"},
		{"update, a field of the body", http.MethodPatch, "/v1/retirees/r-1?retiree.name=x", `{"name":"张三","etag":"r7"}`, "retiree.name"},
		{"a name that is not shown", http.MethodGet, "/v1/retirees?110105194912310021=1", "", "query"},
		{"invalid number", http.MethodGet, "/v1/retirees?pageSize=110105194912310021x", "", "pageSize"},
		{"unknown enum value", http.MethodGet, "/v1/retirees?managementMode=SOMETIMES", "", "managementMode"},
		{"map syntax", http.MethodGet, "/v1/retirees?status[x]=LIVING", "", "query"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			noCall := up.fake.noCallsFromNow()
			resp := sendWant(t, newRequest(t, tc.method, base+tc.target, tc.body, nil), http.StatusBadRequest)
			wantViolation(t, resp.body, tc.field)
			if strings.Contains(string(resp.body), "110105194912310021") {
				t.Errorf("the answer repeats a value: %s", resp.body)
			}
			noCall(t)
		})
	}

	t.Run("known parameters reach the upstream", func(t *testing.T) {
		sendWant(t, newRequest(t, http.MethodGet, base+"/v1/retirees?community_id=210102001001&managementMode=COMMUNITY&status=LIVING&pageSize=2&pageToken=t&name=%E7%A7%80%E8%8B%B1&idNumberTail=002X", "", nil), http.StatusOK)
		want := &registryv1.ListRetireesRequest{
			CommunityId: "210102001001", ManagementMode: registryv1.ManagementMode_COMMUNITY,
			Status: registryv1.RetireeStatus_LIVING, PageSize: 2, PageToken: "t",
			Name: "秀英", IdNumberTail: "002X",
		}
		if diff := cmp.Diff(want, up.fake.lastCall(t).req, protocmp.Transform()); diff != "" {
			t.Errorf("upstream request (-want +got):\n%s", diff)
		}
	})
}

// openAPIOperation is what TestEveryRouteRefusesUnknownQueryParameters
// reads of an operation of the served document.
type openAPIOperation struct {
	Parameters []struct {
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema struct {
			Type   string   `json:"type"`
			Enum   []string `json:"enum"`
			Format string   `json:"format"`
			// Items is the schema of a repeated parameter's values.
			Items struct {
				Enum []string `json:"enum"`
			} `json:"items"`
		} `json:"schema"`
	} `json:"parameters"`
}

// TestEveryRouteRefusesUnknownQueryParameters walks every operation of the
// served OpenAPI document, the gateway's own routes among them: an unknown
// query parameter is a 400 naming it and reaches no upstream, and each
// query parameter the document declares is taken. The document and the parser's
// rule are derived separately from the protos, so this also shows that
// they agree.
func TestEveryRouteRefusesUnknownQueryParameters(t *testing.T) {
	t.Parallel()
	up, base := startFullGateway(t, nil)
	var doc struct {
		Paths map[string]map[string]openAPIOperation `json:"paths"`
	}
	if err := json.Unmarshal(getOpenAPI(t).body, &doc); err != nil {
		t.Fatal(err)
	}
	paths := slices.Sorted(func(yield func(string) bool) {
		for p := range doc.Paths {
			if !yield(p) {
				return
			}
		}
	})
	gets := 0
	for _, path := range paths {
		methods := make([]string, 0, len(doc.Paths[path]))
		for m := range doc.Paths[path] {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := doc.Paths[path][method]
			if method == "get" {
				gets++
			}
			target := fillPath(t, path, op)
			t.Run(strings.ToUpper(method)+" "+path, func(t *testing.T) {
				checkQueryParameters(t, up, base, strings.ToUpper(method), target, op)
			})
		}
	}
	if gets < 20 {
		t.Errorf("walked %d GET routes; the document lists fewer than expected", gets)
	}
}

// fillPath puts a value of the right type into each path parameter.
func fillPath(t *testing.T, path string, op openAPIOperation) string {
	t.Helper()
	for _, p := range op.Parameters {
		if p.In != "path" {
			continue
		}
		v := "p-1"
		if p.Schema.Type == "integer" {
			v = "2026"
		}
		path = strings.Replace(path, "{"+p.Name+"}", v, 1)
	}
	if strings.Contains(path, "{") {
		path = strings.ReplaceAll(strings.ReplaceAll(path, "{id}", "p-1"), "{", "")
	}
	return path
}

func checkQueryParameters(t *testing.T, up *testUpstream, base, method, target string, op openAPIOperation) {
	body := ""
	if method == http.MethodPost || method == http.MethodPatch {
		body = "{}"
	}
	noCall := up.fake.noCallsFromNow()
	resp := sendWant(t, newRequest(t, method, base+target+"?bogusParam=1", body, nil), http.StatusBadRequest)
	wantViolation(t, resp.body, "bogusParam")
	noCall(t)

	for _, p := range op.Parameters {
		if p.In != "query" {
			continue
		}
		v := "x"
		switch {
		case p.Schema.Type == "integer", p.Schema.Format == "int64", p.Schema.Format == "uint64":
			v = "1"
		case p.Schema.Type == "boolean":
			v = "true"
		case len(p.Schema.Enum) > 1:
			v = p.Schema.Enum[1]
		case len(p.Schema.Items.Enum) > 1:
			v = p.Schema.Items.Enum[1]
		}
		resp := send(t, newRequest(t, method, base+target+"?"+url.Values{p.Name: {v}}.Encode(), body, nil))
		if resp.code == http.StatusBadRequest {
			t.Errorf("declared parameter %s=%s refused: %s", p.Name, v, resp.body)
		}
	}
}

// FuzzStrictQueryParser: any parameter is read without panicking; one that
// is taken names a field the request has and the route does not bind
// elsewhere, and leaves a message that marshals (so the upstream call
// cannot fail for it).
func FuzzStrictQueryParser(f *testing.F) {
	for _, kv := range [][2]string{
		{"communityId", "210102001001"}, {"community_id", "x"}, {"pageSize", "abc"}, {"status", "LIVING"},
		{"status", "3"}, {"retiree.name", "x"}, {"retiree.id", "x"}, {"updateMask", "name,phone"}, {"a[b]", "c"}, {"", ""}, {".", "x"},
		{"flags", "AGED_80_PLUS"}, {"flags", "99"}, {"minAge", "80"}, {"max_age", "-1"}, {"residenceKind", "ABROAD"},
	} {
		f.Add(kv[0], kv[1], false)
		f.Add(kv[0], kv[1], true)
	}
	// UpdateRetireeRequest's filter as the generated code has it: the
	// body field retiree and the path's retiree.id.
	updateFilter := utilities.NewDoubleArray([][]string{{"retiree"}, {"retiree", "id"}})
	f.Fuzz(func(t *testing.T, key, value string, update bool) {
		var msg proto.Message = &registryv1.ListRetireesRequest{}
		filter := utilities.NewDoubleArray(nil)
		if update {
			msg, filter = &registryv1.UpdateRetireeRequest{}, updateFilter
		}
		err := (&strictQueryParser{}).Parse(msg, url.Values{key: {value}}, filter)
		if err != nil {
			var qerr queryParamError
			if !errors.As(err, &qerr) {
				t.Fatalf("error %T %v", err, err)
			}
			return
		}
		path, ok := queryFieldPath(msg.ProtoReflect().Descriptor(), key)
		if !ok || filter.HasCommonPrefix(path) {
			t.Fatalf("%q taken: path %q", key, path)
		}
		if _, err := proto.Marshal(msg); err != nil {
			t.Fatalf("%q=%q leaves a message that does not marshal: %v", key, value, err)
		}
	})
}
