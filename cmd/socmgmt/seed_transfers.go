package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/workdays"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// pendingTransfers is how many transfers the seed leaves proposed, for the
// receiving clerks' incoming lists, and lapsedTransfers how many it
// enters as proposed on paper lapsedDaysAgo days ago and never answered:
// they lapse as they are entered.
const (
	pendingTransfers = 6
	lapsedTransfers  = 3
	lapsedDaysAgo    = 45
)

// pendingReasons are the reasons the sending clerks give.
var pendingReasons = []string{"随子女居住", "购置新居迁入", "入住养老机构"}

// pendingPick is a retiree of the plan whom its community's clerk
// proposes to transfer to another community; a lapsed one was proposed
// on paper lapsedDaysAgo days before the seed.
type pendingPick struct {
	retiree *registryv1.Retiree
	to      string
	reason  string
	lapsed  bool
}

// pickPending takes, in the plan's order, the first community-managed
// retiree of each of the first communities that the plan neither moves
// nor buries, to be proposed to the next community: the first
// pendingTransfers communities' are left pending, the next
// lapsedTransfers' lapse. The picks are the same on every run, so that a
// second run finds its proposals in place.
func pickPending(plan *cityPlan) []pendingPick {
	taken := map[int]bool{}
	for _, d := range plan.Deaths {
		taken[d.Index] = true
	}
	for _, t := range plan.Transfers {
		taken[t.Index] = true
	}
	n := len(plan.Communities)
	next, lapsed := map[string]string{}, map[string]bool{}
	for i, c := range plan.Communities[:min(n, pendingTransfers+lapsedTransfers)] {
		next[c.Id] = plan.Communities[(i+1)%n].Id
		lapsed[c.Id] = i >= pendingTransfers
	}
	var out []pendingPick
	for i, r := range plan.Retirees {
		to, ok := next[r.CommunityId]
		if !ok || taken[i] || to == r.CommunityId || r.ManagementMode != registryv1.ManagementMode_COMMUNITY {
			continue
		}
		delete(next, r.CommunityId)
		out = append(out, pendingPick{retiree: r, to: to, reason: pendingReasons[len(out)%len(pendingReasons)], lapsed: lapsed[r.CommunityId]})
	}
	return out
}

// seedPendingTransfers proposes the transfers pickPending chooses, each as
// a clerk of the retiree's community: the pending ones for the receiving
// clerks to answer, the lapsed ones dated back to the day they were
// proposed on paper. A retiree whose proposal is pending already (409),
// who has left the community since (the clerk may no longer see it), or
// who has the lapsed proposal already, is counted as present. s's client
// carries the seed's admin credentials; the clerks' calls go over a
// connection of their own, without them. The calls wait out rate limits
// as the seeder's do.
func seedPendingTransfers(ctx context.Context, cfg seedConfig, priv ed25519.PrivateKey, s *seeder, plan *cityPlan, out io.Writer) error {
	conn, err := dialService("registry", cfg.registryAddr, cfg.tls, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	clerks := registryv1.NewRegistryServiceClient(conn)
	signer := authn.NewSigner(priv)
	proposedOn := time.Now().In(workdays.ChinaTime).AddDate(0, 0, -lapsedDaysAgo).Format(dateLayout)
	var pending, lapsed tally
	for _, p := range pickPending(plan) {
		t, on := &pending, ""
		if p.lapsed {
			t, on = &lapsed, proposedOn
		}
		err := proposePending(ctx, s, signer, clerks, p, on)
		switch status.Code(err) {
		case codes.OK:
			t.created.Add(1)
		case codes.AlreadyExists, codes.PermissionDenied, codes.FailedPrecondition:
			t.present.Add(1)
		default:
			return fmt.Errorf("propose a transfer into %s: %w", p.to, err)
		}
	}
	fmt.Fprintln(out, "Left transfers proposed, for the receiving communities to accept or decline, and entered lapsed ones:")
	tallyRows{{"pending transfers", &pending}, {"lapsed transfers", &lapsed}}.write(out, 18)
	return nil
}

// errLapsedOnFile answers a lapsed proposal the retiree has already.
var errLapsedOnFile = status.Error(codes.AlreadyExists, "the lapsed proposal is on file")

// proposePending looks p's retiree up as admin and proposes the transfer
// as a clerk of its community, made on paper on proposedOn when it is
// set; a lapsed proposal the retiree has already is errLapsedOnFile.
func proposePending(ctx context.Context, s *seeder, signer *authn.Signer, clerks registryv1.RegistryServiceClient, p pendingPick, proposedOn string) error {
	var r *registryv1.Retiree
	err := s.call(ctx, func(ctx context.Context) error {
		found, err := s.client.LookupRetiree(ctx, &registryv1.LookupRetireeRequest{IdNumber: p.retiree.IdNumber})
		r = found.GetRetiree()
		return err
	})
	if err != nil {
		return err
	}
	if proposedOn != "" {
		on, err := lapsedOnFile(ctx, s, r)
		if err != nil {
			return err
		}
		if on {
			return errLapsedOnFile
		}
	}
	clerk := authn.Principal{Subject: "seed-clerk-" + r.CommunityId, Role: authn.RoleClerk, Communities: []string{r.CommunityId}}
	tok, err := signer.Sign(clerk, seedTokenTTL, time.Now())
	if err != nil {
		return err
	}
	return s.call(ctx, func(ctx context.Context) error {
		_, err := clerks.TransferRetiree(ctx, &registryv1.TransferRetireeRequest{Id: r.Id, ToCommunityId: p.to, Reason: p.reason, ProposedOn: proposedOn},
			grpc.PerRPCCredentials(authn.BearerCredentials(tok)))
		return err
	})
}

// lapsedOnFile reports whether retiree r has a lapsed transfer out of its
// community, paging through the community's lapsed ones.
func lapsedOnFile(ctx context.Context, s *seeder, r *registryv1.Retiree) (bool, error) {
	req := &registryv1.ListTransfersRequest{
		CommunityId: r.CommunityId, Direction: registryv1.TransferDirection_OUTGOING,
		State: registryv1.TransferState_LAPSED, PageSize: 100,
	}
	for {
		var resp *registryv1.ListTransfersResponse
		err := s.call(ctx, func(ctx context.Context) error {
			var err error
			resp, err = s.client.ListTransfers(ctx, req)
			return err
		})
		if err != nil {
			return false, err
		}
		for _, t := range resp.Transfers {
			if t.RetireeId == r.Id {
				return true, nil
			}
		}
		if resp.NextPageToken == "" {
			return false, nil
		}
		req.PageToken = resp.NextPageToken
	}
}
