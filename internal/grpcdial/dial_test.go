package grpcdial

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestReconnectsSoonAfterRestart stops a server, waits past gRPC's first
// backoff steps, starts it again on the same address and expects the
// client to be back within the capped backoff.
func TestReconnectsSoonAfterRestart(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	serve := func(lis net.Listener) *grpc.Server {
		s := grpc.NewServer()
		healthpb.RegisterHealthServer(s, health.NewServer())
		go s.Serve(lis)
		return s
	}
	srv := serve(lis)
	conn, err := Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := healthpb.NewHealthClient(conn)
	check := func(wait time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		_, err := client.Check(ctx, &healthpb.HealthCheckRequest{}, grpc.WaitForReady(true))
		return err
	}
	if err := check(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	// Let the client fail a few reconnects, so its backoff grows.
	for i := 0; i < 5; i++ {
		if err := check(300 * time.Millisecond); err == nil {
			t.Fatal("check succeeded while the server was down")
		}
	}
	lis, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("address taken meanwhile: %v", err)
	}
	srv = serve(lis)
	defer srv.Stop()
	if err := check(8 * time.Second); err != nil {
		t.Fatalf("not reconnected within the capped backoff: %v", err)
	}
}
