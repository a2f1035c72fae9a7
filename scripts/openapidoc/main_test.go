package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestRun(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run(nil, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v", err)
	}
	file := filepath.Join(t.TempDir(), "openapi.json")
	if err := run([]string{"-o", file}, &bytes.Buffer{}, &stderr); err != nil {
		t.Fatalf("run -o: %v", err)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(written, stdout.Bytes()) {
		t.Error("the file differs from what standard output got")
	}
	var doc struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(written, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if doc.OpenAPI != "3.0.3" || doc.Paths["/v1/retirees/{id}:transfer"] == nil {
		t.Errorf("openapi %q with %d paths, no transfer", doc.OpenAPI, len(doc.Paths))
	}
}

func TestRunRefusesArguments(t *testing.T) {
	if err := run([]string{"extra"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("an unexpected argument was accepted")
	}
	if err := run([]string{"-no-such-flag"}, &bytes.Buffer{}, &bytes.Buffer{}); err == nil {
		t.Error("an unknown flag was accepted")
	}
}
