package signalfeed

import (
	"context"
	"errors"

	"github.com/socmgmt/socmgmt/internal/authn"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
)

// Handler is what a service's WatchWorkSignals handler gives Handle: the
// request's cursor, the stream's two sends, the server's stopping
// channel, and the service's mapping of its errors (its fail).
type Handler struct {
	SinceRevision int64
	Epoch         string
	SendHeader    func() error
	Send          func(*feedv1.SignalEvent) error
	Stopping      <-chan struct{}
	Fail          func(context.Context, error) error
}

// Handle is the body of every source's WatchWorkSignals handler: it lets
// role service or admin through, runs Serve, and returns the stream's own
// failures (the consumer went) and ErrStopping as they are and every
// other error through h.Fail.
func (f *Feed) Handle(ctx context.Context, h Handler) error {
	if _, err := authn.Require(ctx, authn.RoleService, authn.RoleAdmin); err != nil {
		return err
	}
	var streamErr error
	keep := func(err error) error {
		streamErr = err
		return err
	}
	err := f.Serve(ctx, Watch{
		SinceRevision: h.SinceRevision, Epoch: h.Epoch,
		SendHeader: func() error { return keep(h.SendHeader()) },
		Send:       func(ev *feedv1.SignalEvent) error { return keep(h.Send(ev)) },
		Stopping:   h.Stopping,
	})
	switch {
	case err == nil:
		return nil
	case err == streamErr: //nolint:errorlint // the very error a send returned
		return err
	case errors.Is(err, ErrStopping):
		return ErrStopping
	}
	return h.Fail(ctx, err)
}
