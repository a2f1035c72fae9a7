package activity

import (
	"testing"

	"github.com/socmgmt/socmgmt/internal/servicetest"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

func TestEveryMethodHasALimitsClass(t *testing.T) {
	servicetest.MethodsClassed(t, &pb.ActivityService_ServiceDesc, Methods)
}
