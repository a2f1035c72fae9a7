package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// repoRoot is the repository, seen from this module's directory.
const repoRoot = "../.."

// testStamp is the stamp of the test's images: a fixed commit and time.
var testStamp = stamp{
	tag:      "test",
	revision: "0123456789abcdef0123456789abcdef01234567",
	created:  time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC),
	goarch:   runtime.GOARCH,
}

// TestImages builds a service's and the gateway's images twice, from the
// same source, and checks what a deployment relies on: the same digests,
// both outputs readable, the configuration of the contract, and a layer
// of nothing but the static binary and the few files it needs.
func TestImages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two programs")
	}
	var progs []program
	for _, n := range []string{"registry", "gateway"} {
		p, _ := lookupProgram(n)
		progs = append(progs, p)
	}
	tool := buildTool(t)
	first, second := t.TempDir(), t.TempDir()
	printed := runTool(t, tool, first)
	if again := runTool(t, tool, second); again != printed {
		t.Fatalf("a second build from the same source gave other images:\n%s\nthen\n%s", printed, again)
	}
	digests := printedDigests(t, printed)
	for _, p := range progs {
		t.Run(p.name, func(t *testing.T) {
			img := readOutputs(t, first, p, digests[p.name])
			checkConfig(t, p, img)
			checkLayer(t, p, img)
		})
	}
}

// buildTool builds this command (without the race detector, which would
// make its compression slower than the rest of the tests together).
func buildTool(t *testing.T) string {
	t.Helper()
	tool := filepath.Join(t.TempDir(), "images")
	if out, err := exec.Command("go", "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return tool
}

// runTool builds the registry and gateway images into out, as make
// images would with testStamp, and returns what it printed.
func runTool(t *testing.T, tool, out string) string {
	t.Helper()
	cmd := exec.Command(tool, "--root", repoRoot, "--out", out, "--programs", "registry,gateway",
		"--tag", testStamp.tag, "--revision", testStamp.revision,
		"--source-date-epoch", strconv.FormatInt(testStamp.created.Unix(), 10))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("images: %v\n%s", err, stderr.Bytes())
	}
	return stdout.String()
}

// printedPattern matches a line runTool printed.
var printedPattern = regexp.MustCompile(`(?m)^socmgmt/([a-z]+):test (sha256:[0-9a-f]{64}) [0-9.]+ MiB compressed$`)

// printedDigests returns the digest printed for each program.
func printedDigests(t *testing.T, printed string) map[string]v1.Hash {
	t.Helper()
	digests := map[string]v1.Hash{}
	for _, m := range printedPattern.FindAllStringSubmatch(printed, -1) {
		h, err := v1.NewHash(m[2])
		if err != nil {
			t.Fatal(err)
		}
		digests[m[1]] = h
	}
	if len(digests) != 2 {
		t.Fatalf("printed %q, want a digest for registry and gateway", printed)
	}
	return digests
}

// readOutputs reads p's image from the layout and from the tarball and
// fails unless both hold the image of digest.
func readOutputs(t *testing.T, out string, p program, digest v1.Hash) v1.Image {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(filepath.Join(out, p.name))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Digest != digest ||
		im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != testStamp.tag {
		t.Fatalf("layout index %+v, want the one image %s tagged %s", im.Manifests, digest, testStamp.tag)
	}
	img, err := idx.Image(digest)
	if err != nil {
		t.Fatal(err)
	}
	tag, err := name.NewTag("socmgmt/" + p.name + ":" + testStamp.tag)
	if err != nil {
		t.Fatal(err)
	}
	fromTar, err := tarball.ImageFromPath(filepath.Join(out, p.name+".tar"), &tag)
	if err != nil {
		t.Fatalf("docker-load tarball: %v", err)
	}
	// docker load's format keeps the config and the layers, not the
	// manifest (docker makes its own): those must be the same.
	for _, blob := range []func(v1.Image) (v1.Hash, error){configName, layerDigest} {
		want, err := blob(img)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := blob(fromTar); err != nil || got != want {
			t.Errorf("tarball holds blob %s (%v), the layout %s", got, err, want)
		}
	}
	return img
}

func configName(img v1.Image) (v1.Hash, error) { return img.ConfigName() }

func layerDigest(img v1.Image) (v1.Hash, error) {
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	if len(layers) != 1 {
		return v1.Hash{}, errors.New("not one layer")
	}
	return layers[0].Digest()
}

// checkConfig compares p's image configuration with the contract that
// deploy/kubernetes and deploy/compose.yaml rely on.
func checkConfig(t *testing.T, p program, img v1.Image) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || !cf.Created.Equal(testStamp.created) {
		t.Errorf("os %s, architecture %s, created %s; want linux, %s, %s", cf.OS, cf.Architecture, cf.Created, runtime.GOARCH, testStamp.created)
	}
	c := cf.Config
	want := map[string]string{
		"user":       "65532:65532",
		"workdir":    "/",
		"entrypoint": "/usr/local/bin/" + p.name,
		"cmd":        "",
		"ports":      map[string]string{"registry": "9101/tcp 9201/tcp", "gateway": "8080/tcp 9200/tcp"}[p.name],
		"volumes":    map[string]string{"registry": "/var/lib/socmgmt", "gateway": ""}[p.name],
	}
	got := map[string]string{
		"user":       c.User,
		"workdir":    c.WorkingDir,
		"entrypoint": strings.Join(c.Entrypoint, " "),
		"cmd":        strings.Join(c.Cmd, " "),
		"ports":      strings.Join(slices.Sorted(maps.Keys(c.ExposedPorts)), " "),
		"volumes":    strings.Join(slices.Sorted(maps.Keys(c.Volumes)), " "),
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.title":       p.name,
		"org.opencontainers.image.description": p.description,
		"org.opencontainers.image.source":      "https://github.com/socmgmt/socmgmt",
		"org.opencontainers.image.revision":    testStamp.revision,
		"org.opencontainers.image.version":     testStamp.tag,
		"org.opencontainers.image.created":     "2026-05-01T02:00:00Z",
	}
	if diff := cmp.Diff(wantLabels, c.Labels); diff != "" {
		t.Errorf("labels (-want +got):\n%s", diff)
	}
}

// layerFile is how a file of the layer is listed.
type layerFile struct {
	Name     string
	Mode     fs.FileMode
	UID, GID int
}

// checkLayer lists the layer's files (so no shell or anything else slips
// in), and checks the binary: static, with time zones and CA roots built
// in, and runnable, reading each setting of the image's environment as
// one of its flags.
func checkLayer(t *testing.T, p program, img v1.Image) {
	t.Helper()
	files, binary := readLayer(t, img, "usr/local/bin/"+p.name)
	want := []layerFile{
		{"etc/", fs.ModeDir | 0o755, 0, 0},
		{"etc/group", 0o644, 0, 0},
		{"etc/passwd", 0o644, 0, 0},
		{"tmp/", fs.ModeDir | fs.ModeSticky | 0o777, 0, 0},
		{"usr/", fs.ModeDir | 0o755, 0, 0},
		{"usr/local/", fs.ModeDir | 0o755, 0, 0},
		{"usr/local/bin/", fs.ModeDir | 0o755, 0, 0},
		{"usr/local/bin/" + p.name, 0o755, 0, 0},
	}
	if p.stateful {
		want = append(want, layerFile{"var/", fs.ModeDir | 0o755, 0, 0}, layerFile{"var/lib/", fs.ModeDir | 0o755, 0, 0},
			layerFile{"var/lib/socmgmt/", fs.ModeDir | 0o700, 65532, 65532})
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("layer files (-want +got):\n%s", diff)
	}
	checkStatic(t, binary)
	// Zones no program names in its code, and a root no system file gives
	// it: they are there only through time/tzdata and x509roots/fallback.
	for _, s := range []string{"Pacific/Chatham", "America/Argentina/ComodRivadavia", "ISRG Root X1"} {
		if !bytes.Contains(binary, []byte(s)) {
			t.Errorf("the binary lacks %q: no built-in time zones or CA roots", s)
		}
	}
	checkEnvAreFlags(t, p, img, binary)
}

// readLayer returns the list of the image's one layer and the content of
// the file named binary.
func readLayer(t *testing.T, img v1.Image, binary string) ([]layerFile, []byte) {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var files []layerFile
	var content []byte
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, layerFile{hdr.Name, hdr.FileInfo().Mode(), hdr.Uid, hdr.Gid})
		if !hdr.ModTime.Equal(testStamp.created) {
			t.Errorf("%s: time %s, want the commit's %s", hdr.Name, hdr.ModTime, testStamp.created)
		}
		if hdr.Name == binary {
			if content, err = io.ReadAll(tr); err != nil {
				t.Fatal(err)
			}
		}
	}
	return files, content
}

// checkStatic fails unless binary is an ELF executable that asks for no
// dynamic loader: it runs on an image without libc.
func checkStatic(t *testing.T, binary []byte) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(binary))
	if err != nil {
		t.Fatalf("the binary is no ELF file: %v", err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary is dynamically linked (%s)", prog.Type)
		}
	}
}

// flagPattern matches a flag in a program's --help.
var flagPattern = regexp.MustCompile(`(?m)^  -([a-z0-9-]+)`)

// checkEnvAreFlags runs binary --help and fails unless every variable of
// the image's environment is one of its flags: a misspelt one would be
// ignored, and the program would listen on loopback.
func checkEnvAreFlags(t *testing.T, p program, img v1.Image, binary []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), p.name)
	if err := os.WriteFile(path, binary, 0o700); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(path, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("%s --help: %v\n%s", p.name, err, out)
	}
	flags := map[string]bool{}
	for _, m := range flagPattern.FindAllStringSubmatch(string(out), -1) {
		flags[p.envName(m[1])] = true
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cf.Config.Env) == 0 {
		t.Errorf("no environment: %s would listen on loopback only", p.name)
	}
	for _, kv := range cf.Config.Env {
		if k, _, _ := strings.Cut(kv, "="); !flags[k] {
			t.Errorf("image environment %s names no flag of %s", kv, p.name)
		}
	}
}
