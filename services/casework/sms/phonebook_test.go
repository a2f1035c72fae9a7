package sms

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// TestRegistryPhoneBook asks a real registry, as the casework service:
// the retiree's number, the primary contact's, none (ErrNoPhone) for a
// retiree without carers, an unknown one and a deceased one's own phone;
// a caller registry refuses gets an error to retry, not ErrNoPhone.
func TestRegistryPhoneBook(t *testing.T) {
	t.Parallel()
	keys := servicetest.NewKeys(t)
	reg := registrytest.Start(t, registrytest.Options{Keys: keys})
	admin := registryv1.NewRegistryServiceClient(reg.Conn())
	create := func(n int, carers ...*registryv1.Carer) string {
		t.Helper()
		resp, err := admin.CreateRetiree(keys.As(t, servicetest.Admin()), &registryv1.CreateRetireeRequest{Retiree: &registryv1.Retiree{
			IdNumber: servicetest.IDNumber(n).Digits(), Name: "王秀英", CommunityId: servicetest.CommunityA,
			EnterpriseCreditCode: servicetest.EnterpriseX, ManagementMode: registryv1.ManagementMode_COMMUNITY,
			Phone: phone, ResidenceAddress: "和平区北市场街1号", RetirementDate: "2010-01-01", Carers: carers,
		}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.Retiree.Id
	}
	withCarer := create(1, &registryv1.Carer{Name: "李明", Relation: registryv1.Carer_CHILD, Phone: "13900000002", EmergencyContact: true})
	alone := create(2)
	dead := create(3)
	if _, err := admin.RecordDeath(keys.As(t, servicetest.Admin()), &registryv1.RecordDeathRequest{Id: dead, DateOfDeath: "2025-01-01"}); err != nil {
		t.Fatal(err)
	}

	book := RegistryPhoneBook{Registry: registryv1.NewRegistryServiceClient(reg.Dial(grpc.WithPerRPCCredentials(keys.ServiceCredentials("casework"))))}
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		id      string
		r       pb.Recipient
		want    string
		noPhone bool
	}{
		{"own", withCarer, pb.Recipient_RETIREE, phone, false},
		{"primary contact", withCarer, pb.Recipient_PRIMARY_CONTACT, "13900000002", false},
		{"no carers", alone, pb.Recipient_PRIMARY_CONTACT, "", true},
		{"unknown", "no-such-retiree", pb.Recipient_RETIREE, "", true},
		{"deceased", dead, pb.Recipient_RETIREE, "", true},
	} {
		got, err := book.Phone(ctx, tc.id, tc.r)
		if got != tc.want || errors.Is(err, ErrNoPhone) != tc.noPhone || (err != nil) != tc.noPhone {
			t.Errorf("%s: %q, %v", tc.name, got, err)
		}
	}

	clerk := RegistryPhoneBook{Registry: registryv1.NewRegistryServiceClient(reg.Conn())}
	_, err := clerk.Phone(keys.As(t, servicetest.Clerk("clerk", servicetest.CommunityA)), withCarer, pb.Recipient_RETIREE)
	if err == nil || errors.Is(err, ErrNoPhone) || err.Error() != "registry: PermissionDenied" {
		t.Errorf("as a clerk: %v", err)
	}
}
