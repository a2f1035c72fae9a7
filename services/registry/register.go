package registry

import (
	"bytes"
	"cmp"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The registers a community keeps on paper for its street office (issue
// 10), by the names the export route takes.
const (
	registerRoster            = "roster"
	registerSpecialGroups     = "special-groups"
	registerStatusChanges     = "status-changes"
	registerTransfers         = "transfers"
	registerAdditionsRemovals = "additions-removals"
)

// registers lists the register names in the order the API documents them.
var registers = []string{registerRoster, registerSpecialGroups, registerStatusChanges, registerTransfers, registerAdditionsRemovals}

// MaxExportRows bounds the rows of one export. A community keeps at most
// a few thousand retirees; a register larger than this is refused, not
// cut short, so that no one takes a partial register for a whole one.
const MaxExportRows = 20_000

// ReasonExportTooLarge refuses a register of more rows than an export
// may hold (MaxExportRows).
const ReasonExportTooLarge = "EXPORT_TOO_LARGE"

// errExportTooLarge refuses a register of more than MaxExportRows rows.
var errExportTooLarge = fault.Rule(ReasonExportTooLarge, "the register has more than "+strconv.Itoa(MaxExportRows)+
	" rows: no more may be exported at once", "maxRows", strconv.Itoa(MaxExportRows))

// Table is a register ready to be written as a file: its column
// headings, its rows, and the retirees it lists, whose reads the export
// audits.
type Table struct {
	Headings []string
	Rows     [][]string
	Retirees []string
	// max bounds Rows (the store's maxExportRows).
	max int
}

// RegisterQuery says which register to build and how.
type RegisterQuery struct {
	// Register is one of the register names.
	Register string
	// Community is the community whose register it is.
	Community string
	// AsOf is the day (China time) of the register: the end of the month
	// it covers for the monthly registers, the day ages are counted on
	// for the others.
	AsOf time.Time
	// Full puts the full ID and phone numbers in the register; otherwise
	// they are masked.
	Full bool
}

// addRow appends a row listing retiree id, refusing a table that grows
// past MaxExportRows.
func (t *Table) addRow(id string, cells ...string) error {
	if len(t.Rows) >= t.max {
		return errExportTooLarge
	}
	t.Rows = append(t.Rows, cells)
	if n := len(t.Retirees); n == 0 || t.Retirees[n-1] != id {
		t.Retirees = append(t.Retirees, id)
	}
	return nil
}

// Register builds a register of q.Community in one read transaction.
func (s *Store) Register(q RegisterQuery) (*Table, error) {
	var t *Table
	err := s.DB().View(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketCommunities).Get([]byte(q.Community)) == nil {
			return errCommunityNotFound
		}
		rd := registerReader{s: s, tx: tx, q: q, enterprises: map[string]string{}}
		var err error
		switch q.Register {
		case registerRoster:
			t, err = rd.roster()
		case registerSpecialGroups:
			t, err = rd.specialGroups()
		default:
			t, err = rd.changes()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	t.Retirees = uniqueIDs(t.Retirees)
	return t, nil
}

// uniqueIDs drops repeated ids, keeping the first of each.
func uniqueIDs(ids []string) []string {
	seen := make(map[string]bool, len(ids))
	out := ids[:0]
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// registerReader reads one register inside a transaction.
type registerReader struct {
	s  *Store
	tx *bolt.Tx
	q  RegisterQuery
	// enterprises caches enterprise names by credit code.
	enterprises map[string]string
}

// living returns the retirees on the community's roster, by name and
// then ID number (the order of a register on paper; ids order nothing),
// at most the store's row limit of them: every retiree of the community
// who is alive and under its management, whatever else the status says
// (LIVING, and the statuses of issue 10 such as LOST_CONTACT or ABROAD,
// which the roster's status column shows).
func (rd *registerReader) living() ([]*pb.Retiree, error) {
	var list []*pb.Retiree
	c := rd.tx.Bucket(bucketRetireeByCommunity).Cursor()
	prefix := boltstore.Prefix(rd.q.Community)
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		r := new(pb.Retiree)
		if err := rd.s.GetProto(rd.tx, bucketRetirees, k[len(prefix):], r, errRetireeNotFound); err != nil {
			return nil, err
		}
		if !onRoster(r.Status) {
			continue
		}
		if len(list) >= rd.s.maxExportRows {
			return nil, errExportTooLarge
		}
		list = append(list, r)
	}
	slices.SortFunc(list, func(a, b *pb.Retiree) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.IdNumber, b.IdNumber))
	})
	return list, nil
}

// onRoster reports whether a retiree of status stays on the roster: all
// but the dead and those who left the city's management.
func onRoster(status pb.RetireeStatus) bool {
	return status != pb.RetireeStatus_DECEASED && status != pb.RetireeStatus_MOVED_OUT &&
		status != pb.RetireeStatus_RETIREE_STATUS_UNSPECIFIED
}

// rosterHeadings are the roster's columns.
var rosterHeadings = []string{"姓名", "性别", "出生日期", "公民身份号码", "联系电话", "居住地类别", "居住地址", "原工作单位", "管理方式", "退休日期", "特殊群体", "状态"}

func (rd *registerReader) roster() (*Table, error) {
	list, err := rd.living()
	if err != nil {
		return nil, err
	}
	t := rd.table(rosterHeadings)
	for _, r := range list {
		err := t.addRow(r.Id, r.Name, sexLabel(r.Sex), r.BirthDate, rd.idNumber(r), rd.phone(r), residenceKindLabel(r.GetResidence().GetKind()), residenceAddress(r),
			rd.enterprise(r.EnterpriseCreditCode), modeLabel(r.ManagementMode), r.RetirementDate,
			flagsLabel(withComputedFlags(r.Flags, r.BirthDate, rd.q.AsOf)), statusLabel(r.Status))
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// specialGroupHeadings are the special-groups register's columns.
var specialGroupHeadings = []string{"特殊群体", "姓名", "性别", "出生日期", "年龄", "公民身份号码", "联系电话", "居住地址"}

// specialGroups lists, flag by flag in the enum's order, the living
// retirees with each flag: one section per flag, so a retiree with two
// flags is listed twice.
func (rd *registerReader) specialGroups() (*Table, error) {
	list, err := rd.living()
	if err != nil {
		return nil, err
	}
	t := rd.table(specialGroupHeadings)
	for _, flag := range allFlags() {
		for _, r := range list {
			if !hasFlag(withComputedFlags(r.Flags, r.BirthDate, rd.q.AsOf), flag) {
				continue
			}
			age := strconv.Itoa(ageInYears(r.BirthDate, rd.q.AsOf))
			if err := t.addRow(r.Id, flagLabel(flag), r.Name, sexLabel(r.Sex), r.BirthDate, age, rd.idNumber(r), rd.phone(r), residenceAddress(r)); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// table starts a table with headings, bounded by the store's row limit.
func (rd *registerReader) table(headings []string) *Table {
	return &Table{Headings: headings, max: rd.s.maxExportRows}
}

func (rd *registerReader) idNumber(r *pb.Retiree) string {
	if rd.q.Full {
		return r.IdNumber
	}
	return idnumber.Mask(r.IdNumber)
}

func (rd *registerReader) phone(r *pb.Retiree) string {
	if rd.q.Full {
		return r.Phone
	}
	return inputcheck.MaskPhone(r.Phone)
}

// enterprise is the name of the enterprise with credit code code, or the
// code when it is not on file.
func (rd *registerReader) enterprise(code string) string {
	if name, ok := rd.enterprises[code]; ok {
		return name
	}
	name := code
	e := new(pb.Enterprise)
	if code != "" && boltstore.GetProto(rd.tx.Bucket(bucketEnterprises), []byte(code), e, errEnterpriseNotFound) == nil {
		name = e.Name
	}
	rd.enterprises[code] = name
	return name
}

// residenceAddress is where r lives: the residence's address, or the
// address given alone before residences had a kind.
func residenceAddress(r *pb.Retiree) string {
	if a := r.GetResidence().GetAddress(); a != "" {
		return a
	}
	return r.ResidenceAddress
}

// ageInYears is the age in whole years on day of someone born on birth
// (YYYY-MM-DD); 0 when birth does not parse.
func ageInYears(birth string, day time.Time) int {
	b, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		return 0
	}
	age := day.Year() - b.Year()
	if day.Month() < b.Month() || day.Month() == b.Month() && day.Day() < b.Day() {
		age--
	}
	return age
}
