package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// startActivity starts the activity service beside the registry, as
// production runs it: it verifies tokens with the public key only and
// calls registry's WatchRetirees with a pre-issued service token.
func (s *stack) startActivity(t *testing.T, pubKey string) {
	t.Helper()
	tokenFile := filepath.Join(s.dir, "keys", "activity.token")
	// The token outlives the test: the projection's stream must not lose
	// its credentials half-way.
	tok := s.signToken(t, authn.Principal{Subject: "activity", Role: authn.RoleService}, time.Now())
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.secret(tok)
	var addrs []string
	s.activity, addrs = s.launch(t, "activity", 2,
		func(a []string) []string {
			return []string{
				"--grpc-addr", a[0], "--admin-addr", a[1],
				"--data-dir", filepath.Join(s.dir, "data"),
				"--token-key", pubKey, "--service-token-file", tokenFile,
				"--registry-addr", s.registryAddr,
				"--log-format", "json", "--log-level", "debug",
			}
		},
		grpcServing)
	s.activityAddr = addrs[0]
}
