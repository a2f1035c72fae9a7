package main

import (
	"context"
	"fmt"
	"net/http"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/tlsfiles"
)

// grpcHealthCheck returns a check that asks the gRPC health service at
// addr, over the TLS of client, for the server's overall status and
// wants SERVING.
func grpcHealthCheck(addr string, client tlsfiles.Client) func(context.Context) error {
	return func(ctx context.Context) error {
		// The files are read at each attempt: they are created after the
		// check is made.
		transport, err := client.Credentials()
		if err != nil {
			return err
		}
		// A fresh connection per attempt: a long-lived one would back off
		// between reconnects for up to seconds after the first refusal,
		// delaying the moment we notice the service is up.
		conn, err := authn.Dial(addr, transport, nil)
		if err != nil {
			return err
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
			return fmt.Errorf("health status %s", st)
		}
		return nil
	}
}

// httpHealthCheck returns a check that GETs url and wants 200 OK.
func httpHealthCheck(url string) func(context.Context) error {
	return func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		return nil
	}
}
