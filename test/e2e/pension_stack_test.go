package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
)

// startPension starts the pension service beside the registry as
// production runs it: it verifies tokens with the public key only, follows
// registry's WatchRetirees with a pre-issued service token, and indexes ID
// numbers with registry's key.
func (s *stack) startPension(t *testing.T, pubKey, idKey string) {
	t.Helper()
	tokenFile := filepath.Join(s.dir, "keys", "pension.token")
	tok := s.signToken(t, authn.Principal{Subject: "pension", Role: authn.RoleService}, time.Now())
	if err := os.WriteFile(tokenFile, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.secret(tok)
	var addrs []string
	s.pension, addrs = s.launch(t, "pension", 2,
		func(a []string) []string {
			return []string{
				"--grpc-addr", a[0], "--admin-addr", a[1],
				"--data-dir", filepath.Join(s.dir, "data"),
				"--token-key", pubKey, "--service-token-file", tokenFile, "--id-key", idKey,
				"--registry-addr", s.registryAddr,
				"--log-format", "json", "--log-level", "debug",
			}
		},
		grpcServing)
	s.pensionAddr = addrs[0]
}
