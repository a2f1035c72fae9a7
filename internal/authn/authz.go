package authn

import (
	"context"
	"slices"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrPermissionDenied is the status a caller gets for anything its role or
// scope does not allow. It is a gRPC status so that it passes unchanged
// through a service's error mapping; DESIGN.md asks for the same answer
// whether or not the object exists, so it carries no detail.
var ErrPermissionDenied = status.Error(codes.PermissionDenied, "permission denied")

// errNoPrincipal means a handler that needs a caller ran without one: the
// interceptors are missing or the method is public. The message does not
// blame the token because the client may well have sent one.
var errNoPrincipal = status.Error(codes.Unauthenticated, "authentication required")

// Authenticated returns the principal in ctx, or a codes.Unauthenticated
// status if there is none. Handlers open to every role start with it and
// then check the object's scope.
func Authenticated(ctx context.Context) (*Principal, error) {
	p, ok := FromContext(ctx)
	if !ok {
		return nil, errNoPrincipal
	}
	return p, nil
}

// Require returns the principal in ctx if its role is one of roles, a
// codes.Unauthenticated status if there is no principal, and
// ErrPermissionDenied otherwise. Admin passes every Require, since DESIGN.md
// lets it do everything; Require with no roles admits admin only.
func Require(ctx context.Context, roles ...Role) (*Principal, error) {
	p, err := Authenticated(ctx)
	if err != nil {
		return nil, err
	}
	if p.Role != RoleAdmin && !slices.Contains(roles, p.Role) {
		return nil, ErrPermissionDenied
	}
	return p, nil
}
