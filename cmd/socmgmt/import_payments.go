package main

import (
	"context"

	"google.golang.org/grpc"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// idNumberColumn is the first column of every bureau file.
var idNumberColumn = column{name: "id_number", zh: []string{"身份证号", "身份证号码", "公民身份号码"}}

// paymentColumns are the columns of a bureau's payment file, in the order
// the importer documents them; a file may order them as it likes.
var paymentColumns = []column{
	idNumberColumn,
	{name: "month", zh: []string{"发放月份", "月份"}},
	{name: "basic_fen", zh: []string{"基础养老金(分)"}},
	{name: "personal_account_fen", zh: []string{"个人账户养老金(分)"}},
	{name: "transitional_fen", zh: []string{"过渡性养老金(分)"}},
	{name: "other_fen", zh: []string{"其他(分)"}},
	{name: "paid_on", zh: []string{"发放日期"}},
	{name: "bank_account_masked", zh: []string{"银行账号"}},
	{name: "kind", zh: []string{"发放类型"}, optional: true},
}

// The positions of paymentColumns.
const (
	payID = iota
	payMonth
	payBasic
	payPersonal
	payTransitional
	payOther
	payPaidOn
	payAccount
	payKind
)

// paymentKindLabels are the Chinese names of the payment kinds.
var paymentKindLabels = map[string]int32{
	"正常发放": int32(pensionv1.PaymentKind_REGULAR),
	"补发":   int32(pensionv1.PaymentKind_ARREARS),
	"调整补发": int32(pensionv1.PaymentKind_ADJUSTMENT),
}

// paymentsImport imports a bureau's payment file through ImportPayments.
var paymentsImport = &importKind[*pensionv1.PaymentRecord]{
	name:    "payments",
	columns: paymentColumns,
	parse:   parsePaymentRow,
	service: pensionService,
	open: func(ctx context.Context, conn grpc.ClientConnInterface) (recordStream[*pensionv1.PaymentRecord], error) {
		s, err := pensionv1.NewPensionServiceClient(conn).ImportPayments(ctx)
		return grpcImportStream[pensionv1.ImportPaymentsRequest, pensionv1.ImportPaymentsResponse, *pensionv1.PaymentRecord]{
			stream: s,
			header: func(batchID string, expected int64) *pensionv1.ImportPaymentsRequest {
				return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Header{Header: pensionHeader(batchID, expected)}}
			},
			record: func(r *pensionv1.PaymentRecord) *pensionv1.ImportPaymentsRequest {
				return &pensionv1.ImportPaymentsRequest{Message: &pensionv1.ImportPaymentsRequest_Record{Record: r}}
			},
			reply: fromPension[pensionv1.ImportPaymentsResponse],
		}, err
	},
}

// parsePaymentRow builds the record of a payment row from its values, in
// the order of paymentColumns. It rejects what Excel did to the cells and
// amounts that are not whole fen; the service validates the rest.
func parsePaymentRow(index int64, v []string) (*pensionv1.PaymentRecord, *rejection) {
	if rj := idNumberCell(v[payID]); rj != nil {
		return nil, rj
	}
	if rj := monthCell("month", v[payMonth]); rj != nil {
		return nil, rj
	}
	if rj := dateCell("paid_on", v[payPaidOn]); rj != nil {
		return nil, rj
	}
	var amounts [4]int64
	for i := range amounts {
		col := payBasic + i
		var rj *rejection
		if amounts[i], rj = fenCell(paymentColumns[col].name, v[col]); rj != nil {
			return nil, rj
		}
	}
	kind, rj := enumCell("kind", v[payKind], pensionv1.PaymentKind_value, paymentKindLabels, "KIND_INVALID")
	if rj != nil {
		return nil, rj
	}
	return &pensionv1.PaymentRecord{
		Index:              index,
		IdNumber:           v[payID],
		Month:              v[payMonth],
		BasicFen:           amounts[0],
		PersonalAccountFen: amounts[1],
		TransitionalFen:    amounts[2],
		OtherFen:           amounts[3],
		PaidOn:             v[payPaidOn],
		BankAccountMasked:  v[payAccount],
		Kind:               pensionv1.PaymentKind(kind),
	}, nil
}

// pensionHeader is the header of a pension import stream.
func pensionHeader(batchID string, expected int64) *pensionv1.ImportHeader {
	return &pensionv1.ImportHeader{BatchId: batchID, FormatVersion: 1, ExpectedRecords: expected}
}
