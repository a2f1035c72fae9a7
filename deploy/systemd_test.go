package deploy_test

import (
	"bufio"
	"bytes"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// unitFor is the unit file that runs each program: a service for each
// server, and the backup template for the operator's tool.
var unitFor = map[string]string{
	"registry": "socmgmt-registry.service",
	"handover": "socmgmt-handover.service",
	"pension":  "socmgmt-pension.service",
	"activity": "socmgmt-activity.service",
	"casework": "socmgmt-casework.service",
	"gateway":  "socmgmt-gateway.service",
	"socmgmt":  "socmgmt-backup@.service",
}

// hardening are the settings every unit carries, so that none is left
// behind when one is tightened.
var hardening = []string{
	"UMask=0077", "NoNewPrivileges=true", "CapabilityBoundingSet=", "ProtectSystem=strict", "ProtectHome=true",
	"PrivateTmp=true", "PrivateDevices=true", "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
	"SystemCallFilter=@system-service", "MemoryDenyWriteExecute=true", "User=socmgmt",
}

// unitLines returns a unit file's settings, KEY=VALUE, without comments.
func unitLines(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "[") {
			lines = append(lines, l)
		}
	}
	return lines
}

// TestSystemdUnits checks that every program has a unit, that each
// unit's EnvironmentFile has its example here and its ExecStart names the
// program, that each example sets (or shows, commented out) only flags
// the program has, and that every unit is hardened alike.
func TestSystemdUnits(t *testing.T) {
	for _, program := range slices.Sorted(maps.Keys(unitFor)) {
		unit := unitFor[program]
		t.Run(program, func(t *testing.T) {
			lines := unitLines(t, filepath.Join("systemd", unit))
			for _, h := range hardening {
				if !slices.Contains(lines, h) {
					t.Errorf("%s lacks %s", unit, h)
				}
			}
			envFile, example := "/etc/socmgmt/"+program+".env", program+".env.example"
			if program == "socmgmt" {
				envFile, example = "/etc/socmgmt/backup.env", "backup.env.example"
			}
			if !slices.Contains(lines, "EnvironmentFile="+envFile) {
				t.Errorf("%s reads no EnvironmentFile=%s", unit, envFile)
			}
			exec := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "ExecStart=") })
			if exec < 0 || !strings.Contains(lines[exec], "/usr/local/bin/"+program+" ") && lines[exec] != "ExecStart=/usr/local/bin/"+program {
				t.Errorf("%s does not start /usr/local/bin/%s", unit, program)
			}
			if program != "socmgmt" {
				checkEnvExample(t, program, filepath.Join("systemd", example))
			} else if _, err := os.Stat(filepath.Join("systemd", example)); err != nil {
				t.Error(err)
			}
		})
	}
	if _, err := os.Stat("systemd/socmgmt-backup@.timer"); err != nil {
		t.Errorf("the backup service has no timer: %v", err)
	}
}

// checkEnvExample fails for a variable of path that is no flag of
// program, set or commented out.
func checkEnvExample(t *testing.T, program, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	flags := envNames(t, program)
	prefix := strings.ToUpper(program) + "_"
	set := map[string]bool{}
	for l := range strings.Lines(string(data)) {
		l = strings.TrimSpace(l)
		commented := strings.HasPrefix(l, "#")
		k, _, ok := strings.Cut(strings.TrimPrefix(l, "#"), "=")
		if !ok || !strings.HasPrefix(k, prefix) || strings.ContainsAny(k, " \t") {
			if !commented && l != "" {
				t.Errorf("%s: %q is no setting of %s", path, l, program)
			}
			continue
		}
		if !flags[k] {
			t.Errorf("%s: %s is no flag of %s", path, k, program)
		}
		if !commented {
			set[k] = true
		}
	}
	// What every server needs beyond its defaults: addresses, a key, logs
	// a collector can read; and a service its data directory.
	required := []string{"ADMIN_ADDR", "TOKEN_KEY", "LOG_FORMAT"}
	if program != "gateway" {
		required = append(required, "DATA_DIR")
	}
	for _, r := range required {
		if !set[prefix+r] {
			t.Errorf("%s sets no %s%s", path, prefix, r)
		}
	}
}

// TestSystemdVerify runs systemd-analyze verify on every unit, in a root
// directory holding the units, the system's own units they depend on and
// a stand-in for each program, and fails on any complaint (an unknown
// key is only a warning to it).
func TestSystemdVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Skip("systemd-analyze is not installed: the units' syntax is not checked")
	}
	root := t.TempDir()
	copyTree(t, "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/system"))
	units := filepath.Join(root, "etc/systemd/system")
	copyTree(t, "systemd", units)
	// verify checks that each command exists in the root.
	commands := []string{"/bin/sh"}
	for p := range unitFor {
		commands = append(commands, "/usr/local/bin/"+p)
	}
	for _, c := range commands {
		path := filepath.Join(root, c)
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	args := []string{"verify", "--root=" + root}
	for _, u := range unitFor {
		args = append(args, strings.Replace(u, "@.", "@registry.", 1))
	}
	args = append(args, "socmgmt-backup@registry.timer")
	out, err := exec.Command("systemd-analyze", args...).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// copyTree copies the files and symbolic links under src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o750); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src+"/.", dst).CombinedOutput(); err != nil {
		t.Fatalf("cp %s: %v\n%s", src, err, out)
	}
}
