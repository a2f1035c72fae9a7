package gateway

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/servicetest"
)

func TestMergeOpenAPI(t *testing.T) {
	const status = `{"type":"object","properties":{"code":{"type":"integer"}}}`
	doc := func(paths, defs string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"swagger":"2.0","info":{"title":"x"},"tags":[{"name":"T"}],"paths":{` + paths + `},"definitions":{` + defs + `}}`)}
	}
	get := func(ref string) string {
		return `{"get":{"responses":{"200":{"schema":{"$ref":"#/definitions/` + ref + `"}}}}}`
	}
	thingA := `{"type":"object","properties":{"a":{"type":"string"}}}`
	thingB := `{"type":"object","properties":{"b":{"type":"string"}}}`
	holder := `{"type":"object","properties":{"thing":{"$ref":"#/definitions/v1Thing"}}}`
	decode := func(t *testing.T, s string) any {
		t.Helper()
		var v any
		if err := json.Unmarshal([]byte(s), &v); err != nil {
			t.Fatal(err)
		}
		return v
	}

	tests := []struct {
		name      string
		files     fstest.MapFS
		wantPaths string // JSON
		wantDefs  string // JSON
		wantErr   error
	}{
		{
			name: "identical definitions kept once, clashing ones renamed with what refers to them",
			files: fstest.MapFS{
				"socmgmt/a/v1/a.swagger.json": doc(`"/v1/a":`+get("v1Holder"), `"rpcStatus":`+status+`,"v1Thing":`+thingA+`,"v1Holder":`+holder),
				"socmgmt/b/v1/b.swagger.json": doc(`"/v1/b":`+get("v1Holder"), `"rpcStatus":`+status+`,"v1Thing":`+thingB+`,"v1Holder":`+holder),
				"socmgmt/b/v1/README.md":      {Data: []byte("not a document")},
			},
			wantPaths: `{"/v1/a":` + get("v1Holder") + `,"/v1/b":` + get("bV1Holder") + `}`,
			wantDefs: `{"rpcStatus":` + status + `,"v1Thing":` + thingA + `,"v1Holder":` + holder +
				`,"bV1Thing":` + thingB + `,"bV1Holder":{"type":"object","properties":{"thing":{"$ref":"#/definitions/bV1Thing"}}}}`,
		},
		{
			name: "methods of one path from two documents",
			files: fstest.MapFS{
				"socmgmt/a/v1/a.swagger.json": doc(`"/v1/x":{"get":{}}`, ``),
				"socmgmt/b/v1/b.swagger.json": doc(`"/v1/x":{"post":{}}`, ``),
			},
			wantPaths: `{"/v1/x":{"get":{},"post":{}}}`,
			wantDefs:  `{}`,
		},
		{
			name: "one operation in two documents",
			files: fstest.MapFS{
				"socmgmt/a/v1/a.swagger.json": doc(`"/v1/x":{"get":{}}`, ``),
				"socmgmt/b/v1/b.swagger.json": doc(`"/v1/x":{"get":{}}`, ``),
			},
			wantErr: ErrOpenAPIConflict,
		},
		{
			name: "renamed definition clashes again",
			files: fstest.MapFS{
				"socmgmt/a/v1/a.swagger.json": doc(``, `"v1Thing":`+thingA+`,"bV1Thing":`+thingA),
				"socmgmt/b/v1/b.swagger.json": doc(``, `"v1Thing":`+thingB),
			},
			wantErr: ErrOpenAPIConflict,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw, err := mergeOpenAPI(tc.files)
			if servicetest.WantErr(t, err, tc.wantErr) {
				return
			}
			var got struct {
				Info        map[string]any   `json:"info"`
				Tags        []map[string]any `json:"tags"`
				Paths       any              `json:"paths"`
				Definitions any              `json:"definitions"`
			}
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(decode(t, tc.wantPaths), got.Paths); diff != "" {
				t.Errorf("paths (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(decode(t, tc.wantDefs), got.Definitions); diff != "" {
				t.Errorf("definitions (-want +got):\n%s", diff)
			}
			if got.Info["title"] != "socmgmt API" {
				t.Errorf("title %v", got.Info["title"])
			}
			if diff := cmp.Diff([]map[string]any{{"name": "T"}}, got.Tags); diff != "" {
				t.Errorf("tags (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMergeOpenAPIRejectsBadJSON(t *testing.T) {
	files := fstest.MapFS{"socmgmt/a/v1/a.swagger.json": {Data: []byte(`{"paths":`)}}
	if _, err := mergeOpenAPI(files); err == nil {
		t.Error("merged a truncated document")
	}
}

// update rewrites the golden files from what the code produces, for a
// reviewer to read in the diff: go test ./gateway -run TestOpenAPIGolden -update
var update = flag.Bool("update", false, "rewrite gateway/testdata/*.golden.json from what the gateway serves")

// openAPIGolden is the document /openapi.json serves, kept so that every
// change to the REST surface shows in review.
const openAPIGolden = "testdata/openapi.golden.json"

// TestOpenAPIGolden compares the document the gateway serves at
// /openapi.json with the golden file. When a change to the protos or
// their HTTP rules changes the REST surface, run the test with -update
// and commit the golden file with the change.
func TestOpenAPIGolden(t *testing.T) {
	t.Parallel()
	got := indentJSON(t, getOpenAPI(t).body)
	if *update {
		if err := os.MkdirAll(filepath.Dir(openAPIGolden), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(openAPIGolden, got, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("rewrote %s", openAPIGolden)
		return
	}
	want, err := os.ReadFile(openAPIGolden)
	if err != nil {
		t.Fatalf("%v (run go test ./gateway -run TestOpenAPIGolden -update to write it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("/openapi.json differs from %s (-golden +served):\n%s\n"+
			"If the REST surface was meant to change, run go test ./gateway -run TestOpenAPIGolden -update and commit %[1]s.",
			openAPIGolden, diff)
	}
}

// getOpenAPI starts a gateway and answers its GET /openapi.json, which
// must succeed.
func getOpenAPI(t *testing.T) response {
	t.Helper()
	_, url := startBehindGateway(t)
	return sendWant(t, newRequest(t, http.MethodGet, url+"/openapi.json", "", nil), http.StatusOK)
}

// indentJSON returns doc indented with sorted keys and a final newline,
// so that a change to one field is one line of the diff.
func indentJSON(t *testing.T, doc []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return append(out, '\n')
}
