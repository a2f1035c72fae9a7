package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/socmgmt/socmgmt/internal/creditcode"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// This file generates the demo city that `socmgmt seed` loads. Everything
// here is pure: the same seed gives the same city, byte for byte, so that
// a re-run finds what the first run created and skips it.

// cityName is the demo city; its districts' codes start with 2101.
const cityName = "沈阳市"

// cityAreaCode is the city's own 6-digit division code, used for
// enterprises registered at city level.
const cityAreaCode = "210100"

// communitiesPerStreet times the streets below gives the demo's 60
// communities.
const communitiesPerStreet = 4

// enterpriseCount is how many enterprises the demo city has.
const enterpriseCount = 40

// Shares of the retirees whose history the seed makes non-trivial.
const (
	deathPercent    = 2
	transferPercent = 1
)

// district is a county-level division of the demo city.
type district struct {
	code    string
	name    string
	streets []string
	// roads are street names used in residence addresses.
	roads []string
}

// districts returns the city's districts with their street offices. The
// codes are the real ones of Shenyang's central districts; the street
// offices exist, though their 3-digit codes here are simply numbered.
func districts() []district {
	return []district{
		{code: "210102", name: "和平区", streets: []string{"南湖街道", "长白街道", "太原街街道"},
			roads: []string{"三好街", "南京南街", "中华路", "太原北街", "长白西路", "南五马路", "和平北大街", "文化路"}},
		{code: "210103", name: "沈河区", streets: []string{"五里河街道", "大西街道", "滨河街道"},
			roads: []string{"青年大街", "五爱街", "大西路", "小河沿路", "文艺路", "市府大路", "北顺城路", "万柳塘路"}},
		{code: "210104", name: "大东区", streets: []string{"东塔街道", "津桥街道", "上园街道"},
			roads: []string{"东望街", "津桥路", "小北关街", "大什字街", "北海街", "东北大马路", "二台子路", "长安路"}},
		{code: "210105", name: "皇姑区", streets: []string{"北塔街道", "华山街道", "三台子街道"},
			roads: []string{"黄河北大街", "华山路", "昆山中路", "崇山东路", "泰山路", "长江街", "嫩江街", "珠江街"}},
		{code: "210106", name: "铁西区", streets: []string{"兴华街道", "工人村街道", "保工街道"},
			roads: []string{"兴华北街", "建设大路", "北二中路", "保工南街", "启工街", "云峰北街", "景星北街", "卫工街"}},
	}
}

// otherCityAreas are area codes of the county-level divisions of the city
// outside its centre, where many residents were born.
var otherCityAreas = []string{"210111", "210112", "210113", "210114", "210181"}

// elsewhereAreas are area codes from elsewhere in China, for retirees born
// outside the city.
var elsewhereAreas = []string{
	"110105", "310104", "370102", "220102", "230102", "210202",
	"130102", "410105", "510104", "420102", "150102", "211302",
}

// communityNames lists name stems by kind. Each kind has more stems than
// the demo needs so that names stay unique.
var communityNames = map[registryv1.CommunityKind][]string{
	registryv1.CommunityKind_BLOCK: {
		"胜利街", "民主路", "光荣街", "和平里", "新华街", "团结路", "友谊街", "建设里",
		"文化街", "青年路", "春晖里", "丰乐街", "兴工街", "启工里", "北陵街", "华山里",
		"长江街", "黄河里", "珠江街", "昆山里", "泰山街", "嫩江里", "松花江街", "鸭绿江里",
		"辽河街", "浑河里", "明廉街", "重工里", "工农街", "红旗里", "向阳街", "曙光里",
	},
	registryv1.CommunityKind_COMPOUND: {
		"金地名京", "万科春河里", "华润置地", "龙湖花园", "翠湖小区", "锦绣江南", "阳光家园", "幸福苑",
		"东方威尼斯", "碧桂园", "香榭丽舍", "格林小镇", "长安花园", "丽水新城", "滨河湾", "怡景园",
		"北方明珠", "世纪花园", "御景湾", "金色家园", "紫郡城", "百合苑", "宏伟家园", "泰宸小区",
	},
	registryv1.CommunityKind_WORK_UNIT: {
		"机床厂家属院", "重机宿舍", "冶炼厂", "变压器厂", "铁路宿舍", "黎明", "化工厂宿舍", "电缆厂",
		"鼓风机厂", "橡胶厂", "纺织厂宿舍", "钢厂宿舍", "水泵厂", "拖拉机厂", "制药厂宿舍", "飞机厂",
	},
	registryv1.CommunityKind_FUNCTIONAL: {
		"中街商贸", "五爱市场", "北行商业", "大学城", "医大", "高新园区", "太原街商圈", "奥体中心",
		"浑南科技城", "西塔商贸", "北站商务区", "长白岛",
	},
}

// enterpriseSpec is an enterprise of the demo city before its random parts
// (credit code, status) are drawn.
type enterpriseSpec struct {
	name      string
	ownership registryv1.Ownership
	// weight is how many retirees it has relative to the others: the old
	// state factories dominate the rolls.
	weight int
}

// enterpriseSpecs returns the demo city's 40 enterprises.
func enterpriseSpecs() []enterpriseSpec {
	state := []string{
		"沈阳重型机器厂", "沈阳第一机床厂", "沈阳变压器厂", "沈阳冶炼厂", "沈阳鼓风机厂", "沈阳电缆厂",
		"沈阳化工厂", "沈阳机车车辆厂", "沈阳黎明机械公司", "东北制药总厂", "沈阳水泵厂", "沈阳拖拉机厂",
		"沈阳第三机床厂", "沈阳低压开关厂", "沈阳橡胶四厂", "沈阳第一纺织厂",
	}
	collective := []string{
		"沈阳市和平区五金制品厂", "沈阳市皇姑区被服厂", "沈阳市铁西区街道印刷厂", "沈阳市大东区塑料制品厂",
		"沈阳市沈河区食品加工厂", "沈阳市第二服装厂", "沈阳市搪瓷厂", "沈阳市日用化工厂",
	}
	private := []string{
		"沈阳华晟机电设备有限公司", "沈阳北方建筑工程有限公司", "沈阳金鼎商贸有限公司", "沈阳恒通物流有限公司",
		"沈阳远航汽车配件有限公司", "沈阳鑫源食品有限公司", "沈阳新城物业管理有限公司", "沈阳东方印务有限公司",
		"沈阳宏达钢结构有限公司", "沈阳瑞丰纺织有限公司", "沈阳盛京餐饮管理有限公司", "沈阳万和电器有限公司",
	}
	other := []string{
		"沈阳中德轴承有限公司", "沈阳中日合资电子有限公司", "沈阳华美合资机械有限公司", "沈阳港联服装有限公司",
	}
	var specs []enterpriseSpec
	add := func(names []string, o registryv1.Ownership, weight int) {
		for _, n := range names {
			specs = append(specs, enterpriseSpec{name: n, ownership: o, weight: weight})
		}
	}
	add(state, registryv1.Ownership_STATE, 5)
	add(collective, registryv1.Ownership_COLLECTIVE, 2)
	add(private, registryv1.Ownership_PRIVATE, 1)
	add(other, registryv1.Ownership_OTHER, 1)
	return specs
}

// Common surnames with rough relative frequencies.
var surnames = []struct {
	name   string
	weight int
}{
	{"王", 72}, {"李", 70}, {"张", 68}, {"刘", 55}, {"陈", 45}, {"杨", 32}, {"赵", 28}, {"黄", 22},
	{"周", 21}, {"吴", 20}, {"徐", 17}, {"孙", 17}, {"胡", 14}, {"朱", 13}, {"高", 13}, {"林", 12},
	{"何", 12}, {"郭", 12}, {"马", 11}, {"罗", 9}, {"梁", 9}, {"宋", 8}, {"郑", 8}, {"谢", 7},
	{"韩", 7}, {"唐", 7}, {"冯", 7}, {"于", 7}, {"董", 6}, {"萧", 6}, {"程", 5}, {"曹", 5},
	{"袁", 5}, {"邓", 5}, {"许", 5}, {"傅", 4}, {"沈", 4}, {"曾", 4}, {"彭", 4}, {"吕", 4},
	{"苏", 4}, {"卢", 4}, {"蒋", 4}, {"蔡", 4}, {"贾", 3}, {"丁", 3}, {"魏", 3}, {"薛", 3},
	{"叶", 3}, {"阎", 3}, {"佟", 2}, {"关", 2}, {"富", 1}, {"那", 1}, {"欧阳", 1}, {"司马", 1},
}

// Given names typical of people born between the 1930s and 1960s.
var (
	maleGiven = []string{
		"建国", "建军", "国庆", "卫东", "振华", "德胜", "保国", "志强", "永生", "长生", "福生", "玉林",
		"树林", "宝山", "广林", "洪亮", "文斌", "立新", "跃进", "胜利", "援朝", "铁柱", "春生", "金山",
		"德明", "德才", "世杰", "树森", "凤山", "景春", "庆和", "家声", "少华", "继光", "学文", "连生",
		"军", "强", "伟", "刚", "勇", "斌", "平", "华", "明", "林", "峰", "忠", "义", "涛", "成", "武",
	}
	femaleGiven = []string{
		"淑珍", "秀英", "桂兰", "玉兰", "凤英", "桂英", "秀兰", "淑兰", "玉珍", "丽华", "桂芝", "淑华",
		"秀珍", "玉梅", "凤兰", "素芬", "春花", "红梅", "丽娟", "美英", "淑芬", "秀云", "玉芳", "金凤",
		"翠兰", "亚琴", "兰英", "雅琴", "秀梅", "爱华", "淑琴", "桂珍", "凤琴", "玉华", "秀芝", "丽君",
		"敏", "红", "霞", "燕", "芳", "丽", "萍", "静", "梅", "英", "琴", "华", "洁", "艳", "虹", "娟",
	}
)

// transferReasons are the reasons given for moving a retiree.
var transferReasons = []string{"随子女迁居", "房屋拆迁安置", "购置新居迁入", "入住养老机构", "户籍迁移"}

// phonePrefixes are mobile number blocks that existed when these
// retirees got their phones.
var phonePrefixes = []string{
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
	"150", "151", "152", "153", "155", "156", "157", "158", "159",
	"180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
}

// Birth and event bounds. They are fixed dates, not "now": the same seed
// must give the same city whenever it runs, and every date is in the past.
var (
	birthFrom    = time.Date(1935, 1, 1, 0, 0, 0, 0, time.UTC)
	birthToWoman = time.Date(1966, 12, 31, 0, 0, 0, 0, time.UTC)
	// Men retire at 60; born after mid-1966 they would not have retired.
	birthToMan = time.Date(1966, 6, 30, 0, 0, 0, 0, time.UTC)
	// Born before this day means 80 or older in the demo's present.
	aged80Before = time.Date(1946, 1, 1, 0, 0, 0, 0, time.UTC)
	// Deaths are recorded between these days, never before retirement.
	deathFrom = time.Date(2016, 1, 1, 0, 0, 0, 0, time.UTC)
	deathTo   = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)
)

// dateLayout is DESIGN's date format.
const dateLayout = "2006-01-02"

// cityPlan is everything seed creates, in the order it creates it.
type cityPlan struct {
	Communities []*registryv1.Community
	Enterprises []*registryv1.Enterprise
	Retirees    []*registryv1.Retiree
	// Deaths and Transfers refer to Retirees by index; no retiree is in
	// both.
	Deaths    []deathPlan
	Transfers []transferPlan
	// StatusChanges and MovesOut (seed_roster.go) refer to Retirees by
	// index too, none of them dying, moving or left with a pending
	// transfer.
	StatusChanges []statusPlan
	MovesOut      []moveOutPlan
}

// deathPlan records the death of Retirees[Index].
type deathPlan struct {
	Index int
	Date  string
}

// transferPlan moves Retirees[Index] to another community.
type transferPlan struct {
	Index       int
	ToCommunity string
	Reason      string
}

// communityInfo keeps what retiree generation needs to know about a
// community besides its proto.
type communityInfo struct {
	district *district
	weight   int
}

// generateCity builds the demo city for seed with the given number of
// retirees. It is deterministic: equal arguments give equal plans.
func generateCity(seed uint64, retirees int) (*cityPlan, error) {
	if retirees < 0 {
		return nil, fmt.Errorf("retiree count %d is negative", retirees)
	}
	// PCG with a fixed second word: the seed alone picks the stream.
	rng := rand.New(rand.NewPCG(seed, 0x5eed_c17c)) //nolint:gosec // G404: seeded on purpose, so a seed always plans the same city
	g := &generator{rng: rng, dists: districts(), ids: make(map[string]bool, retirees)}

	plan := &cityPlan{}
	infos := g.communities(plan)
	if err := g.enterprises(plan); err != nil {
		return nil, err
	}
	if err := g.retirees(plan, infos, retirees); err != nil {
		return nil, err
	}
	g.history(plan)
	planRoster(seed, plan)
	return plan, nil
}

// generator carries the random source and the uniqueness sets of one
// generation.
type generator struct {
	rng   *rand.Rand
	dists []district
	ids   map[string]bool
}

// communities adds the city's communities to plan: communitiesPerStreet
// per street office, with kinds in fixed proportions so that every kind
// is present, shuffled over the city.
func (g *generator) communities(plan *cityPlan) []communityInfo {
	total := 0
	for _, d := range g.dists {
		total += len(d.streets) * communitiesPerStreet
	}
	kinds := g.communityKinds(total)
	names := g.newCommunityNamer()
	infos := make([]communityInfo, 0, total)
	for di := range g.dists {
		d := &g.dists[di]
		for si, street := range d.streets {
			streetCode := d.code + fmt.Sprintf("%03d", si+1)
			for ci := range communitiesPerStreet {
				kind := kinds[len(infos)]
				households := g.households(kind)
				plan.Communities = append(plan.Communities, &registryv1.Community{
					Id:         streetCode + fmt.Sprintf("%03d", ci+1),
					Name:       names.next(kind),
					District:   d.name,
					Street:     street,
					Kind:       kind,
					Households: int32(households), //nolint:gosec // G115: households draws at most 5000
				})
				infos = append(infos, communityInfo{district: d, weight: households})
			}
		}
	}
	return infos
}

// communityKinds returns the kinds of total communities in fixed
// proportions, shuffled.
func (g *generator) communityKinds(total int) []registryv1.CommunityKind {
	kinds := make([]registryv1.CommunityKind, 0, total)
	for _, k := range []struct {
		kind    registryv1.CommunityKind
		percent int
	}{
		{registryv1.CommunityKind_BLOCK, 40},
		{registryv1.CommunityKind_COMPOUND, 30},
		{registryv1.CommunityKind_WORK_UNIT, 20},
	} {
		for range total * k.percent / 100 {
			kinds = append(kinds, k.kind)
		}
	}
	for len(kinds) < total {
		kinds = append(kinds, registryv1.CommunityKind_FUNCTIONAL)
	}
	g.rng.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	return kinds
}

// communityNamer hands out unique community names, kind by kind.
type communityNamer struct {
	// stems are each kind's stems in a seed-dependent order, taken
	// without replacement; used counts those taken.
	stems map[registryv1.CommunityKind][]string
	used  map[registryv1.CommunityKind]int
}

// newCommunityNamer shuffles each kind's stems. The kinds go in enum
// order: ranging over the map would consume random numbers in a different
// order every run.
func (g *generator) newCommunityNamer() *communityNamer {
	stems := make(map[registryv1.CommunityKind][]string, len(communityNames))
	for _, k := range []registryv1.CommunityKind{
		registryv1.CommunityKind_BLOCK, registryv1.CommunityKind_COMPOUND,
		registryv1.CommunityKind_WORK_UNIT, registryv1.CommunityKind_FUNCTIONAL,
	} {
		s := slices.Clone(communityNames[k])
		g.rng.Shuffle(len(s), func(i, j int) { s[i], s[j] = s[j], s[i] })
		stems[k] = s
	}
	return &communityNamer{stems: stems, used: make(map[registryv1.CommunityKind]int)}
}

// next returns the next unused name of a community of kind.
func (n *communityNamer) next(kind registryv1.CommunityKind) string {
	i := n.used[kind]
	n.used[kind]++
	list := n.stems[kind]
	if i >= len(list) {
		// Only if someone raises the counts past the lists.
		return list[i%len(list)] + strconv.Itoa(i/len(list)+1) + "社区"
	}
	return list[i] + "社区"
}

// householdRanges are the lowest and highest household counts typical of
// each kind of community; functionalHouseholds those of the other kinds.
var (
	householdRanges = map[registryv1.CommunityKind][2]int{
		registryv1.CommunityKind_BLOCK:     {2000, 5000},
		registryv1.CommunityKind_COMPOUND:  {1000, 3500},
		registryv1.CommunityKind_WORK_UNIT: {800, 2500},
	}
	functionalHouseholds = [2]int{300, 1200}
)

// households draws a household count typical of a community kind.
func (g *generator) households(kind registryv1.CommunityKind) int {
	r, ok := householdRanges[kind]
	if !ok {
		r = functionalHouseholds
	}
	lo, hi := r[0], r[1]
	// Round to tens, as community statistics usually are.
	return (lo + g.rng.IntN(hi-lo+1)) / 10 * 10
}

// enterprises adds the demo enterprises with unique credit codes.
func (g *generator) enterprises(plan *cityPlan) error {
	specs := enterpriseSpecs()
	areas := []string{cityAreaCode}
	for _, d := range g.dists {
		areas = append(areas, d.code)
	}
	codes := make(map[string]bool, len(specs))
	for _, s := range specs[:min(len(specs), enterpriseCount)] {
		var code creditcode.Code
		for {
			c, err := creditcode.Build("91", areas[g.rng.IntN(len(areas))], g.orgBody())
			if err != nil {
				return fmt.Errorf("build credit code: %w", err)
			}
			if !codes[string(c)] {
				codes[string(c)] = true
				code = c
				break
			}
		}
		plan.Enterprises = append(plan.Enterprises, &registryv1.Enterprise{
			CreditCode: code.String(),
			Name:       s.name,
			Ownership:  s.ownership,
			Status:     g.enterpriseStatus(s.ownership),
		})
	}
	return nil
}

// orgBody draws the first eight characters of an organisation code: mostly
// the all-digit codes of old registrations, some of the newer "M" form.
func (g *generator) orgBody() string {
	const letters = "0123456789ABCDEFGHJKLMNPQRTUWXY"
	b := make([]byte, 8)
	if g.rng.IntN(10) < 7 {
		for i := range b {
			b[i] = "0123456789"[g.rng.IntN(10)]
		}
		return string(b)
	}
	b[0] = 'M'
	for i := 1; i < len(b); i++ {
		b[i] = letters[g.rng.IntN(len(letters))]
	}
	return string(b)
}

// statusOdds are the percent chances that an enterprise of an ownership
// is still operating or went bankrupt (else it closed): many old state and
// collective factories went bankrupt or closed, which is why their
// retirees are being handed over. otherStatusOdds are those of the rest.
var (
	statusOdds = map[registryv1.Ownership]struct{ operating, bankrupt int }{
		registryv1.Ownership_STATE:      {50, 35},
		registryv1.Ownership_COLLECTIVE: {40, 30},
		registryv1.Ownership_OTHER:      {75, 10},
	}
	otherStatusOdds = struct{ operating, bankrupt int }{85, 5}
)

// enterpriseStatus draws the status of an enterprise of ownership o by
// statusOdds.
func (g *generator) enterpriseStatus(o registryv1.Ownership) registryv1.EnterpriseStatus {
	odds, ok := statusOdds[o]
	if !ok {
		odds = otherStatusOdds
	}
	operating, bankrupt := odds.operating, odds.bankrupt
	switch p := g.rng.IntN(100); {
	case p < operating:
		return registryv1.EnterpriseStatus_OPERATING
	case p < operating+bankrupt:
		return registryv1.EnterpriseStatus_BANKRUPT
	default:
		return registryv1.EnterpriseStatus_CLOSED
	}
}

// retirees adds n retirees living in the plan's communities.
func (g *generator) retirees(plan *cityPlan, infos []communityInfo, n int) error {
	specs := enterpriseSpecs()
	entWeights := make([]int, len(plan.Enterprises))
	var operating []int
	for i, e := range plan.Enterprises {
		entWeights[i] = specs[i].weight
		if e.Status == registryv1.EnterpriseStatus_OPERATING {
			operating = append(operating, i)
		}
	}
	commWeights := make([]int, len(infos))
	for i, c := range infos {
		commWeights[i] = c.weight
	}
	surnameWeights := make([]int, len(surnames))
	for i, s := range surnames {
		surnameWeights[i] = s.weight
	}

	plan.Retirees = make([]*registryv1.Retiree, 0, n)
	for range n {
		male := g.rng.IntN(100) < 47
		birth := g.birthDate(male)
		id, err := g.idNumber(birth, male)
		if err != nil {
			return err
		}

		ci := g.pick(commWeights)
		comm := plan.Communities[ci]
		mode, ei := g.management(plan, g.pick(entWeights), operating)

		sex := registryv1.Sex_FEMALE
		given := femaleGiven
		if male {
			sex = registryv1.Sex_MALE
			given = maleGiven
		}
		plan.Retirees = append(plan.Retirees, &registryv1.Retiree{
			IdNumber:             id.Digits(),
			Name:                 surnames[g.pick(surnameWeights)].name + given[g.rng.IntN(len(given))],
			Sex:                  sex,
			RetirementDate:       g.retirementDate(birth, male).Format(dateLayout),
			EnterpriseCreditCode: plan.Enterprises[ei].CreditCode,
			CommunityId:          comm.Id,
			ManagementMode:       mode,
			Phone:                g.phone(),
			ResidenceAddress:     g.address(infos[ci].district),
			Flags:                g.flags(birth),
		})
	}
	return nil
}

// management draws who manages a retiree of enterprise ei: mostly the
// community, some the bureau, and some the enterprise, which must then
// still be operating, so the retiree's enterprise is drawn again from
// operating when it is not. It returns the mode and the enterprise.
func (g *generator) management(plan *cityPlan, ei int, operating []int) (registryv1.ManagementMode, int) {
	switch p := g.rng.IntN(100); {
	case p < 15 && len(operating) > 0:
		if plan.Enterprises[ei].Status != registryv1.EnterpriseStatus_OPERATING {
			ei = operating[g.rng.IntN(len(operating))]
		}
		return registryv1.ManagementMode_ENTERPRISE, ei
	case p < 30:
		return registryv1.ManagementMode_BUREAU, ei
	}
	return registryv1.ManagementMode_COMMUNITY, ei
}

// birthDate draws a birth date, skewed towards the later years because
// fewer of the oldest are still on the rolls.
func (g *generator) birthDate(male bool) time.Time {
	to := birthToWoman
	if male {
		to = birthToMan
	}
	days := int(to.Sub(birthFrom).Hours()/24) + 1
	// The square root of a uniform draw leans towards 1.
	u := math.Sqrt(g.rng.Float64())
	return birthFrom.AddDate(0, 0, min(int(u*float64(days)), days-1))
}

// idNumber draws a unique ID number born on birth with the sex's parity.
func (g *generator) idNumber(birth time.Time, male bool) (idnumber.ID, error) {
	for {
		var area string
		switch p := g.rng.IntN(100); {
		case p < 75:
			area = g.dists[g.rng.IntN(len(g.dists))].code
		case p < 90:
			area = otherCityAreas[g.rng.IntN(len(otherCityAreas))]
		default:
			area = elsewhereAreas[g.rng.IntN(len(elsewhereAreas))]
		}
		seq := 2 * g.rng.IntN(500)
		if male {
			seq++
		}
		id, err := idnumber.Build(area, birth, seq)
		if err != nil {
			return idnumber.ID{}, fmt.Errorf("build ID number: %w", err)
		}
		if !g.ids[id.Digits()] {
			g.ids[id.Digits()] = true
			return id, nil
		}
	}
}

// retirementDate is the first day of the month after the statutory age:
// 60 for men, 50 for women workers and 55 for women cadres.
func (g *generator) retirementDate(birth time.Time, male bool) time.Time {
	age := 60
	if !male {
		age = 50
		if g.rng.IntN(100) < 40 {
			age = 55
		}
	}
	return time.Date(birth.Year()+age, birth.Month()+1, 1, 0, 0, 0, 0, time.UTC)
}

// phone draws an 11-digit mobile number.
func (g *generator) phone() string {
	b := []byte(phonePrefixes[g.rng.IntN(len(phonePrefixes))])
	for range 8 {
		b = append(b, "0123456789"[g.rng.IntN(10)])
	}
	return string(b)
}

// address draws a residence address in district d.
func (g *generator) address(d *district) string {
	road := d.roads[g.rng.IntN(len(d.roads))]
	return fmt.Sprintf("辽宁省%s%s%s%d号%d单元%d%02d室", cityName, d.name, road,
		1+g.rng.IntN(180), 1+g.rng.IntN(6), 1+g.rng.IntN(7), 1+g.rng.IntN(4))
}

// flags draws the special-group flags, in enum order.
func (g *generator) flags(birth time.Time) []registryv1.RetireeFlag {
	// Registry computes AGED_80_PLUS from the birth date and refuses it
	// in a request; the old live alone and fall ill more often.
	old := birth.Before(aged80Before)
	var f []registryv1.RetireeFlag
	alone, ill := 3, 3
	if old {
		alone, ill = 9, 8
	}
	if g.rng.IntN(100) < alone {
		f = append(f, registryv1.RetireeFlag_LIVING_ALONE)
	}
	if g.rng.IntN(100) < 2 {
		f = append(f, registryv1.RetireeFlag_MODEL_WORKER)
	}
	if g.rng.IntN(100) < 3 {
		f = append(f, registryv1.RetireeFlag_HARDSHIP)
	}
	if g.rng.IntN(100) < ill {
		f = append(f, registryv1.RetireeFlag_SERIOUS_ILLNESS)
	}
	return f
}

// history picks the retirees who die and those who move. Only retirees
// who retired before the death window closes can die, and the date lies
// after their retirement; movers move to another community.
func (g *generator) history(plan *cityPlan) {
	n := len(plan.Retirees)
	wantDeaths := n * deathPercent / 100
	wantTransfers := n * transferPercent / 100
	for _, i := range g.rng.Perm(n) {
		r := plan.Retirees[i]
		retired, _ := time.Parse(dateLayout, r.GetRetirementDate())
		from := retired.AddDate(0, 1, 0)
		if from.Before(deathFrom) {
			from = deathFrom
		}
		switch {
		case len(plan.Deaths) < wantDeaths && from.Before(deathTo):
			days := int(deathTo.Sub(from).Hours() / 24)
			plan.Deaths = append(plan.Deaths, deathPlan{
				Index: i,
				Date:  from.AddDate(0, 0, g.rng.IntN(days+1)).Format(dateLayout),
			})
		case len(plan.Transfers) < wantTransfers && len(plan.Communities) > 1:
			to := r.GetCommunityId()
			for to == r.GetCommunityId() {
				to = plan.Communities[g.rng.IntN(len(plan.Communities))].GetId()
			}
			plan.Transfers = append(plan.Transfers, transferPlan{
				Index:       i,
				ToCommunity: to,
				Reason:      transferReasons[g.rng.IntN(len(transferReasons))],
			})
		}
		if len(plan.Deaths) == wantDeaths && len(plan.Transfers) == wantTransfers {
			break
		}
	}
}

// pick draws an index with probability proportional to its weight.
func (g *generator) pick(weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	p := g.rng.IntN(total)
	for i, w := range weights {
		if p < w {
			return i
		}
		p -= w
	}
	return len(weights) - 1
}
