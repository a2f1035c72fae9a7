package registry

import (
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Methods is the limits class of every registry method: what each call
// costs its caller (see package limits). The reads that disclose a
// retiree's personal data, and are audited as such, draw on the
// personal-data budget; so does a create refused because the ID number
// is on file, which tells the caller as much as a look-up.
var Methods = limits.Table{
	pb.RegistryService_CreateCommunity_FullMethodName:        limits.Write,
	pb.RegistryService_GetCommunity_FullMethodName:           limits.Read,
	pb.RegistryService_ListCommunities_FullMethodName:        limits.Read,
	pb.RegistryService_CreateEnterprise_FullMethodName:       limits.Write,
	pb.RegistryService_GetEnterprise_FullMethodName:          limits.Read,
	pb.RegistryService_ListEnterprises_FullMethodName:        limits.Read,
	pb.RegistryService_CreateRetiree_FullMethodName:          limits.WriteRevealing,
	pb.RegistryService_GetRetiree_FullMethodName:             limits.PersonalRead,
	pb.RegistryService_ListRetirees_FullMethodName:           limits.PersonalRead,
	pb.RegistryService_UpdateRetiree_FullMethodName:          limits.Write,
	pb.RegistryService_LookupRetiree_FullMethodName:          limits.PersonalRead,
	pb.RegistryService_TransferRetiree_FullMethodName:        limits.Write,
	pb.RegistryService_RecordDeath_FullMethodName:            limits.Write,
	pb.RegistryService_ListRetireeHistory_FullMethodName:     limits.PersonalRead,
	pb.RegistryService_ListRetireeAuditLog_FullMethodName:    limits.Read,
	pb.RegistryService_GetSocialisationReport_FullMethodName: limits.Read,
	// A watch costs a read to open; the streams open at once are bounded
	// by --max-watchers.
	pb.RegistryService_WatchRetirees_FullMethodName:        limits.Read,
	pb.RegistryService_AssignRetirees_FullMethodName:       limits.Write,
	pb.RegistryService_BatchGetRetireeFacts_FullMethodName: limits.PersonalRead,
	pb.RegistryService_RevokeToken_FullMethodName:          limits.Write,
	// Every service and the gateway poll the revocation list: a read each
	// time, well within the service role's budget.
	pb.RegistryService_ListRevokedTokens_FullMethodName: limits.Read,
	// --- transfers (B): a transfer shows its retiree's name and masked
	// ID number, audited as a read of the retiree.
	pb.RegistryService_GetTransfer_FullMethodName:     limits.PersonalRead,
	pb.RegistryService_ListTransfers_FullMethodName:   limits.PersonalRead,
	pb.RegistryService_AcceptTransfer_FullMethodName:  limits.Write,
	pb.RegistryService_DeclineTransfer_FullMethodName: limits.Write,

	// --- roster statuses (A)
	pb.RegistryService_ChangeRetireeStatus_FullMethodName: limits.Write,

	// --- bulk rosters (C)
	// A roster import is bounded by its caller's records in flight.
	pb.RegistryService_ImportRetirees_FullMethodName: limits.Import,
	// --- registers and exports (E)
	// An export discloses every retiree it lists, and is audited so.
	pb.RegistryService_ExportRegister_FullMethodName: limits.PersonalRead,

	// --- death reports (D): a report shows the retiree's name and masked
	// ID number and the reporter, audited as a read of the retiree.
	pb.RegistryService_CreateDeathReport_FullMethodName:       limits.Write,
	pb.RegistryService_GetDeathReport_FullMethodName:          limits.PersonalRead,
	pb.RegistryService_ListDeathReports_FullMethodName:        limits.PersonalRead,
	pb.RegistryService_ListRetireeDeathReports_FullMethodName: limits.PersonalRead,
	pb.RegistryService_VerifyDeathReport_FullMethodName:       limits.Write,
	pb.RegistryService_RejectDeathReport_FullMethodName:       limits.Write,
	pb.RegistryService_ReverseDeathReport_FullMethodName:      limits.Write,
	pb.RegistryService_WatchWorkSignals_FullMethodName:        limits.Read,

	// --- messages (issue 16): one full phone number, audited.
	pb.RegistryService_GetRetireeContact_FullMethodName: limits.PersonalRead,
}
