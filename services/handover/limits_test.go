package handover

import (
	"testing"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

func TestEveryMethodHasALimitsClass(t *testing.T) {
	servicetest.MethodsClassed(t, &pb.HandoverService_ServiceDesc, Methods)
}
