package registry

import (
	"bytes"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/workdays"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The monthly registers list the changes recorded in the month of their
// day up to that day. They read the changes from the register index
// (bucketRegisterEvents) and each change's history entry, so they list
// what the history says whatever kind of change made it: a status change
// is a change of the status field, a transfer one of the community.

// Categories of a register line.
const (
	categoryAdded       = "新增"
	categoryDied        = "死亡"
	categoryStatus      = "状态变更"
	categoryMovedOut    = "迁出本市"
	categoryTransferIn  = "转入"
	categoryTransferOut = "转出"
)

// categoriesOf says which categories each monthly register lists.
var categoriesOf = map[string][]string{
	registerStatusChanges:     {categoryDied, categoryStatus, categoryMovedOut},
	registerTransfers:         {categoryTransferIn, categoryTransferOut, categoryMovedOut},
	registerAdditionsRemovals: {categoryAdded, categoryDied, categoryStatus, categoryMovedOut, categoryTransferIn, categoryTransferOut},
}

// changeHeadings are the monthly registers' columns.
var changeHeadings = map[string][]string{
	registerStatusChanges:     {"登记日期", "类别", "姓名", "性别", "出生日期", "公民身份号码", "原状态", "新状态", "生效日期", "原因"},
	registerTransfers:         {"登记日期", "类别", "姓名", "性别", "出生日期", "公民身份号码", "转出社区", "转入社区", "原因"},
	registerAdditionsRemovals: {"登记日期", "类别", "姓名", "性别", "出生日期", "公民身份号码", "管理方式", "生效日期", "原因"},
}

// indexRegisterEvent puts a change that a monthly register lists (a
// retiree created, or its status or community changed) in the register
// index, under the community or communities it concerns.
func indexRegisterEvent(tx *bolt.Tx, old, r *pb.Retiree, rev uint64, now time.Time) error {
	if old != nil && old.Status == r.Status && old.CommunityId == r.CommunityId {
		return nil
	}
	b := tx.Bucket(bucketRegisterEvents)
	month := monthOf(now)
	if old != nil && old.CommunityId != r.CommunityId && old.CommunityId != "" {
		if err := b.Put(boltstore.AppendU64(boltstore.Prefix(month, old.CommunityId), rev), []byte(r.Id)); err != nil {
			return err
		}
	}
	return b.Put(boltstore.AppendU64(boltstore.Prefix(month, r.CommunityId), rev), []byte(r.Id))
}

// monthOf is t's month in China, YYYY-MM.
func monthOf(t time.Time) string { return t.In(workdays.ChinaTime).Format("2006-01") }

// registerLine is one line of a monthly register: what a change meant
// for the community.
type registerLine struct {
	category string
	// from and to are the old and new status, or community, as the
	// category says.
	from, to string
	// effective is the date the change took effect, when it says one.
	effective string
	// destination is where a retiree moved out of the city went.
	destination string
}

// effectiveDateFields are the fields whose new value is the date a
// status change took effect.
var effectiveDateFields = []string{"dateOfDeath", "movedOutDate"}

// linesOf reads what change h meant for community. A retiree's first
// entry, whatever its kind (CREATED, or a bulk import's), is the one
// that gives it a community where it had none: an addition.
func linesOf(h *pb.HistoryEntry, community string) []registerLine {
	var out []registerLine
	changed := map[string]*pb.FieldChange{}
	for _, c := range h.Changes {
		changed[c.Field] = c
	}
	if c := changed["communityId"]; h.Kind == pb.ChangeKind_CREATED || c != nil && c.OldValue == "" {
		out = append(out, registerLine{category: categoryAdded})
	}
	if c := changed["communityId"]; c != nil && c.OldValue != "" {
		switch community {
		case c.OldValue:
			out = append(out, registerLine{category: categoryTransferOut, from: c.OldValue, to: c.NewValue})
		case c.NewValue:
			out = append(out, registerLine{category: categoryTransferIn, from: c.OldValue, to: c.NewValue})
		}
	}
	if c := changed["status"]; c != nil && c.OldValue != "" {
		out = append(out, statusLine(c, h.Changes))
	}
	return out
}

// statusLine is the line of a change of status c, among the fields
// changed with it: the effective date is the last of them that says one
// (a date cleared, as a reversed death's, says none).
func statusLine(c *pb.FieldChange, changes []*pb.FieldChange) registerLine {
	line := registerLine{category: categoryStatus, from: c.OldValue, to: c.NewValue}
	var destination string
	for _, f := range changes {
		if f.NewValue == "" {
			continue
		}
		if slices.Contains(effectiveDateFields, f.Field) || strings.Contains(strings.ToLower(f.Field), "effective") {
			line.effective = f.NewValue
		}
		if f.Field == "movedOutTo" {
			destination = f.NewValue
		}
	}
	switch c.NewValue {
	case pb.RetireeStatus_DECEASED.String():
		line.category = categoryDied
	case pb.RetireeStatus_MOVED_OUT.String():
		line.category, line.destination = categoryMovedOut, destination
	}
	return line
}

// changes builds a monthly register from the month's indexed changes of
// the community up to the register's day.
func (rd *registerReader) changes() (*Table, error) {
	t := rd.table(changeHeadings[rd.q.Register])
	last := rd.q.AsOf.Format(time.DateOnly)
	prefix := boltstore.Prefix(rd.q.AsOf.Format("2006-01"), rd.q.Community)
	c := rd.tx.Bucket(bucketRegisterEvents).Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		rev, err := boltstore.ParseU64(k[len(prefix):])
		if err != nil {
			return nil, err
		}
		id := string(v)
		h := new(pb.HistoryEntry)
		if err := rd.s.GetProto(rd.tx, bucketHistory, historyKey(id, rev), h, errRetireeNotFound); err != nil {
			return nil, err
		}
		recorded := dayOf(h.ChangeTime.AsTime())
		if recorded > last {
			continue
		}
		r := new(pb.Retiree)
		if err := rd.s.GetProto(rd.tx, bucketRetirees, []byte(id), r, errRetireeNotFound); err != nil {
			return nil, err
		}
		for _, line := range linesOf(h, rd.q.Community) {
			if !slices.Contains(categoriesOf[rd.q.Register], line.category) {
				continue
			}
			if err := t.addRow(id, rd.changeRow(recorded, line, r, h)...); err != nil {
				return nil, err
			}
		}
	}
	return t, nil
}

// changeRow is the row of a monthly register for line, a change of r
// recorded on day recorded by history entry h.
func (rd *registerReader) changeRow(recorded string, line registerLine, r *pb.Retiree, h *pb.HistoryEntry) []string {
	row := []string{recorded, line.category, r.Name, sexLabel(r.Sex), r.BirthDate, rd.idNumber(r)}
	switch rd.q.Register {
	case registerStatusChanges:
		return append(row, statusNameLabel(line.from), statusNameLabel(line.to), line.effective, h.Reason)
	case registerTransfers:
		from, to := rd.community(line.from), rd.community(line.to)
		if line.category == categoryMovedOut {
			from, to = rd.community(r.CommunityId), line.destination
		}
		return append(row, from, to, h.Reason)
	}
	return append(row, modeLabel(r.ManagementMode), line.effective, h.Reason)
}

// community is the name of community id with its id, or the id alone
// when it is not on file.
func (rd *registerReader) community(id string) string {
	if id == "" {
		return ""
	}
	c := new(pb.Community)
	if boltstore.GetProto(rd.tx.Bucket(bucketCommunities), []byte(id), c, errCommunityNotFound) != nil {
		return id
	}
	return c.Name + "（" + id + "）"
}
