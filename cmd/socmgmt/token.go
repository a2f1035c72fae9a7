package main

import (
	"errors"
	"fmt"
	"slices"
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
	// street is a street supervisor's 9-digit street office code.
	street string
	// district is a district supervisor's 6-digit district code.
	district string
	// ttl is the token's lifetime.
	ttl time.Duration
	// subject is the token's sub claim; "<role>-cli" when empty.
	subject string
	// audience are the programs the token is for: "socmgmt" (all) or
	// "socmgmt:<program>"; all when empty.
	audience []string
}

// programs are the socmgmt programs a token may be narrowed to.
var programs = []string{"registry", "handover", "pension", "activity", "gateway"}

func newTokenCmd(e env) *cobra.Command {
	o := tokenOptions{}
	cmd := &cobra.Command{
		Use:   "token --key FILE --role ROLE [--community ID]... [--enterprise CODE] [--street CODE] [--district CODE] [--ttl DUR] [--audience AUD]...",
		Short: "Print a signed bearer token",
		Long: `Print a bearer token (an EdDSA-signed JWT) for the given role, followed by a
newline, and nothing else, so that it can be captured with $(...). Its id
(jti) and expiry go to stderr: they are what a revocation names
(POST /v1/tokens:revoke).

Roles: admin, bureau, clerk, enterprise, service, street, district, archivist. A clerk
needs at least one --community (a 12-digit community id); an enterprise
needs --enterprise (its unified social credit code); a street supervisor
needs --street (the 9-digit code of its street office: the first 9 digits
of its communities' ids) and a district supervisor or an archivist (the
custodian of a district's personnel archives) --district (the 6-digit
district code). The key defaults to $` + envKey + `.

The token names its issuer (iss socmgmt), its audience (aud socmgmt: every
program, unless --audience narrows it to socmgmt:<program>), its id and
the id of the signing key (kid), which lets the programs accept several
keys while one is rotated. A person's token lives at most ` + authn.DefaultMaxLifetime.String() + `, a
service token at most ` + authn.DefaultMaxServiceLifetime.String() + `: the programs refuse longer ones.`,
		Example: `  socmgmt token --key var/dev-signing.key --role admin
  socmgmt token --key var/dev-signing.key --role clerk --community 210102001001 --community 210102001002
  socmgmt token --key var/dev-signing.key --role enterprise --enterprise 91350100M000100Y43 --ttl 1h
  socmgmt token --key var/dev-signing.key --role street --street 210102001
  socmgmt token --key var/dev-signing.key --role district --district 210102
  socmgmt token --key var/dev-signing.key --role service --subject pension --ttl 720h --audience socmgmt:registry`,
		Args:                  cobra.NoArgs,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			is, err := o.mint(time.Now())
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintln(cmd.OutOrStdout(), is.Token); err != nil {
				return err
			}
			_, err = fmt.Fprintf(cmd.ErrOrStderr(), "token id %s, expires %s\n", is.ID, is.Expires.UTC().Format(time.RFC3339))
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.keyFile, "key", keyFileDefault(e, ""), "PEM `file` of the Ed25519 signing key (default $"+envKey+")")
	f.StringVar(&o.role, "role", "", "`role` of the token: admin, bureau, clerk, enterprise, service, street, district or archivist (required)")
	f.StringArrayVar(&o.communities, "community", nil, "12-digit community `id` a clerk works for; repeat for several")
	f.StringVar(&o.enterprise, "enterprise", "", "unified social credit `code` of an enterprise principal")
	f.StringVar(&o.street, "street", "", "9-digit `code` of the street office a street supervisor oversees")
	f.StringVar(&o.district, "district", "", "6-digit `code` of the district a district supervisor oversees or an archivist keeps the archives of")
	f.DurationVar(&o.ttl, "ttl", defaultTokenTTL, "lifetime of the token, e.g. 30m or 12h; at most "+authn.DefaultMaxLifetime.String()+" ("+authn.DefaultMaxServiceLifetime.String()+" for a service)")
	f.StringArrayVar(&o.audience, "audience", nil, "`aud` of the token: socmgmt (every program, the default) or socmgmt:<program> for one of "+strings.Join(programs, ", ")+"; repeat for several")
	f.StringVar(&o.subject, "subject", "", "`name` of the caller, recorded in audit logs (default \"<role>-cli\")")
	return cmd
}

// mint validates the options, loads the key and signs a token.
func (o tokenOptions) mint(now time.Time) (authn.Issued, error) {
	p, err := o.principal()
	if err != nil {
		return authn.Issued{}, err
	}
	limit := authn.DefaultMaxLifetime
	if p.Role == authn.RoleService {
		limit = authn.DefaultMaxServiceLifetime
	}
	if o.ttl <= 0 || o.ttl > limit {
		return authn.Issued{}, fmt.Errorf("--ttl %v: must be positive and at most %v for a %s token (the programs refuse longer ones)", o.ttl, limit, p.Role)
	}
	if err := checkAudience(o.audience); err != nil {
		return authn.Issued{}, err
	}
	if o.keyFile == "" {
		return authn.Issued{}, fmt.Errorf("--key is required (or set $%s)", envKey)
	}
	priv, err := authn.LoadPrivateKey(o.keyFile)
	if err != nil {
		return authn.Issued{}, fmt.Errorf("cannot use signing key: %w", err)
	}
	return authn.NewSigner(priv).Issue(p, o.audience, o.ttl, now)
}

// checkAudience refuses an audience no program accepts, so that a typo
// does not make a token every program refuses.
func checkAudience(aud []string) error {
	for _, a := range aud {
		if a == authn.Audience {
			continue
		}
		name, ok := strings.CutPrefix(a, authn.Audience+":")
		if !ok || !slices.Contains(programs, name) {
			return fmt.Errorf("--audience %q: want %s or %s:<program> for one of %s", a, authn.Audience, authn.Audience, strings.Join(programs, ", "))
		}
	}
	return nil
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
	if err := o.area(&p); err != nil {
		return authn.Principal{}, err
	}
	return p, nil
}

// area sets a supervisor's street office or district code from --street
// and --district, refusing either for any other role.
func (o tokenOptions) area(p *authn.Principal) error {
	switch {
	case p.Role == authn.RoleStreet && o.street == "":
		return errors.New("a street token needs --street CODE (the 9-digit code of its street office)")
	case p.Role == authn.RoleStreet && !inputcheck.IsStreetCode(o.street):
		return fmt.Errorf("--street %q: a street office code is 9 digits, e.g. 210102001", o.street)
	case p.Role != authn.RoleStreet && o.street != "":
		return fmt.Errorf("--street is only for --role street, not %s", p.Role)
	case p.Is(authn.RoleDistrict, authn.RoleArchivist) && o.district == "":
		return fmt.Errorf("a %s token needs --district CODE (the 6-digit code of its district)", p.Role)
	case p.Is(authn.RoleDistrict, authn.RoleArchivist) && !inputcheck.IsDistrictCode(o.district):
		return fmt.Errorf("--district %q: a district code is 6 digits, e.g. 210102", o.district)
	case !p.Is(authn.RoleDistrict, authn.RoleArchivist) && o.district != "":
		return fmt.Errorf("--district is only for --role district or archivist, not %s", p.Role)
	}
	p.Street, p.District = o.street, o.district
	return nil
}

// roleNames lists the roles for messages.
func roleNames() string {
	var names []string
	for _, r := range authn.Roles() {
		names = append(names, string(r))
	}
	return strings.Join(names, ", ")
}
