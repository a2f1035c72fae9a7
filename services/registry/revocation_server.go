package registry

import (
	"context"
	"time"

	"go.uber.org/zap"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// maxRevocationReasonLen bounds a revocation's reason.
	maxRevocationReasonLen = 200
	// maxRevokedPage is the largest (and the default) page of
	// ListRevokedTokens.
	maxRevokedPage = 1000
	// reasonTokenExpired refuses the revocation of a token no verifier
	// accepts any more.
	reasonTokenExpired = "TOKEN_EXPIRED"
	// reasonNoTokenKeys refuses a revocation by token where registry has
	// no keys to check it with.
	reasonNoTokenKeys = "TOKEN_KEYS_UNAVAILABLE" //nolint:gosec // G101: an ErrorInfo reason, not a credential
)

// RevokeToken implements pb.RegistryServiceServer.
func (s *Server) RevokeToken(ctx context.Context, req *pb.RevokeTokenRequest) (*pb.RevokeTokenResponse, error) {
	p, err := authn.Require(ctx)
	if err != nil {
		return nil, err
	}
	rv, err := s.revocationOf(req)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	entry, replayed, err := s.store.RevokeToken(&pb.RevokedToken{
		TokenId: rv.TokenID, ExpireTime: timestamppb.New(rv.Expires), RevokedBy: p.Subject, Reason: req.Reason,
	})
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	// Registry's own verifier refuses the token from now on; the other
	// programs take it up at their next read of the list.
	if s.tokens != nil {
		s.tokens.Revocations().Add(rv)
	}
	grpcserver.Logger(ctx).Info("token revoked", zap.String("token_id", rv.TokenID), zap.Time("expires", rv.Expires),
		zap.Int64("sequence", entry.Sequence), zap.Bool("replayed", replayed))
	return &pb.RevokeTokenResponse{RevokedToken: entry}, nil
}

// revocationOf checks a RevokeTokenRequest and returns the revocation it
// asks for: the token's own id and expiry when it gives the token.
func (s *Server) revocationOf(req *pb.RevokeTokenRequest) (authn.Revocation, error) {
	var v fault.Violations
	inputcheck.Text(&v, "reason", req.Reason, false, maxRevocationReasonLen)
	var rv authn.Revocation
	switch {
	case req.Token != "" && (req.TokenId != "" || req.ExpireTime != nil):
		v.Add("token", "give the token, or its tokenId and expireTime, not both")
	case req.Token != "":
		if s.tokens == nil {
			return rv, fault.Rule(reasonNoTokenKeys, "registry has no token keys to check the token with; give its tokenId and expireTime")
		}
		var err error
		if rv, err = s.tokens.Inspect(req.Token); err != nil {
			v.Add("token", "not a socmgmt token signed by a trusted key")
		}
	default:
		if !authn.ValidTokenID(req.TokenId) {
			v.Add("tokenId", "must be 1 to 64 letters, digits, '-' or '_' (the token's jti)")
		}
		if req.ExpireTime == nil || req.ExpireTime.CheckValid() != nil {
			v.Add("expireTime", "required: the token's expiry (its exp claim)")
		} else {
			rv = authn.Revocation{TokenID: req.TokenId, Expires: req.ExpireTime.AsTime()}
		}
	}
	if err := v.Err(); err != nil {
		return authn.Revocation{}, err
	}
	now := s.now()
	if rv.Expires.After(now.Add(authn.MaxTTL)) {
		return authn.Revocation{}, fault.Invalid("expireTime", "must be at most 366 days ahead")
	}
	if rv.Expires.Before(now.Add(-revocationLapse)) {
		return authn.Revocation{}, fault.Rule(reasonTokenExpired, "the token has expired; no service accepts it any more",
			"expire_time", rv.Expires.UTC().Format(time.RFC3339))
	}
	return rv, nil
}

// ListRevokedTokens implements pb.RegistryServiceServer.
func (s *Server) ListRevokedTokens(ctx context.Context, req *pb.ListRevokedTokensRequest) (*pb.ListRevokedTokensResponse, error) {
	if _, err := authn.Require(ctx, authn.RoleService); err != nil {
		return nil, err
	}
	var v fault.Violations
	if req.AfterSequence < 0 {
		v.Add("afterSequence", "must not be negative")
	}
	if req.PageSize < 0 || req.PageSize > maxRevokedPage {
		v.Addf("pageSize", "must be between 0 and %d", maxRevokedPage)
	}
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	size := int(req.PageSize)
	if size == 0 {
		size = maxRevokedPage
	}
	list, err := s.store.ListRevokedTokens(req.AfterSequence, size)
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ListRevokedTokensResponse{RevokedTokens: list, Epoch: s.store.Epoch()}, nil
}
