package casework

import (
	"context"
	"fmt"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	activityv1 "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
	handoverv1 "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/casework/sms"
)

// SourceAddr is the address of a followed source; "" when it is not
// followed.
func (c *Config) SourceAddr(source string) string { return c.sourceAddrs()[source] }

// OpenerOf opens source's WatchWorkSignals stream over conn, which
// carries the service's credentials.
func OpenerOf(source string, conn grpc.ClientConnInterface) (signalfeed.Opener, error) {
	var open signalfeed.Opener
	switch source {
	case SourceRegistry:
		c := registryv1.NewRegistryServiceClient(conn)
		open = func(ctx context.Context, since int64, epoch string) (signalfeed.Stream, error) {
			st, err := c.WatchWorkSignals(ctx, &registryv1.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
			if err != nil {
				return nil, err
			}
			return signalfeed.StreamOf[*registryv1.WatchWorkSignalsResponse](st), nil
		}
	case SourcePension:
		c := pensionv1.NewPensionServiceClient(conn)
		open = func(ctx context.Context, since int64, epoch string) (signalfeed.Stream, error) {
			st, err := c.WatchWorkSignals(ctx, &pensionv1.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
			if err != nil {
				return nil, err
			}
			return signalfeed.StreamOf[*pensionv1.WatchWorkSignalsResponse](st), nil
		}
	case SourceHandover:
		c := handoverv1.NewHandoverServiceClient(conn)
		open = func(ctx context.Context, since int64, epoch string) (signalfeed.Stream, error) {
			st, err := c.WatchWorkSignals(ctx, &handoverv1.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
			if err != nil {
				return nil, err
			}
			return signalfeed.StreamOf[*handoverv1.WatchWorkSignalsResponse](st), nil
		}
	case SourceActivity:
		c := activityv1.NewActivityServiceClient(conn)
		open = func(ctx context.Context, since int64, epoch string) (signalfeed.Stream, error) {
			st, err := c.WatchWorkSignals(ctx, &activityv1.WatchWorkSignalsRequest{SinceRevision: since, Epoch: epoch})
			if err != nil {
				return nil, err
			}
			return signalfeed.StreamOf[*activityv1.WatchWorkSignalsResponse](st), nil
		}
	default:
		return nil, fmt.Errorf("casework: no source %q", source)
	}
	return open, nil
}

// SMSGateway returns the gateway the flags choose and what closes it;
// a nil gateway when neither --sms-file nor --sms-url is set.
func (c *Config) SMSGateway() (sms.Gateway, func() error, error) {
	none := func() error { return nil }
	switch {
	case c.SMS.File != "":
		g, err := sms.OpenFileGateway(c.SMS.File)
		if err != nil {
			return nil, none, err
		}
		return g, g.Close, nil
	case c.SMS.URL != "":
		g, err := sms.NewHTTPGateway(sms.HTTPConfig{
			URL: c.SMS.URL, CredentialsFile: c.SMS.CredentialsFile, Body: c.SMS.BodyTemplate,
			ContentType: c.SMS.ContentType, Timeout: c.SMS.Timeout, CAFile: c.SMS.CAFile,
		})
		if err != nil {
			return nil, none, err
		}
		return g, none, nil
	}
	return nil, none, nil
}

// MessageOptions are the store's message options from the flags.
func (c *Config) MessageOptions() (MessageOptions, error) {
	q, err := sms.ParseQuietHours(c.SMS.QuietHours, workdays.ChinaTime)
	return MessageOptions{Signature: c.SMS.Signature, Quiet: q}, err
}
