package main

import (
	"context"

	"google.golang.org/grpc"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// decisionColumns are the columns of a bureau's file of entitlement
// decisions. A RESTORE has no reason, so the column may be left out of a
// file that holds only restorations.
var decisionColumns = []column{
	idNumberColumn,
	{name: "action", zh: []string{"处理类型", "决定"}},
	{name: "effective_month", zh: []string{"生效月份", "起始月份"}},
	{name: "reason", zh: []string{"原因"}, optional: true},
	{name: "note", zh: []string{"备注"}, optional: true, maxLen: maxNote},
	referenceColumn,
}

// The positions of decisionColumns.
const (
	decID = iota
	decAction
	decMonth
	decReason
	decNote
	decReference
)

// actionLabels and decisionReasonLabels are the Chinese names of the
// actions and reasons.
var (
	actionLabels = map[string]int32{
		"暂停": int32(pensionv1.DecisionAction_SUSPEND),
		"恢复": int32(pensionv1.DecisionAction_RESTORE),
		"终止": int32(pensionv1.DecisionAction_STOP),
	}
	decisionReasonLabels = map[string]int32{
		"未认证": int32(pensionv1.DecisionReason_NOT_CERTIFIED),
		"失联":  int32(pensionv1.DecisionReason_LOST_CONTACT),
		"服刑":  int32(pensionv1.DecisionReason_IMPRISONED),
		"死亡":  int32(pensionv1.DecisionReason_DECEASED),
		"其他":  int32(pensionv1.DecisionReason_OTHER),
	}
)

// decisionsImport imports a bureau's decisions through ImportDecisions.
var decisionsImport = &importKind[*pensionv1.DecisionRecord]{
	name:    "decisions",
	columns: decisionColumns,
	parse:   parseDecisionRow,
	service: pensionService,
	open: func(ctx context.Context, conn grpc.ClientConnInterface) (recordStream[*pensionv1.DecisionRecord], error) {
		s, err := pensionv1.NewPensionServiceClient(conn).ImportDecisions(ctx)
		return grpcImportStream[pensionv1.ImportDecisionsRequest, pensionv1.ImportDecisionsResponse, *pensionv1.DecisionRecord]{
			stream: s,
			header: func(batchID string, expected int64) *pensionv1.ImportDecisionsRequest {
				return &pensionv1.ImportDecisionsRequest{Message: &pensionv1.ImportDecisionsRequest_Header{Header: pensionHeader(batchID, expected)}}
			},
			record: func(r *pensionv1.DecisionRecord) *pensionv1.ImportDecisionsRequest {
				return &pensionv1.ImportDecisionsRequest{Message: &pensionv1.ImportDecisionsRequest_Record{Record: r}}
			},
			reply: fromPension[pensionv1.ImportDecisionsResponse],
		}, err
	},
}

// parseDecisionRow builds the record of a decision row from its values,
// in the order of decisionColumns.
func parseDecisionRow(index int64, v []string) (*pensionv1.DecisionRecord, *rejection) {
	if rj := idNumberCell(v[decID]); rj != nil {
		return nil, rj
	}
	if rj := monthCell("effective_month", v[decMonth]); rj != nil {
		return nil, rj
	}
	action, rj := enumCell("action", v[decAction], pensionv1.DecisionAction_value, actionLabels, "ACTION_INVALID")
	if rj != nil {
		return nil, rj
	}
	reason, rj := enumCell("reason", v[decReason], pensionv1.DecisionReason_value, decisionReasonLabels, "REASON_INVALID")
	if rj != nil {
		return nil, rj
	}
	return &pensionv1.DecisionRecord{
		Index:          index,
		IdNumber:       v[decID],
		Action:         pensionv1.DecisionAction(action),
		EffectiveMonth: v[decMonth],
		Reason:         pensionv1.DecisionReason(reason),
		Note:           v[decNote],
		Reference:      v[decReference],
	}, nil
}
