package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap/zaptest"
)

// servedDocument is the document /openapi.json serves, decoded.
func servedDocument(t *testing.T) map[string]any {
	t.Helper()
	raw, err := OpenAPIDocument()
	if err != nil {
		t.Fatalf("OpenAPIDocument: %v", err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// operations lists the document's operations as "METHOD path", sorted,
// with the operations themselves.
func operations(t *testing.T, doc map[string]any) ([]string, map[string]map[string]any) {
	t.Helper()
	ops := map[string]map[string]any{}
	for p, item := range obj(t, doc["paths"]) {
		for method, op := range obj(t, item) {
			ops[strings.ToUpper(method)+" "+p] = obj(t, op)
		}
	}
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, ops
}

func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%T where an object belongs", v)
	}
	return m
}

// pathParam matches a path template's parameters, {id}.
var pathParam = regexp.MustCompile(`\{[^}]*\}`)

// TestOpenAPIDocumentShape checks the served document for what the
// validators and generators tripped over: two paths for one URL shape,
// $ref with siblings, definitions nothing uses, operations without 4xx
// answers, path parameters that are not the operation's, custom methods
// that are not literal, operation ids that are not unique.
func TestOpenAPIDocumentShape(t *testing.T) {
	t.Parallel()
	doc := servedDocument(t)
	if doc["openapi"] != "3.0.3" {
		t.Errorf("openapi %v, want 3.0.3", doc["openapi"])
	}
	keys, ops := operations(t, doc)

	t.Run("one path per URL shape", func(t *testing.T) {
		shapes := map[string]string{}
		for p := range obj(t, doc["paths"]) {
			shape := pathParam.ReplaceAllString(p, "{}")
			if other, dup := shapes[shape]; dup {
				t.Errorf("%s and %s are one URL shape", other, p)
			}
			shapes[shape] = p
		}
	})
	t.Run("no $ref with siblings", func(t *testing.T) {
		walkJSON(doc, "", func(at string, m map[string]any) {
			if _, ok := m["$ref"]; ok && len(m) > 1 {
				t.Errorf("%s: $ref with siblings %v", at, slices.Sorted(maps.Keys(m)))
			}
		})
	})
	t.Run("every component is used", func(t *testing.T) {
		used := map[string]bool{}
		walkJSON(doc, "", func(_ string, m map[string]any) {
			if ref, ok := m["$ref"].(string); ok {
				used[ref] = true
			}
		})
		for kind, named := range obj(t, doc["components"]) {
			if kind == "securitySchemes" {
				continue // used by name in security requirements
			}
			for name := range obj(t, named) {
				if ref := "#/components/" + kind + "/" + name; !used[ref] {
					t.Errorf("%s is not used", ref)
				}
			}
		}
	})
	t.Run("operation ids are unique and name their method", func(t *testing.T) {
		seen := map[string]string{}
		for _, k := range keys {
			id, _ := ops[k]["operationId"].(string)
			if !regexp.MustCompile(`^[A-Z][A-Za-z]*_[A-Z][A-Za-z]*$`).MatchString(id) {
				t.Errorf("%s: operationId %q is not Service_Method", k, id)
			}
			if other, dup := seen[id]; dup {
				t.Errorf("%s and %s share operationId %q", other, k, id)
			}
			seen[id] = k
		}
	})
	t.Run("path parameters are the template's", func(t *testing.T) {
		for _, k := range keys {
			_, p, _ := strings.Cut(k, " ")
			var inTemplate, declared []string
			for _, m := range pathParam.FindAllString(p, -1) {
				inTemplate = append(inTemplate, strings.Trim(m, "{}"))
			}
			params, _ := ops[k]["parameters"].([]any)
			for _, param := range params {
				if param := obj(t, param); param["in"] == "path" {
					declared = append(declared, param["name"].(string))
				}
			}
			slices.Sort(inTemplate)
			slices.Sort(declared)
			if !slices.Equal(inTemplate, declared) {
				t.Errorf("%s: template has %q, operation declares %q", k, inTemplate, declared)
			}
			if strings.Contains(p, ".") && !strings.HasSuffix(p, ".ics") && !strings.HasSuffix(p, ".json") {
				t.Errorf("%s: a dotted name in the path", k)
			}
		}
	})
	t.Run("custom methods are literal", func(t *testing.T) {
		for _, want := range []string{
			"POST /v1/retirees:lookup", "POST /v1/retirees/{id}:transfer", "POST /v1/retirees/{id}:recordDeath",
			"POST /v1/handovers/{id}:submit", "POST /v1/handovers/{id}:return", "POST /v1/activities/{id}:cancel",
			"GET /v1/certifications:overdue", "GET /v1/payments:anomalies", "POST /v1/pension:query",
		} {
			if ops[want] == nil {
				t.Errorf("%s is not in the document", want)
			}
		}
	})
	t.Run("every operation declares its 4xx answers as google.rpc.Status", func(t *testing.T) {
		for _, k := range keys {
			n := 0
			for code, resp := range obj(t, ops[k]["responses"]) {
				if !strings.HasPrefix(code, "4") {
					continue
				}
				n++
				if schema := responseSchema(t, doc, resp); schema != "#/components/schemas/rpcStatus" {
					t.Errorf("%s: %s answers %q, not rpcStatus", k, code, schema)
				}
			}
			if n == 0 {
				t.Errorf("%s declares no 4xx answer", k)
			}
		}
	})
}

// responseSchema returns the $ref of the JSON schema of resp, following
// resp's own $ref to components.responses.
func responseSchema(t *testing.T, doc map[string]any, resp any) string {
	t.Helper()
	r := obj(t, resp)
	if ref, ok := r["$ref"].(string); ok {
		r = obj(t, obj(t, obj(t, doc["components"])["responses"])[strings.TrimPrefix(ref, responseRefPrefix)])
	}
	content, _ := r["content"].(map[string]any)
	mt, _ := content["application/json"].(map[string]any)
	schema, _ := mt["schema"].(map[string]any)
	ref, _ := schema["$ref"].(string)
	return ref
}

// walkJSON calls f with every object in v and where it is.
func walkJSON(v any, at string, f func(at string, m map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		f(at, v)
		for k, e := range v {
			walkJSON(e, at+"/"+k, f)
		}
	case []any:
		for _, e := range v {
			walkJSON(e, at+"[]", f)
		}
	}
}

// TestOpenAPIDocumentDescribes checks what the document says besides its
// shape: bearer authentication, the error details, the gateway's own
// routes, and that kin-openapi's validator passes it too.
func TestOpenAPIDocumentDescribes(t *testing.T) {
	t.Parallel()
	raw, err := OpenAPIDocument()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Errorf("kin-openapi validation: %v", err)
	}
	bearer := loaded.Components.SecuritySchemes["bearer"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" {
		t.Errorf("bearer security scheme %+v, want http/bearer", bearer)
	}
	if diff := cmp.Diff(openapi3.SecurityRequirements{{"bearer": {}}}, loaded.Security); diff != "" {
		t.Errorf("document security (-want +got):\n%s", diff)
	}
	details := loaded.Components.Schemas["rpcStatus"].Value.Properties["details"].Value.Items.Value.AnyOf
	var detailRefs []string
	for _, d := range details {
		detailRefs = append(detailRefs, d.Ref)
	}
	if diff := cmp.Diff([]string{schemaRefPrefix + "rpcBadRequest", schemaRefPrefix + "rpcErrorInfo", schemaRefPrefix + "protobufAny"}, detailRefs); diff != "" {
		t.Errorf("rpcStatus details (-want +got):\n%s", diff)
	}
	for _, p := range []string{healthzRoute, openAPIRoute, feedRoute} {
		op := loaded.Paths.Value(p).Get
		if op == nil || op.Security == nil || len(*op.Security) != 0 {
			t.Errorf("GET %s: not described as needing no token", p)
		}
	}
	for _, p := range []string{calendarRoute, feedRoute} {
		cal := loaded.Paths.Value(p)
		if cal == nil || cal.Get.Responses.Status(http.StatusOK).Value.Content.Get("text/calendar") == nil {
			t.Errorf("GET %s is not described as text/calendar", p)
		}
	}
	if exp := loaded.Paths.Value(exportRoute); exp == nil || exp.Get.Responses.Status(http.StatusOK).Value.Content.Get("text/csv") == nil {
		t.Errorf("GET %s is not described as text/csv", exportRoute)
	}
	if op := loaded.Paths.Value("/v1/retirees/{id}").Patch; op == nil || op.OperationID != "RegistryService_UpdateRetiree" {
		t.Errorf("PATCH /v1/retirees/{id} is not UpdateRetiree: %+v", op)
	}
}

// TestOpenAPIDocumentCoversEveryRoute walks the gateway's mux: every
// documented operation is served, on the route of the same URL shape, and
// every route the mux serves is documented.
func TestOpenAPIDocumentCoversEveryRoute(t *testing.T) {
	t.Parallel()
	cfg := testConfig("127.0.0.1:1") // dialled lazily, never reached
	cfg.HandoverAddr, cfg.PensionAddr, cfg.ActivityAddr, cfg.CaseworkAddr = "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1", "127.0.0.1:1"
	g, err := New(cfg, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	keys, _ := operations(t, servedDocument(t))
	served := map[int]string{}
	for _, k := range keys {
		method, p, _ := strings.Cut(k, " ")
		url := pathParam.ReplaceAllString(p, "p1")
		got := g.probeRoute(httptest.NewRequest(method, url, nil))
		if got.route == 0 {
			t.Errorf("%s is documented but not served (probed %s %s)", k, method, url)
			continue
		}
		if pattern := routeShape(got.pattern); pattern != pathParam.ReplaceAllString(p, "{}") {
			t.Errorf("%s is served by the route %s", k, got.pattern)
		}
		if other, dup := served[got.route]; dup {
			t.Errorf("%s and %s are one route", other, k)
		}
		served[got.route] = k
	}
	if len(served) != g.routes {
		t.Errorf("the mux serves %d routes, the document describes %d of them: describe a route the gateway serves itself in openapi_gateway.yaml", g.routes, len(served))
	}
}

// routeShape spells a grpc-gateway pattern, /v1/retirees/{retiree.id=*},
// as a URL shape, /v1/retirees/{}.
func routeShape(pattern string) string {
	return pathParam.ReplaceAllString(pattern, "{}")
}

func TestToOpenAPI3(t *testing.T) {
	const gatewayDoc = `
openapi: 3.0.3
info: {title: t, version: v1}
security: [{bearer: []}]
paths:
  /own:
    get:
      operationId: Gateway_Own
      responses:
        "200": {description: ok}
        "400": {$ref: "#/components/responses/BadRequest"}
components:
  securitySchemes:
    bearer: {type: http, scheme: bearer}
  responses:
    BadRequest: {description: bad, content: {application/json: {schema: {$ref: "#/components/schemas/rpcStatus"}}}}
    Unauthorized: {description: x}
    Forbidden: {description: x}
    NotFound: {description: x}
    Conflict: {description: x}
    PreconditionFailed: {description: x}
    PayloadTooLarge: {description: x}
    TooManyRequests: {description: x}
    Error: {description: x}
  schemas:
    rpcStatus: {type: object, properties: {code: {type: integer}}}
`
	swagger := func(paths, defs string) []byte {
		return []byte(`{"swagger":"2.0","info":{"title":"x","version":"v1"},"consumes":["application/json"],"produces":["application/json"],"paths":{` + paths + `},"definitions":{` + defs + `}}`)
	}
	const thing = `"v1Thing":{"type":"object","properties":{"id":{"type":"string"},"etag":{"type":"string"},"part":{"$ref":"#/definitions/v1Part"}}},"v1Part":{"type":"object"}`
	get := `{"operationId":"S_GetThing","summary":"GetThing returns a thing.","parameters":[{"name":"id","in":"path","required":true,"type":"string"}],"responses":{"200":{"description":"","schema":{"$ref":"#/definitions/v1Thing"}},"default":{"description":"e","schema":{"$ref":"#/definitions/rpcStatus"}}}}`
	patch := `{"operationId":"S_UpdateThing","summary":"Update.","description":"UpdateThing changes a thing.","parameters":[{"name":"thing.id","in":"path","required":true,"type":"string"},{"name":"thing","in":"body","required":true,"schema":{"$ref":"#/definitions/v1Thing"}}],"responses":{"200":{"description":"A successful response.","schema":{"$ref":"#/definitions/v1Thing"}}}}`
	list := `{"operationId":"S_ListThings","summary":"ListThings lists things.","responses":{"200":{"description":"A successful response.","schema":{"type":"object"}}}}`

	tests := []struct {
		name    string
		v2      []byte
		check   func(t *testing.T, doc *openapi3.T)
		wantErr error
	}{
		{
			name: "nested parameter joined, answers declared, unused schemas pruned",
			v2: swagger(`"/v1/things/{id}":{"get":`+get+`},"/v1/things/{thing.id}":{"patch":`+patch+`},"/v1/things":{"get":`+list+`}`,
				thing+`,"v1Unused":{"type":"object"},"rpcStatus":{"type":"object"}`),
			check: func(t *testing.T, doc *openapi3.T) {
				if doc.Paths.Len() != 3 {
					t.Errorf("paths %v", doc.Paths.Keys())
				}
				item := doc.Paths.Value("/v1/things/{id}")
				if item == nil || item.Get == nil || item.Patch == nil {
					t.Fatalf("GET and PATCH are not one path: %v", doc.Paths.Keys())
				}
				if got := item.Patch.Parameters[0].Value.Name; got != "id" {
					t.Errorf("PATCH parameter %q, want id", got)
				}
				want := map[string][]string{
					"GET /v1/things/{id}":   {"200", "400", "401", "403", "404", "412", "429", "default"},
					"PATCH /v1/things/{id}": {"200", "400", "401", "403", "404", "409", "412", "413", "429", "default"},
					"GET /v1/things":        {"200", "400", "401", "403", "429", "default"},
					"GET /own":              {"200", "400"},
				}
				for k, codes := range want {
					method, p, _ := strings.Cut(k, " ")
					op := doc.Paths.Value(p).GetOperation(method)
					if diff := cmp.Diff(codes, slices.Sorted(maps.Keys(op.Responses.Map()))); diff != "" {
						t.Errorf("%s answers (-want +got):\n%s", k, diff)
					}
				}
				if diff := cmp.Diff([]string{"rpcStatus", "v1Part", "v1Thing"}, slices.Sorted(maps.Keys(doc.Components.Schemas))); diff != "" {
					t.Errorf("schemas (-want +got):\n%s", diff)
				}
				if op := item.Get; op.Summary != "Get thing" || op.Description != "GetThing returns a thing." {
					t.Errorf("GET summary %q, description %q", op.Summary, op.Description)
				}
				if op := item.Patch; op.Summary != "Update." || op.Description != "UpdateThing changes a thing." {
					t.Errorf("PATCH summary %q, description %q", op.Summary, op.Description)
				}
				if d := item.Get.Responses.Status(http.StatusOK).Value.Description; *d != successDescription {
					t.Errorf("200 description %q", *d)
				}
				if doc.Info.Title != "t" || doc.Components.SecuritySchemes["bearer"] == nil {
					t.Errorf("the gateway's info and security are not the document's: %+v", doc.Info)
				}
			},
		},
		{
			name:    "a nested parameter that lands on an operation already there",
			v2:      swagger(`"/v1/things/{id}":{"patch":`+patch+`},"/v1/things/{thing.id}":{"patch":`+patch+`}`, thing+`,"rpcStatus":{"type":"object"}`),
			wantErr: ErrOpenAPIConflict,
		},
		{
			name:    "a generated route the gateway describes too",
			v2:      swagger(`"/own":{"get":`+list+`}`, `"rpcStatus":{"type":"object"}`),
			wantErr: ErrOpenAPIConflict,
		},
		{
			name:    "a reference to a schema nobody describes",
			v2:      swagger(`"/v1/things":{"get":{"operationId":"S_X","responses":{"200":{"description":"ok","schema":{"$ref":"#/definitions/v1Thing"}}}}}`, `"v1Thing":{"type":"object","properties":{"p":{"$ref":"#/definitions/v1Part"}}},"rpcStatus":{"type":"object"}`),
			wantErr: errors.New("any"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := toOpenAPI3(tc.v2, []byte(gatewayDoc))
			if tc.wantErr != nil {
				if err == nil {
					t.Fatal("no error")
				}
				if errors.Is(tc.wantErr, ErrOpenAPIConflict) && !errors.Is(err, ErrOpenAPIConflict) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			doc, err := openapi3.NewLoader().LoadFromData(raw)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			tc.check(t, doc)
		})
	}
}

func TestMethodInWords(t *testing.T) {
	for id, want := range map[string]string{
		"RegistryService_ListRetireeHistory": "List retiree history",
		"RegistryService_GetRetiree":         "Get retiree",
		"Gateway_OpenAPI":                    "Open API",
		"Gateway_Healthz":                    "Healthz",
		"S_GetAPIKey":                        "Get API key",
		"S_RecordDeath2":                     "Record death2",
		"NoService":                          "",
	} {
		if got := methodInWords(id); got != want {
			t.Errorf("methodInWords(%q) = %q, want %q", id, got, want)
		}
	}
}
