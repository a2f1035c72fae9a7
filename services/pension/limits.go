package pension

import (
	"github.com/socmgmt/socmgmt/internal/limits"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// Methods is the limits class of every pension method: what each call
// costs its caller (see package limits). A retiree's payments,
// certifications and entitlement are personal data, and their reads are
// audited: they draw on the personal-data budget. The imports are bounded
// by the records their caller has in flight instead.
var Methods = limits.Table{
	pb.PensionService_ImportPayments_FullMethodName:            limits.Import,
	pb.PensionService_ListPayments_FullMethodName:              limits.PersonalRead,
	pb.PensionService_QueryPayments_FullMethodName:             limits.PersonalRead,
	pb.PensionService_ListPaymentVersions_FullMethodName:       limits.PersonalRead,
	pb.PensionService_GetStatement_FullMethodName:              limits.PersonalRead,
	pb.PensionService_RecordCertification_FullMethodName:       limits.Write,
	pb.PensionService_ImportCertifications_FullMethodName:      limits.Import,
	pb.PensionService_ImportDecisions_FullMethodName:           limits.Import,
	pb.PensionService_RecordDecision_FullMethodName:            limits.Write,
	pb.PensionService_ListDecisions_FullMethodName:             limits.PersonalRead,
	pb.PensionService_ListCertifications_FullMethodName:        limits.PersonalRead,
	pb.PensionService_GetEntitlement_FullMethodName:            limits.PersonalRead,
	pb.PensionService_ListOverdueCertifications_FullMethodName: limits.PersonalRead,
	pb.PensionService_ListDueSoonCertifications_FullMethodName: limits.PersonalRead,
	pb.PensionService_CreateCertificationRule_FullMethodName:   limits.Write,
	pb.PensionService_ListCertificationRules_FullMethodName:    limits.Read,
	pb.PensionService_PreviewCertificationRule_FullMethodName:  limits.Read,
	pb.PensionService_ListPaymentAnomalies_FullMethodName:      limits.PersonalRead,
	// --- recovery (R)
	pb.PensionService_ListRecoveryCases_FullMethodName:         limits.PersonalRead,
	pb.PensionService_GetRecoveryCase_FullMethodName:           limits.PersonalRead,
	pb.PensionService_IssueRecoveryOrder_FullMethodName:        limits.Write,
	pb.PensionService_SetRecoveryInstalmentPlan_FullMethodName: limits.Write,
	pb.PensionService_RecordRecoveryRepayment_FullMethodName:   limits.Write,
	pb.PensionService_ImportRecoveryRepayments_FullMethodName:  limits.Write,
	pb.PensionService_ProposeRecoveryWriteOff_FullMethodName:   limits.Write,
	pb.PensionService_ApproveRecoveryWriteOff_FullMethodName:   limits.Write,
	pb.PensionService_RejectRecoveryWriteOff_FullMethodName:    limits.Write,
	pb.PensionService_RecordRecoveryRefusal_FullMethodName:     limits.Write,
	pb.PensionService_EscalateRecoveryCase_FullMethodName:      limits.Write,
	pb.PensionService_GetRecoveryReport_FullMethodName:         limits.Read,
	// --- death benefits (B)
	pb.PensionService_CreateBenefitRule_FullMethodName:         limits.Write,
	pb.PensionService_ListBenefitRules_FullMethodName:          limits.Read,
	pb.PensionService_CreateDeathBenefitClaim_FullMethodName:   limits.Write,
	pb.PensionService_UpdateDeathBenefitClaim_FullMethodName:   limits.Write,
	pb.PensionService_SubmitDeathBenefitClaim_FullMethodName:   limits.Write,
	pb.PensionService_ApproveDeathBenefitClaim_FullMethodName:  limits.Write,
	pb.PensionService_RejectDeathBenefitClaim_FullMethodName:   limits.Write,
	pb.PensionService_MarkDeathBenefitClaimPaid_FullMethodName: limits.Write,
	pb.PensionService_GetDeathBenefitClaim_FullMethodName:      limits.PersonalRead,
	pb.PensionService_ListDeathBenefitClaims_FullMethodName:    limits.PersonalRead,
	// --- offsets (O)
	pb.PensionService_OffsetRecoveryCase_FullMethodName:    limits.Write,
	pb.PensionService_WatchWorkSignals_FullMethodName:      limits.Read,
	pb.PensionService_ExplainPaymentAnomaly_FullMethodName: limits.Write,
}
