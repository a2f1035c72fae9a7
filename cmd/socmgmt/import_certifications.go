package main

import (
	"context"

	"google.golang.org/grpc"

	pensionv1 "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
)

// referenceColumn is the bureau's reference of its own record.
var referenceColumn = column{name: "reference", zh: []string{"业务编号", "流水号"}, optional: true}

// certificationColumns are the columns of a bureau's certification file.
var certificationColumns = []column{
	idNumberColumn,
	{name: "certified_on", zh: []string{"认证日期", "认证时间"}},
	{name: "channel", zh: []string{"认证方式", "认证渠道"}},
	referenceColumn,
}

// The positions of certificationColumns.
const (
	certID = iota
	certOn
	certChannel
	certReference
)

// channelLabels are the Chinese names of the certification channels.
var channelLabels = map[string]int32{
	"数据比对":   int32(pensionv1.CertificationMethod_DATA_MATCH),
	"人脸识别":   int32(pensionv1.CertificationMethod_FACE_APP),
	"使领馆认证":  int32(pensionv1.CertificationMethod_CONSULAR),
	"异地协助认证": int32(pensionv1.CertificationMethod_OTHER_REGION),
	"现场认证":   int32(pensionv1.CertificationMethod_IN_PERSON),
	"上门认证":   int32(pensionv1.CertificationMethod_HOME_VISIT),
	"社区活动":   int32(pensionv1.CertificationMethod_ACTIVITY),
}

// channelNames are the proto names of the channels a file may give:
// PENSION_START is never recorded, so it is not offered.
var channelNames = func() map[string]int32 {
	m := map[string]int32{}
	for name, n := range pensionv1.CertificationMethod_value {
		if n != int32(pensionv1.CertificationMethod_PENSION_START) {
			m[name] = n
		}
	}
	return m
}()

// certificationsImport imports a bureau's certification file through
// ImportCertifications.
var certificationsImport = &importKind[*pensionv1.CertificationRecord]{
	name:    "certifications",
	columns: certificationColumns,
	parse:   parseCertificationRow,
	service: pensionService,
	open: func(ctx context.Context, conn grpc.ClientConnInterface) (recordStream[*pensionv1.CertificationRecord], error) {
		s, err := pensionv1.NewPensionServiceClient(conn).ImportCertifications(ctx)
		return grpcImportStream[pensionv1.ImportCertificationsRequest, pensionv1.ImportCertificationsResponse, *pensionv1.CertificationRecord]{
			stream: s,
			header: func(batchID string, expected int64) *pensionv1.ImportCertificationsRequest {
				return &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Header{Header: pensionHeader(batchID, expected)}}
			},
			record: func(r *pensionv1.CertificationRecord) *pensionv1.ImportCertificationsRequest {
				return &pensionv1.ImportCertificationsRequest{Message: &pensionv1.ImportCertificationsRequest_Record{Record: r}}
			},
			reply: fromPension[pensionv1.ImportCertificationsResponse],
		}, err
	},
}

// parseCertificationRow builds the record of a certification row from its
// values, in the order of certificationColumns.
func parseCertificationRow(index int64, v []string) (*pensionv1.CertificationRecord, *rejection) {
	if rj := idNumberCell(v[certID]); rj != nil {
		return nil, rj
	}
	if rj := dateCell("certified_on", v[certOn]); rj != nil {
		return nil, rj
	}
	channel, rj := enumCell("channel", v[certChannel], channelNames, channelLabels, "CHANNEL_INVALID")
	if rj != nil {
		return nil, rj
	}
	return &pensionv1.CertificationRecord{
		Index:       index,
		IdNumber:    v[certID],
		CertifiedOn: v[certOn],
		Channel:     pensionv1.CertificationMethod(channel),
		Reference:   v[certReference],
	}, nil
}
