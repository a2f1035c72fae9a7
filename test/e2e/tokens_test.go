package e2e

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// authenticatedCall is one gRPC call made straight to a service with a
// token: its error says whether the service took the token
// (Unauthenticated when not; anything else when it did).
type authenticatedCall func(ctx context.Context, s *stack, token string) error

// directCalls are a call of each service, bypassing the gateway.
var directCalls = map[string]authenticatedCall{
	"registry": func(ctx context.Context, s *stack, token string) error {
		_, err := registryv1.NewRegistryServiceClient(s.dialFor(ctx, s.registryAddr, token)).ListCommunities(ctx, &registryv1.ListCommunitiesRequest{})
		return err
	},
	"pension": func(ctx context.Context, s *stack, token string) error {
		_, err := pensionv1.NewPensionServiceClient(s.dialFor(ctx, s.pensionAddr, token)).ListCertificationRules(ctx, &pensionv1.ListCertificationRulesRequest{})
		return err
	},
	"activity": func(ctx context.Context, s *stack, token string) error {
		_, err := activityv1.NewActivityServiceClient(s.dialFor(ctx, s.activityAddr, token)).ListVenues(ctx, &activityv1.ListVenuesRequest{})
		return err
	},
	"handover": func(ctx context.Context, s *stack, token string) error {
		_, err := handoverv1.NewHandoverServiceClient(s.dialFor(ctx, s.handoverAddr, token)).ListHandovers(ctx, &handoverv1.ListHandoversRequest{})
		return err
	},
}

// dialFor connects to addr over the stack's TLS with token for the life
// of ctx.
func (s *stack) dialFor(ctx context.Context, addr, token string) *grpc.ClientConn {
	transport, err := s.cliClient().Credentials()
	if err != nil {
		panic(err) // the stack's own certificates: a bug of the test
	}
	conn, err := authn.Dial(addr, transport, authn.BearerCredentials(token))
	if err != nil {
		panic(err) // a malformed address is a bug of the test
	}
	context.AfterFunc(ctx, func() { _ = conn.Close() })
	return conn
}

// takesEverywhere checks that every service, called directly and through
// the gateway, takes token (accepted says so) or refuses it as
// unauthenticated, waiting for each to come round: revocations and key
// changes reach the programs within seconds, not at once.
func (s *stack) takesEverywhere(t *testing.T, api *restClient, token string, accepted bool) {
	t.Helper()
	verb := "refuse"
	if accepted {
		verb = "accept"
	}
	for name, call := range directCalls {
		waitfor.NoError(t, name+" to "+verb+" the token over gRPC", func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			defer cancel()
			err := call(ctx, s, token)
			if refused := status.Code(err) == codes.Unauthenticated; refused == accepted {
				return fmt.Errorf("%s answered %v", name, status.Code(err))
			}
			return nil
		})
	}
	for _, path := range []string{"/v1/communities", "/v1/venues", "/v1/handovers", "/v1/certificationRules"} {
		waitfor.NoError(t, "the gateway to "+verb+" the token on "+path, func(context.Context) error {
			r := api.do(t, call{method: http.MethodGet, path: path, token: token})
			if refused := r.code == http.StatusUnauthorized; refused == accepted {
				return fmt.Errorf("GET %s: %d", path, r.code)
			}
			return nil
		})
	}
}

// TestTokensRevokedAndRotated runs the token life cycle against the real
// programs: a token an admin revokes over REST is refused within seconds
// by every service, called directly over gRPC and through the gateway,
// and by the gateway's admin port; a token over the lifetime bound is
// refused; a signing key added to the key file is taken up without a
// restart, and one taken out is refused.
func TestTokensRevokedAndRotated(t *testing.T) {
	s, tk, api := startSession(t)
	api.createCommunities(t, tk.admin)

	t.Run("revoked", func(t *testing.T) {
		stolen := s.cliToken(t, s.signKey, "--role", "bureau", "--subject", "e2e-stolen")
		stolenAdmin := s.cliToken(t, s.signKey, "--role", "admin", "--subject", "e2e-stolen-admin")
		s.secret(stolen, stolenAdmin)
		s.takesEverywhere(t, api, stolen, true)
		pprof := "http://" + s.gatewayAdmin + "/debug/pprof/"
		if code := getWithToken(t, pprof, stolenAdmin); code != http.StatusOK {
			t.Fatalf("gateway admin port with an admin token: %d", code)
		}

		var revoked struct {
			TokenID    string `json:"tokenId"`
			ExpireTime string `json:"expireTime"`
			RevokedBy  string `json:"revokedBy"`
		}
		for _, tok := range []string{stolen, stolenAdmin} {
			r := api.send(t, call{method: http.MethodPost, path: "/v1/tokens:revoke", token: tk.admin,
				body: map[string]any{"token": tok, "reason": "reported stolen"}}, http.StatusOK, &revoked)
			if revoked.TokenID == "" || revoked.ExpireTime == "" || revoked.RevokedBy != subjectAdmin {
				t.Errorf("revocation answered %+v", revoked)
			}
			if got := r.header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
		}
		s.takesEverywhere(t, api, stolen, false)
		waitfor.NoError(t, "the gateway's admin port to refuse the revoked admin token", func(context.Context) error {
			if code := getWithToken(t, pprof, stolenAdmin); code != http.StatusUnauthorized {
				return fmt.Errorf("%d", code)
			}
			return nil
		})
		// The others' tokens are untouched.
		api.send(t, call{method: http.MethodGet, path: "/v1/communities", token: tk.bureau}, http.StatusOK, nil)
		// A revocation by a bureau is refused.
		api.send(t, call{method: http.MethodPost, path: "/v1/tokens:revoke", token: tk.bureau,
			body: map[string]any{"token": tk.clerkA}}, http.StatusForbidden, nil)
	})

	t.Run("lifetime over the bound", func(t *testing.T) {
		priv, err := authn.LoadPrivateKey(s.signKey)
		if err != nil {
			t.Fatal(err)
		}
		long, err := authn.NewSigner(priv).Sign(authn.Principal{Subject: subjectAdmin, Role: authn.RoleAdmin}, 48*time.Hour, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		s.secret(long)
		api.send(t, call{method: http.MethodGet, path: "/v1/communities", token: long}, http.StatusUnauthorized, nil)
	})

	t.Run("key rotation", func(t *testing.T) {
		newKey := filepath.Join(s.dir, "keys", "signing-2.key")
		priv, err := authn.GenerateKeyFile(newKey)
		if err != nil {
			t.Fatal(err)
		}
		oldPEM, err := os.ReadFile(s.pubKey)
		if err != nil {
			t.Fatal(err)
		}
		newPEM, err := authn.EncodePublicKeyPEM(priv.Public().(ed25519.PublicKey))
		if err != nil {
			t.Fatal(err)
		}
		fresh := s.cliToken(t, newKey, "--role", "bureau", "--subject", "e2e-new-key")
		s.secret(fresh)
		api.send(t, call{method: http.MethodGet, path: "/v1/communities", token: fresh}, http.StatusUnauthorized, nil)

		// Step 1 of deploy/README.md: the new public key beside the old.
		replaceFile(t, s.pubKey, append(append([]byte{}, oldPEM...), newPEM...))
		s.takesEverywhere(t, api, fresh, true)
		s.takesEverywhere(t, api, tk.bureau, true)
		// Last step: the old key out.
		replaceFile(t, s.pubKey, newPEM)
		s.takesEverywhere(t, api, tk.bureau, false)
		s.takesEverywhere(t, api, fresh, true)
	})
}

// getWithToken GETs url with token and returns the status.
func getWithToken(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// replaceFile writes data beside path and renames it into place, as an
// operator replaces a key file, so that no program reads half a file.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
