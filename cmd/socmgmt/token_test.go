package main

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/socmgmt/socmgmt/internal/authn"
)

func TestTokenCommand(t *testing.T) {
	t.Parallel()
	keyFile, pub := newKeyFile(t)
	notAKey := filepath.Join(t.TempDir(), "garbage.key")
	if err := os.WriteFile(notAKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }

	for _, tc := range []struct {
		name    string
		args    []string
		getenv  func(string) string
		want    *authn.Principal
		wantTTL time.Duration
		wantErr string
	}{
		{
			name:    "admin",
			args:    []string{"token", "--key", keyFile, "--role", "admin"},
			want:    &authn.Principal{Subject: "admin-cli", Role: authn.RoleAdmin},
			wantTTL: 12 * time.Hour,
		},
		{
			name: "clerk of two communities",
			args: []string{"token", "--key", keyFile, "--role", "clerk", "--community", "210102001001", "--community", "210102001002",
				"--subject", "zhang.clerk", "--ttl", "30m"},
			want:    &authn.Principal{Subject: "zhang.clerk", Role: authn.RoleClerk, Communities: []string{"210102001001", "210102001002"}},
			wantTTL: 30 * time.Minute,
		},
		{
			name:    "enterprise, lower-case code and role",
			args:    []string{"token", "--key", keyFile, "--role", "Enterprise", "--enterprise", "91350100m000100y43"},
			want:    &authn.Principal{Subject: "enterprise-cli", Role: authn.RoleEnterprise, Enterprise: "91350100M000100Y43"},
			wantTTL: 12 * time.Hour,
		},
		{
			name:    "key from the environment",
			args:    []string{"token", "--role", "bureau"},
			getenv:  func(k string) string { return map[string]string{envKey: keyFile}[k] },
			want:    &authn.Principal{Subject: "bureau-cli", Role: authn.RoleBureau},
			wantTTL: 12 * time.Hour,
		},
		{
			name:    "street supervisor",
			args:    []string{"token", "--key", keyFile, "--role", "street", "--street", "210102001"},
			want:    &authn.Principal{Subject: "street-cli", Role: authn.RoleStreet, Street: "210102001"},
			wantTTL: 12 * time.Hour,
		},
		{
			name:    "district supervisor",
			args:    []string{"token", "--key", keyFile, "--role", "district", "--district", "210102", "--subject", "heping"},
			want:    &authn.Principal{Subject: "heping", Role: authn.RoleDistrict, District: "210102"},
			wantTTL: 12 * time.Hour,
		},
		{name: "street without code", args: []string{"token", "--key", keyFile, "--role", "street"}, wantErr: "a street token needs --street CODE"},
		{name: "street with a district code", args: []string{"token", "--key", keyFile, "--role", "street", "--street", "210102"}, wantErr: "a street office code is 9 digits"},
		{name: "street with a district", args: []string{"token", "--key", keyFile, "--role", "street", "--street", "210102001", "--district", "210102"}, wantErr: "--district is only for --role district or archivist, not street"},
		{name: "street with a community", args: []string{"token", "--key", keyFile, "--role", "street", "--street", "210102001", "--community", "210102001001"}, wantErr: "--community is only for --role clerk"},
		{name: "district without code", args: []string{"token", "--key", keyFile, "--role", "district"}, wantErr: "a district token needs --district CODE"},
		{name: "district of no province", args: []string{"token", "--key", keyFile, "--role", "district", "--district", "990102"}, wantErr: "a district code is 6 digits"},
		{name: "district code for a clerk", args: []string{"token", "--key", keyFile, "--role", "clerk", "--community", "210102001001", "--district", "210102"}, wantErr: "--district is only for --role district or archivist, not clerk"},
		{name: "street code for an admin", args: []string{"token", "--key", keyFile, "--role", "admin", "--street", "210102001"}, wantErr: "--street is only for --role street, not admin"},
		{name: "no role", args: []string{"token", "--key", keyFile}, wantErr: "--role is required"},
		{name: "unknown role", args: []string{"token", "--key", keyFile, "--role", "mayor"}, wantErr: `unknown role "mayor": want one of admin, bureau, clerk, enterprise, service, street, district`},
		{name: "clerk without community", args: []string{"token", "--key", keyFile, "--role", "clerk"}, wantErr: "a clerk token needs at least one --community"},
		{name: "clerk with a bad community", args: []string{"token", "--key", keyFile, "--role", "clerk", "--community", "2101020010"}, wantErr: "a community id is 12 digits"},
		{name: "community for an admin", args: []string{"token", "--key", keyFile, "--role", "admin", "--community", "210102001001"}, wantErr: "--community is only for --role clerk"},
		{name: "enterprise without code", args: []string{"token", "--key", keyFile, "--role", "enterprise"}, wantErr: "an enterprise token needs --enterprise CODE"},
		{name: "enterprise with a bad code", args: []string{"token", "--key", keyFile, "--role", "enterprise", "--enterprise", "91350100M000100Y44"}, wantErr: "check character"},
		{name: "enterprise code for a bureau", args: []string{"token", "--key", keyFile, "--role", "bureau", "--enterprise", "91350100M000100Y43"}, wantErr: "--enterprise is only for --role enterprise"},
		{name: "no key", args: []string{"token", "--role", "admin"}, wantErr: "--key is required"},
		{name: "missing key file", args: []string{"token", "--key", filepath.Join(t.TempDir(), "none.key"), "--role", "admin"}, wantErr: "no such file"},
		{name: "not a key", args: []string{"token", "--key", notAKey, "--role", "admin"}, wantErr: "not an Ed25519 key"},
		{name: "zero ttl", args: []string{"token", "--key", keyFile, "--role", "admin", "--ttl", "0s"}, wantErr: "--ttl"},
		{name: "ttl over a year", args: []string{"token", "--key", keyFile, "--role", "admin", "--ttl", "9000h"}, wantErr: "--ttl"},
		{name: "a person's token over a day", args: []string{"token", "--key", keyFile, "--role", "bureau", "--ttl", "25h"}, wantErr: "at most 24h0m0s for a bureau token"},
		{
			name:    "a service token of 30 days",
			args:    []string{"token", "--key", keyFile, "--role", "service", "--subject", "pension", "--ttl", "720h"},
			want:    &authn.Principal{Subject: "pension", Role: authn.RoleService},
			wantTTL: 720 * time.Hour,
		},
		{name: "a service token over 30 days", args: []string{"token", "--key", keyFile, "--role", "service", "--ttl", "721h"}, wantErr: "at most 720h0m0s for a service token"},
		{name: "unknown audience", args: []string{"token", "--key", keyFile, "--role", "admin", "--audience", "socmgmt:payroll"}, wantErr: `--audience "socmgmt:payroll"`},
		{name: "foreign audience", args: []string{"token", "--key", keyFile, "--role", "admin", "--audience", "other"}, wantErr: "--audience"},
		{name: "stray argument", args: []string{"token", "--key", keyFile, "--role", "admin", "extra"}, wantErr: "unknown command"},
		{name: "unknown flag", args: []string{"token", "--rol", "admin"}, wantErr: "see socmgmt token --help"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := tc.getenv
			if getenv == nil {
				getenv = noEnv
			}
			var out, errOut bytes.Buffer
			before := time.Now()
			err := run(t.Context(), tc.args, &out, &errOut, getenv)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
				}
				if out.Len() != 0 {
					t.Errorf("printed %q despite the error", out.String())
				}
				return
			}
			if err != nil {
				t.Fatalf("token: %v", err)
			}
			tok, ok := strings.CutSuffix(out.String(), "\n")
			if !ok || strings.ContainsAny(tok, " \n") || tok == "" {
				t.Fatalf("output %q is not one token and a newline", out.String())
			}
			checkToken(t, pub, tok, tc.want, before.Add(tc.wantTTL))
			if p, _ := authn.NewVerifier(pub).Verify(tok); !strings.Contains(errOut.String(), "token id "+p.TokenID+", expires ") {
				t.Errorf("stderr %q does not name the token's id %s and expiry", errOut.String(), p.TokenID)
			}
		})
	}
}

// TestTokenAudience: --audience narrows a token to the programs named.
func TestTokenAudience(t *testing.T) {
	t.Parallel()
	keyFile, pub := newKeyFile(t)
	var out, errOut bytes.Buffer
	args := []string{"token", "--key", keyFile, "--role", "service", "--subject", "handover", "--audience", "socmgmt:registry", "--audience", "socmgmt:activity"}
	if err := run(t.Context(), args, &out, &errOut, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	tok := strings.TrimSpace(out.String())
	for program, want := range map[string]bool{"registry": true, "activity": true, "pension": false} {
		v := authn.NewVerifier(pub, authn.WithAudience(authn.Audience, authn.ServiceAudience(program)))
		if _, err := v.Verify(tok); (err == nil) != want {
			t.Errorf("%s: Verify = %v, want accepted %v", program, err, want)
		}
	}
}

// checkToken verifies tok with pub and compares its principal with want
// and its expiry with about wantExp.
func checkToken(t *testing.T, pub ed25519.PublicKey, tok string, want *authn.Principal, wantExp time.Time) {
	t.Helper()
	p, err := authn.NewVerifier(pub).Verify(tok)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if p.TokenID == "" {
		t.Error("the token has no id")
	}
	cp := *want
	cp.TokenID = p.TokenID
	want = &cp
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("principal (-want +got):\n%s", diff)
	}
	// Expired just after the ttl: verify as of then, a second either side.
	if _, err := authn.NewVerifier(pub, authn.WithLeeway(0), authn.WithClock(func() time.Time { return wantExp.Add(-2 * time.Second) })).Verify(tok); err != nil {
		t.Errorf("token not valid just before its ttl ends: %v", err)
	}
	if _, err := authn.NewVerifier(pub, authn.WithLeeway(0), authn.WithClock(func() time.Time { return wantExp.Add(2 * time.Second) })).Verify(tok); err == nil {
		t.Error("token still valid after its ttl")
	}
}

func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"token", "seed", "Usage:"}},
		{[]string{"token", "--help"}, []string{"--role", "--community", "--enterprise", "--ttl", "--key", "Examples:"}},
		{[]string{"seed", "--help"}, []string{"--registry", "--retirees", "--seed", "--concurrency", "already present"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			if err := run(t.Context(), tc.args, &out, &errOut, func(string) string { return "" }); err != nil {
				t.Fatalf("run: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}
