package deploy_test

import (
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"os"
)

// envEntry matches a container's env entry of one of the programs, with
// the value on the next line when it has one (not from a Secret).
var envEntry = regexp.MustCompile(`(?m)^\s*- name: ([A-Z]+)_([A-Z0-9_]+)\s*\n(?:\s*value: "?([^"\n]*)"?)?`)

// notPrograms are the prefixes of settings the manifests give that are no
// program's flags: the CLI's SOCMGMT_KEY, OpenTelemetry's OTEL_… (GOMEMLIMIT
// and GOGC have no underscore and are not matched).
var notPrograms = map[string]bool{"SOCMGMT": true, "OTEL": true}

// TestKubernetesEnv: every setting the manifests give a program is a flag
// it has (a program ignores an environment variable it does not know, so
// a misspelt REGISTRY_TLS_CLIENT_CA would quietly serve without mutual
// TLS), and every peer address names that peer's gRPC port. The check
// module (deploy/kubernetes/check) checks the rendered objects; this
// reads the files, where the names are written. A prefix that names no
// program (REGISTY_…) is refused too.
func TestKubernetesEnv(t *testing.T) {
	t.Parallel()
	flags := map[string]map[string]bool{}
	seen := 0
	files := os.DirFS("kubernetes")
	err := fs.WalkDir(files, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		data, err := fs.ReadFile(files, path)
		if err != nil {
			return err
		}
		for _, m := range envEntry.FindAllStringSubmatch(string(data), -1) {
			program := strings.ToLower(m[1])
			if _, ok := servers[program]; !ok {
				if !notPrograms[m[1]] {
					t.Errorf("%s: %s_%s names no program (a misspelt prefix is ignored by every program)", path, m[1], m[2])
				}
				continue
			}
			if flags[program] == nil {
				flags[program] = envNames(t, program)
			}
			name := m[1] + "_" + m[2]
			seen++
			if !flags[program][name] {
				t.Errorf("%s: %s is no flag of %s", path, name, program)
			}
			peer, isAddr := strings.CutSuffix(m[2], "_ADDR")
			if _, isServer := servers[strings.ToLower(peer)]; isAddr && isServer {
				checkComposeAddr(t, program, name, m[3])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen < 50 {
		t.Errorf("only %d program settings found in the manifests", seen)
	}
}
