package registry

import (
	"testing"

	"google.golang.org/grpc/codes"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestGetRetireeContact: the sender gets the full number of the retiree
// or of the primary contact (emergency contact first, then a legally
// responsible carer, then any with a number), each call audited as a
// read by the service with the contact as reason; a malformed request is
// refused without a read.
func TestGetRetireeContact(t *testing.T) {
	t.Parallel()
	s := seededStore(t, 0)
	h := newHarness(t, s, harnessOptions{})
	in := newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)
	in.Carers = []*pb.Carer{
		{Name: "王芳", Relation: pb.Carer_NEIGHBOUR, Phone: "13700000001"},
		{Name: "李明", Relation: pb.Carer_CHILD, Phone: "13900000002", LegallyResponsible: true},
		{Name: "李华", Relation: pb.Carer_CHILD, EmergencyContact: true},
	}
	r := mustCreate(t, s, in)
	alone := mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY))
	for _, tc := range []struct {
		name    string
		id      string
		contact pb.GetRetireeContactRequest_Contact
		want    string
	}{
		{"own phone", r.Id, pb.GetRetireeContactRequest_RETIREE, "13812345678"},
		// The emergency contact has no number: the legally responsible one.
		{"primary contact", r.Id, pb.GetRetireeContactRequest_PRIMARY_CONTACT, "13900000002"},
		{"no carers", alone.Id, pb.GetRetireeContactRequest_PRIMARY_CONTACT, ""},
	} {
		resp, err := h.client.GetRetireeContact(h.as(serviceP), &pb.GetRetireeContactRequest{RetireeId: tc.id, Contact: tc.contact})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if resp.Phone != tc.want || resp.Status != pb.RetireeStatus_LIVING {
			t.Errorf("%s: phone %q status %v, want %q LIVING", tc.name, resp.Phone, resp.Status, tc.want)
		}
	}
	entries, _, err := s.ListAudit(r.Id, 100, nil)
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range entries {
		if e.Action == "GetRetireeContact" {
			if e.Subject != serviceP.Subject || e.Role != "service" {
				t.Errorf("audit entry by %s/%s", e.Subject, e.Role)
			}
			reasons = append(reasons, e.Reason)
		}
	}
	if len(reasons) != 2 || reasons[0] != "RETIREE" || reasons[1] != "PRIMARY_CONTACT" {
		t.Errorf("audit reasons %v, want [RETIREE PRIMARY_CONTACT]", reasons)
	}

	_, err = h.client.GetRetireeContact(h.as(serviceP), &pb.GetRetireeContactRequest{RetireeId: r.Id})
	wantFields(t, err, "contact")
	_, err = h.client.GetRetireeContact(h.as(serviceP), &pb.GetRetireeContactRequest{Contact: pb.GetRetireeContactRequest_RETIREE})
	wantFields(t, err, "retireeId")
	_, err = h.client.GetRetireeContact(h.as(serviceP), &pb.GetRetireeContactRequest{RetireeId: unknownRetiree, Contact: pb.GetRetireeContactRequest_RETIREE})
	wantStatus(t, err, codes.NotFound)
}
