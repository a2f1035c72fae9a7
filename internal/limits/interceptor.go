package limits

import (
	"context"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
	"github.com/socmgmt/socmgmt/internal/authn"
)

// pageSized is a list request: its page size decides what a page of
// personal data costs.
type pageSized interface{ GetPageSize() int32 }

// UnaryInterceptor returns the interceptor that charges each call to its
// caller's budget for the method's class and refuses it when the budget
// is spent. It runs after authentication: a call without a principal (a
// public method, such as a calendar feed) is not limited here.
func (l *Limiter) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, ok := authn.FromContext(ctx)
		if !ok {
			return handler(ctx, req)
		}
		now := l.now()
		c := l.callerOf(p, now)
		if c == nil {
			return handler(ctx, req)
		}
		class := l.classOf(info.FullMethod)
		if class == WriteRevealing {
			return l.revealingWrite(ctx, c, now, req, handler)
		}
		if err := l.take(c, class.budget(), cost(class, req), now); err != nil {
			return nil, toStatus(ctx, err)
		}
		return handler(ctx, req)
	}
}

// revealingWrite runs a WriteRevealing call: refused while the caller's
// personal-data budget is empty, charged as a write, and charged a
// personal-data read too when it is refused as a duplicate.
func (l *Limiter) revealingWrite(ctx context.Context, c *caller, now time.Time, req any, handler grpc.UnaryHandler) (any, error) {
	if err := l.ready(c, budgetPersonal, now); err != nil {
		return nil, toStatus(ctx, err)
	}
	if err := l.take(c, budgetWrite, 1, now); err != nil {
		return nil, toStatus(ctx, err)
	}
	resp, err := handler(ctx, req)
	if status.Code(err) == codes.AlreadyExists {
		charge(c, budgetPersonal, l.now())
	}
	return resp, err
}

// StreamInterceptor returns the interceptor that charges a stream's
// opening to its caller's budget, as UnaryInterceptor charges a call,
// except an Import stream: that one is bounded by its caller's records
// in flight, which its handler counts through RecordsFrom.
func (l *Limiter) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		p, ok := authn.FromContext(ctx)
		if !ok {
			return handler(srv, ss)
		}
		now := l.now()
		c := l.callerOf(p, now)
		if c == nil {
			return handler(srv, ss)
		}
		class := l.classOf(info.FullMethod)
		if class != Import {
			if err := l.take(c, class.budget(), 1, now); err != nil {
				return toStatus(ctx, err)
			}
			return handler(srv, ss)
		}
		c.streams.Add(1)
		defer c.streams.Add(-1)
		rec := &Records{c: c}
		defer rec.close()
		return handler(srv, &recordsStream{ServerStream: ss, ctx: context.WithValue(ctx, recordsKey{}, rec)})
	}
}

// classOf is method's class; a method its Table does not class costs a
// personal-data read, the dearest, until someone classes it.
func (l *Limiter) classOf(method string) Class {
	if c := l.methods[method]; c != 0 {
		return c
	}
	return PersonalRead
}

// budget is the bucket a call of class c draws on.
func (c Class) budget() budget {
	switch c {
	case Read:
		return budgetRead
	case Write, WriteRevealing:
		return budgetWrite
	}
	return budgetPersonal
}

// cost is how many tokens a call of class with req costs: one, or for a
// page of personal data one per pageEntries entries asked for (a page
// of the default 50 costs one, of 1,000 twenty).
func cost(class Class, req any) int {
	if class != PersonalRead {
		return 1
	}
	list, ok := req.(pageSized)
	if !ok {
		return 1
	}
	size := int(list.GetPageSize())
	return max(1, (size+pageEntries-1)/pageEntries)
}

// toStatus turns a refusal into the status the caller gets.
func toStatus(ctx context.Context, err error) error {
	return apierror.ToStatus(ctx, nil, err)
}

// recordsStream is an import stream whose context carries its Records.
type recordsStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *recordsStream) Context() context.Context { return s.ctx }
