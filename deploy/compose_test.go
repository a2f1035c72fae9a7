package deploy_test

import (
	"bytes"
	"context"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v4"
)

// composeFile is the part of the Compose specification compose.yaml
// uses; decoding it strictly fails on any other key, so a misspelt key
// (which docker compose would reject, or worse, ignore) fails here.
type composeFile struct {
	Name     string                     `yaml:"name"`
	Program  composeService             `yaml:"x-program"`
	Services map[string]composeService  `yaml:"services"`
	Volumes  map[string]*composeVolumes `yaml:"volumes"`
}

type composeService struct {
	Image           string            `yaml:"image"`
	Restart         string            `yaml:"restart"`
	ReadOnly        bool              `yaml:"read_only"`
	Tmpfs           []string          `yaml:"tmpfs"`
	CapDrop         []string          `yaml:"cap_drop"`
	SecurityOpt     []string          `yaml:"security_opt"`
	StopGracePeriod string            `yaml:"stop_grace_period"`
	DependsOn       []string          `yaml:"depends_on"`
	Environment     map[string]string `yaml:"environment"`
	Volumes         []string          `yaml:"volumes"`
	Ports           []string          `yaml:"ports"`
}

// composeVolumes is a named volume's settings: none.
type composeVolumes struct{}

// secretsMount is how every program gets the key set `socmgmt dev-keys`
// writes (or the operator's own, laid out alike).
const secretsMount = "${SOCMGMT_SECRETS:-./dev-secrets}:/etc/socmgmt:ro"

// TestComposeConfig asks docker compose to check compose.yaml where it is
// installed.
func TestComposeConfig(t *testing.T) {
	if err := exec.Command("docker", "compose", "version").Run(); err != nil {
		t.Skip("docker compose is not installed; TestComposeFile decodes the file strictly instead")
	}
	out, err := exec.CommandContext(context.Background(), "docker", "compose", "-f", "compose.yaml", "config", "-q").CombinedOutput()
	if err != nil {
		t.Fatalf("docker compose config: %v\n%s", err, out)
	}
}

// TestComposeFile decodes compose.yaml strictly and checks it against
// the programs: the six servers from their images, each setting a flag of
// its program, each file it names one that socmgmt dev-keys writes, each
// address a service's port, a volume per service and no port published
// but the gateway's.
func TestComposeFile(t *testing.T) {
	data, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f composeFile
	if err := yaml.Load(data, &f, yaml.WithKnownFields()); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	if diff := cmp.Diff(slices.Sorted(maps.Keys(servers)), slices.Sorted(maps.Keys(f.Services))); diff != "" {
		t.Fatalf("services (-want +got):\n%s", diff)
	}
	secrets := devKeys(t)
	for name, s := range f.Services {
		t.Run(name, func(t *testing.T) {
			checkComposeService(t, name, s, secrets)
			if name == "gateway" {
				if diff := cmp.Diff([]string{"127.0.0.1:8080:8080"}, s.Ports); diff != "" {
					t.Errorf("gateway ports (-want +got):\n%s", diff)
				}
				return
			}
			if len(s.Ports) > 0 {
				t.Errorf("%s publishes %v; only the gateway may", name, s.Ports)
			}
			volume := name + "-data"
			if diff := cmp.Diff([]string{volume + ":/var/lib/socmgmt", secretsMount}, s.Volumes); diff != "" {
				t.Errorf("volumes (-want +got):\n%s", diff)
			}
			if _, ok := f.Volumes[volume]; !ok {
				t.Errorf("volume %s is not declared", volume)
			}
		})
	}
}

// checkComposeService checks what every program's service shares.
func checkComposeService(t *testing.T, name string, s composeService, secrets string) {
	t.Helper()
	if want := "socmgmt/" + name + ":${SOCMGMT_TAG:-dev}"; s.Image != want {
		t.Errorf("image %q, want %q", s.Image, want)
	}
	if s.Restart != "unless-stopped" || !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) {
		t.Errorf("restart %q, read-only %v, cap_drop %v: want unless-stopped, true, [ALL] (x-program)", s.Restart, s.ReadOnly, s.CapDrop)
	}
	if !slices.Contains(s.Volumes, secretsMount) {
		t.Errorf("volumes %v lack %s", s.Volumes, secretsMount)
	}
	flags := envNames(t, name)
	for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
		v := s.Environment[k]
		if !flags[k] {
			t.Errorf("%s=%s names no flag of %s", k, v, name)
		}
		if rel, ok := strings.CutPrefix(v, "/etc/socmgmt/"); ok {
			if _, err := os.Stat(filepath.Join(secrets, rel)); err != nil {
				t.Errorf("%s=%s: socmgmt dev-keys writes no such file", k, v)
			}
		}
		if strings.HasSuffix(k, "_ADDR") {
			checkComposeAddr(t, name, k, v)
		}
	}
}

// checkComposeAddr fails unless the address of another service in k
// names that service at its API port.
func checkComposeAddr(t *testing.T, name, k, v string) {
	t.Helper()
	peer := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(k, strings.ToUpper(name)+"_"), "_ADDR"))
	ports, ok := servers[peer]
	if !ok {
		t.Errorf("%s=%s: no service %q (the images set their own listen and admin addresses)", k, v, peer)
		return
	}
	if want := peer + ":" + strconv.Itoa(ports[0]); v != want {
		t.Errorf("%s=%s, want %s", k, v, want)
	}
}

// devKeys runs socmgmt dev-keys into a temporary directory and returns it.
func devKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var stderr bytes.Buffer
	cmd := exec.Command(programBinary(t, "socmgmt"), "dev-keys", dir)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("socmgmt dev-keys: %v\n%s", err, stderr.Bytes())
	}
	return dir
}
