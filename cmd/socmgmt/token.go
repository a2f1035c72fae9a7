package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
)

// defaultTokenTTL is how long a minted token lives unless --ttl says
// otherwise: a working day.
const defaultTokenTTL = 12 * time.Hour

// tokenOptions are the flags of `socmgmt token`.
type tokenOptions struct {
	// keyFile is the PEM file of the Ed25519 signing key.
	keyFile string
	// role is the role name as typed.
	role string
	// communities are a clerk's community ids.
	communities []string
	// enterprise is an enterprise principal's credit code.
	enterprise string
	// ttl is the token's lifetime.
	ttl time.Duration
	// subject is the token's sub claim; "<role>-cli" when empty.
	subject string
}

func newTokenCmd(e env) *cobra.Command {
	o := tokenOptions{}
	cmd := &cobra.Command{
		Use:   "token --key FILE --role ROLE [--community ID]... [--enterprise CODE] [--ttl DUR]",
		Short: "Print a signed bearer token",
		Long: `Print a bearer token (an EdDSA-signed JWT) for the given role, followed by a
newline, and nothing else, so that it can be captured with $(...).

Roles: admin, bureau, clerk, enterprise, service. A clerk needs at least one
--community (a 12-digit community id); an enterprise needs --enterprise (its
unified social credit code). The key defaults to $` + envKey + `.`,
		Example: `  socmgmt token --key var/dev-signing.key --role admin
  socmgmt token --key var/dev-signing.key --role clerk --community 210102001001 --community 210102001002
  socmgmt token --key var/dev-signing.key --role enterprise --enterprise 91350100M000100Y43 --ttl 1h`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tok, err := o.mint(time.Now())
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), tok)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.keyFile, "key", keyFileDefault(e, ""), "PEM `file` of the Ed25519 signing key (default $"+envKey+")")
	f.StringVar(&o.role, "role", "", "`role` of the token: admin, bureau, clerk, enterprise or service (required)")
	f.StringArrayVar(&o.communities, "community", nil, "12-digit community `id` a clerk works for; repeat for several")
	f.StringVar(&o.enterprise, "enterprise", "", "unified social credit `code` of an enterprise principal")
	f.DurationVar(&o.ttl, "ttl", defaultTokenTTL, "lifetime of the token, e.g. 30m or 12h")
	f.StringVar(&o.subject, "subject", "", "`name` of the caller, recorded in audit logs (default \"<role>-cli\")")
	return cmd
}

// mint validates the options, loads the key and signs a token.
func (o tokenOptions) mint(now time.Time) (string, error) {
	p, err := o.principal()
	if err != nil {
		return "", err
	}
	if o.ttl <= 0 || o.ttl > authn.MaxTTL {
		return "", fmt.Errorf("--ttl %v: must be positive and at most %v", o.ttl, authn.MaxTTL)
	}
	if o.keyFile == "" {
		return "", fmt.Errorf("--key is required (or set $%s)", envKey)
	}
	priv, err := authn.LoadPrivateKey(o.keyFile)
	if err != nil {
		return "", fmt.Errorf("cannot use signing key: %w", err)
	}
	return authn.NewSigner(priv).Sign(p, o.ttl, now)
}

// principal turns the options into the principal the token names,
// checking the rules of the role table so that the operator hears what is
// wrong in terms of flags.
func (o tokenOptions) principal() (authn.Principal, error) {
	if o.role == "" {
		return authn.Principal{}, fmt.Errorf("--role is required: one of %s", roleNames())
	}
	role, err := authn.ParseRole(o.role)
	if err != nil {
		return authn.Principal{}, fmt.Errorf("unknown role %q: want one of %s", o.role, roleNames())
	}
	p := authn.Principal{Subject: o.subject, Role: role}
	if p.Subject == "" {
		p.Subject = string(role) + "-cli"
	}

	if role == authn.RoleClerk {
		if len(o.communities) == 0 {
			return authn.Principal{}, errors.New("a clerk token needs at least one --community ID (a 12-digit community id)")
		}
		for _, c := range o.communities {
			if !inputcheck.IsCommunityID(c) {
				return authn.Principal{}, fmt.Errorf("--community %q: a community id is 12 digits, e.g. 210102001001", c)
			}
		}
		p.Communities = o.communities
	} else if len(o.communities) > 0 {
		return authn.Principal{}, fmt.Errorf("--community is only for --role clerk, not %s", role)
	}

	if role == authn.RoleEnterprise {
		if o.enterprise == "" {
			return authn.Principal{}, errors.New("an enterprise token needs --enterprise CODE (its unified social credit code)")
		}
		code, err := creditcode.Parse(o.enterprise)
		if err != nil {
			return authn.Principal{}, fmt.Errorf("--enterprise %q: %w", o.enterprise, err)
		}
		p.Enterprise = code.String()
	} else if o.enterprise != "" {
		return authn.Principal{}, fmt.Errorf("--enterprise is only for --role enterprise, not %s", role)
	}
	return p, nil
}

// roleNames lists the roles for messages.
func roleNames() string {
	var names []string
	for _, r := range authn.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
