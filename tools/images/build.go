package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// buildFlags make a binary that depends on the source and the Go
// toolchain alone: static (CGO_ENABLED=0), no file system paths
// (-trimpath), no VCS stamp (the image's labels carry the revision, and a
// dirty tree would change the binary), no symbol table or DWARF, and no
// build ID (it hashes the inputs' paths and the action graph).
var buildFlags = []string{"-trimpath", "-buildvcs=false", "-ldflags=-s -w -buildid="}

// goBuild builds the main packages of progs from the module at root into
// dir, for linux/goarch, and returns each binary by program name.
func goBuild(ctx context.Context, root, dir, goarch string, progs []program) (map[string][]byte, error) {
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", dir+string(filepath.Separator))
	for _, p := range progs {
		args = append(args, p.pkg)
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = os.Stderr, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build: %w\n%s", err, stderr.Bytes())
	}
	binaries := make(map[string][]byte, len(progs))
	for _, p := range progs {
		// The binary is named after the last element of its package path,
		// which is the program's name for every program.
		b, err := os.ReadFile(filepath.Join(dir, filepath.Base(p.pkg)))
		if err != nil {
			return nil, err
		}
		binaries[p.name] = b
	}
	return binaries, nil
}
