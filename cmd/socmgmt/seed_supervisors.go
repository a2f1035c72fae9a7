package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
)

// writeSupervisorTokens prints the tokens of a street and a district
// supervisor over the area of the plan's first community, signed with
// priv for a working day, so that whoever seeded a city can look at it
// as a supervisor at once.
func writeSupervisorTokens(w io.Writer, priv ed25519.PrivateKey, plan *cityPlan, now time.Time) error {
	if len(plan.Communities) == 0 {
		return errors.New("the city has no communities")
	}
	c := plan.Communities[0]
	signer := authn.NewSigner(priv)
	fmt.Fprintf(w, "Supervisors over %s (%s), for %v:\n", c.Name, c.Id, defaultTokenTTL)
	for _, p := range []authn.Principal{
		{Subject: "seed-street-" + c.Id[:inputcheck.StreetCodeLen], Role: authn.RoleStreet, Street: c.Id[:inputcheck.StreetCodeLen]},
		{Subject: "seed-district-" + c.Id[:inputcheck.DistrictCodeLen], Role: authn.RoleDistrict, District: c.Id[:inputcheck.DistrictCodeLen]},
	} {
		tok, err := signer.Sign(p, defaultTokenTTL, now)
		if err != nil {
			return fmt.Errorf("a %s token: %w", p.Role, err)
		}
		fmt.Fprintf(w, "  %-8s %-9s %s\n", p.Role, p.Street+p.District, tok)
	}
	return nil
}
