package activity

import (
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/activity/v1"
)

// Methods is the limits class of every activity method: what each call
// costs its caller (see package limits). A list of an activity's
// registrations names retirees, and a retiree's registrations are that
// retiree's data: both are audited and draw on the personal-data budget.
// A calendar feed is fetched without a bearer
// token, so no caller's budget pays for it.
var Methods = limits.Table{
	pb.ActivityService_CreateVenue_FullMethodName:                limits.Write,
	pb.ActivityService_GetVenue_FullMethodName:                   limits.Read,
	pb.ActivityService_ListVenues_FullMethodName:                 limits.Read,
	pb.ActivityService_CreateActivity_FullMethodName:             limits.Write,
	pb.ActivityService_GetActivity_FullMethodName:                limits.Read,
	pb.ActivityService_ListActivities_FullMethodName:             limits.Read,
	pb.ActivityService_CancelActivity_FullMethodName:             limits.Write,
	pb.ActivityService_RegisterRetiree_FullMethodName:            limits.Write,
	pb.ActivityService_CancelRegistration_FullMethodName:         limits.Write,
	pb.ActivityService_ListRegistrations_FullMethodName:          limits.PersonalRead,
	pb.ActivityService_RecordAttendance_FullMethodName:           limits.Write,
	pb.ActivityService_GetParticipationReport_FullMethodName:     limits.Read,
	pb.ActivityService_GetCommunityCalendar_FullMethodName:       limits.Read,
	pb.ActivityService_SubscribeCalendar_FullMethodName:          limits.Write,
	pb.ActivityService_ListCalendarSubscriptions_FullMethodName:  limits.Read,
	pb.ActivityService_RevokeCalendarSubscription_FullMethodName: limits.Write,
	pb.ActivityService_GetCalendarFeed_FullMethodName:            limits.Read,
	pb.ActivityService_WatchWorkSignals_FullMethodName:           limits.Read,
	pb.ActivityService_ListRetireeRegistrations_FullMethodName:   limits.PersonalRead,
}
