package authn

import (
	"context"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// DefaultRevocationPoll is how often FollowRevocations asks registry
	// for new revocations: a revoked token is refused everywhere within
	// about this long.
	DefaultRevocationPoll = 2 * time.Second
	// revocationPage is how many entries one ListRevokedTokens call asks
	// for, registry's maximum.
	revocationPage = 1000
	// maxRevocationPages bounds the pages one poll reads, so that a poll
	// ends even while entries keep coming; the next poll reads on.
	maxRevocationPages = 100
	// revocationCallTimeout bounds one ListRevokedTokens call.
	revocationCallTimeout = 10 * time.Second
)

// RevocationSource is where FollowRevocations reads the revocation list:
// registry's ListRevokedTokens, which a registryv1.RegistryServiceClient
// has.
type RevocationSource interface {
	ListRevokedTokens(ctx context.Context, in *registryv1.ListRevokedTokensRequest, opts ...grpc.CallOption) (*registryv1.ListRevokedTokensResponse, error)
}

// FollowOptions configure FollowRevocations.
type FollowOptions struct {
	// Interval is the time between polls; DefaultRevocationPoll when zero.
	Interval time.Duration
	// Logger receives the additions and the failures to reach registry.
	Logger *zap.Logger
	// Polled, when set, is called after every poll with its outcome; for
	// tests and metrics.
	Polled func(err error)
}

// FollowRevocations keeps list current with registry's revocation list
// until ctx ends, polling src: each poll reads the entries added since
// the last, so that a token revoked at registry is refused by this
// program's verifier within about o.Interval. While registry cannot be
// reached the list keeps what it had (revocations never lapse before
// their token expires), and the failure is logged once, as is the
// recovery. When registry's epoch changes (it was restored from a
// backup), the list is read again from the start and merged. It returns
// nil when ctx ends.
func FollowRevocations(ctx context.Context, src RevocationSource, list *Revocations, o FollowOptions) error {
	if o.Interval <= 0 {
		o.Interval = DefaultRevocationPoll
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	f := &revocationFollower{src: src, list: list, log: o.Logger}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		err := f.poll(ctx)
		if ctx.Err() != nil {
			return nil
		}
		f.report(err)
		if o.Polled != nil {
			o.Polled(err)
		}
		timer.Reset(o.Interval)
	}
}

// revocationFollower is FollowRevocations' state between polls.
type revocationFollower struct {
	src  RevocationSource
	list *Revocations
	log  *zap.Logger
	// after is the sequence number read through, in epoch.
	after int64
	epoch string
	// failing is set while polls fail, so that a long outage is logged
	// once.
	failing bool
}

// poll reads the entries after f.after, page by page, into the list.
func (f *revocationFollower) poll(ctx context.Context) error {
	for range maxRevocationPages {
		resp, err := f.call(ctx)
		if err != nil {
			return err
		}
		if resp.Epoch != f.epoch {
			restart := f.after != 0
			if restart {
				f.log.Warn("registry's revocation list is of another epoch (registry restored from a backup?); reading it again from the start",
					zap.String("epoch", resp.Epoch), zap.String("previous_epoch", f.epoch))
			}
			f.epoch, f.after = resp.Epoch, 0
			if restart {
				continue
			}
		}
		f.apply(resp.RevokedTokens)
		if len(resp.RevokedTokens) < revocationPage {
			return nil
		}
	}
	return nil
}

func (f *revocationFollower) call(ctx context.Context) (*registryv1.ListRevokedTokensResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, revocationCallTimeout)
	defer cancel()
	return f.src.ListRevokedTokens(ctx, &registryv1.ListRevokedTokensRequest{AfterSequence: f.after, PageSize: revocationPage})
}

// apply adds one page's entries and moves the sequence on.
func (f *revocationFollower) apply(page []*registryv1.RevokedToken) {
	if len(page) == 0 {
		return
	}
	rs := make([]Revocation, 0, len(page))
	for _, t := range page {
		rs = append(rs, Revocation{TokenID: t.TokenId, Expires: t.ExpireTime.AsTime()})
		f.after = max(f.after, t.Sequence)
	}
	if n := f.list.Add(rs...); n > 0 {
		f.log.Info("tokens revoked", zap.Int("added", n), zap.Int("revoked_tokens", f.list.Len()))
	}
}

// report logs a poll's outcome when it differs from the last one's.
func (f *revocationFollower) report(err error) {
	switch {
	case err != nil && !f.failing:
		f.failing = true
		f.log.Warn("cannot read registry's revocation list; keeping the last one read", zap.Int("revoked_tokens", f.list.Len()), zap.Error(err))
	case err == nil && f.failing:
		f.failing = false
		f.log.Info("registry's revocation list readable again", zap.Int("revoked_tokens", f.list.Len()))
	}
}
