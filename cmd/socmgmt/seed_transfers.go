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
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// pendingTransfers is how many transfers the seed leaves proposed, for the
// receiving clerks' incoming lists.
const pendingTransfers = 6

// pendingReasons are the reasons the sending clerks give.
var pendingReasons = []string{"随子女居住", "购置新居迁入", "入住养老机构"}

// pendingPick is a retiree of the plan whom its community's clerk
// proposes to transfer to another community.
type pendingPick struct {
	retiree *registryv1.Retiree
	to      string
	reason  string
}

// pickPending takes, in the plan's order, the first community-managed
// retiree of each of the first communities that the plan neither moves
// nor buries, to be proposed to the next community: the same picks on
// every run, so that a second run finds its proposals pending.
func pickPending(plan *cityPlan) []pendingPick {
	taken := map[int]bool{}
	for _, d := range plan.Deaths {
		taken[d.Index] = true
	}
	for _, t := range plan.Transfers {
		taken[t.Index] = true
	}
	n := len(plan.Communities)
	next := map[string]string{}
	for i, c := range plan.Communities[:min(n, pendingTransfers)] {
		next[c.Id] = plan.Communities[(i+1)%n].Id
	}
	var out []pendingPick
	for i, r := range plan.Retirees {
		to, ok := next[r.CommunityId]
		if !ok || taken[i] || to == r.CommunityId || r.ManagementMode != registryv1.ManagementMode_COMMUNITY {
			continue
		}
		delete(next, r.CommunityId)
		out = append(out, pendingPick{retiree: r, to: to, reason: pendingReasons[len(out)%len(pendingReasons)]})
	}
	return out
}

// seedPendingTransfers proposes the transfers pickPending chooses, each as
// a clerk of the retiree's community, and leaves them for the receiving
// clerks to answer. A retiree whose proposal is pending already (409), or
// who has left the community since (the clerk may no longer see it), is
// counted as present. s's client carries the seed's admin credentials;
// the clerks' calls go over a connection of their own, without them. The
// calls wait out rate limits as the seeder's do.
func seedPendingTransfers(ctx context.Context, cfg seedConfig, priv ed25519.PrivateKey, s *seeder, plan *cityPlan, out io.Writer) error {
	conn, err := dialService("registry", cfg.registryAddr, cfg.tls, nil)
	if err != nil {
		return err
	}
	defer conn.Close()
	clerks := registryv1.NewRegistryServiceClient(conn)
	signer := authn.NewSigner(priv)
	var t tally
	for _, p := range pickPending(plan) {
		err := proposePending(ctx, s, signer, clerks, p)
		switch status.Code(err) {
		case codes.OK:
			t.created.Add(1)
		case codes.AlreadyExists, codes.PermissionDenied, codes.FailedPrecondition:
			t.present.Add(1)
		default:
			return fmt.Errorf("propose a transfer into %s: %w", p.to, err)
		}
	}
	fmt.Fprintln(out, "Left transfers proposed, for the receiving communities to accept or decline:")
	tallyRows{{"pending transfers", &t}}.write(out, 18)
	return nil
}

// proposePending looks p's retiree up as admin and proposes the transfer
// as a clerk of its community.
func proposePending(ctx context.Context, s *seeder, signer *authn.Signer, clerks registryv1.RegistryServiceClient, p pendingPick) error {
	var r *registryv1.Retiree
	err := s.call(ctx, func(ctx context.Context) error {
		found, err := s.client.LookupRetiree(ctx, &registryv1.LookupRetireeRequest{IdNumber: p.retiree.IdNumber})
		r = found.GetRetiree()
		return err
	})
	if err != nil {
		return err
	}
	clerk := authn.Principal{Subject: "seed-clerk-" + r.CommunityId, Role: authn.RoleClerk, Communities: []string{r.CommunityId}}
	tok, err := signer.Sign(clerk, seedTokenTTL, time.Now())
	if err != nil {
		return err
	}
	return s.call(ctx, func(ctx context.Context) error {
		_, err := clerks.TransferRetiree(ctx, &registryv1.TransferRetireeRequest{Id: r.Id, ToCommunityId: p.to, Reason: p.reason},
			grpc.PerRPCCredentials(authn.BearerCredentials(tok)))
		return err
	})
}
