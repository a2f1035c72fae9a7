package registry

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/boltstore/boltstoretest"
	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TestStoreWritesOnAFullDisk: a retiree created while the disk is full is
// refused as fault.ErrStorageUnavailable, and nothing of it is stored: no
// record, no ID-number index entry, no change; once there is room again
// the same store takes it.
func TestStoreWritesOnAFullDisk(t *testing.T) {
	t.Parallel()
	s := newTestStore(t, 0)
	seedRefs(t, s)
	before := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	headBefore, _, err := s.Head()
	if err != nil {
		t.Fatal(err)
	}

	restore := boltstoretest.FillDisk(t, s.DB())
	r := newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY)
	id, err := checkNewRetiree(r, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateRetiree(r, id, admin); !errors.Is(err, fault.ErrStorageUnavailable) {
		t.Fatalf("create on a full disk = %v, want storage unavailable", err)
	}
	edit := &pb.Retiree{Phone: "13900001111"}
	if _, err := s.UpdateRetiree(before.Id, RetireePatch{Paths: []string{"phone"}, Values: edit, Etag: before.Etag}, admin, allow); !errors.Is(err, fault.ErrStorageUnavailable) {
		t.Fatalf("update on a full disk = %v, want storage unavailable", err)
	}
	restore()

	if head, _, _ := s.Head(); head != headBefore {
		t.Errorf("head moved from %d to %d by refused writes", headBefore, head)
	}
	if _, err := s.LookupRetiree(id); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("lookup of the refused retiree = %v, want not found", err)
	}
	if got, err := s.GetRetiree(before.Id); err != nil || got.Phone != before.Phone || got.Etag != before.Etag {
		t.Errorf("retiree after a refused update = %v, %v; want it unchanged", got, err)
	}
	if _, err := s.CreateRetiree(r, id, admin); err != nil {
		t.Fatalf("create once there is room again: %v", err)
	}
}

// TestFullDiskIsUnavailable: a client whose write meets a full disk gets
// UNAVAILABLE with reason STORAGE_UNAVAILABLE (503 through the gateway),
// not INTERNAL.
func TestFullDiskIsUnavailable(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	restore := boltstoretest.FillDisk(t, s.DB())
	defer restore()
	_, err := h.client.CreateRetiree(h.as(bureauP), &pb.CreateRetireeRequest{Retiree: newRetiree(t, 3, communityA, pb.ManagementMode_COMMUNITY)})
	wantReason(t, err, codes.Unavailable, apierror.ReasonStorageUnavailable)
}
