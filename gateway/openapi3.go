package gateway

import (
	_ "embed" // the gateway's part of the document
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
)

// gatewayOpenAPI is what the document says that no proto does; see the
// comment at its top.
//
//go:embed openapi_gateway.yaml
var gatewayOpenAPI []byte

// Prefixes of references inside an OpenAPI 3 document.
const (
	schemaRefPrefix   = "#/components/schemas/"
	responseRefPrefix = "#/components/responses/"
)

// nestedPathParam matches a path parameter that names a field of a field,
// {retiree.id}, capturing the last name.
var nestedPathParam = regexp.MustCompile(`\{(?:[A-Za-z0-9_]+\.)+([A-Za-z0-9_]+)\}`)

// toOpenAPI3 converts the merged Swagger 2.0 document v2 to OpenAPI 3.0
// (kin-openapi's openapi2conv) and completes it with gatewayDoc, an
// OpenAPI 3 document in YAML: its info, servers, security, error
// answers and schemas replace the converted ones, and its paths are
// added. Then it says what generators and validators need and the
// generator cannot: one path per URL shape (joinNestedParams), the 4xx
// answers of every operation (declareErrors), and only the schemas
// something refers to (pruneSchemas).
func toOpenAPI3(v2, gatewayDoc []byte) ([]byte, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal(v2, &doc2); err != nil {
		return nil, fmt.Errorf("read merged document: %w", err)
	}
	doc, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("convert to OpenAPI 3: %w", err)
	}
	base, err := openapi3.NewLoader().LoadFromData(gatewayDoc)
	if err != nil {
		return nil, fmt.Errorf("read the gateway's document: %w", err)
	}
	if err := joinNestedParams(doc); err != nil {
		return nil, err
	}
	if err := addGatewayDocument(doc, base); err != nil {
		return nil, err
	}
	describeOperations(doc)
	declareErrors(doc)
	if err := pruneSchemas(doc); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// joinNestedParams renames each path parameter that names a field of a
// field, /v1/retirees/{retiree.id}, after its last name, /v1/retirees/{id}.
// The URL is the same on the wire; the generator's spelling made the
// PATCH route a second path beside the GET of the same resource, which
// validators refuse and client generators split.
func joinNestedParams(doc *openapi3.T) error {
	for _, key := range doc.Paths.Keys() {
		if !nestedPathParam.MatchString(key) {
			continue
		}
		item := doc.Paths.Value(key)
		doc.Paths.Delete(key)
		for _, op := range item.Operations() {
			for _, p := range op.Parameters {
				if p.Value != nil && p.Value.In == openapi3.ParameterInPath && strings.Contains(p.Value.Name, ".") {
					p.Value.Name = p.Value.Name[strings.LastIndex(p.Value.Name, ".")+1:]
				}
			}
		}
		if err := addPathItem(doc.Paths, nestedPathParam.ReplaceAllString(key, "{$1}"), item); err != nil {
			return err
		}
	}
	return nil
}

// successDescription describes a 200 answer that the generator left
// without a description (those of routes with a response_body).
const successDescription = "A successful response."

// describeOperations gives every operation a short summary and a
// description. The generator puts a one-paragraph comment in the summary
// and leaves the description empty; such a comment is the description,
// and the summary becomes the method's name in words, which is what
// documentation tools list. It also fills in the empty descriptions of
// 200 answers, and drops the converter's note of the Swagger 2.0 name of
// each body, which no client needs.
func describeOperations(doc *openapi3.T) {
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Description == "" {
				op.Description, op.Summary = op.Summary, methodInWords(op.OperationID)
			}
			if ok := op.Responses.Status(http.StatusOK); ok != nil && ok.Value != nil && ok.Value.Description != nil && *ok.Value.Description == "" {
				ok.Value.Description = openapi3.Ptr(successDescription)
			}
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				delete(op.RequestBody.Value.Extensions, "x-originalParamName")
			}
		}
	}
}

// methodInWords spells the method of an operation id in words:
// "RegistryService_ListRetireeHistory" is "List retiree history", and an
// initialism stays one: "Gateway_OpenAPI" is "Open API".
func methodInWords(operationID string) string {
	_, method, _ := strings.Cut(operationID, "_")
	rs := []rune(method)
	var words []string
	start := 0
	for i := 1; i <= len(rs); i++ {
		if i < len(rs) && !wordStarts(rs, i) {
			continue
		}
		w := string(rs[start:i])
		if len(words) > 0 && strings.ToUpper(w) != w {
			w = strings.ToLower(w)
		}
		words = append(words, w)
		start = i
	}
	return strings.Join(words, " ")
}

// wordStarts tells whether a word of a CamelCase name starts at rs[i]: an
// upper-case letter after a lower-case one, or the last capital of an
// initialism that a lower-case letter follows ("APIKey" is "API Key").
func wordStarts(rs []rune, i int) bool {
	if !unicode.IsUpper(rs[i]) {
		return false
	}
	return !unicode.IsUpper(rs[i-1]) || (i+1 < len(rs) && unicode.IsLower(rs[i+1]))
}

// addPathItem adds the operations of item to paths[key]; an operation
// already there is a conflict. Parameters belong to operations, as the
// generator writes them, never to the path item.
func addPathItem(paths *openapi3.Paths, key string, item *openapi3.PathItem) error {
	if len(item.Parameters) > 0 {
		return fmt.Errorf("%w: %s has parameters outside its operations", ErrOpenAPIConflict, key)
	}
	dst := paths.Value(key)
	if dst == nil {
		paths.Set(key, item)
		return nil
	}
	for method, op := range item.Operations() {
		if dst.GetOperation(method) != nil {
			return fmt.Errorf("%w: %s %s is described twice", ErrOpenAPIConflict, method, key)
		}
		dst.SetOperation(method, op)
	}
	return nil
}

// addGatewayDocument completes doc with base, the gateway's own part.
func addGatewayDocument(doc, base *openapi3.T) error {
	doc.Info, doc.Servers, doc.Security = base.Info, base.Servers, base.Security
	for _, tag := range base.Tags {
		if doc.Tags.Get(tag.Name) == nil {
			doc.Tags = append(doc.Tags, tag)
		}
	}
	doc.Components.SecuritySchemes = base.Components.SecuritySchemes
	doc.Components.Responses = base.Components.Responses
	if doc.Components.Schemas == nil {
		doc.Components.Schemas = openapi3.Schemas{}
	}
	maps.Copy(doc.Components.Schemas, base.Components.Schemas)
	for _, key := range base.Paths.Keys() {
		if err := addPathItem(doc.Paths, key, base.Paths.Value(key)); err != nil {
			return err
		}
	}
	return nil
}

// declareErrors gives every operation that declares no 4xx answer those
// it can get (errorAnswers), and its other errors as the shared Error
// answer in place of the generator's "default".
func declareErrors(doc *openapi3.T) {
	for key, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if hasClientError(op.Responses) {
				continue
			}
			for _, a := range errorAnswers(doc, key, method, op) {
				op.Responses.Set(a.code, &openapi3.ResponseRef{Ref: responseRefPrefix + a.name})
			}
			op.Responses.Set("default", &openapi3.ResponseRef{Ref: responseRefPrefix + "Error"})
		}
	}
}

func hasClientError(rs *openapi3.Responses) bool {
	for code := range rs.Map() {
		if strings.HasPrefix(code, "4") {
			return true
		}
	}
	return false
}

// errorAnswer is one shared answer of components.responses.
type errorAnswer struct{ code, name string }

// errorAnswers lists the 4xx answers of an operation of the generated
// routes, by what it is: every route can refuse its input (400), its
// caller (401, 403) or a limit (429); a route naming an object may not
// find it (404); a write may conflict (409) and has a body that may be
// too large (413); a resource with an etag is compared with If-Match (412).
func errorAnswers(doc *openapi3.T, key, method string, op *openapi3.Operation) []errorAnswer {
	as := []errorAnswer{{"400", "BadRequest"}, {"401", "Unauthorized"}, {"403", "Forbidden"}}
	if strings.Contains(key, "{") {
		as = append(as, errorAnswer{"404", "NotFound"})
	}
	if method != http.MethodGet {
		as = append(as, errorAnswer{"409", "Conflict"})
	}
	if carriesEtag(doc, key, method, op) {
		as = append(as, errorAnswer{"412", "PreconditionFailed"})
	}
	if op.RequestBody != nil {
		as = append(as, errorAnswer{"413", "PayloadTooLarge"})
	}
	return append(as, errorAnswer{"429", "TooManyRequests"})
}

// carriesEtag tells whether op compares an etag that If-Match may give: a
// read whose answer has one, or a change of an object named in the path
// whose request body has one.
func carriesEtag(doc *openapi3.T, key, method string, op *openapi3.Operation) bool {
	var bodies []*openapi3.SchemaRef
	switch {
	case method == http.MethodGet:
		if ok := op.Responses.Status(http.StatusOK); ok != nil && ok.Value != nil {
			for _, mt := range ok.Value.Content {
				bodies = append(bodies, mt.Schema)
			}
		}
	case strings.Contains(key, "{") && op.RequestBody != nil && op.RequestBody.Value != nil:
		for _, mt := range op.RequestBody.Value.Content {
			bodies = append(bodies, mt.Schema)
		}
	}
	return slices.ContainsFunc(bodies, func(s *openapi3.SchemaRef) bool {
		s = resolveSchema(doc, s)
		return s != nil && s.Value != nil && s.Value.Properties[etagFieldName] != nil
	})
}

// resolveSchema follows s to the component schema it refers to.
func resolveSchema(doc *openapi3.T, s *openapi3.SchemaRef) *openapi3.SchemaRef {
	for s != nil && s.Ref != "" {
		s = doc.Components.Schemas[strings.TrimPrefix(s.Ref, schemaRefPrefix)]
	}
	return s
}

// pruneSchemas removes the component schemas that nothing refers to: the
// generator describes every message of a file, also those only gRPC
// methods use.
func pruneSchemas(doc *openapi3.T) error {
	schemas := doc.Components.Schemas
	doc.Components.Schemas = nil
	roots, err := json.Marshal(doc)
	doc.Components.Schemas = schemas
	if err != nil {
		return err
	}
	used := map[string]bool{}
	queue, err := schemaRefs(roots)
	for err == nil && len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		if used[name] {
			continue
		}
		used[name] = true
		s, ok := schemas[name]
		if !ok {
			return fmt.Errorf("%w: schema %q is referred to but not described", ErrOpenAPIConflict, name)
		}
		var raw []byte
		if raw, err = json.Marshal(s); err == nil {
			var more []string
			more, err = schemaRefs(raw)
			queue = append(queue, more...)
		}
	}
	if err != nil {
		return err
	}
	maps.DeleteFunc(schemas, func(name string, _ *openapi3.SchemaRef) bool { return !used[name] })
	return nil
}

// schemaRefs lists the component schemas the JSON doc refers to.
func schemaRefs(doc []byte) ([]string, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, err
	}
	var names []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok && strings.HasPrefix(ref, schemaRefPrefix) {
				names = append(names, strings.TrimPrefix(ref, schemaRefPrefix))
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return names, nil
}
