package handover

import (
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// Methods is the limits class of every handover method: what each call
// costs its caller (see package limits). A handover names its retirees by
// their opaque ids only, so none of its reads draws on the personal-data
// budget.
var Methods = limits.Table{
	pb.HandoverService_CreateHandover_FullMethodName:     limits.Write,
	pb.HandoverService_GetHandover_FullMethodName:        limits.Read,
	pb.HandoverService_ListHandovers_FullMethodName:      limits.Read,
	pb.HandoverService_UpdateHandover_FullMethodName:     limits.Write,
	pb.HandoverService_SubmitHandover_FullMethodName:     limits.Write,
	pb.HandoverService_WithdrawHandover_FullMethodName:   limits.Write,
	pb.HandoverService_ReturnHandover_FullMethodName:     limits.Write,
	pb.HandoverService_ReceiveFunds_FullMethodName:       limits.Write,
	pb.HandoverService_ReceiveArchives_FullMethodName:    limits.Write,
	pb.HandoverService_InspectPremises_FullMethodName:    limits.Write,
	pb.HandoverService_CompleteHandover_FullMethodName:   limits.Write,
	pb.HandoverService_ListHandoverEvents_FullMethodName: limits.Read,
	pb.HandoverService_ListObligations_FullMethodName:    limits.Read,
	pb.HandoverService_AllocateRetirees_FullMethodName:   limits.Write,
	pb.HandoverService_VerifyRoster_FullMethodName:       limits.Write,
	// --- archives (issue 15)
	pb.HandoverService_GetArchiveFile_FullMethodName:        limits.Read,
	pb.HandoverService_ListArchiveFiles_FullMethodName:      limits.Read,
	pb.HandoverService_ShelveArchiveFile_FullMethodName:     limits.Write,
	pb.HandoverService_RequestArchiveLoan_FullMethodName:    limits.Write,
	pb.HandoverService_DecideArchiveLoan_FullMethodName:     limits.Write,
	pb.HandoverService_ReturnArchiveFile_FullMethodName:     limits.Write,
	pb.HandoverService_SendOnArchiveFile_FullMethodName:     limits.Write,
	pb.HandoverService_ListArchiveFileEvents_FullMethodName: limits.Read,
	pb.HandoverService_GetArchiveStatistics_FullMethodName:  limits.Read,
	// --- batches (issue 15)
	pb.HandoverService_BatchAddRetirees_FullMethodName:    limits.Write,
	pb.HandoverService_BatchRemoveRetirees_FullMethodName: limits.Write,
	pb.HandoverService_GetHandoverProgress_FullMethodName: limits.Read,
	// --- party (issue 15)
	pb.HandoverService_SetPartyMembers_FullMethodName:      limits.Write,
	pb.HandoverService_RecordPartyTransfer_FullMethodName:  limits.Write,
	pb.HandoverService_ReportPartyTransfers_FullMethodName: limits.Read,
	// --- aftercare (issue 15)
	pb.HandoverService_ListHandoverTasks_FullMethodName:    limits.Read,
	pb.HandoverService_CompleteHandoverTask_FullMethodName: limits.Write,
	pb.HandoverService_BatchCreateHandovers_FullMethodName: limits.Write,
	pb.HandoverService_WatchWorkSignals_FullMethodName:     limits.Read,
}
