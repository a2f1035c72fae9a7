package e2e

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/socmgmt/socmgmt/internal/waitfor"
)

// TestBackupAndRestore backs registry up with `socmgmt backup` while it
// serves, then restores the copy as deploy/README.md says: registry
// stopped, the copy put in a fresh data directory under its name,
// registry started on it where the gateway expects it. What was created
// before the backup is read back through the gateway; what came after is
// gone. On the way, the admin ports of registry and the gateway refuse
// backups and profiles to local callers without an admin token.
func TestBackupAndRestore(t *testing.T) {
	t.Parallel()
	s, tk, api := startSession(t)
	send := api.send
	api.createCommunities(t, tk.admin)
	var before, after retiree
	send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
		"idNumber": idNumber1, "name": "张桂英", "communityId": communityA, "managementMode": "COMMUNITY", "phone": phone1,
	}}, http.StatusOK, &before)

	t.Run("admin ports refuse all but an admin", func(t *testing.T) {
		for _, tc := range []struct {
			name, url, token string
			want             int
		}{
			{"registry backup, no token", "http://" + s.registryAdmin + "/debug/backup", "", http.StatusUnauthorized},
			{"registry backup, clerk", "http://" + s.registryAdmin + "/debug/backup", tk.clerkA, http.StatusForbidden},
			{"registry backup, bureau", "http://" + s.registryAdmin + "/debug/backup", tk.bureau, http.StatusForbidden},
			{"registry backup, foreign admin", "http://" + s.registryAdmin + "/debug/backup", s.foreignToken(t), http.StatusUnauthorized},
			{"registry heap profile, clerk", "http://" + s.registryAdmin + "/debug/pprof/heap", tk.clerkA, http.StatusForbidden},
			{"registry metrics, no token", "http://" + s.registryAdmin + "/metrics", "", http.StatusOK},
			{"gateway heap profile, no token", "http://" + s.gatewayAdmin + "/debug/pprof/heap", "", http.StatusUnauthorized},
			{"gateway heap profile, bureau", "http://" + s.gatewayAdmin + "/debug/pprof/heap", tk.bureau, http.StatusForbidden},
			{"gateway heap profile, admin", "http://" + s.gatewayAdmin + "/debug/pprof/heap", tk.admin, http.StatusOK},
			{"gateway metrics, no token", "http://" + s.gatewayAdmin + "/metrics", "", http.StatusOK},
		} {
			if got := adminGet(t, tc.url, tc.token); got != tc.want {
				t.Errorf("%s: HTTP %d, want %d", tc.name, got, tc.want)
			}
		}
	})

	backup := filepath.Join(s.dir, "backups", "registry.db")
	if err := os.MkdirAll(filepath.Dir(backup), 0o700); err != nil {
		t.Fatal(err)
	}
	must(t, "socmgmt backup", func(t *testing.T) {
		out := s.socmgmt(t, "backup", "--service", "registry", "--addr", s.registryAdmin, "--key", s.signKey, "--out", backup)
		if !strings.HasPrefix(out, "backup of registry written to "+backup+": ") || !strings.Contains(out, "buckets checked") {
			t.Errorf("socmgmt backup printed %q", out)
		}
		if out := s.socmgmt(t, "verify-backup", backup); !strings.Contains(out, "every page sound") {
			t.Errorf("socmgmt verify-backup printed %q", out)
		}
	})
	send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
		"idNumber": idNumber3, "name": "王秀兰", "communityId": communityA, "managementMode": "COMMUNITY", "phone": phone3,
	}}, http.StatusOK, &after)

	// Restored on the test's own t: the restored registry must outlive
	// any subtest.
	s.restoreRegistry(t, backup)

	t.Run("served from the backup", func(t *testing.T) {
		var got retiree
		send(t, call{method: http.MethodGet, path: retireePath(before.ID), token: tk.clerkA}, http.StatusOK, &got)
		if got.Name != "张桂英" || got.IDNumber != idNumber1 || got.Phone != phone1 {
			t.Errorf("restored retiree = %+v", got)
		}
		api.send(t, call{method: http.MethodGet, path: retireePath(after.ID), token: tk.admin}, http.StatusNotFound, nil)
		// The restored registry takes writes: the later retiree again.
		send(t, call{method: http.MethodPost, path: "/v1/retirees", token: tk.clerkA, body: map[string]any{
			"idNumber": idNumber3, "name": "王秀兰", "communityId": communityA, "managementMode": "COMMUNITY", "phone": phone3,
		}}, http.StatusOK, nil)
	})
}

// restoreRegistry restores registry from the backup file as
// deploy/README.md says: it stops registry, puts the backup in a fresh
// data directory as registry.db, starts registry on it at its addresses
// and waits until the gateway finds every upstream serving.
func (s *stack) restoreRegistry(t *testing.T, backup string) {
	t.Helper()
	s.registry.Stop(t)
	restored := filepath.Join(s.dir, "data-restored")
	if err := os.MkdirAll(restored, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(restored, "registry.db"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// Where the gateway and the other services expect registry.
	p := startProc(t, "registry", filepath.Join(s.dir, "registry-restored.log"),
		append(registryArgs([]string{s.registryAddr, s.registryAdmin}, restored, s.pubKey, s.idKey, s.registryKeys), s.servesTLS("registry")...)...)
	s.started = append(s.started, p)
	s.registry = p
	t.Cleanup(func() { s.stop(t) })
	p.WaitServing(t, s.registryAddr, s.transport(t))
	ctx, cancel := waitfor.Context(t)
	defer cancel()
	gateway := strings.TrimPrefix(s.baseURL, "http://")
	if err := waitfor.Poll(ctx, func(ctx context.Context) error { return httpHealthy(ctx, gateway) }); err != nil {
		t.Fatalf("gateway health after the restore: %v", err)
	}
}

// adminGet sends GET url with token (none when empty) and returns the
// status code.
func adminGet(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// socmgmt runs the real CLI with args and returns what it printed; a
// failure fails t with its stderr.
func (s *stack) socmgmt(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "socmgmt"), args...)
	cmd.Env = programEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("socmgmt %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}
