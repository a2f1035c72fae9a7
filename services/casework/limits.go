package casework

import (
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// Methods is the limits class of every casework method: what each call
// costs its caller (see package limits). Work items name a retiree by
// name only and are audited as reads; the care profile, visits and
// messages are a retiree's personal data and draw on the personal-data
// budget.
var Methods = limits.Table{
	pb.CaseworkService_CreateWorkItem_FullMethodName:    limits.Write,
	pb.CaseworkService_GetWorkItem_FullMethodName:       limits.Read,
	pb.CaseworkService_ListWorkItems_FullMethodName:     limits.Read,
	pb.CaseworkService_ClaimWorkItem_FullMethodName:     limits.Write,
	pb.CaseworkService_ReleaseWorkItem_FullMethodName:   limits.Write,
	pb.CaseworkService_ReassignWorkItems_FullMethodName: limits.Write,
	pb.CaseworkService_EscalateWorkItem_FullMethodName:  limits.Write,
	pb.CaseworkService_WaitWorkItem_FullMethodName:      limits.Write,
	pb.CaseworkService_ResumeWorkItem_FullMethodName:    limits.Write,
	pb.CaseworkService_CompleteWorkItem_FullMethodName:  limits.Write,
	pb.CaseworkService_CancelWorkItem_FullMethodName:    limits.Write,

	pb.CaseworkService_GetCareProfile_FullMethodName: limits.PersonalRead,
	pb.CaseworkService_SetCareTier_FullMethodName:    limits.Write,
	pb.CaseworkService_ReportCrisis_FullMethodName:   limits.Write,
	pb.CaseworkService_RecordVisit_FullMethodName:    limits.Write,
	pb.CaseworkService_ListVisits_FullMethodName:     limits.PersonalRead,
	pb.CaseworkService_GetVisitReport_FullMethodName: limits.Read,
	pb.CaseworkService_ScheduleVisits_FullMethodName: limits.Write,

	pb.CaseworkService_CreateTicket_FullMethodName:         limits.Write,
	pb.CaseworkService_GetTicket_FullMethodName:            limits.Read,
	pb.CaseworkService_ListTickets_FullMethodName:          limits.Read,
	pb.CaseworkService_ResolveTicket_FullMethodName:        limits.Write,
	pb.CaseworkService_RecordCallback_FullMethodName:       limits.Write,
	pb.CaseworkService_ListTicketCategories_FullMethodName: limits.Read,
	pb.CaseworkService_SetTicketCategory_FullMethodName:    limits.Write,

	pb.CaseworkService_GetMessagePreferences_FullMethodName: limits.PersonalRead,
	pb.CaseworkService_SetMessagePreferences_FullMethodName: limits.Write,
	pb.CaseworkService_ListMessages_FullMethodName:          limits.PersonalRead,
	pb.CaseworkService_ListMessageTemplates_FullMethodName:  limits.Read,
}
