package main

import (
	"context"
	"regexp"
	"strings"

	"google.golang.org/grpc"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// retireeColumns are the columns of a roster, in the order the importer
// documents them; a file may order them as it likes.
var retireeColumns = []column{
	idNumberColumn,
	{name: "name", zh: []string{"姓名"}},
	{name: "sex", zh: []string{"性别"}, optional: true},
	{name: "retirement_date", zh: []string{"退休日期", "退休时间"}, optional: true},
	{name: "enterprise_credit_code", zh: []string{"统一社会信用代码", "企业信用代码", "原单位信用代码"}, optional: true},
	{name: "community_id", zh: []string{"社区代码", "所属社区代码", "社区编码"}},
	{name: "management_mode", zh: []string{"管理方式", "管理类型"}},
	{name: "phone", zh: []string{"联系电话", "手机号码", "电话"}, optional: true},
	{name: "residence_address", zh: []string{"居住地址", "现居住地址", "现住址"}, optional: true, maxLen: 200},
	{name: "flags", zh: []string{"特殊群体", "人员标识"}, optional: true, maxLen: 200},
}

// The positions of retireeColumns.
const (
	retID = iota
	retName
	retSex
	retRetired
	retEnterprise
	retCommunity
	retMode
	retPhone
	retAddress
	retFlags
)

// The reasons of roster rows rejected here; the service's own
// (RetireeRecordRejection) where the meaning is the same.
const (
	// reasonCodeAsNumber: Excel stored a community code or phone number
	// as a number and shows it in scientific notation.
	reasonCodeAsNumber = "CODE_AS_NUMBER"
	reasonSexInvalid   = "SEX_INVALID"
	reasonModeInvalid  = "MANAGEMENT_MODE_INVALID"
	reasonFlagsInvalid = "FLAGS_INVALID"
)

// sexLabels, modeLabels and flagLabels are the Chinese names of the
// values a roster gives.
var (
	sexLabels  = map[string]int32{"男": int32(registryv1.Sex_MALE), "女": int32(registryv1.Sex_FEMALE)}
	modeLabels = map[string]int32{
		"企业管理": int32(registryv1.ManagementMode_ENTERPRISE), "企业": int32(registryv1.ManagementMode_ENTERPRISE),
		"社区管理": int32(registryv1.ManagementMode_COMMUNITY), "社区": int32(registryv1.ManagementMode_COMMUNITY),
		"经办机构管理": int32(registryv1.ManagementMode_BUREAU), "社保经办机构": int32(registryv1.ManagementMode_BUREAU),
	}
	flagLabels = map[string]int32{
		"独居": int32(registryv1.RetireeFlag_LIVING_ALONE), "空巢": int32(registryv1.RetireeFlag_EMPTY_NEST),
		"劳模": int32(registryv1.RetireeFlag_MODEL_WORKER), "劳动模范": int32(registryv1.RetireeFlag_MODEL_WORKER),
		"困难": int32(registryv1.RetireeFlag_HARDSHIP), "大病": int32(registryv1.RetireeFlag_SERIOUS_ILLNESS),
		"残疾": int32(registryv1.RetireeFlag_DISABLED), "失能": int32(registryv1.RetireeFlag_DISABLED),
		"失智": int32(registryv1.RetireeFlag_DEMENTIA), "失独": int32(registryv1.RetireeFlag_BEREAVED_PARENT),
		"退役军人": int32(registryv1.RetireeFlag_VETERAN),
	}
	// flagNames are the flags a roster may set: the computed ones (aged
	// 80+, 90+) are not among them.
	flagNames = func() map[string]int32 {
		m := map[string]int32{}
		for name, n := range registryv1.RetireeFlag_value {
			if f := registryv1.RetireeFlag(n); f != registryv1.RetireeFlag_AGED_80_PLUS && f != registryv1.RetireeFlag_AGED_90_PLUS {
				m[name] = n
			}
		}
		return m
	}()
)

// flagSeparatorRE splits a flags cell: commas, semicolons, the Chinese
// enumeration comma and white space.
var flagSeparatorRE = regexp.MustCompile(`[,;，；、\s]+`)

// retireesImport imports a roster into the registry through
// ImportRetirees.
var retireesImport = &importKind[*registryv1.RetireeRecord]{
	name:    "retirees",
	service: registryService,
	columns: retireeColumns,
	parse:   parseRetireeRow,
	changed: "updated",
	open: func(ctx context.Context, conn grpc.ClientConnInterface) (recordStream[*registryv1.RetireeRecord], error) {
		s, err := registryv1.NewRegistryServiceClient(conn).ImportRetirees(ctx)
		return grpcImportStream[registryv1.ImportRetireesRequest, registryv1.ImportRetireesResponse, *registryv1.RetireeRecord]{
			stream: s,
			header: func(batchID string, expected int64) *registryv1.ImportRetireesRequest {
				return &registryv1.ImportRetireesRequest{Message: &registryv1.ImportRetireesRequest_Header{
					Header: &registryv1.RetireeImportHeader{BatchId: batchID, FormatVersion: 1, ExpectedRecords: expected},
				}}
			},
			record: func(r *registryv1.RetireeRecord) *registryv1.ImportRetireesRequest {
				return &registryv1.ImportRetireesRequest{Message: &registryv1.ImportRetireesRequest_Record{Record: r}}
			},
			reply: fromRegistry,
		}, err
	},
}

// fromRegistry reads an ImportRetirees reply.
func fromRegistry(resp *registryv1.ImportRetireesResponse) (*streamAck, *streamSummary) {
	var ack *streamAck
	if a := resp.GetAck(); a != nil {
		ack = &streamAck{durableThrough: a.DurableThroughIndex}
		for _, rj := range a.Rejections {
			ack.rejections = append(ack.rejections, streamRejection{index: rj.Index, reason: rj.Reason, message: rj.Message})
		}
	}
	var sum *streamSummary
	if s := resp.GetSummary(); s != nil {
		sum = &streamSummary{received: s.Received, accepted: s.Accepted, duplicates: s.Duplicates, corrections: s.Corrections}
	}
	return ack, sum
}

// parseRetireeRow builds the record of a roster row from its values, in
// the order of retireeColumns. It rejects what Excel did to the cells and
// names of values it does not know; the service validates the rest with
// CreateRetiree's rules.
func parseRetireeRow(index int64, v []string) (*registryv1.RetireeRecord, *rejection) {
	if rj := idNumberCell(v[retID]); rj != nil {
		return nil, rj
	}
	if rj := dateCell("retirement_date", v[retRetired]); rj != nil {
		return nil, rj
	}
	for _, col := range []int{retCommunity, retPhone} {
		if scientificRE.MatchString(v[col]) {
			return nil, reject(reasonCodeAsNumber, "%s %s is in scientific notation: Excel stored it as a number; %s", retireeColumns[col].name, shown(v[col]), textColumnHint)
		}
	}
	sex, rj := enumCell("sex", v[retSex], registryv1.Sex_value, sexLabels, reasonSexInvalid)
	if rj != nil {
		return nil, rj
	}
	mode, rj := enumCell("management_mode", v[retMode], registryv1.ManagementMode_value, modeLabels, reasonModeInvalid)
	if rj != nil {
		return nil, rj
	}
	flags, rj := flagsCell(v[retFlags])
	if rj != nil {
		return nil, rj
	}
	return &registryv1.RetireeRecord{Index: index, Retiree: &registryv1.Retiree{
		IdNumber:             v[retID],
		Name:                 v[retName],
		Sex:                  registryv1.Sex(sex),
		RetirementDate:       v[retRetired],
		EnterpriseCreditCode: strings.ToUpper(v[retEnterprise]),
		CommunityId:          v[retCommunity],
		ManagementMode:       registryv1.ManagementMode(mode),
		Phone:                v[retPhone],
		ResidenceAddress:     v[retAddress],
		Flags:                flags,
	}}, nil
}

// flagsCell reads the flags of a roster row: names or Chinese labels,
// separated by commas, semicolons, 、 or spaces.
func flagsCell(v string) ([]registryv1.RetireeFlag, *rejection) {
	var out []registryv1.RetireeFlag
	for _, item := range flagSeparatorRE.Split(strings.TrimSpace(v), -1) {
		if item == "" {
			continue
		}
		n, rj := enumCell("flags", item, flagNames, flagLabels, reasonFlagsInvalid)
		if rj != nil {
			return nil, rj
		}
		out = append(out, registryv1.RetireeFlag(n))
	}
	return out, nil
}
