package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/tlsfiles"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// bareServerArg, as the first argument, makes the program the reference
// server instead of the harness. It is not a flag of the harness, so --help
// does not offer it.
const bareServerArg = "--bare-server"

// bareServer is the reference the registry is measured against: grpc-go
// with its defaults, no interceptors, no store, answering GetRetiree with a
// canned response of the size the registry sends.
type bareServer struct {
	registryv1.UnimplementedRegistryServiceServer
	resp *registryv1.GetRetireeResponse
}

// GetRetiree implements registryv1.RegistryServiceServer. The response is
// shared between calls; grpc-go only reads it.
func (s *bareServer) GetRetiree(context.Context, *registryv1.GetRetireeRequest) (*registryv1.GetRetireeResponse, error) {
	return s.resp, nil
}

// bareMain runs the reference server until SIGTERM or SIGINT and returns
// the exit code.
func bareMain(args []string) int {
	fs := flag.NewFlagSet("bench "+bareServerArg, flag.ContinueOnError)
	addr := fs.String("addr", "", "host:port to serve on")
	respPath := fs.String("response", "", "file holding the binary GetRetireeResponse to answer with")
	var tls tlsfiles.Server
	tls.Register(fs, "the reference server")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if err := serveBare(*addr, *respPath, tls); err != nil {
		fmt.Fprintln(os.Stderr, "bare server:", err)
		return 1
	}
	return 0
}

// serveBare serves on addr, over TLS when tls says so: the reference
// pays for the same transport as the registry it is measured against.
func serveBare(addr, respPath string, tls tlsfiles.Server) error {
	tlsConfig, err := tls.Config()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(respPath)
	if err != nil {
		return err
	}
	resp := new(registryv1.GetRetireeResponse)
	if err := proto.Unmarshal(data, resp); err != nil {
		return fmt.Errorf("decode response: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	lis, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	var opts []grpc.ServerOption
	if tlsConfig != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tlsConfig)))
	}
	srv := grpc.NewServer(opts...)
	registryv1.RegisterRegistryServiceServer(srv, &bareServer{resp: resp})
	go func() {
		<-ctx.Done()
		srv.GracefulStop()
	}()
	return srv.Serve(lis)
}
