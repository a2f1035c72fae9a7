package registry

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// unknownRetiree has the shape of a retiree id but names none.
const unknownRetiree = "aaaaaaaaaaaaaaaa"

// unknownCommunity has the shape of a community id but names none.
const unknownCommunity = "210199999999"

// rpc is one call of the service with a plausible request.
type rpc struct {
	name string
	call func(ctx context.Context, c pb.RegistryServiceClient, opts ...grpc.CallOption) error
}

// watchOnce opens a watch stream and waits for its first message or error.
func watchOnce(ctx context.Context, c pb.RegistryServiceClient, since int64, opts ...grpc.CallOption) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	stream, err := c.WatchRetirees(ctx, &pb.WatchRetireesRequest{SinceRevision: since}, opts...)
	if err != nil {
		return err
	}
	_, err = stream.Recv()
	return err
}

// everyRPC lists every RPC of the service, reading or changing retiree r.
func everyRPC(t testing.TB, r *pb.Retiree) []rpc {
	fresh := newRetiree(t, 9000, communityA, pb.ManagementMode_COMMUNITY)
	return []rpc{
		{"CreateCommunity", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.CreateCommunity(ctx, &pb.CreateCommunityRequest{Community: &pb.Community{Id: "210102001099", Name: "新社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK}}, o...))
		}},
		{"GetCommunity", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetCommunity(ctx, &pb.GetCommunityRequest{Id: communityA}, o...))
		}},
		{"ListCommunities", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListCommunities(ctx, &pb.ListCommunitiesRequest{}, o...))
		}},
		{"CreateEnterprise", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.CreateEnterprise(ctx, &pb.CreateEnterpriseRequest{Enterprise: &pb.Enterprise{CreditCode: "91110000600037341L", Name: "北京某厂", Ownership: pb.Ownership_PRIVATE}}, o...))
		}},
		{"GetEnterprise", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetEnterprise(ctx, &pb.GetEnterpriseRequest{CreditCode: enterpriseX}, o...))
		}},
		{"ListEnterprises", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListEnterprises(ctx, &pb.ListEnterprisesRequest{}, o...))
		}},
		{"CreateRetiree", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.CreateRetiree(ctx, &pb.CreateRetireeRequest{Retiree: proto.Clone(fresh).(*pb.Retiree)}, o...))
		}},
		{"GetRetiree", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetRetiree(ctx, &pb.GetRetireeRequest{Id: r.Id}, o...))
		}},
		{"ListRetirees", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListRetirees(ctx, &pb.ListRetireesRequest{CommunityId: communityA}, o...))
		}},
		{"UpdateRetiree", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			_, err := c.UpdateRetiree(ctx, &pb.UpdateRetireeRequest{
				Retiree:    &pb.Retiree{Id: r.Id, Phone: "13900001111", Etag: r.Etag},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}},
			}, o...)
			return err
		}},
		{"LookupRetiree", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.LookupRetiree(ctx, &pb.LookupRetireeRequest{IdNumber: r.IdNumber}, o...))
		}},
		{"TransferRetiree", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.TransferRetiree(ctx, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "搬家"}, o...))
		}},
		{"RecordDeath", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.RecordDeath(ctx, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-01-02"}, o...))
		}},
		{"CreateDeathReport", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.CreateDeathReport(ctx, familyReport(r.Id), o...))
		}},
		{"GetDeathReport", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetDeathReport(ctx, &pb.GetDeathReportRequest{Id: unknownRetiree}, o...))
		}},
		{"ListDeathReports", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListDeathReports(ctx, &pb.ListDeathReportsRequest{}, o...))
		}},
		{"ListRetireeDeathReports", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListRetireeDeathReports(ctx, &pb.ListRetireeDeathReportsRequest{Id: r.Id}, o...))
		}},
		{"VerifyDeathReport", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.VerifyDeathReport(ctx, &pb.VerifyDeathReportRequest{Id: unknownRetiree}, o...))
		}},
		{"RejectDeathReport", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.RejectDeathReport(ctx, &pb.RejectDeathReportRequest{Id: unknownRetiree, Reason: "误报"}, o...))
		}},
		{"ReverseDeathReport", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ReverseDeathReport(ctx, &pb.ReverseDeathReportRequest{Id: unknownRetiree, Reason: "误报"}, o...))
		}},
		{"ListRetireeHistory", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListRetireeHistory(ctx, &pb.ListRetireeHistoryRequest{Id: r.Id}, o...))
		}},
		{"ListRetireeAuditLog", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListRetireeAuditLog(ctx, &pb.ListRetireeAuditLogRequest{Id: r.Id}, o...))
		}},
		{"GetSocialisationReport", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetSocialisationReport(ctx, &pb.GetSocialisationReportRequest{}, o...))
		}},
		{"WatchRetirees", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return watchOnce(ctx, c, 0, o...)
		}},
		{"WatchWorkSignals", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return watchSignalsOnce(ctx, c, o...)
		}},
		{"AssignRetirees", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.AssignRetirees(ctx, &pb.AssignRetireesRequest{RequestKey: "k-1", RetireeIds: []string{r.Id}, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY}, o...))
		}},
		{"BatchGetRetireeFacts", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.BatchGetRetireeFacts(ctx, &pb.BatchGetRetireeFactsRequest{Ids: []string{r.Id}}, o...))
		}},
		{"RevokeToken", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.RevokeToken(ctx, &pb.RevokeTokenRequest{TokenId: "EVERYRPC", ExpireTime: timestamppb.New(testNow.Add(time.Hour))}, o...))
		}},
		{"ListRevokedTokens", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListRevokedTokens(ctx, &pb.ListRevokedTokensRequest{}, o...))
		}},
		// The transfer calls name a transfer that does not exist, but for
		// the list.
		{"GetTransfer", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetTransfer(ctx, &pb.GetTransferRequest{Id: unknownRetiree}, o...))
		}},
		{"ListTransfers", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ListTransfers(ctx, &pb.ListTransfersRequest{CommunityId: communityA, Direction: pb.TransferDirection_INCOMING}, o...))
		}},
		{"AcceptTransfer", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.AcceptTransfer(ctx, &pb.AcceptTransferRequest{Id: unknownRetiree}, o...))
		}},
		{"DeclineTransfer", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.DeclineTransfer(ctx, &pb.DeclineTransferRequest{Id: unknownRetiree, Reason: "查无此人"}, o...))
		}},
		// --- roster statuses (A)
		{"ChangeRetireeStatus", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.ChangeRetireeStatus(ctx, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2026-01-02", Reason: "定居加拿大"}, o...))
		}},
		// --- bulk rosters (C)
		{"ImportRetirees", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			stream, err := c.ImportRetirees(ctx, o...)
			if err != nil {
				return err
			}
			// Send answers io.EOF once the server has ended the stream, as
			// it does at once for a caller it refuses; Recv gives the status.
			err = stream.Send(&pb.ImportRetireesRequest{Message: &pb.ImportRetireesRequest_Header{Header: &pb.RetireeImportHeader{BatchId: "every-rpc"}}})
			if err == nil {
				err = stream.CloseSend()
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			_, err = stream.Recv()
			return err
		}},
		{"ExportRegister", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			_, err := exportOnce(ctx, c, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communityA}, o...)
			return err
		}},
		{"GetRetireeContact", func(ctx context.Context, c pb.RegistryServiceClient, o ...grpc.CallOption) error {
			return servicetest.ErrOf(c.GetRetireeContact(ctx, &pb.GetRetireeContactRequest{RetireeId: r.Id, Contact: pb.GetRetireeContactRequest_RETIREE}, o...))
		}},
	}
}

func TestEveryRPCIsCovered(t *testing.T) {
	methods := pb.RegistryService_ServiceDesc.Methods
	want := make(map[string]bool)
	for _, m := range methods {
		want[m.MethodName] = true
	}
	for _, s := range pb.RegistryService_ServiceDesc.Streams {
		want[s.StreamName] = true
	}
	got := make(map[string]bool)
	for _, c := range everyRPC(t, &pb.Retiree{}) {
		got[c.name] = true
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("everyRPC does not list exactly the service's methods (-service +listed):\n%s", diff)
	}
}

func TestServerUnauthenticated(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	head, _, _ := s.Head()

	expired, err := h.keys.Signer.Sign(adminP, time.Hour, time.Now().Add(-2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	forged, err := servicetest.NewKeys(t).Signer.Sign(adminP, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	creds := []struct {
		name string
		opts []grpc.CallOption
	}{
		{"no token", nil},
		{"expired token", []grpc.CallOption{grpc.PerRPCCredentials(authn.BearerCredentials(expired))}},
		{"token of another key", []grpc.CallOption{grpc.PerRPCCredentials(authn.BearerCredentials(forged))}},
		{"garbage token", []grpc.CallOption{grpc.PerRPCCredentials(authn.BearerCredentials("not.a.jwt"))}},
	}
	for _, c := range everyRPC(t, r) {
		for _, cred := range creds {
			t.Run(c.name+"/"+cred.name, func(t *testing.T) {
				err := c.call(context.Background(), h.client, cred.opts...)
				wantStatus(t, err, codes.Unauthenticated, r.IdNumber, expired, forged)
			})
		}
	}
	// The same calls with a good token pass authentication: the test above
	// does not pass for a reason unrelated to the token.
	for _, c := range everyRPC(t, r) {
		switch c.name {
		case "RecordDeath", "TransferRetiree", "AssignRetirees", "ChangeRetireeStatus", "CreateDeathReport":
			continue // they would change r for the calls after them
		case "GetTransfer", "AcceptTransfer", "DeclineTransfer":
			continue // they name no transfer
		case "GetDeathReport", "VerifyDeathReport", "RejectDeathReport", "ReverseDeathReport":
			continue // they name no report
		}
		t.Run(c.name+"/admin", func(t *testing.T) {
			opts := []grpc.CallOption{grpc.PerRPCCredentials(authn.BearerCredentials(h.token(adminP)))}
			if err := c.call(context.Background(), h.client, opts...); err != nil {
				t.Errorf("admin call: %v", err)
			}
		})
	}
	if after, _, _ := s.Head(); after != head+2 { // UpdateRetiree and CreateRetiree as admin
		t.Errorf("head moved from %d to %d, want %d", head, after, head+2)
	}
}

// TestServerValidation sends every kind of invalid input to each RPC and
// checks the field violations or rule reasons; nothing may change.
func TestServerValidation(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	r := mustCreate(t, s, newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY))
	other := mustCreate(t, s, newRetiree(t, 2, communityB, pb.ManagementMode_COMMUNITY))
	dead := mustCreate(t, s, newRetiree(t, 3, communityB, pb.ManagementMode_COMMUNITY))
	if _, _, err := s.RecordDeath(dead.Id, "2025-01-01", "", pb.DeathReportSource_BUREAU_MATCH, Actor{Subject: "test", Role: "admin"}, allow); err != nil {
		t.Fatal(err)
	}
	head, _, _ := s.Head()

	admin := h.as(adminP)
	clerk := h.as(clerkP)
	clerk2 := h.as(authn.Principal{Subject: "clerk-ab", Role: authn.RoleClerk, Communities: []string{communityA, communityB}})
	service := h.as(serviceP)
	c := h.client

	newR := func(mut func(*pb.Retiree)) *pb.CreateRetireeRequest {
		nr := newRetiree(t, 100, communityA, pb.ManagementMode_COMMUNITY)
		mut(nr)
		return &pb.CreateRetireeRequest{Retiree: nr}
	}
	futureBorn, err := idnumber.Build("110105", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC), 1)
	if err != nil {
		t.Fatal(err)
	}
	unknownCode, err := creditcode.Build("91", "110000", "60003734")
	if err != nil {
		t.Fatal(err)
	}
	// update is a call of UpdateRetiree on r with the fields mut sets.
	update := func(ctx context.Context, paths []string, mut func(*pb.Retiree)) func() error {
		v := &pb.Retiree{Id: r.Id, Etag: r.Etag}
		mut(v)
		return servicetest.Call(ctx, c.UpdateRetiree, &pb.UpdateRetireeRequest{Retiree: v, UpdateMask: &fieldmaskpb.FieldMask{Paths: paths}})
	}
	listToken := func() string {
		resp, err := c.ListCommunities(admin, &pb.ListCommunitiesRequest{PageSize: 1})
		if err != nil || resp.NextPageToken == "" {
			t.Fatalf("ListCommunities = %v, %v", resp, err)
		}
		return resp.NextPageToken
	}()
	randomToken := base64.RawURLEncoding.EncodeToString([]byte("\x01retiree-key-that-nobody-signed0123456789abcdef"))
	badTokens := []string{"forged", "!!!", randomToken, listToken, strings.Repeat("A", 2000)}
	manyIDs := make([]string, maxAssignBatch+1)
	for i := range manyIDs {
		manyIDs[i] = unknownRetiree
	}

	type validationCase struct {
		name   string
		call   func() error
		fields []string // InvalidArgument with these fields, or
		code   codes.Code
		reason string // a rule failure
	}
	tests := []validationCase{
		// CreateCommunity
		{name: "CreateCommunity/no community", call: servicetest.Call(admin, c.CreateCommunity, &pb.CreateCommunityRequest{}), fields: []string{"community"}},
		{name: "CreateCommunity/everything wrong", call: servicetest.Call(admin, c.CreateCommunity, &pb.CreateCommunityRequest{Community: &pb.Community{Id: "21010200100", Name: " x", Street: "s", Households: -1}}), fields: []string{"id", "name", "district", "kind", "households"}},
		{name: "CreateCommunity/letters in id", call: servicetest.Call(admin, c.CreateCommunity, &pb.CreateCommunityRequest{Community: &pb.Community{Id: "21010200100a", Name: "x", District: "d", Street: "s", Kind: pb.CommunityKind_BLOCK}}), fields: []string{"id"}},
		{name: "CreateCommunity/unknown kind", call: servicetest.Call(admin, c.CreateCommunity, &pb.CreateCommunityRequest{Community: &pb.Community{Id: "210102001099", Name: "x", District: "d", Street: "s", Kind: 42, Households: maxHouseholds + 1}}), fields: []string{"kind", "households"}},
		// GetCommunity
		{name: "GetCommunity/bad id", call: servicetest.Call(admin, c.GetCommunity, &pb.GetCommunityRequest{Id: "abc"}), fields: []string{"id"}},
		{name: "GetCommunity/unknown", call: servicetest.Call(admin, c.GetCommunity, &pb.GetCommunityRequest{Id: unknownCommunity}), code: codes.NotFound},
		// CreateEnterprise
		{name: "CreateEnterprise/no enterprise", call: servicetest.Call(admin, c.CreateEnterprise, &pb.CreateEnterpriseRequest{}), fields: []string{"enterprise"}},
		{name: "CreateEnterprise/bad credit code", call: servicetest.Call(admin, c.CreateEnterprise, &pb.CreateEnterpriseRequest{Enterprise: &pb.Enterprise{CreditCode: "91350100M000100Y44", Name: "x", Ownership: pb.Ownership_STATE}}), fields: []string{"creditCode"}},
		{name: "CreateEnterprise/everything wrong", call: servicetest.Call(admin, c.CreateEnterprise, &pb.CreateEnterpriseRequest{Enterprise: &pb.Enterprise{CreditCode: "short", Status: 9}}), fields: []string{"creditCode", "name", "ownership", "status"}},
		// GetEnterprise
		{name: "GetEnterprise/unknown", call: servicetest.Call(admin, c.GetEnterprise, &pb.GetEnterpriseRequest{CreditCode: string(unknownCode)}), code: codes.NotFound},
		// CreateRetiree
		{name: "CreateRetiree/no retiree", call: servicetest.Call(admin, c.CreateRetiree, &pb.CreateRetireeRequest{}), fields: []string{"retiree"}},
		{name: "CreateRetiree/check character", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber = "110105194912310021" })), fields: []string{"idNumber"}},
		{name: "CreateRetiree/30 February", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber = "110105194902300020" })), fields: []string{"idNumber"}},
		{name: "CreateRetiree/born in the future", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber = futureBorn.Digits() })), fields: []string{"idNumber"}},
		{name: "CreateRetiree/missing ID number", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber = "" })), fields: []string{"idNumber"}},
		{name: "CreateRetiree/sex mismatch", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber, r.Sex = "11010519491231002X", pb.Sex_MALE })), fields: []string{"sex"}},
		{name: "CreateRetiree/birth date mismatch", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber, r.BirthDate = "11010519491231002X", "1949-12-30" })), fields: []string{"birthDate"}},
		{name: "CreateRetiree/missing name", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Name = "" })), fields: []string{"name"}},
		{name: "CreateRetiree/long name", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Name = strings.Repeat("名", maxNameLen+1) })), fields: []string{"name"}},
		{name: "CreateRetiree/control character in address", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.ResidenceAddress = "北市场街\x001号" })), fields: []string{"residenceAddress"}},
		{name: "CreateRetiree/bad community id", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.CommunityId = "2101020010" })), fields: []string{"communityId"}},
		{name: "CreateRetiree/missing community", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.CommunityId = "" })), fields: []string{"communityId"}},
		{name: "CreateRetiree/unknown community and enterprise", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.CommunityId, r.EnterpriseCreditCode = unknownCommunity, string(unknownCode) })), fields: []string{"communityId", "enterpriseCreditCode"}},
		{name: "CreateRetiree/bad credit code", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.EnterpriseCreditCode = "91350100M000100Y44" })), fields: []string{"enterpriseCreditCode"}},
		{name: "CreateRetiree/enterprise-managed without enterprise", call: func() error {
			_, err := c.CreateRetiree(admin, newR(func(r *pb.Retiree) {
				r.ManagementMode, r.EnterpriseCreditCode = pb.ManagementMode_ENTERPRISE, ""
			}))
			return err
		}, fields: []string{"enterpriseCreditCode"}},
		{name: "CreateRetiree/no management mode", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.ManagementMode = 0 })), fields: []string{"managementMode"}},
		{name: "CreateRetiree/unknown management mode", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.ManagementMode = 42 })), fields: []string{"managementMode"}},
		{name: "CreateRetiree/unknown flag", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Flags = []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, 99} })), fields: []string{"flags[1]"}},
		{name: "CreateRetiree/unspecified flag", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Flags = []pb.RetireeFlag{0} })), fields: []string{"flags[0]"}},
		{name: "CreateRetiree/too many flags", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Flags = make([]pb.RetireeFlag, maxFlags+1) })), fields: []string{"flags"}},
		{name: "CreateRetiree/retired before birth", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.RetirementDate = "1930-01-01" })), fields: []string{"retirementDate"}},
		{name: "CreateRetiree/retirement far ahead", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.RetirementDate = "2031-01-01" })), fields: []string{"retirementDate"}},
		{name: "CreateRetiree/retirement not a date", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.RetirementDate = "2010-13-01" })), fields: []string{"retirementDate"}},
		{name: "CreateRetiree/bad phone", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Phone = "138-abcd-5678" })), fields: []string{"phone"}},
		{name: "CreateRetiree/several fields at once", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.IdNumber, r.Name, r.CommunityId = "110105194912310021", "", "x" })), fields: []string{"idNumber", "name", "communityId"}},
		{name: "CreateRetiree/enterprise registers a community-managed retiree", call: func() error {
			req := newR(func(r *pb.Retiree) { r.EnterpriseCreditCode = enterpriseX })
			_, err := c.CreateRetiree(h.as(enterpriseP), req)
			return err
		}, fields: []string{"managementMode"}},
		// GetRetiree
		{name: "GetRetiree/unknown", call: servicetest.Call(admin, c.GetRetiree, &pb.GetRetireeRequest{Id: unknownRetiree}), code: codes.NotFound},
		{name: "GetRetiree/malformed id", call: servicetest.Call(admin, c.GetRetiree, &pb.GetRetireeRequest{Id: "../../etc/passwd"}), code: codes.NotFound},
		// LookupRetiree
		{name: "LookupRetiree/check character", call: servicetest.Call(admin, c.LookupRetiree, &pb.LookupRetireeRequest{IdNumber: "110105194912310021"}), fields: []string{"idNumber"}},
		{name: "LookupRetiree/30 February", call: servicetest.Call(admin, c.LookupRetiree, &pb.LookupRetireeRequest{IdNumber: "110105194902300020"}), fields: []string{"idNumber"}},
		{name: "LookupRetiree/empty", call: servicetest.Call(admin, c.LookupRetiree, &pb.LookupRetireeRequest{}), fields: []string{"idNumber"}},
		{name: "LookupRetiree/unknown", call: servicetest.Call(admin, c.LookupRetiree, &pb.LookupRetireeRequest{IdNumber: "500105195801012713"}), code: codes.NotFound},
		// ListRetirees
		{name: "ListRetirees/bad community id", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{CommunityId: "abc"}), fields: []string{"communityId"}},
		{name: "ListRetirees/unknown enums", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{ManagementMode: 9, Status: 9}), fields: []string{"managementMode", "status"}},
		{name: "ListRetirees/negative page size", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{PageSize: -1}), fields: []string{"pageSize"}},
		{name: "ListRetirees/page size over 1000", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{PageSize: 1001}), fields: []string{"pageSize"}},
		{name: "ListRetirees/clerk of several communities without filter", call: servicetest.Call(clerk2, c.ListRetirees, &pb.ListRetireesRequest{}), fields: []string{"communityId"}},
		// UpdateRetiree
		{name: "UpdateRetiree/no retiree", call: servicetest.Call(admin, c.UpdateRetiree, &pb.UpdateRetireeRequest{UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}}}), fields: []string{"retiree"}},
		{name: "UpdateRetiree/ID number in mask", call: update(admin, []string{"idNumber"}, func(v *pb.Retiree) { v.IdNumber = "500105195801012713" }), fields: []string{"updateMask"}},
		{name: "UpdateRetiree/unknown field in mask", call: update(admin, []string{"phone", "favouriteColour"}, func(v *pb.Retiree) { v.Phone = "13900001111" }), fields: []string{"updateMask"}},
		{name: "UpdateRetiree/community in mask", call: update(admin, []string{"community_id"}, func(v *pb.Retiree) { v.CommunityId = communityB }), fields: []string{"updateMask"}},
		{name: "UpdateRetiree/status in mask", call: update(admin, []string{"status"}, func(v *pb.Retiree) { v.Status = pb.RetireeStatus_DECEASED }), fields: []string{"updateMask"}},
		{name: "UpdateRetiree/empty mask", call: update(admin, nil, func(v *pb.Retiree) { v.Phone = "13900001111" }), fields: []string{"updateMask"}},
		{name: "UpdateRetiree/mask of only id and etag", call: update(admin, []string{"id", "etag"}, func(*pb.Retiree) {}), fields: []string{"updateMask"}},
		{name: "UpdateRetiree/missing etag", call: update(admin, []string{"phone"}, func(v *pb.Retiree) { v.Phone, v.Etag = "13900001111", "" }), fields: []string{"etag"}},
		{name: "UpdateRetiree/bad phone", call: update(admin, []string{"phone"}, func(v *pb.Retiree) { v.Phone = "call me" }), fields: []string{"phone"}},
		{name: "UpdateRetiree/empty name", call: update(admin, []string{"name"}, func(*pb.Retiree) {}), fields: []string{"name"}},
		{name: "UpdateRetiree/unknown flag", call: update(admin, []string{"flags"}, func(v *pb.Retiree) { v.Flags = []pb.RetireeFlag{77} }), fields: []string{"flags[0]"}},
		{name: "UpdateRetiree/retirement far ahead", call: update(admin, []string{"retirementDate"}, func(v *pb.Retiree) { v.RetirementDate = "2031-01-01" }), fields: []string{"retirementDate"}},
		{name: "UpdateRetiree/bad credit code", call: update(admin, []string{"enterpriseCreditCode"}, func(v *pb.Retiree) { v.EnterpriseCreditCode = "91350100M000100Y44" }), fields: []string{"enterpriseCreditCode"}},
		{name: "UpdateRetiree/unknown enterprise", call: update(admin, []string{"enterpriseCreditCode"}, func(v *pb.Retiree) { v.EnterpriseCreditCode = string(unknownCode) }), fields: []string{"enterpriseCreditCode"}},
		{name: "UpdateRetiree/no management mode", call: update(admin, []string{"managementMode"}, func(*pb.Retiree) {}), fields: []string{"managementMode"}},
		{name: "UpdateRetiree/clerk changes management mode", call: update(clerk, []string{"managementMode"}, func(v *pb.Retiree) { v.ManagementMode = pb.ManagementMode_BUREAU }), code: codes.PermissionDenied},
		{name: "UpdateRetiree/stale etag", call: update(admin, []string{"phone"}, func(v *pb.Retiree) { v.Phone, v.Etag = "13900001111", "r999" }), code: codes.Aborted, reason: "ETAG_MISMATCH"},
		{name: "UpdateRetiree/unknown", call: servicetest.Call(admin, c.UpdateRetiree, &pb.UpdateRetireeRequest{Retiree: &pb.Retiree{Id: unknownRetiree, Phone: "13900001111", Etag: "r1"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}}}), code: codes.NotFound},
		// TransferRetiree
		{name: "TransferRetiree/bad target and no reason", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: "123"}), fields: []string{"toCommunityId", "reason"}},
		{name: "TransferRetiree/missing target", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "搬家"}), fields: []string{"toCommunityId"}},
		{name: "TransferRetiree/long reason", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityB, Reason: strings.Repeat("因", maxReasonLen+1)}), fields: []string{"reason"}},
		{name: "TransferRetiree/unknown community", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: unknownCommunity, Reason: "搬家"}), fields: []string{"toCommunityId"}},
		{name: "TransferRetiree/same community", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityA, Reason: "搬家"}), code: codes.FailedPrecondition, reason: reasonSameCommunity},
		{name: "TransferRetiree/deceased", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: dead.Id, ToCommunityId: communityA, Reason: "搬家"}), code: codes.FailedPrecondition, reason: reasonNotLiving},
		{name: "TransferRetiree/stale etag", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityB, Reason: "搬家", Etag: "r999"}), code: codes.Aborted, reason: "ETAG_MISMATCH"},
		{name: "TransferRetiree/unknown", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: unknownRetiree, ToCommunityId: communityB, Reason: "搬家"}), code: codes.NotFound},
		{name: "TransferRetiree/out of the city without destination", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "定居", OutOfCity: true}), fields: []string{"destination.description"}},
		{name: "TransferRetiree/out of the city to a community", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "定居", OutOfCity: true, ToCommunityId: communityB, Destination: &pb.TransferDestination{Description: "大连市"}}), fields: []string{"toCommunityId"}},
		{name: "TransferRetiree/out of the city, bad division code", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "定居", OutOfCity: true, Destination: &pb.TransferDestination{Description: "大连市", DivisionCode: "2102"}}), fields: []string{"destination.divisionCode"}},
		{name: "TransferRetiree/out of the city to a community here", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "定居", OutOfCity: true, Destination: &pb.TransferDestination{Description: "本市", DivisionCode: communityB}}), fields: []string{"destination.divisionCode"}},
		{name: "TransferRetiree/long destination", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "定居", OutOfCity: true, Destination: &pb.TransferDestination{Description: strings.Repeat("市", maxAddressLen+1)}}), fields: []string{"destination.description"}},
		{name: "TransferRetiree/destination within the city", call: servicetest.Call(admin, c.TransferRetiree, &pb.TransferRetireeRequest{Id: r.Id, Reason: "搬家", ToCommunityId: communityB, Destination: &pb.TransferDestination{Description: "大连市"}}), fields: []string{"destination"}},
		// The transfers
		{name: "GetTransfer/unknown", call: servicetest.Call(admin, c.GetTransfer, &pb.GetTransferRequest{Id: unknownRetiree}), code: codes.NotFound},
		{name: "GetTransfer/malformed id", call: servicetest.Call(admin, c.GetTransfer, &pb.GetTransferRequest{Id: "../x"}), code: codes.NotFound},
		{name: "GetTransfer/unknown, clerk", call: servicetest.Call(clerk, c.GetTransfer, &pb.GetTransferRequest{Id: unknownRetiree}), code: codes.PermissionDenied},
		{name: "ListTransfers/bad community id", call: servicetest.Call(admin, c.ListTransfers, &pb.ListTransfersRequest{CommunityId: "abc", Direction: pb.TransferDirection_INCOMING}), fields: []string{"communityId"}},
		{name: "ListTransfers/community without direction", call: servicetest.Call(admin, c.ListTransfers, &pb.ListTransfersRequest{CommunityId: communityA}), fields: []string{"direction"}},
		{name: "ListTransfers/direction without community", call: servicetest.Call(admin, c.ListTransfers, &pb.ListTransfersRequest{Direction: pb.TransferDirection_OUTGOING}), fields: []string{"direction"}},
		{name: "ListTransfers/unknown enums", call: servicetest.Call(admin, c.ListTransfers, &pb.ListTransfersRequest{CommunityId: communityA, Direction: 7, State: 9}), fields: []string{"direction", "state"}},
		{name: "ListTransfers/clerk of several communities without community", call: servicetest.Call(clerk2, c.ListTransfers, &pb.ListTransfersRequest{Direction: pb.TransferDirection_INCOMING}), fields: []string{"communityId"}},
		{name: "ListTransfers/page size", call: servicetest.Call(admin, c.ListTransfers, &pb.ListTransfersRequest{PageSize: 1001}), fields: []string{"pageSize"}},
		{name: "AcceptTransfer/unknown", call: servicetest.Call(admin, c.AcceptTransfer, &pb.AcceptTransferRequest{Id: unknownRetiree}), code: codes.NotFound},
		{name: "DeclineTransfer/no reason", call: servicetest.Call(admin, c.DeclineTransfer, &pb.DeclineTransferRequest{Id: unknownRetiree}), fields: []string{"reason"}},
		{name: "DeclineTransfer/unknown", call: servicetest.Call(admin, c.DeclineTransfer, &pb.DeclineTransferRequest{Id: unknownRetiree, Reason: "查无此人"}), code: codes.NotFound},
		// RecordDeath
		{name: "RecordDeath/missing date", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: r.Id}), fields: []string{"dateOfDeath"}},
		{name: "RecordDeath/30 February", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-02-30"}), fields: []string{"dateOfDeath"}},
		{name: "RecordDeath/not a date", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026/01/02"}), fields: []string{"dateOfDeath"}},
		{name: "RecordDeath/tomorrow", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-06-16"}), fields: []string{"dateOfDeath"}},
		{name: "RecordDeath/before birth", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "1900-01-01"}), fields: []string{"dateOfDeath"}},
		{name: "RecordDeath/already deceased", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: dead.Id, DateOfDeath: "2026-01-01"}), code: codes.FailedPrecondition, reason: reasonNotLiving},
		{name: "RecordDeath/stale etag", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-01-02", Etag: "r999"}), code: codes.Aborted, reason: "ETAG_MISMATCH"},
		{name: "RecordDeath/unknown", call: servicetest.Call(admin, c.RecordDeath, &pb.RecordDeathRequest{Id: unknownRetiree, DateOfDeath: "2026-01-02"}), code: codes.NotFound},
		// ListRetireeHistory and ListRetireeAuditLog
		{name: "ListRetireeHistory/unknown", call: servicetest.Call(admin, c.ListRetireeHistory, &pb.ListRetireeHistoryRequest{Id: unknownRetiree}), code: codes.NotFound},
		{name: "ListRetireeHistory/page size", call: servicetest.Call(admin, c.ListRetireeHistory, &pb.ListRetireeHistoryRequest{Id: r.Id, PageSize: 5000}), fields: []string{"pageSize"}},
		{name: "ListRetireeAuditLog/unknown", call: servicetest.Call(admin, c.ListRetireeAuditLog, &pb.ListRetireeAuditLogRequest{Id: unknownRetiree}), code: codes.NotFound},
		{name: "ListRetireeAuditLog/page size", call: servicetest.Call(admin, c.ListRetireeAuditLog, &pb.ListRetireeAuditLogRequest{Id: r.Id, PageSize: -3}), fields: []string{"pageSize"}},
		// --- roster (A): statuses, computed flags, residence, carers, list filters
		{name: "ChangeRetireeStatus/to DECEASED", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_DECEASED, EffectiveOn: "2026-01-02", Reason: "去世"}), fields: []string{"status"}},
		{name: "ChangeRetireeStatus/to MOVED_OUT", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_MOVED_OUT, EffectiveOn: "2026-01-02", Reason: "迁出"}), fields: []string{"status"}},
		{name: "ChangeRetireeStatus/nothing given", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id}), fields: []string{"status", "effectiveOn", "reason"}},
		{name: "ChangeRetireeStatus/unknown status", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: 42, EffectiveOn: "2026-01-02", Reason: "x"}), fields: []string{"status"}},
		{name: "ChangeRetireeStatus/tomorrow", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2026-06-16", Reason: "出国"}), fields: []string{"effectiveOn"}},
		{name: "ChangeRetireeStatus/not a date", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2026-02-30", Reason: "出国"}), fields: []string{"effectiveOn"}},
		{name: "ChangeRetireeStatus/long reason", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2026-01-02", Reason: strings.Repeat("因", maxReasonLen+1)}), fields: []string{"reason"}},
		{name: "ChangeRetireeStatus/before retirement", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2009-12-31", Reason: "出国"}), fields: []string{"effectiveOn"}},
		{name: "ChangeRetireeStatus/same status", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_LIVING, EffectiveOn: "2026-01-02", Reason: "核实"}), code: codes.FailedPrecondition, reason: reasonStatusUnchanged},
		{name: "ChangeRetireeStatus/deceased", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: dead.Id, Status: pb.RetireeStatus_LOST_CONTACT, EffectiveOn: "2026-01-02", Reason: "失联"}), code: codes.FailedPrecondition, reason: reasonDeceased},
		{name: "ChangeRetireeStatus/stale etag", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: r.Id, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2026-01-02", Reason: "出国", Etag: "r999"}), code: codes.Aborted, reason: "ETAG_MISMATCH"},
		{name: "ChangeRetireeStatus/unknown", call: servicetest.Call(admin, c.ChangeRetireeStatus, &pb.ChangeRetireeStatusRequest{Id: unknownRetiree, Status: pb.RetireeStatus_ABROAD, EffectiveOn: "2026-01-02", Reason: "出国"}), code: codes.NotFound},
		{name: "CreateRetiree/sets AGED_80_PLUS", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Flags = []pb.RetireeFlag{pb.RetireeFlag_AGED_80_PLUS} })), fields: []string{"flags"}},
		{name: "UpdateRetiree/sets AGED_90_PLUS", call: update(admin, []string{"flags"}, func(v *pb.Retiree) {
			v.Flags = []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_AGED_90_PLUS}
		}), fields: []string{"flags"}},
		{name: "CreateRetiree/residence without kind", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) { r.Residence = &pb.Residence{Address: r.ResidenceAddress} })), fields: []string{"residence.kind"}},
		{name: "CreateRetiree/abroad without country", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.ResidenceAddress, r.Residence = "", &pb.Residence{Kind: pb.Residence_ABROAD, DivisionCode: "210102"}
		})), fields: []string{"residence.country", "residence.divisionCode"}},
		{name: "CreateRetiree/country at home", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.ResidenceAddress, r.Residence = "", &pb.Residence{Kind: pb.Residence_LOCAL, Country: "CA", DivisionCode: "2101"}
		})), fields: []string{"residence.country", "residence.divisionCode"}},
		{name: "CreateRetiree/abroad in China", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.ResidenceAddress, r.Residence = "", &pb.Residence{Kind: pb.Residence_ABROAD, Country: "CN"}
		})), fields: []string{"residence.country"}},
		{name: "CreateRetiree/country not a code", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.ResidenceAddress, r.Residence = "", &pb.Residence{Kind: pb.Residence_ABROAD, Country: "Canada"}
		})), fields: []string{"residence.country"}},
		{name: "CreateRetiree/two addresses", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.Residence = &pb.Residence{Kind: pb.Residence_OTHER_CITY, Address: "大连市中山区"}
		})), fields: []string{"residenceAddress"}},
		{name: "CreateRetiree/too many carers", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			for range maxCarers + 1 {
				r.Carers = append(r.Carers, &pb.Carer{Name: "李明", Relation: pb.Carer_CHILD})
			}
		})), fields: []string{"carers"}},
		{name: "CreateRetiree/carer without name or relation, bad phone", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.Carers = []*pb.Carer{{Phone: "138-abcd-5678"}}
		})), fields: []string{"carers[0].name", "carers[0].relation", "carers[0].phone"}},
		{name: "CreateRetiree/two emergency contacts", call: servicetest.Call(admin, c.CreateRetiree, newR(func(r *pb.Retiree) {
			r.Carers = []*pb.Carer{{Name: "李明", Relation: pb.Carer_CHILD, EmergencyContact: true}, {Name: "王芳", Relation: pb.Carer_NEIGHBOUR, EmergencyContact: true}}
		})), fields: []string{"carers"}},
		{name: "UpdateRetiree/residence without kind", call: update(admin, []string{"residence"}, func(v *pb.Retiree) { v.Residence = &pb.Residence{Address: "x"} }), fields: []string{"residence.kind"}},
		{name: "UpdateRetiree/residence against the address", call: update(admin, []string{"residence", "residence_address"}, func(v *pb.Retiree) { v.ResidenceAddress = "y" }), fields: []string{"residenceAddress"}},
		{name: "UpdateRetiree/carer with unknown relation", call: update(admin, []string{"carers"}, func(v *pb.Retiree) { v.Carers = []*pb.Carer{{Name: "李明", Relation: 42}} }), fields: []string{"carers[0].relation"}},
		{name: "ListRetirees/unknown flag and residence kind", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{Flags: []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, 99}, ResidenceKind: 9}), fields: []string{"flags[1]", "residenceKind"}},
		{name: "ListRetirees/ages out of range", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{MinAge: -1, MaxAge: maxAge + 1}), fields: []string{"minAge", "maxAge"}},
		{name: "ListRetirees/max age below min age", call: servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{MinAge: 80, MaxAge: 70}), fields: []string{"maxAge"}},
		// Lists of communities and enterprises
		{name: "ListCommunities/page size", call: servicetest.Call(admin, c.ListCommunities, &pb.ListCommunitiesRequest{PageSize: -1}), fields: []string{"pageSize"}},
		{name: "ListEnterprises/unknown status", call: servicetest.Call(admin, c.ListEnterprises, &pb.ListEnterprisesRequest{Status: 9}), fields: []string{"status"}},
		{name: "ListEnterprises/page size and token", call: servicetest.Call(admin, c.ListEnterprises, &pb.ListEnterprisesRequest{PageSize: 1001, PageToken: "x"}), fields: []string{"pageSize", "pageToken"}},
		// GetSocialisationReport
		{name: "GetSocialisationReport/unknown grouping", call: servicetest.Call(admin, c.GetSocialisationReport, &pb.GetSocialisationReportRequest{GroupBy: "city"}), fields: []string{"groupBy"}},
		// WatchRetirees
		{name: "WatchRetirees/negative revision", call: func() error {
			return watchOnce(service, c, -1)
		}, fields: []string{"sinceRevision"}},
		// AssignRetirees
		{name: "AssignRetirees/nothing given", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{}), fields: []string{"requestKey", "communityId", "managementMode", "retireeIds"}},
		{name: "AssignRetirees/bad community and long key", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{RequestKey: strings.Repeat("k", maxRequestKey+1), RetireeIds: []string{r.Id}, CommunityId: "x", ManagementMode: pb.ManagementMode_COMMUNITY}), fields: []string{"requestKey", "communityId"}},
		{name: "AssignRetirees/control character in reason", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{RequestKey: "k", RetireeIds: []string{r.Id}, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY, Reason: "a\nb"}), fields: []string{"reason"}},
		{name: "AssignRetirees/unknown retirees", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{RequestKey: "k", RetireeIds: []string{r.Id, unknownRetiree, other.Id, "not-an-id"}, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY}), fields: []string{"retireeIds[1]", "retireeIds[3]"}},
		{name: "AssignRetirees/deceased retiree", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{RequestKey: "k", RetireeIds: []string{dead.Id}, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY}), fields: []string{"retireeIds[0]"}},
		{name: "AssignRetirees/unknown community", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{RequestKey: "k", RetireeIds: []string{r.Id}, CommunityId: unknownCommunity, ManagementMode: pb.ManagementMode_COMMUNITY}), fields: []string{"communityId"}},
		{name: "AssignRetirees/over 10000 retirees", call: servicetest.Call(service, c.AssignRetirees, &pb.AssignRetireesRequest{RequestKey: "k", RetireeIds: manyIDs, CommunityId: communityB, ManagementMode: pb.ManagementMode_COMMUNITY}), fields: []string{"retireeIds"}},
		// BatchGetRetireeFacts
		{name: "BatchGetRetireeFacts/over 10000 ids", call: servicetest.Call(service, c.BatchGetRetireeFacts, &pb.BatchGetRetireeFactsRequest{Ids: make([]string, maxFactsBatch+1)}), fields: []string{"ids"}},
		{name: "BatchGetRetireeFacts/an id twice", call: servicetest.Call(service, c.BatchGetRetireeFacts, &pb.BatchGetRetireeFactsRequest{Ids: []string{r.Id, other.Id, r.Id}}), fields: []string{"ids[2]"}},
	}
	// Every list rejects page tokens it did not issue for the same query.
	for i, tok := range badTokens {
		for _, l := range []struct {
			name string
			call func() error
		}{
			{"ListRetirees", servicetest.Call(admin, c.ListRetirees, &pb.ListRetireesRequest{PageToken: tok})},
			{"ListEnterprises", servicetest.Call(admin, c.ListEnterprises, &pb.ListEnterprisesRequest{PageToken: tok})},
			{"ListRetireeHistory", servicetest.Call(admin, c.ListRetireeHistory, &pb.ListRetireeHistoryRequest{Id: r.Id, PageToken: tok})},
			{"ListRetireeAuditLog", servicetest.Call(admin, c.ListRetireeAuditLog, &pb.ListRetireeAuditLogRequest{Id: r.Id, PageToken: tok})},
		} {
			tests = append(tests, validationCase{name: fmt.Sprintf("%s/bad page token %d", l.name, i), call: l.call, fields: []string{"pageToken"}})
		}
		if tok != listToken {
			tests = append(tests, validationCase{name: fmt.Sprintf("ListCommunities/bad page token %d", i), call: servicetest.Call(admin, c.ListCommunities, &pb.ListCommunitiesRequest{PageToken: tok}), fields: []string{"pageToken"}})
		}
	}

	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			switch {
			case tc.fields != nil:
				wantFields(t, err, tc.fields...)
			case tc.reason != "":
				wantReason(t, err, tc.code, tc.reason)
			default:
				wantStatus(t, err, tc.code)
			}
		})
	}
	if after, _, _ := s.Head(); after != head {
		t.Errorf("rejected requests moved the head from %d to %d", head, after)
	}
	got, err := s.GetRetiree(r.Id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got, protocmp.Transform()); diff != "" {
		t.Errorf("rejected requests changed the retiree (-before +after):\n%s", diff)
	}
}

// TestServerRetireeLifecycle walks one retiree through every RPC that
// succeeds for it and checks what each answers.
func TestServerRetireeLifecycle(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	admin := h.as(adminP)

	in := newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)
	in.IdNumber = "11010519491231002x" // lower-case check character is accepted
	in.Flags = []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_MODEL_WORKER, pb.RetireeFlag_LIVING_ALONE}
	in.Etag, in.Status, in.DateOfDeath = "forged", pb.RetireeStatus_DECEASED, "2020-01-01" // output only: ignored
	created, err := c.CreateRetiree(h.as(clerkP), &pb.CreateRetireeRequest{Retiree: in})
	if err != nil {
		t.Fatal(err)
	}
	r := created.Retiree
	want := &pb.Retiree{
		Id:                   r.Id,
		IdNumber:             "11010519491231002X",
		IdNumberMasked:       "110105********002X",
		Name:                 in.Name,
		Sex:                  pb.Sex_FEMALE,
		BirthDate:            "1949-12-31",
		RetirementDate:       "2010-01-01",
		EnterpriseCreditCode: enterpriseX,
		CommunityId:          communityA,
		ManagementMode:       pb.ManagementMode_COMMUNITY,
		Status:               pb.RetireeStatus_LIVING,
		Phone:                "13812345678",
		PhoneMasked:          "138****5678",
		ResidenceAddress:     in.ResidenceAddress,
		Residence:            &pb.Residence{Address: in.ResidenceAddress},
		Flags:                []pb.RetireeFlag{pb.RetireeFlag_LIVING_ALONE, pb.RetireeFlag_MODEL_WORKER},
		Etag:                 "r1",
	}
	// A write answers with the masks only; get and lookup give the numbers.
	wantMasked := proto.Clone(want).(*pb.Retiree)
	wantMasked.IdNumber, wantMasked.Phone = "", ""
	if diff := cmp.Diff(wantMasked, r, protocmp.Transform(), protocmp.IgnoreFields(&pb.Retiree{}, "create_time", "update_time")); diff != "" {
		t.Errorf("created (-want +got):\n%s", diff)
	}
	r.IdNumber, r.Phone = want.IdNumber, want.Phone
	if !inputcheck.IsOpaqueID(r.Id) || r.CreateTime == nil || r.UpdateTime == nil {
		t.Errorf("created id %q, times %v %v", r.Id, r.CreateTime, r.UpdateTime)
	}

	got, err := c.GetRetiree(admin, &pb.GetRetireeRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r, got.Retiree, protocmp.Transform()); diff != "" {
		t.Errorf("get (-created +got):\n%s", diff)
	}
	for _, number := range []string{"11010519491231002X", " 11010519491231002x ", "110105491231002"} {
		found, err := c.LookupRetiree(h.as(bureauP), &pb.LookupRetireeRequest{IdNumber: number})
		if err != nil {
			t.Fatalf("lookup %s: %v", idnumber.Mask(number), err)
		}
		if diff := cmp.Diff(r, found.Retiree, protocmp.Transform()); diff != "" {
			t.Errorf("lookup %s (-created +got):\n%s", idnumber.Mask(number), diff)
		}
	}

	updated, err := c.UpdateRetiree(h.as(clerkP), &pb.UpdateRetireeRequest{
		Retiree: &pb.Retiree{
			Id: r.Id, Etag: r.Etag, Phone: "139 0000 1111", Name: "王秀英",
			Flags: []pb.RetireeFlag{pb.RetireeFlag_HARDSHIP}, ResidenceAddress: "not in the mask",
		},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone", "name", "flags", "id", "etag"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	u := updated.Retiree
	if u.Phone != "" || u.PhoneMasked != "139******1111" || u.Name != "王秀英" || u.ResidenceAddress != in.ResidenceAddress ||
		!cmp.Equal(u.Flags, []pb.RetireeFlag{pb.RetireeFlag_HARDSHIP}) || u.Etag != "r2" || u.IdNumber != "" {
		t.Errorf("updated = %v", u)
	}
	mode, err := c.UpdateRetiree(h.as(bureauP), &pb.UpdateRetireeRequest{
		Retiree:    &pb.Retiree{Id: r.Id, Etag: u.Etag, ManagementMode: pb.ManagementMode_BUREAU},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"management_mode"}},
	})
	if err != nil || mode.Retiree.ManagementMode != pb.ManagementMode_BUREAU {
		t.Fatalf("bureau changes management mode: %v, %v", mode, err)
	}

	proposed, err := c.TransferRetiree(h.as(clerkP), &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "随子女居住", Etag: mode.Retiree.Etag})
	if err != nil {
		t.Fatal(err)
	}
	if proposed.Retiree.CommunityId != communityA || proposed.Retiree.Etag != "r3" || proposed.Transfer.GetState() != pb.TransferState_PROPOSED {
		t.Errorf("proposed = %v", proposed)
	}
	moved, err := c.AcceptTransfer(h.as(servicetest.Clerk("clerk-c", communityC)), &pb.AcceptTransferRequest{Id: proposed.Transfer.Id})
	if err != nil {
		t.Fatal(err)
	}
	if moved.Retiree.CommunityId != communityC || moved.Retiree.Etag != "r4" || moved.Transfer.State != pb.TransferState_ACCEPTED {
		t.Errorf("accepted = %v", moved)
	}
	// Transferred out, the retiree is no longer the clerk's.
	if _, err := c.GetRetiree(h.as(clerkP), &pb.GetRetireeRequest{Id: r.Id}); err == nil {
		t.Error("clerk of A still reads a retiree transferred to C")
	} else {
		wantStatus(t, err, codes.PermissionDenied)
	}

	died, err := c.RecordDeath(h.as(bureauP), &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-06-15"})
	if err != nil {
		t.Fatal(err)
	}
	if died.Retiree.Status != pb.RetireeStatus_DECEASED || died.Retiree.DateOfDeath != "2026-06-15" {
		t.Errorf("deceased = %v", died.Retiree)
	}

	hist, err := c.ListRetireeHistory(admin, &pb.ListRetireeHistoryRequest{Id: r.Id})
	if err != nil {
		t.Fatal(err)
	}
	type step struct {
		Rev    int64
		Kind   pb.ChangeKind
		Actor  string
		Role   string
		Reason string
		Fields string
	}
	var steps []step
	for _, e := range hist.Entries {
		var fields []string
		for _, ch := range e.Changes {
			fields = append(fields, ch.Field)
			if strings.Contains(ch.OldValue+ch.NewValue, "13812345678") || strings.Contains(ch.OldValue+ch.NewValue, "139 0000 1111") {
				t.Errorf("history shows a full phone number: %v", ch)
			}
		}
		steps = append(steps, step{e.Revision, e.Kind, e.Actor, e.ActorRole, e.Reason, strings.Join(fields, ",")})
	}
	wantSteps := []step{
		{1, pb.ChangeKind_CREATED, "clerk-a", "clerk", "", "name,phone,residenceAddress,retirementDate,enterpriseCreditCode,communityId,managementMode,status,flags"},
		{2, pb.ChangeKind_UPDATED, "clerk-a", "clerk", "", "name,phone,flags"},
		{3, pb.ChangeKind_UPDATED, "bureau-shenyang", "bureau", "", "managementMode"},
		{0, pb.ChangeKind_TRANSFER_PROPOSED, "clerk-a", "clerk", "随子女居住", ""},
		{4, pb.ChangeKind_TRANSFERRED, "clerk-c", "clerk", "随子女居住", "communityId"},
		{5, pb.ChangeKind_DIED, "bureau-shenyang", "bureau", "", "status,statusEffectiveOn,dateOfDeath"},
	}
	if diff := cmp.Diff(wantSteps, steps); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if hist.NextPageToken != "" {
		t.Errorf("history of 6 entries has a next page")
	}
	page, err := c.ListRetireeHistory(admin, &pb.ListRetireeHistoryRequest{Id: r.Id, PageSize: 3})
	if err != nil || len(page.Entries) != 3 || page.NextPageToken == "" {
		t.Fatalf("history page 1 = %v, %v", page, err)
	}
	page2, err := c.ListRetireeHistory(admin, &pb.ListRetireeHistoryRequest{Id: r.Id, PageSize: 3, PageToken: page.NextPageToken})
	if err != nil || len(page2.Entries) != 3 || page2.Entries[0].Kind != pb.ChangeKind_TRANSFER_PROPOSED || page2.Entries[1].Revision != 4 || page2.NextPageToken != "" {
		t.Fatalf("history page 2 = %v, %v", page2, err)
	}
	// A token of one retiree's history is refused for another's.
	other := mustCreate(t, s, newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY))
	_, err = c.ListRetireeHistory(admin, &pb.ListRetireeHistoryRequest{Id: other.Id, PageToken: page.NextPageToken})
	wantFields(t, err, "pageToken")
}

// TestServerCommunitiesAndEnterprises covers the reference data RPCs.
func TestServerCommunitiesAndEnterprises(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	c := h.client
	admin := h.as(adminP)

	nc := &pb.Community{Id: "210103002002", Name: "大西社区", District: "沈河区", Street: "大西街道", Kind: pb.CommunityKind_FUNCTIONAL, Households: 1500}
	created, err := c.CreateCommunity(admin, &pb.CreateCommunityRequest{Community: nc})
	if err != nil {
		t.Fatal(err)
	}
	if created.Community.CreateTime == nil {
		t.Error("community has no create time")
	}
	got, err := c.GetCommunity(h.as(enterpriseP), &pb.GetCommunityRequest{Id: nc.Id})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(created.Community, got.Community, protocmp.Transform()); diff != "" {
		t.Errorf("get community (-created +got):\n%s", diff)
	}
	// The district filter, paged one at a time.
	ids := servicetest.AllPages(t, 10, func(token string) ([]string, string, error) {
		resp, err := c.ListCommunities(h.as(serviceP), &pb.ListCommunitiesRequest{District: "沈河区", PageSize: 1, PageToken: token})
		var ids []string
		for _, c := range resp.GetCommunities() {
			ids = append(ids, c.Id)
		}
		return ids, resp.GetNextPageToken(), err
	})
	if diff := cmp.Diff([]string{communityC, nc.Id}, ids); diff != "" {
		t.Errorf("communities of 沈河区 (-want +got):\n%s", diff)
	}
	streets, err := c.ListCommunities(admin, &pb.ListCommunitiesRequest{Street: "北市场街道"})
	if err != nil || len(streets.Communities) != 2 {
		t.Errorf("communities of 北市场街道 = %v, %v", streets, err)
	}

	code, err := creditcode.Build("91", "210102", "12345678")
	if err != nil {
		t.Fatal(err)
	}
	ent, err := c.CreateEnterprise(h.as(bureauP), &pb.CreateEnterpriseRequest{Enterprise: &pb.Enterprise{
		CreditCode: strings.ToLower(string(code)), Name: "沈阳变压器厂", Ownership: pb.Ownership_STATE,
	}})
	if err != nil {
		t.Fatal(err)
	}
	if ent.Enterprise.CreditCode != string(code) || ent.Enterprise.Status != pb.EnterpriseStatus_OPERATING {
		t.Errorf("created enterprise = %v, want canonical code and OPERATING", ent.Enterprise)
	}
	gotE, err := c.GetEnterprise(h.as(clerkP), &pb.GetEnterpriseRequest{CreditCode: string(code)})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ent.Enterprise, gotE.Enterprise, protocmp.Transform()); diff != "" {
		t.Errorf("get enterprise (-created +got):\n%s", diff)
	}
	bankrupt, err := c.ListEnterprises(admin, &pb.ListEnterprisesRequest{Status: pb.EnterpriseStatus_BANKRUPT})
	if err != nil || len(bankrupt.Enterprises) != 1 || bankrupt.Enterprises[0].CreditCode != enterpriseX {
		t.Errorf("bankrupt enterprises = %v, %v", bankrupt, err)
	}
	all, err := c.ListEnterprises(admin, &pb.ListEnterprisesRequest{})
	if err != nil || len(all.Enterprises) != 3 {
		t.Errorf("all enterprises = %v, %v", all, err)
	}
	// A token issued for one status filter does not page another.
	first, err := c.ListEnterprises(admin, &pb.ListEnterprisesRequest{PageSize: 1})
	if err != nil || first.NextPageToken == "" {
		t.Fatalf("first page = %v, %v", first, err)
	}
	_, err = c.ListEnterprises(admin, &pb.ListEnterprisesRequest{PageSize: 1, Status: pb.EnterpriseStatus_OPERATING, PageToken: first.NextPageToken})
	wantFields(t, err, "pageToken")
}

// TestServerConflicts: the duplicates DESIGN answers with 409 (the gateway
// maps AlreadyExists and Aborted to it).
func TestServerConflicts(t *testing.T) {
	t.Parallel()
	_, h := newServed(t)
	c := h.client
	admin := h.as(adminP)
	r, err := c.CreateRetiree(admin, &pb.CreateRetireeRequest{Retiree: newRetiree(t, 1, communityA, pb.ManagementMode_COMMUNITY)})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("same ID number", func(t *testing.T) {
		again := newRetiree(t, 1, communityB, pb.ManagementMode_BUREAU)
		again.Name = "另一个人"
		_, err := c.CreateRetiree(h.as(bureauP), &pb.CreateRetireeRequest{Retiree: again})
		wantReason(t, err, codes.AlreadyExists, reasonRetireeExists)
	})
	t.Run("same ID number in the legacy form", func(t *testing.T) {
		first := newRetiree(t, 2, communityA, pb.ManagementMode_COMMUNITY)
		first.IdNumber = "11010519491231002X"
		if _, err := c.CreateRetiree(admin, &pb.CreateRetireeRequest{Retiree: first}); err != nil {
			t.Fatal(err)
		}
		legacy := newRetiree(t, 3, communityA, pb.ManagementMode_COMMUNITY)
		legacy.IdNumber = "110105491231002"
		_, err := c.CreateRetiree(admin, &pb.CreateRetireeRequest{Retiree: legacy})
		wantReason(t, err, codes.AlreadyExists, reasonRetireeExists)
	})
	t.Run("same credit code", func(t *testing.T) {
		_, err := c.CreateEnterprise(admin, &pb.CreateEnterpriseRequest{Enterprise: &pb.Enterprise{CreditCode: strings.ToLower(enterpriseX), Name: "又一个", Ownership: pb.Ownership_PRIVATE}})
		wantReason(t, err, codes.AlreadyExists, "ENTERPRISE_EXISTS")
	})
	t.Run("same community", func(t *testing.T) {
		_, err := c.CreateCommunity(admin, &pb.CreateCommunityRequest{Community: &pb.Community{Id: communityB, Name: "重复", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK}})
		wantReason(t, err, codes.AlreadyExists, "COMMUNITY_EXISTS")
	})
	t.Run("concurrent edit", func(t *testing.T) {
		edit := func(etag, phone string) error {
			_, err := c.UpdateRetiree(admin, &pb.UpdateRetireeRequest{
				Retiree:    &pb.Retiree{Id: r.Retiree.Id, Etag: etag, Phone: phone},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}},
			})
			return err
		}
		if err := edit(r.Retiree.Etag, "13900000001"); err != nil {
			t.Fatal(err)
		}
		// The second editor read the same version.
		wantReason(t, edit(r.Retiree.Etag, "13900000002"), codes.Aborted, "ETAG_MISMATCH")
		got, err := c.GetRetiree(admin, &pb.GetRetireeRequest{Id: r.Retiree.Id})
		if err != nil || got.Retiree.Phone != "13900000001" {
			t.Errorf("after the conflict: %v, %v", got.GetRetiree().GetPhone(), err)
		}
	})
}
