package registry

import (
	"slices"
	"strings"

	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The registers are read by people at a street office: values appear in
// Chinese. The tables are keyed by the enum values' names, so that a value
// added to an enum later is listed (by its name) until it gets a label
// here.

var sexLabels = map[string]string{"MALE": "男", "FEMALE": "女"}

var modeLabels = map[string]string{"ENTERPRISE": "企业管理", "COMMUNITY": "社区管理", "BUREAU": "社保机构管理"}

var statusLabels = map[string]string{
	"LIVING": "在册", "DECEASED": "死亡", "MOVED_OUT": "迁出本市",
	"LOST_CONTACT": "失联", "IMPRISONED": "服刑", "ABROAD": "定居国外",
}

var residenceKindLabels = map[string]string{"LOCAL": "本市", "OTHER_CITY": "省内外市", "OTHER_PROVINCE": "外省", "ABROAD": "国外"}

var flagLabels = map[string]string{
	"AGED_80_PLUS": "80周岁以上", "AGED_90_PLUS": "90周岁以上",
	"LIVING_ALONE": "独居", "EMPTY_NEST": "空巢", "DISABLED": "残疾", "DEMENTIA": "失智",
	"BEREAVED_PARENT": "失独", "HARDSHIP": "困难", "SERIOUS_ILLNESS": "重病",
	"MODEL_WORKER": "劳动模范", "VETERAN": "退役军人",
}

func label(table map[string]string, name string) string {
	if l, ok := table[name]; ok {
		return l
	}
	return name
}

func sexLabel(s pb.Sex) string              { return label(sexLabels, enumName(s)) }
func modeLabel(m pb.ManagementMode) string  { return label(modeLabels, enumName(m)) }
func statusLabel(s pb.RetireeStatus) string { return label(statusLabels, enumName(s)) }
func residenceKindLabel(k pb.Residence_Kind) string {
	return label(residenceKindLabels, enumName(k))
}
func flagLabel(f pb.RetireeFlag) string                  { return label(flagLabels, enumName(f)) }
func statusNameLabel(name string) string                 { return label(statusLabels, name) }
func hasFlag(fs []pb.RetireeFlag, f pb.RetireeFlag) bool { return slices.Contains(fs, f) }

func flagsLabel(flags []pb.RetireeFlag) string {
	names := make([]string, len(flags))
	for i, f := range flags {
		names[i] = flagLabel(f)
	}
	return strings.Join(names, "、")
}

// allFlags is every flag of the enum, in number order.
func allFlags() []pb.RetireeFlag {
	var out []pb.RetireeFlag
	for n := range pb.RetireeFlag_name {
		if n != 0 {
			out = append(out, pb.RetireeFlag(n))
		}
	}
	slices.Sort(out)
	return out
}
