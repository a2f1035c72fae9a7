package registry

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The matrix's targets: own is in the caller's scope when it has one, a
// retiree of communityA still managed by enterpriseX, a list of
// communityA; other is outside every scope, a retiree of communityB handed
// over to the community (its former enterprise is still enterpriseX);
// missing does not exist, an unknown retiree id or ID number, an unknown
// community.
const (
	own     = servicetest.Own
	other   = servicetest.Other
	missing = servicetest.Missing
)

// target is the object a matrix call names.
type target = servicetest.Target

// TestAuthorizationMatrix calls every RPC as every role on an object in
// its scope, out of it, and missing. A caller who may not see an object
// gets the same PermissionDenied whether or not it exists; only admin,
// bureau and service may learn that a retiree does not exist.
func TestAuthorizationMatrix(t *testing.T) {
	t.Parallel()
	// Shorthands for the matrix.
	const (
		ok = codes.OK
		pd = codes.PermissionDenied
		nf = codes.NotFound
		ia = codes.InvalidArgument
		na = servicetest.NA // the RPC names no object: only the own column counts
	)
	s, h := newServed(t)
	c := h.client

	n := 1000 // next fixture number: each mutation gets fresh retirees
	fresh := func(tg target) *pb.Retiree {
		n++
		switch tg {
		case own:
			return mustCreate(t, s, newRetiree(t, n, communityA, pb.ManagementMode_ENTERPRISE))
		case other:
			return mustCreate(t, s, newRetiree(t, n, communityB, pb.ManagementMode_COMMUNITY))
		}
		return &pb.Retiree{Id: unknownRetiree, IdNumber: idNumber(t, 1).Digits(), Etag: "r1"}
	}
	shared := map[target]*pb.Retiree{own: fresh(own), other: fresh(other), missing: fresh(missing)}
	if _, err := s.LookupRetiree(idNumber(t, 1)); err == nil {
		t.Fatal("the missing retiree's ID number is registered")
	}
	communities := map[target]string{own: communityA, other: communityB, missing: unknownCommunity}
	// reported files a report of a fresh retiree of tg's; verified
	// records its death in one step. Both return the report's id.
	reported := func(tg target) string {
		r := fresh(tg)
		if tg == missing {
			return unknownRetiree
		}
		d, err := s.CreateDeathReport(DeathReportInput{RetireeID: r.Id, DateOfDeath: "2026-01-02", Source: pb.DeathReportSource_HOSPITAL, Reporter: &pb.DeathReporter{}}, Actor{Subject: "fixture", Role: "bureau"}, allow)
		if err != nil {
			t.Fatal(err)
		}
		return d.Id
	}
	verified := func(tg target) string {
		r := fresh(tg)
		if tg == missing {
			return unknownRetiree
		}
		_, d, err := s.RecordDeath(r.Id, "2026-01-02", "", pb.DeathReportSource_BUREAU_MATCH, Actor{Subject: "fixture", Role: "bureau"}, allow)
		if err != nil {
			t.Fatal(err)
		}
		return d.Id
	}
	sharedReports := map[target]string{own: reported(own), other: reported(other), missing: unknownRetiree}
	// proposal proposes, as bureau, to transfer a fresh retiree of from
	// to to.
	proposal := func(from, to string) *pb.Transfer {
		n++
		r := mustCreate(t, s, newRetiree(t, n, from, pb.ManagementMode_COMMUNITY))
		_, tr, err := s.TransferRetiree(TransferRequest{RetireeID: r.Id, To: to, Reason: "随子女居住"}, Actor{Subject: "fixture", Role: "bureau"}, allow)
		if err != nil {
			t.Fatal(err)
		}
		return tr
	}
	// incoming is a transfer proposed into the target's community: own
	// is one into communityA (the clerk's, as the receiving side), other
	// one between two communities not the clerk's.
	incoming := func(tg target) *pb.Transfer {
		switch tg {
		case own:
			return proposal(communityB, communityA)
		case other:
			return proposal(communityB, communityC)
		}
		return &pb.Transfer{Id: unknownRetiree}
	}
	// outgoing is, for own, a transfer out of communityA (the clerk's, as
	// the sending side, who may see it but not answer it).
	outgoing := func(tg target) *pb.Transfer {
		if tg == own {
			return proposal(communityA, communityC)
		}
		return incoming(tg)
	}
	sharedTransfers := map[target]*pb.Transfer{own: incoming(own), other: incoming(other), missing: incoming(missing)}
	sentTransfer := outgoing(own)

	// calls prepare a call of each RPC on a target (creating fresh
	// fixtures for the calls that change them) and return it.
	calls := map[string]func(tg target) func(ctx context.Context) error{
		"GetRetiree": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetRetiree(ctx, &pb.GetRetireeRequest{Id: shared[tg].Id}))
		}),
		"LookupRetiree": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.LookupRetiree(ctx, &pb.LookupRetireeRequest{IdNumber: shared[tg].IdNumber}))
		}),
		"ListRetireeHistory": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListRetireeHistory(ctx, &pb.ListRetireeHistoryRequest{Id: shared[tg].Id}))
		}),
		"ListRetireeAuditLog": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListRetireeAuditLog(ctx, &pb.ListRetireeAuditLogRequest{Id: shared[tg].Id}))
		}),
		"ListRetirees": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListRetirees(ctx, &pb.ListRetireesRequest{CommunityId: communities[tg]}))
		}),
		"CreateRetiree": func(tg target) func(context.Context) error {
			n++
			r := newRetiree(t, n, communities[tg], pb.ManagementMode_ENTERPRISE)
			if tg == other {
				r.EnterpriseCreditCode = enterpriseY
			}
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CreateRetiree(ctx, &pb.CreateRetireeRequest{Retiree: r}))
			}
		},
		"UpdateRetiree": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				_, err := c.UpdateRetiree(ctx, &pb.UpdateRetireeRequest{
					Retiree:    &pb.Retiree{Id: r.Id, Etag: r.Etag, Phone: "13900001111"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"phone"}},
				})
				return err
			}
		},
		// Moving a retiree still managed by its enterprise to another
		// enterprise (own is such a retiree of enterpriseX).
		"UpdateRetiree/enterpriseCreditCode": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				_, err := c.UpdateRetiree(ctx, &pb.UpdateRetireeRequest{
					Retiree:    &pb.Retiree{Id: r.Id, Etag: r.Etag, EnterpriseCreditCode: enterpriseY},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"enterprise_credit_code"}},
				})
				return err
			}
		},
		"TransferRetiree": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.TransferRetiree(ctx, &pb.TransferRetireeRequest{Id: r.Id, ToCommunityId: communityC, Reason: "搬家"}))
			}
		},
		"TransferRetiree/outOfCity": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.TransferRetiree(ctx, &pb.TransferRetireeRequest{
					Id: r.Id, Reason: "随子女定居", OutOfCity: true, Destination: &pb.TransferDestination{Description: "大连市"},
				}))
			}
		},
		"GetTransfer": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetTransfer(ctx, &pb.GetTransferRequest{Id: sharedTransfers[tg].Id}))
		}),
		// The sending clerk sees its proposal too.
		"GetTransfer/outgoing": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			id := sharedTransfers[tg].Id
			if tg == own {
				id = sentTransfer.Id
			}
			return servicetest.ErrOf(c.GetTransfer(ctx, &pb.GetTransferRequest{Id: id}))
		}),
		"ListTransfers": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListTransfers(ctx, &pb.ListTransfersRequest{CommunityId: communities[tg], Direction: pb.TransferDirection_INCOMING}))
		}),
		"AcceptTransfer": func(tg target) func(context.Context) error {
			tr := incoming(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.AcceptTransfer(ctx, &pb.AcceptTransferRequest{Id: tr.Id}))
			}
		},
		// The sending clerk may not answer its own proposal.
		"AcceptTransfer/outgoing": func(tg target) func(context.Context) error {
			tr := outgoing(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.AcceptTransfer(ctx, &pb.AcceptTransferRequest{Id: tr.Id}))
			}
		},
		"DeclineTransfer": func(tg target) func(context.Context) error {
			tr := incoming(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.DeclineTransfer(ctx, &pb.DeclineTransferRequest{Id: tr.Id, Reason: "查无此人"}))
			}
		},
		"DeclineTransfer/outgoing": func(tg target) func(context.Context) error {
			tr := outgoing(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.DeclineTransfer(ctx, &pb.DeclineTransferRequest{Id: tr.Id, Reason: "查无此人"}))
			}
		},
		"RecordDeath": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.RecordDeath(ctx, &pb.RecordDeathRequest{Id: r.Id, DateOfDeath: "2026-01-02"}))
			}
		},
		"AssignRetirees": func(tg target) func(context.Context) error {
			r := fresh(tg)
			key := fmt.Sprintf("key-%d", n)
			return func(ctx context.Context) error {
				_, err := c.AssignRetirees(ctx, &pb.AssignRetireesRequest{
					RequestKey: key, RetireeIds: []string{r.Id},
					CommunityId: communityC, ManagementMode: pb.ManagementMode_COMMUNITY,
				})
				return err
			}
		},
		"BatchGetRetireeFacts": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.BatchGetRetireeFacts(ctx, &pb.BatchGetRetireeFactsRequest{Ids: []string{shared[tg].Id}}))
		}),
		"GetRetireeContact": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetRetireeContact(ctx, &pb.GetRetireeContactRequest{
				RetireeId: shared[tg].Id, Contact: pb.GetRetireeContactRequest_RETIREE,
			}))
		}),
		"CreateCommunity": func(target) func(context.Context) error {
			n++
			id := fmt.Sprintf("2101029%05d", n)
			return func(ctx context.Context) error {
				_, err := c.CreateCommunity(ctx, &pb.CreateCommunityRequest{Community: &pb.Community{
					Id: id, Name: "新社区", District: "和平区", Street: "北市场街道", Kind: pb.CommunityKind_BLOCK,
				}})
				return err
			}
		},
		"GetCommunity": servicetest.OnTarget(func(ctx context.Context, _ target) error {
			return servicetest.ErrOf(c.GetCommunity(ctx, &pb.GetCommunityRequest{Id: communityB}))
		}),
		"ListCommunities": servicetest.OnTarget(func(ctx context.Context, _ target) error {
			return servicetest.ErrOf(c.ListCommunities(ctx, &pb.ListCommunitiesRequest{}))
		}),
		"CreateEnterprise": func(target) func(context.Context) error {
			n++
			code, err := creditcode.Build("91", "210102", fmt.Sprintf("%08d", n))
			if err != nil {
				t.Fatal(err)
			}
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CreateEnterprise(ctx, &pb.CreateEnterpriseRequest{Enterprise: &pb.Enterprise{CreditCode: string(code), Name: "新厂", Ownership: pb.Ownership_OTHER}}))
			}
		},
		"GetEnterprise": servicetest.OnTarget(func(ctx context.Context, _ target) error {
			return servicetest.ErrOf(c.GetEnterprise(ctx, &pb.GetEnterpriseRequest{CreditCode: enterpriseY}))
		}),
		"ListEnterprises": servicetest.OnTarget(func(ctx context.Context, _ target) error {
			return servicetest.ErrOf(c.ListEnterprises(ctx, &pb.ListEnterprisesRequest{}))
		}),
		"GetSocialisationReport": servicetest.OnTarget(func(ctx context.Context, _ target) error {
			return servicetest.ErrOf(c.GetSocialisationReport(ctx, &pb.GetSocialisationReportRequest{}))
		}),
		"WatchRetirees": func(target) func(context.Context) error {
			return func(ctx context.Context) error { return watchOnce(ctx, c, 0) }
		},
		"WatchWorkSignals": func(target) func(context.Context) error {
			return func(ctx context.Context) error { return watchSignalsOnce(ctx, c) }
		},
		"RevokeToken": func(target) func(context.Context) error {
			n++
			id := fmt.Sprintf("MATRIX%d", n)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.RevokeToken(ctx, &pb.RevokeTokenRequest{TokenId: id, ExpireTime: timestamppb.New(testNow.Add(time.Hour))}))
			}
		},
		"ListRevokedTokens": servicetest.OnTarget(func(ctx context.Context, _ target) error {
			return servicetest.ErrOf(c.ListRevokedTokens(ctx, &pb.ListRevokedTokensRequest{}))
		}),
		// --- roster statuses (A)
		"ChangeRetireeStatus": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.ChangeRetireeStatus(ctx, &pb.ChangeRetireeStatusRequest{
					Id: r.Id, Status: pb.RetireeStatus_LOST_CONTACT, EffectiveOn: "2026-01-02", Reason: "电话停机，上门无人",
				}))
			}
		},
		// --- bulk rosters (C)
		// A roster of one new retiree of the target's community and
		// enterprise; a record the caller may not import is rejected on
		// its own (NOT_PERMITTED), which counts here as 403.
		"ImportRetirees": func(tg target) func(context.Context) error {
			n++
			r := newRetiree(t, n, communities[tg], pb.ManagementMode_ENTERPRISE)
			if tg == other {
				r.EnterpriseCreditCode = enterpriseY
			}
			batch := fmt.Sprintf("matrix-%d", n)
			return func(ctx context.Context) error {
				res := importRoster(ctx, c, batch, []*pb.RetireeRecord{{Index: 1, Retiree: r}})
				if res.err != nil {
					return res.err
				}
				for _, rj := range res.rejections() {
					if rj.Reason == ReasonNotPermitted {
						return authn.ErrPermissionDenied
					}
				}
				return nil
			}
		},
		// --- registers and exports (E)
		"ExportRegister": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			_, err := exportOnce(ctx, c, &pb.ExportRegisterRequest{Register: registerRoster, CommunityId: communities[tg]})
			return err
		}),
		// --- death reports (D)
		"CreateDeathReport": func(tg target) func(context.Context) error {
			r := fresh(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.CreateDeathReport(ctx, familyReport(r.Id)))
			}
		},
		"GetDeathReport": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.GetDeathReport(ctx, &pb.GetDeathReportRequest{Id: sharedReports[tg]}))
		}),
		"ListDeathReports": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListDeathReports(ctx, &pb.ListDeathReportsRequest{CommunityId: communities[tg]}))
		}),
		"ListRetireeDeathReports": servicetest.OnTarget(func(ctx context.Context, tg target) error {
			return servicetest.ErrOf(c.ListRetireeDeathReports(ctx, &pb.ListRetireeDeathReportsRequest{Id: shared[tg].Id}))
		}),
		"VerifyDeathReport": func(tg target) func(context.Context) error {
			id := reported(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.VerifyDeathReport(ctx, &pb.VerifyDeathReportRequest{Id: id}))
			}
		},
		"RejectDeathReport": func(tg target) func(context.Context) error {
			id := reported(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.RejectDeathReport(ctx, &pb.RejectDeathReportRequest{Id: id, Reason: "误报"}))
			}
		},
		"ReverseDeathReport": func(tg target) func(context.Context) error {
			id := verified(tg)
			return func(ctx context.Context) error {
				return servicetest.ErrOf(c.ReverseDeathReport(ctx, &pb.ReverseDeathReportRequest{Id: id, Reason: "误登记"}))
			}
		},
	}
	// A proposal (TransferRetiree but admin's), a decline and a lapse
	// change no retiree, and leave the head where it was.
	changes := map[string]bool{
		"UpdateRetiree": true, "UpdateRetiree/enterpriseCreditCode": true, "TransferRetiree/outOfCity": true, "RecordDeath": true,
		"AssignRetirees": true, "CreateRetiree": true, "AcceptTransfer": true, "AcceptTransfer/outgoing": true, "ChangeRetireeStatus": true,
		"VerifyDeathReport": true, "ReverseDeathReport": true,
	}

	matrix := map[string]map[string]servicetest.Cells{
		"GetRetiree": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {ok, pd, pd}, "service": {ok, ok, nf},
		},
		"LookupRetiree": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {ok, pd, pd}, "service": {pd, pd, pd},
		},
		"ListRetireeHistory": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {ok, pd, pd}, "service": {pd, pd, pd},
		},
		"ListRetireeAuditLog": {
			"admin": {ok, ok, nf}, "bureau": {pd, pd, pd}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		// An enterprise's list is narrowed to its own retirees.
		"ListRetirees": {
			"admin": {ok, ok, ok}, "bureau": {ok, ok, ok}, "clerk": {ok, pd, pd},
			"enterprise": {ok, ok, ok}, "service": {pd, pd, pd},
		},
		// CreateRetiree: own is communityA/enterpriseX, other is
		// communityB/enterpriseY, missing an unknown community.
		"CreateRetiree": {
			"admin": {ok, ok, ia}, "bureau": {ok, ok, ia}, "clerk": {ok, pd, pd},
			"enterprise": {ok, pd, ia}, "service": {pd, pd, pd},
		},
		"UpdateRetiree": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		// A move to another enterprise is the bureau's decision while the
		// enterprise still manages the retiree.
		"UpdateRetiree/enterpriseCreditCode": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"TransferRetiree": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"TransferRetiree/outOfCity": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		// own is a transfer into the clerk's community; a clerk of either
		// side sees a transfer, only the receiving one answers it.
		"GetTransfer": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"GetTransfer/outgoing": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"ListTransfers": {
			"admin": {ok, ok, ok}, "bureau": {ok, ok, ok}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"AcceptTransfer": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"AcceptTransfer/outgoing": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"DeclineTransfer": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"DeclineTransfer/outgoing": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"RecordDeath": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		// AssignRetirees is the handover outbox's call: scope plays no
		// part, and an unknown retiree is a field violation.
		"AssignRetirees": {
			"admin": {ok, ok, ia}, "bureau": {pd, pd, pd}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {ok, ok, ia},
		},
		// BatchGetRetireeFacts is the handover submit's check: scope plays
		// no part, and an unknown retiree is answered as not found.
		"BatchGetRetireeFacts": {
			"admin": {ok, ok, ok}, "bureau": {pd, pd, pd}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {ok, ok, ok},
		},
		// GetRetireeContact is casework's SMS sender's call: scope plays
		// no part, and an unknown retiree is not found.
		"GetRetireeContact": {
			"admin": {ok, ok, nf}, "bureau": {pd, pd, pd}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {ok, ok, nf},
		},
		"CreateCommunity": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {pd, na, na},
		},
		"CreateEnterprise": {
			"admin": {ok, na, na}, "bureau": {ok, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {pd, na, na},
		},
		"GetSocialisationReport": {
			"admin": {ok, na, na}, "bureau": {ok, na, na}, "clerk": {ok, na, na},
			"enterprise": {pd, na, na}, "service": {pd, na, na},
		},
		"WatchRetirees": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {ok, na, na},
		},
		// The work-signal feed is casework's, as a service: gRPC only.
		"WatchWorkSignals": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {ok, na, na},
		},
		"RevokeToken": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {pd, na, na},
		},
		// Clerks enter retirees one at a time; an enterprise imports its
		// own.
		"ImportRetirees": {
			"admin": {ok, ok, na}, "bureau": {ok, ok, na}, "clerk": {pd, na, na},
			"enterprise": {ok, pd, na}, "service": {pd, na, na},
		},
		// Every program follows the list as a service.
		"ListRevokedTokens": {
			"admin": {ok, na, na}, "bureau": {pd, na, na}, "clerk": {pd, na, na},
			"enterprise": {pd, na, na}, "service": {ok, na, na},
		},
		// --- roster statuses (A)
		// Of the services, only casework's care outbox sets a LIVING
		// retiree LOST_CONTACT, and back (TestServiceStatusChangesNarrow);
		// the matrix's service is handover.
		"ChangeRetireeStatus": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		// --- registers and exports (E): a community's register.
		"ExportRegister": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		// --- death reports (D): clerks of the community, bureau and admin
		// file and decide; bureau and admin reverse; enterprises and
		// services see nothing.
		"CreateDeathReport": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"GetDeathReport": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"ListDeathReports": {
			"admin": {ok, ok, ok}, "bureau": {ok, ok, ok}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"ListRetireeDeathReports": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"VerifyDeathReport": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"RejectDeathReport": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {ok, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
		"ReverseDeathReport": {
			"admin": {ok, ok, nf}, "bureau": {ok, ok, nf}, "clerk": {pd, pd, pd},
			"enterprise": {pd, pd, pd}, "service": {pd, pd, pd},
		},
	}
	// Reference data is readable by every role.
	for _, rpc := range []string{"GetCommunity", "ListCommunities", "GetEnterprise", "ListEnterprises"} {
		matrix[rpc] = map[string]servicetest.Cells{}
		for _, role := range authn.Roles() {
			matrix[rpc][role.String()] = servicetest.Cells{ok, na, na}
		}
	}
	// Supervisors read in their area (own and other are both in it), get
	// the same 403 for a missing retiree as for one elsewhere, and change
	// nothing.
	area, elsewhere := servicetest.Cells{ok, ok, pd}, servicetest.Cells{pd, pd, pd}
	supervised := map[string]map[string]servicetest.Cells{
		"GetRetiree":             servicetest.SupervisorCells(area, elsewhere),
		"LookupRetiree":          servicetest.SupervisorCells(area, elsewhere),
		"ListRetireeHistory":     servicetest.SupervisorCells(area, elsewhere),
		"ListRetirees":           servicetest.SupervisorCells(area, elsewhere),
		"GetSocialisationReport": servicetest.SupervisorCells(servicetest.Cells{ok, na, na}, servicetest.Cells{ok, na, na}),
	}
	for _, rpc := range []string{"GetCommunity", "ListCommunities", "GetEnterprise", "ListEnterprises"} {
		supervised[rpc] = servicetest.SupervisorCells(servicetest.Cells{ok, na, na}, servicetest.Cells{ok, na, na})
	}
	// A supervisor sees a transfer with either side in its area, and
	// answers none. The transfers go B to A (own), B to C (other) and,
	// outgoing, A to C: every one but B to A touches communityC's area.
	supervised["GetTransfer"] = servicetest.SupervisorCells(area, servicetest.Cells{pd, ok, pd})
	supervised["GetTransfer/outgoing"] = servicetest.SupervisorCells(area, area)
	supervised["ListTransfers"] = servicetest.SupervisorCells(area, elsewhere)
	// --- registers and exports (E): a supervisor exports its area's
	// communities' registers, masked.
	supervised["ExportRegister"] = servicetest.SupervisorCells(area, elsewhere)
	// --- death reports (D): a supervisor reads its area's and decides
	// none.
	for _, rpc := range []string{"GetDeathReport", "ListDeathReports", "ListRetireeDeathReports"} {
		supervised[rpc] = servicetest.SupervisorCells(area, elsewhere)
	}
	servicetest.WithSupervisors(t, matrix, supervised)
	servicetest.RunMatrix(t, servicetest.Matrix{
		Calls: calls, Want: matrix,
		Callers: append(h.keys.CallersOf(t, adminP, bureauP, clerkP, enterpriseP, serviceP), h.keys.Supervisors(t)...),
		Secrets: []string{shared[own].IdNumber, shared[other].IdNumber, shared[missing].IdNumber},
		// A change moves the head once; a refusal leaves it where it was.
		// A transfer call that succeeds records or answers one transfer;
		// a refused one leaves the transfers as they were.
		Around: func(t *testing.T, rpc string, _ target) func(codes.Code) {
			before, _, _ := s.Head()
			transfersBefore := transferTally(t, s)
			return func(got codes.Code) {
				if want, tracked := transferEffects[rpc]; tracked {
					after := transferTally(t, s)
					if got != ok {
						want = transferStates{}
					}
					if d := after.minus(transfersBefore); d != want {
						t.Errorf("%s answered %v changed the transfers by %+v, want %+v", rpc, got, d, want)
					}
				}
				if !changes[rpc] {
					return
				}
				after, _, _ := s.Head()
				switch {
				case got == ok && after != before+1:
					t.Errorf("successful %s moved the head from %d to %d", rpc, before, after)
				case got != ok && after != before:
					t.Errorf("refused %s moved the head from %d to %d", rpc, before, after)
				}
			}
		},
	})
	rpcs := map[string]bool{}
	for name := range calls {
		rpc, _, _ := strings.Cut(name, "/") // "RPC/variant" is one more case of RPC
		rpcs[rpc] = true
	}
	if len(rpcs) != len(pb.RegistryService_ServiceDesc.Methods)+len(pb.RegistryService_ServiceDesc.Streams) {
		t.Errorf("the matrix calls %d RPCs, the service has more", len(rpcs))
	}
}

// transferStates counts transfers by state.
type transferStates struct{ proposed, accepted, declined, outOfCity int }

func (a transferStates) minus(b transferStates) transferStates {
	return transferStates{a.proposed - b.proposed, a.accepted - b.accepted, a.declined - b.declined, a.outOfCity - b.outOfCity}
}

// transferEffects is what each transfer call changes in the transfers'
// states when it succeeds (a proposal by admin is a direct move, which
// the matrix's TransferRetiree does not tell apart: see
// TestServerTransferByAdmin).
var transferEffects = map[string]transferStates{
	"TransferRetiree/outOfCity": {outOfCity: 1},
	"AcceptTransfer":            {proposed: -1, accepted: 1},
	"AcceptTransfer/outgoing":   {proposed: -1, accepted: 1},
	"DeclineTransfer":           {proposed: -1, declined: 1},
	"DeclineTransfer/outgoing":  {proposed: -1, declined: 1},
}

// transferTally counts the transfers of s by state.
func transferTally(t *testing.T, s *Store) transferStates {
	t.Helper()
	var n transferStates
	var after []byte
	for {
		list, next, err := s.ListTransfers(TransferFilter{}, 1000, after)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range list {
			switch tr.State {
			case pb.TransferState_PROPOSED:
				n.proposed++
			case pb.TransferState_ACCEPTED:
				n.accepted++
			case pb.TransferState_DECLINED:
				n.declined++
			case pb.TransferState_COMPLETED_OUT_OF_CITY:
				n.outOfCity++
			}
		}
		if next == nil {
			return n
		}
		after = next
	}
}

// TestScopedLists checks what each role's list contains, not only that it
// may list.
func TestScopedLists(t *testing.T) {
	t.Parallel()
	s, h := newServed(t)
	c := h.client
	mk := func(n int, community, code string, mode pb.ManagementMode) string {
		r := newRetiree(t, n, community, mode)
		r.EnterpriseCreditCode = code
		return mustCreate(t, s, r).Id
	}
	e1 := mk(1, communityA, enterpriseX, pb.ManagementMode_ENTERPRISE)
	e2 := mk(2, communityB, enterpriseX, pb.ManagementMode_ENTERPRISE)
	c1 := mk(3, communityB, enterpriseX, pb.ManagementMode_COMMUNITY) // handed over
	y1 := mk(4, communityC, enterpriseY, pb.ManagementMode_ENTERPRISE)
	a2 := mk(5, communityA, enterpriseY, pb.ManagementMode_BUREAU)
	if _, _, err := s.RecordDeath(a2, "2026-01-01", "", pb.DeathReportSource_BUREAU_MATCH, Actor{Subject: "test", Role: "admin"}, allow); err != nil {
		t.Fatal(err)
	}

	list := func(p authn.Principal, req *pb.ListRetireesRequest) ([]string, error) {
		resp, err := c.ListRetirees(h.as(p), req)
		if err != nil {
			return nil, err
		}
		ids := retireeIDs(resp.Retirees)
		slices.Sort(ids)
		return ids, nil
	}
	sorted := func(ids ...string) []string {
		slices.Sort(ids)
		if ids == nil {
			return []string{}
		}
		return ids
	}
	tests := []struct {
		name string
		p    authn.Principal
		req  *pb.ListRetireesRequest
		want []string // nil: refused with PermissionDenied
	}{
		{"admin, everything", adminP, &pb.ListRetireesRequest{}, sorted(e1, e2, c1, y1, a2)},
		{"admin, enterprise X", adminP, &pb.ListRetireesRequest{EnterpriseCreditCode: enterpriseX}, sorted(e1, e2, c1)},
		{"admin, enterprise-managed", adminP, &pb.ListRetireesRequest{ManagementMode: pb.ManagementMode_ENTERPRISE}, sorted(e1, e2, y1)},
		{"bureau, deceased", bureauP, &pb.ListRetireesRequest{Status: pb.RetireeStatus_DECEASED}, sorted(a2)},
		{"bureau, community B and living", bureauP, &pb.ListRetireesRequest{CommunityId: communityB, Status: pb.RetireeStatus_LIVING}, sorted(e2, c1)},
		{"clerk, its community by default", clerkP, &pb.ListRetireesRequest{}, sorted(e1, a2)},
		{"clerk, its community named", clerkP, &pb.ListRetireesRequest{CommunityId: communityA, ManagementMode: pb.ManagementMode_BUREAU}, sorted(a2)},
		{"clerk, another community", clerkP, &pb.ListRetireesRequest{CommunityId: communityB}, nil},
		{"street, its whole area by default", streetP, &pb.ListRetireesRequest{}, sorted(e1, e2, c1, a2)},
		{"street, one community of its area", streetP, &pb.ListRetireesRequest{CommunityId: communityB}, sorted(e2, c1)},
		{"street, living in its area", streetP, &pb.ListRetireesRequest{Status: pb.RetireeStatus_LIVING}, sorted(e1, e2, c1)},
		{"street, enterprise X in its area", streetP, &pb.ListRetireesRequest{EnterpriseCreditCode: enterpriseX}, sorted(e1, e2, c1)},
		{"street, a community elsewhere", streetP, &pb.ListRetireesRequest{CommunityId: communityC}, nil},
		{"street elsewhere, its area", streetCP, &pb.ListRetireesRequest{}, sorted(y1)},
		{"district, its whole area", districtP, &pb.ListRetireesRequest{}, sorted(e1, e2, c1, a2)},
		{"district, bureau-managed", districtP, &pb.ListRetireesRequest{ManagementMode: pb.ManagementMode_BUREAU}, sorted(a2)},
		{"district elsewhere, its area", districtCP, &pb.ListRetireesRequest{}, sorted(y1)},
		{"district elsewhere, community A", districtCP, &pb.ListRetireesRequest{CommunityId: communityA}, nil},
		{"enterprise, its retirees not yet handed over", enterpriseP, &pb.ListRetireesRequest{}, sorted(e1, e2)},
		{"enterprise, its own code named", enterpriseP, &pb.ListRetireesRequest{EnterpriseCreditCode: enterpriseX}, sorted(e1, e2)},
		{"enterprise, in community B", enterpriseP, &pb.ListRetireesRequest{CommunityId: communityB}, sorted(e2)},
		{"enterprise, another enterprise", enterpriseP, &pb.ListRetireesRequest{EnterpriseCreditCode: enterpriseY}, nil},
		{"enterprise, community-managed", enterpriseP, &pb.ListRetireesRequest{ManagementMode: pb.ManagementMode_COMMUNITY}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := list(tc.p, tc.req)
			if tc.want == nil {
				wantStatus(t, err, codes.PermissionDenied)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, sorted(got...)); diff != "" {
				t.Errorf("listed (-want +got):\n%s", diff)
			}
		})
	}

	// Once handed over, the enterprise loses sight of its retiree.
	ent := h.as(enterpriseP)
	if _, err := c.GetRetiree(ent, &pb.GetRetireeRequest{Id: e1}); err != nil {
		t.Fatalf("enterprise reads its retiree: %v", err)
	}
	if _, err := c.GetRetiree(ent, &pb.GetRetireeRequest{Id: c1}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("enterprise reads a handed-over retiree: %v", err)
	}
	if _, err := c.AssignRetirees(h.as(serviceP), &pb.AssignRetireesRequest{RequestKey: "h-1", RetireeIds: []string{e1}, CommunityId: communityA, ManagementMode: pb.ManagementMode_COMMUNITY}); err != nil {
		t.Fatal(err)
	}
	_, err := c.GetRetiree(ent, &pb.GetRetireeRequest{Id: e1})
	wantStatus(t, err, codes.PermissionDenied)

	// An enterprise registers only its own retirees, and only as
	// enterprise-managed; a clerk only in its communities.
	mine := newRetiree(t, 6, communityC, pb.ManagementMode_ENTERPRISE)
	created, err := c.CreateRetiree(ent, &pb.CreateRetireeRequest{Retiree: mine})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetRetiree(ent, &pb.GetRetireeRequest{Id: created.Retiree.Id}); err != nil {
		t.Errorf("enterprise reads the retiree it registered: %v", err)
	}
	theirs := newRetiree(t, 7, communityA, pb.ManagementMode_ENTERPRISE)
	theirs.EnterpriseCreditCode = enterpriseY
	_, err = c.CreateRetiree(ent, &pb.CreateRetireeRequest{Retiree: theirs})
	wantStatus(t, err, codes.PermissionDenied)
}
