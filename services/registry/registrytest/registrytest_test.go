package registrytest_test

import (
	"context"
	"testing"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// TestRestartKeepsTheFile: a registry holds the fixtures, and what it
// stored before a stop it serves after the start, on the same address.
func TestRestartKeepsTheFile(t *testing.T) {
	t.Parallel()
	keys := servicetest.NewKeys(t)
	r := registrytest.Start(t, registrytest.Options{Keys: keys})
	client := registryv1.NewRegistryServiceClient(r.Conn())
	admin := keys.As(t, servicetest.Admin())
	created, err := client.CreateRetiree(admin, &registryv1.CreateRetireeRequest{Retiree: &registryv1.Retiree{
		IdNumber: servicetest.IDNumber(1).Digits(), Name: "退休人员", CommunityId: servicetest.CommunityA,
		EnterpriseCreditCode: servicetest.EnterpriseX, ManagementMode: registryv1.ManagementMode_ENTERPRISE, RetirementDate: "2010-01-01",
	}})
	if err != nil {
		t.Fatal(err)
	}
	addr := r.Addr()
	r.Stop()
	if r.Store() != nil {
		t.Error("a stopped registry has an open store")
	}
	r.Start()
	if r.Addr() != addr {
		t.Errorf("restarted on %s, want %s", r.Addr(), addr)
	}
	waitfor.NoError(t, "the restarted registry to serve the retiree", func(ctx context.Context) error {
		return servicetest.ErrOf(client.GetRetiree(admin, &registryv1.GetRetireeRequest{Id: created.Retiree.Id}))
	})
	if _, err := client.GetEnterprise(admin, &registryv1.GetEnterpriseRequest{CreditCode: servicetest.EnterpriseY}); err != nil {
		t.Errorf("fixture enterprise: %v", err)
	}
}
