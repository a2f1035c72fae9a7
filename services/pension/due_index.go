package pension

import (
	"bytes"
	"cmp"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/projection"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The due index (bucketDue) holds every living retiree of a community
// under the day of the last certification: the latest recorded one or,
// when none is later, the start of the pension (see lastCertOf). Its
// order does not depend on any rule, so a new rule needs no rebuild; the
// lists turn their range of due dates into a range of those days with the
// rule of the community (certRule.firstCertifiedDueFrom), seek to its
// start and read to its end. The value is the channel of the last
// certification, one byte.

// dueKey is community, 0, last certification day ("" when none is known),
// 0, retiree id.
func dueKey(community, last, id string) []byte { return boltstore.Key(community, last, id) }

// splitDueKey returns the parts of a due-index key.
func splitDueKey(k []byte) (community, last, id string, ok bool) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", "", false
	}
	j := bytes.IndexByte(k[i+1:], 0)
	if j < 0 {
		return "", "", "", false
	}
	return string(k[:i]), string(k[i+1 : i+1+j]), string(k[i+2+j:]), true
}

// latestRecorded returns the day and channel of a retiree's latest
// recorded certification (the last of its keys), or "" when none is.
func latestRecorded(tx *bolt.Tx, id string) (string, pb.CertificationMethod, error) {
	return latestRecordedBy(tx, id, "")
}

// latestRecordedBy is latestRecorded among the certifications made on or
// before day ("": any day).
func latestRecordedBy(tx *bolt.Tx, id, day string) (string, pb.CertificationMethod, error) {
	var last lastCert
	err := latestRecordedIn(tx.Bucket(bucketCertifications).Cursor(), boltstore.Prefix(id), day, &last)
	return last.day, last.channel, err
}

// latestRecordedIn sets last to the latest certification under prefix, a
// retiree's, made on or before day ("": any day), or leaves it alone when
// there is none.
func latestRecordedIn(c *bolt.Cursor, prefix []byte, day string, last *lastCert) error {
	// The keys under prefix go on with a date and a 0 byte: a 1 byte after
	// day sorts after that day's keys and before the next day's, and 0xff
	// after every date.
	seek := append(bytes.Clone(prefix), 0xff)
	if day != "" {
		seek = append(append(bytes.Clone(prefix), day...), 1)
	}
	k, _ := c.Seek(seek)
	var v []byte
	if k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	return recordedAs(k, v, prefix, last)
}

// recordedAs sets last to the certification stored as k and v when k is
// under prefix, a retiree's, and leaves it alone otherwise. The day is
// the key's, the channel the value's method.
func recordedAs(k, v, prefix []byte, last *lastCert) error {
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil
	}
	day, ok := certificationOnKey(k, prefix)
	if !ok {
		return fmt.Errorf("certification key: %w", boltstore.ErrBadKey)
	}
	channel, err := certificationMethod(v)
	if err != nil {
		return err
	}
	*last = lastCert{day: day, channel: channel}
	return nil
}

// indexedLast returns the last certification of a retiree as the due
// index files it.
func indexedLast(tx *bolt.Tx, st *registryv1.RetireeState) (lastCert, error) {
	day, channel, err := latestRecorded(tx, st.GetId())
	if err != nil {
		return lastCert{}, err
	}
	return lastCertOf(st, day, channel), nil
}

// indexed reports whether a retiree has an entry in the due index: the
// living retirees of a community.
func indexed(st *registryv1.RetireeState) bool { return living(st) && st.GetCommunityId() != "" }

// moveDue moves a retiree's entry in the due index from where its state
// and last certification were to where they are; a state that is not
// indexed (nil among them) has no entry.
func moveDue(tx *bolt.Tx, fromState *registryv1.RetireeState, from lastCert, toState *registryv1.RetireeState, to lastCert) error {
	b := tx.Bucket(bucketDue)
	if indexed(fromState) {
		if err := b.Delete(dueKey(fromState.CommunityId, from.day, fromState.Id)); err != nil {
			return err
		}
	}
	if !indexed(toState) {
		return nil
	}
	return b.Put(dueKey(toState.CommunityId, to.day, toState.Id), []byte{byte(to.channel)}) //nolint:gosec // G115: channels are 0 to 8
}

// applyRetiree is the projection hook: it keeps the due index in step
// with the retiree's community, status and retirement date, and voids the
// death-benefit claims of a reversed death, in the projection's
// transaction. old is nil for a retiree new to the
// projection, cur nil for one it drops. It opens and voids recovery cases
// too (see applyDeath).
func (s *Store) applyRetiree(tx *bolt.Tx, old, cur *registryv1.RetireeState) error {
	if err := s.applyDeath(tx, old, cur); err != nil {
		return err
	}
	if old.GetStatus() == registryv1.RetireeStatus_DECEASED && cur.GetStatus() == registryv1.RetireeStatus_LIVING {
		// A reversed death: the family's claims fall with it.
		if err := s.reverseClaims(tx, cur.GetId()); err != nil {
			return err
		}
	}
	if !indexed(old) && !indexed(cur) {
		return nil
	}
	if err := certSignalOnMove(tx, s.signals, old, cur); err != nil {
		return err
	}
	day, channel, err := latestRecorded(tx, cmp.Or(cur.GetId(), old.GetId()))
	if err != nil {
		return err
	}
	from, to := lastCertOf(old, day, channel), lastCertOf(cur, day, channel)
	if indexed(cur) && (!indexed(old) || old.CommunityId != cur.CommunityId || from != to) {
		// A retiree new to a community's due index, or due on another
		// day, may be due now: sweep once this commits.
		s.sweepCertsAfter(tx)
	}
	return moveDue(tx, old, from, cur, to)
}

// DueList selects the entries of a certification work list: the living
// retirees of a community whose next certification is due in a range of
// days, ordered by due date (and then retiree id).
type DueList struct {
	CommunityID string
	// AsOf is the list's day: statuses and the entitlement are as on it.
	AsOf time.Time
	// DueFrom and DueTo bound the due dates, both inclusive; a zero
	// DueFrom reaches back to the longest overdue, those without any
	// known certification first.
	DueFrom, DueTo time.Time
}

// OverdueOn is the DueList of the retirees of community overdue on day.
func OverdueOn(community string, day time.Time) DueList {
	return DueList{CommunityID: community, AsOf: day, DueTo: day.AddDate(0, 0, -1)}
}

// DueWithin is the DueList of the retirees of community due from day to
// days later.
func DueWithin(community string, day time.Time, days int) DueList {
	return DueList{CommunityID: community, AsOf: day, DueFrom: day, DueTo: day.AddDate(0, 0, days)}
}

// ListDue returns a page of the work list l. after is the last key of the
// previous page. The list reads only the index keys of its range: the
// rule of the community on l.AsOf turns the due dates into last
// certification days, where the scan starts and ends.
//
// The index holds each retiree's latest certification: for a day before
// today, certifications recorded since count already, where the
// entitlement's certification state counts only those up to its day.
func (s *Store) ListDue(l DueList, size int, after []byte) ([]*pb.OverdueCertification, []byte, error) {
	var out []*pb.OverdueCertification
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		rule, err := ruleOn(tx, l.CommunityID, l.AsOf)
		if err != nil {
			return err
		}
		scan := boltstore.Scan{Prefix: boltstore.Prefix(l.CommunityID), After: after, Size: size, MaxExamined: s.maxExamined}
		if !l.DueFrom.IsZero() {
			scan.From = boltstore.Prefix(l.CommunityID, formatDate(rule.firstCertifiedDueFrom(l.DueFrom)))
		}
		end := formatDate(rule.firstCertifiedDueFrom(l.DueTo.AddDate(0, 0, 1)))
		entries := dueEntries{tx: tx, rule: rule, asOf: l.AsOf}
		next, err = scan.Page(tx.Bucket(bucketDue).Cursor(), func(k, v []byte) (bool, error) {
			_, last, id, ok := splitDueKey(k)
			switch {
			case !ok || len(v) != 1:
				return false, boltstore.ErrBadKey
			case last >= end:
				return false, boltstore.ErrEndOfList
			}
			e, err := entries.entry(id, lastCert{day: last, channel: pb.CertificationMethod(v[0])})
			out = append(out, e)
			return true, err
		})
		if err == nil && next != nil && !dueAfter(tx.Bucket(bucketDue).Cursor(), scan.Prefix, next, end) {
			// The page ended with the list: no token for an empty page.
			next = nil
		}
		return err
	})
	return out, next, err
}

// dueAfter reports whether the due index holds a key under prefix after
// key, filed under a day before end.
func dueAfter(c *bolt.Cursor, prefix, key []byte, end string) bool {
	k, _ := c.Seek(key)
	if bytes.Equal(k, key) {
		k, _ = c.Next()
	}
	if !bytes.HasPrefix(k, prefix) {
		return false
	}
	_, last, _, ok := splitDueKey(k)
	return ok && last < end
}

// dueEntries makes the entries of one work list.
type dueEntries struct {
	tx   *bolt.Tx
	rule certRule
	asOf time.Time
}

// entry returns the work-list entry of retiree id, last certified as
// last: what a clerk needs to reach him, his certification state on the
// list's day, and the bureau's entitlement state then.
func (d *dueEntries) entry(id string, last lastCert) (*pb.OverdueCertification, error) {
	st, err := projection.Get(d.tx, id)
	if err != nil {
		return nil, fmt.Errorf("due index entry of retiree %s: %w", id, err)
	}
	cs := certificationState(last, d.rule, d.asOf)
	o := &pb.OverdueCertification{
		RetireeId:       id,
		LastCertifiedOn: cs.LastCertifiedOn,
		DueOn:           cs.DueOn,
		Name:            st.Name,
		IdNumberMasked:  st.IdNumberMasked,
		PhoneMasked:     st.PhoneMasked,
		Flags:           st.Flags,
		LastChannel:     cs.LastChannel,
		Status:          cs.Status,
	}
	if due, ok := parseDate(cs.DueOn); ok {
		// A time.Duration spans at most 292 years.
		o.DaysOverdue = int32(daysBetween(due, d.asOf)) //nolint:gosec // G115: at most 106,752 days
	}
	decisions, err := decisionsOf(d.tx, id)
	if err != nil {
		return nil, err
	}
	o.Entitlement = bureauView(st, decisions).stateIn(monthOf(d.asOf)).state
	return o, nil
}
