package activity

import (
	"context"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// GetCommunityCalendar implements pb.ActivityServiceServer.
func (s *Server) GetCommunityCalendar(ctx context.Context, req *pb.GetCommunityCalendarRequest) (*pb.GetCommunityCalendarResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	if err := s.checkCalendarReader(ctx, p, req.CommunityId, nil); err != nil {
		return nil, err
	}
	ics, etag, err := s.calendar(req.CommunityId)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetCommunityCalendarResponse{Ics: ics, Etag: etag}, nil
}

// checkCalendarReader checks a request of p about community's calendar:
// the id (and v's other violations), that p may read the calendar, and
// then that the community exists, which p may learn only once it passed
// the scope. It returns the error to answer.
func (s *Server) checkCalendarReader(ctx context.Context, p *authn.Principal, community string, v *fault.Violations) error {
	if v == nil {
		v = new(fault.Violations)
	}
	inputcheck.CommunityID(v, "communityId", community)
	if err := v.Err(); err != nil {
		return s.fail(ctx, err)
	}
	if err := scopeOf(p)(community); err != nil {
		return err
	}
	if err := s.communities.check(ctx, community); err != nil {
		return s.fail(ctx, err)
	}
	return nil
}

// calendar renders community's calendar as it is now, with its etag.
func (s *Server) calendar(community string) ([]byte, string, error) {
	now := s.store.Now()
	events, err := s.store.calendarEvents(community, now)
	if err != nil {
		return nil, "", err
	}
	ics, etag := encodeCalendar("社区活动 "+community, events, now)
	return ics, etag, nil
}

// SubscribeCalendar implements pb.ActivityServiceServer.
func (s *Server) SubscribeCalendar(ctx context.Context, req *pb.SubscribeCalendarRequest) (*pb.SubscribeCalendarResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.Text(&v, "label", req.Label, false, maxLabelLen)
	if err := s.checkCalendarReader(ctx, p, req.CommunityId, &v); err != nil {
		return nil, err
	}
	sub, token, err := s.store.Subscribe(req.CommunityId, subscriberOf(p), req.Label)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.SubscribeCalendarResponse{Subscription: sub, FeedToken: token, FeedPath: feedPath(token)}, nil
}

// ListCalendarSubscriptions implements pb.ActivityServiceServer.
func (s *Server) ListCalendarSubscriptions(ctx context.Context, req *pb.ListCalendarSubscriptionsRequest) (*pb.ListCalendarSubscriptionsResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var owner *subscriber
	if !p.Is(authn.RoleAdmin) {
		o := subscriberOf(p)
		owner = &o
	}
	var v fault.Violations
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	page := s.store.PageTokens().Page(&v, req, boltstore.PageScope("ListCalendarSubscriptions", req.CommunityId, string(p.Role), p.Subject))
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := scopeOf(p)(req.CommunityId); err != nil {
		return nil, err
	}
	list, last, err := s.store.ListSubscriptions(req.CommunityId, owner, page.Size, page.After)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListCalendarSubscriptionsResponse{Subscriptions: list, NextPageToken: page.Next(last)}, nil
}

// RevokeCalendarSubscription implements pb.ActivityServiceServer.
func (s *Server) RevokeCalendarSubscription(ctx context.Context, req *pb.RevokeCalendarSubscriptionRequest) (*pb.RevokeCalendarSubscriptionResponse, error) {
	p, err := authn.Require(ctx, readers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	inputcheck.CommunityID(&v, "communityId", req.CommunityId)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	if err := scopeOf(p)(req.CommunityId); err != nil {
		return nil, err
	}
	sub, err := s.store.Revoke(req.CommunityId, req.Id, subscriptionScopeOf(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.RevokeCalendarSubscriptionResponse{Subscription: sub}, nil
}

// GetCalendarFeed implements pb.ActivityServiceServer. It is served
// without a bearer token (see authn.IsPublicMethod): the feed token is
// the credential, and every refusal of it is the same NOT_FOUND, so that
// nothing tells a token that never was from a revoked one.
func (s *Server) GetCalendarFeed(ctx context.Context, req *pb.GetCalendarFeedRequest) (*pb.GetCalendarFeedResponse, error) {
	community, err := s.store.feedCommunity(req.FeedToken)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	ics, etag, err := s.calendar(community)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.GetCalendarFeedResponse{Ics: ics, Etag: etag}, nil
}

// subscriberOf is who p subscribes as.
func subscriberOf(p *authn.Principal) subscriber {
	return subscriber{subject: p.Subject, role: string(p.Role)}
}

// subscriptionScopeOf is the object check of p's requests about one
// subscription: its owner and an admin see it; an admin may learn that
// one does not exist, and everyone else gets the same PermissionDenied
// as for another owner's.
func subscriptionScopeOf(p *authn.Principal) SubscriptionScope {
	return func(sub *pb.CalendarSubscription) error {
		if p.Is(authn.RoleAdmin) || sub != nil && ownerOf(sub) == subscriberOf(p) {
			return nil
		}
		return authn.ErrPermissionDenied
	}
}
