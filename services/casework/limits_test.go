package casework

import (
	"testing"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

func TestEveryMethodHasALimitsClass(t *testing.T) {
	servicetest.MethodsClassed(t, &pb.CaseworkService_ServiceDesc, Methods)
}
