package gateway

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/http"
	"path"
	"reflect"
	"strings"
)

// openapiFiles holds the generated per-service OpenAPI v2 documents,
// openapi/socmgmt/<service>/v1/*.swagger.json.
//
//go:embed openapi
var openapiFiles embed.FS

// OpenAPIDocument returns the OpenAPI 3 document the gateway serves at
// /openapi.json: every route, generated or its own. It needs no upstream,
// so tools can write it out without a running stack.
func OpenAPIDocument() ([]byte, error) {
	sub, err := fs.Sub(openapiFiles, "openapi")
	if err != nil {
		return nil, err
	}
	v2, err := mergeOpenAPI(sub)
	if err != nil {
		return nil, err
	}
	return toOpenAPI3(v2, gatewayOpenAPI)
}

// ErrOpenAPIConflict reports two service documents that cannot be merged:
// both describe the same operation, or a definition clashes even after
// renaming.
var ErrOpenAPIConflict = errors.New("conflicting OpenAPI documents")

const definitionRefPrefix = "#/definitions/"

// swaggerFile is the part of a generated document that is merged.
type swaggerFile struct {
	Tags        []map[string]any          `json:"tags"`
	Paths       map[string]map[string]any `json:"paths"`
	Definitions map[string]any            `json:"definitions"`
}

// mergeOpenAPI merges every *.swagger.json under fsys, in lexical order,
// into one Swagger 2.0 document for the whole API. Definitions of the same
// name and content are kept once (every document carries rpcStatus and
// protobufAny); a later document's definition that clashes with an earlier
// one is renamed with its service's name as prefix, and its references with
// it.
func mergeOpenAPI(fsys fs.FS) ([]byte, error) {
	merged := swaggerFile{Tags: []map[string]any{}, Paths: map[string]map[string]any{}, Definitions: map[string]any{}}
	tagSeen := map[string]bool{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(name, ".swagger.json") {
			return nil
		}
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		f, err := resolveDefinitions(raw, serviceOf(name), merged.Definitions)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := mergePaths(merged.Paths, f.Paths); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		maps.Copy(merged.Definitions, f.Definitions)
		merged.Tags = mergeTags(merged.Tags, tagSeen, f.Tags)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return json.Marshal(apiDocument(merged))
}

// mergePaths adds the operations of paths to merged; an operation both
// describe is a conflict.
func mergePaths(merged, paths map[string]map[string]any) error {
	for p, ops := range paths {
		dst := merged[p]
		if dst == nil {
			dst = map[string]any{}
			merged[p] = dst
		}
		for method, op := range ops {
			if _, dup := dst[method]; dup {
				return fmt.Errorf("%w: %s %s is described twice", ErrOpenAPIConflict, strings.ToUpper(method), p)
			}
			dst[method] = op
		}
	}
	return nil
}

// mergeTags appends to merged the tags whose names are not in seen yet,
// keeping their order, and adds the names to seen.
func mergeTags(merged []map[string]any, seen map[string]bool, tags []map[string]any) []map[string]any {
	for _, tag := range tags {
		if n, _ := tag["name"].(string); !seen[n] {
			seen[n] = true
			merged = append(merged, tag)
		}
	}
	return merged
}

// apiDocument wraps the merged tags, paths and definitions in a Swagger
// 2.0 document; toOpenAPI3 gives it the description of the whole API.
func apiDocument(merged swaggerFile) map[string]any {
	return map[string]any{
		"swagger":     "2.0",
		"info":        map[string]any{"title": "socmgmt API", "version": "v1"},
		"consumes":    []string{"application/json"},
		"produces":    []string{"application/json"},
		"tags":        merged.Tags,
		"paths":       merged.Paths,
		"definitions": merged.Definitions,
	}
}

// resolveDefinitions decodes one document, renaming the definitions that
// clash with those already merged. Renaming one definition changes the
// content of those that refer to it, which may then clash in turn, hence
// the loop; it ends because every round renames at least one more name.
func resolveDefinitions(raw []byte, prefix string, merged map[string]any) (swaggerFile, error) {
	renames := map[string]string{} // original name → new name
	targets := map[string]bool{}   // new names
	for {
		var f swaggerFile
		if err := json.Unmarshal(raw, &f); err != nil {
			return swaggerFile{}, err
		}
		if len(renames) > 0 {
			f.Paths = renameRefs(f.Paths, renames).(map[string]map[string]any)
			f.Definitions = renameRefs(f.Definitions, renames).(map[string]any)
			for from, to := range renames {
				if def, ok := f.Definitions[from]; ok {
					delete(f.Definitions, from)
					f.Definitions[to] = def
				}
			}
		}
		clashed := false
		for n, def := range f.Definitions {
			if prev, ok := merged[n]; !ok || reflect.DeepEqual(prev, def) {
				continue
			}
			if targets[n] {
				return swaggerFile{}, fmt.Errorf("%w: definition %q differs from an earlier one", ErrOpenAPIConflict, n)
			}
			to := prefix + strings.ToUpper(n[:1]) + n[1:]
			renames[n] = to
			targets[to] = true
			clashed = true
		}
		if !clashed {
			return f, nil
		}
	}
}

// renameRefs rewrites every "$ref" to a renamed definition inside v,
// returning v with the same dynamic type.
func renameRefs(v any, renames map[string]string) any {
	switch v := v.(type) {
	case map[string]map[string]any:
		for k, m := range v {
			v[k] = renameRefs(m, renames).(map[string]any)
		}
	case map[string]any:
		for k, e := range v {
			if s, ok := e.(string); ok && k == "$ref" {
				if to, ok := renames[strings.TrimPrefix(s, definitionRefPrefix)]; ok && strings.HasPrefix(s, definitionRefPrefix) {
					v[k] = definitionRefPrefix + to
				}
				continue
			}
			v[k] = renameRefs(e, renames)
		}
	case []any:
		for i, e := range v {
			v[i] = renameRefs(e, renames)
		}
	}
	return v
}

// serviceOf names the service of a generated file from its directory,
// socmgmt/<service>/v1/x.swagger.json, falling back to the file's base name.
func serviceOf(name string) string {
	parts := strings.Split(path.Dir(name), "/")
	if len(parts) >= 2 {
		return parts[1]
	}
	return strings.TrimSuffix(path.Base(name), ".swagger.json")
}

// serveOpenAPI serves the document merged at start-up.
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, _ *http.Request, _ map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(g.openapi) // a failed write means the client has gone
}
