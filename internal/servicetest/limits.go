package servicetest

import (
	"testing"

	"google.golang.org/grpc"

	"github.com/socmgmt/socmgmt/internal/limits"
)

// MethodsClassed checks that methods gives every method of the service
// desc describes a limits class: the programs refuse to start otherwise.
func MethodsClassed(t *testing.T, desc *grpc.ServiceDesc, methods limits.Table) {
	t.Helper()
	info := grpc.ServiceInfo{}
	for _, m := range desc.Methods {
		info.Methods = append(info.Methods, grpc.MethodInfo{Name: m.MethodName})
	}
	for _, s := range desc.Streams {
		info.Methods = append(info.Methods, grpc.MethodInfo{Name: s.StreamName, IsClientStream: s.ClientStreams, IsServerStream: s.ServerStreams})
	}
	for _, m := range methods.Unclassified(map[string]grpc.ServiceInfo{desc.ServiceName: info}) {
		t.Errorf("%s has no limits class", m)
	}
	if len(methods) != len(info.Methods) {
		t.Errorf("the table classes %d methods, the service has %d", len(methods), len(info.Methods))
	}
}
