package main

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/devidentity"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// devIdentitiesFile is where the seed writes the identities of its city
// for the console's sign-in: --dev-identities when given, else make
// run's file beside --key when that exists (devrun writes it at start),
// else nowhere ("").
func (c seedConfig) devIdentitiesFile() string {
	if c.devIdentities != "" {
		return c.devIdentities
	}
	beside := filepath.Join(filepath.Dir(c.keyFile), devidentity.FileName)
	if fi, err := os.Stat(beside); err == nil && fi.Mode().IsRegular() {
		return beside
	}
	return ""
}

// writeSeedIdentities writes the development identities of the seeded
// city, signed with priv for a working day, into cfg's file when it has
// one: the clerks of the first community and of another of its street
// office, the supervisors over it, the bureau, the admin and an
// enterprise still operating.
func writeSeedIdentities(out io.Writer, cfg seedConfig, priv ed25519.PrivateKey, plan *cityPlan, now time.Time) error {
	path := cfg.devIdentitiesFile()
	if path == "" {
		return nil
	}
	f, err := seedIdentities(priv, plan, now)
	if err != nil {
		return err
	}
	if err := devidentity.Write(path, f); err != nil {
		return fmt.Errorf("development identities: %w", err)
	}
	fmt.Fprintf(out, "Development identities of the city for the console's sign-in, for %v: %s\n", defaultTokenTTL, path)
	return nil
}

// seedIdentities are the identities of plan's city with their tokens.
func seedIdentities(priv ed25519.PrivateKey, plan *cityPlan, now time.Time) (devidentity.File, error) {
	if len(plan.Communities) == 0 {
		return devidentity.File{}, errors.New("the city has no communities")
	}
	a := plan.Communities[0]
	street, district := a.Id[:inputcheck.StreetCodeLen], a.Id[:inputcheck.DistrictCodeLen]
	ids := []devidentity.Spec{clerkIdentity("clerk-a", a)}
	for _, b := range plan.Communities[1:] {
		if b.Id[:inputcheck.StreetCodeLen] == street {
			ids = append(ids, clerkIdentity("clerk-b", b))
			break
		}
	}
	ids = append(ids,
		devidentity.Spec{Key: "street", Label: "街道监管（" + a.Street + "）", Principal: authn.Principal{Subject: "seed-street-" + street, Role: authn.RoleStreet, Street: street}},
		devidentity.Spec{Key: "district", Label: "区级监管（" + a.District + "）", Principal: authn.Principal{Subject: "seed-district-" + district, Role: authn.RoleDistrict, District: district}},
		devidentity.Spec{Key: "bureau", Label: "社保经办机构", Principal: authn.Principal{Subject: "seed-bureau", Role: authn.RoleBureau}},
		devidentity.Spec{Key: "admin", Label: "系统管理员", Principal: authn.Principal{Subject: "seed-admin", Role: authn.RoleAdmin}},
	)
	for _, e := range plan.Enterprises {
		if e.GetStatus() == registryv1.EnterpriseStatus_OPERATING {
			ids = append(ids, devidentity.Spec{Key: "enterprise", Label: "企业（" + e.GetName() + "）",
				Principal: authn.Principal{Subject: "seed-enterprise-" + e.GetCreditCode(), Role: authn.RoleEnterprise, Enterprise: e.GetCreditCode()}})
			break
		}
	}
	return devidentity.Sign(authn.NewSigner(priv), ids, defaultTokenTTL, now)
}

// clerkIdentity is the clerk of community c.
func clerkIdentity(key string, c *registryv1.Community) devidentity.Spec {
	return devidentity.Spec{Key: key, Label: "社区专干（" + c.GetName() + "）",
		Principal: authn.Principal{Subject: "seed-clerk-" + c.GetId(), Role: authn.RoleClerk, Communities: []string{c.GetId()}}}
}
