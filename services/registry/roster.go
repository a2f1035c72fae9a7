package registry

import (
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/fault"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// Rule-failure reasons of ChangeRetireeStatus, in ErrorInfo.
const (
	reasonDeceased         = "RETIREE_DECEASED"
	reasonMovedOut         = "RETIREE_MOVED_OUT"
	reasonStatusUnchanged  = "STATUS_UNCHANGED"
	reasonStatusNotAllowed = "STATUS_CHANGE_NOT_ALLOWED"
)

// absentStatuses are the statuses of a retiree who is alive and still on
// the city's roster but not reachable as usual.
var absentStatuses = []pb.RetireeStatus{pb.RetireeStatus_LOST_CONTACT, pb.RetireeStatus_IMPRISONED, pb.RetireeStatus_ABROAD}

// statusMoves is the state machine of ChangeRetireeStatus: the statuses
// each status may change to. A living retiree may become absent and an
// absent one living again; an absent one may also turn out to be absent
// otherwise (a retiree lost contact with is found in prison or abroad)
// without passing through a LIVING that never was. DECEASED (RecordDeath)
// and MOVED_OUT (a transfer out of the city) are not reached here and not
// left here.
var statusMoves = map[pb.RetireeStatus][]pb.RetireeStatus{
	pb.RetireeStatus_LIVING:       absentStatuses,
	pb.RetireeStatus_LOST_CONTACT: {pb.RetireeStatus_LIVING, pb.RetireeStatus_IMPRISONED, pb.RetireeStatus_ABROAD},
	pb.RetireeStatus_IMPRISONED:   {pb.RetireeStatus_LIVING, pb.RetireeStatus_LOST_CONTACT, pb.RetireeStatus_ABROAD},
	pb.RetireeStatus_ABROAD:       {pb.RetireeStatus_LIVING, pb.RetireeStatus_LOST_CONTACT, pb.RetireeStatus_IMPRISONED},
}

// settableStatus reports whether ChangeRetireeStatus may set s at all.
func settableStatus(s pb.RetireeStatus) bool {
	return s == pb.RetireeStatus_LIVING || slices.Contains(absentStatuses, s)
}

// statusTransition says why a retiree's status may not change from from
// to to, or returns nil when it may.
func statusTransition(from, to pb.RetireeStatus) error {
	switch {
	case from == pb.RetireeStatus_DECEASED:
		return fault.Rule(reasonDeceased, "the retiree's death is recorded; the status does not change")
	case from == pb.RetireeStatus_MOVED_OUT:
		return fault.Rule(reasonMovedOut, "the retiree moved out of the city's management; only a transfer brings them back")
	case from == to:
		return fault.Rule(reasonStatusUnchanged, "the retiree's status is "+to.String()+" already")
	case !slices.Contains(statusMoves[from], to):
		return fault.Rule(reasonStatusNotAllowed, fmt.Sprintf("the status cannot change from %s to %s", from, to))
	}
	return nil
}

// StatusChange is a validated ChangeRetireeStatus request.
type StatusChange struct {
	Status pb.RetireeStatus
	// EffectiveOn is YYYY-MM-DD, not in the future (checked by the caller).
	EffectiveOn string
	Reason      string
	Etag        string
}

// ChangeRetireeStatus moves a retiree to c.Status as of c.EffectiveOn,
// following statusMoves. The date may not come before the retirement date
// (or, when that is not known, the birth date), nor before the day the
// current status took effect: the history stays in order.
func (s *Store) ChangeRetireeStatus(id string, c StatusChange, actor Actor, allowed func(*pb.Retiree) error) (*pb.Retiree, error) {
	return s.mutate(id, c.Etag, allowed, func(_ *bolt.Tx, _, r *pb.Retiree) (pb.ChangeKind, string, error) {
		if err := statusTransition(r.Status, c.Status); err != nil {
			return 0, "", err
		}
		switch {
		case r.RetirementDate != "" && c.EffectiveOn < r.RetirementDate:
			return 0, "", fault.Invalid("effectiveOn", "before the retirement date")
		case c.EffectiveOn < r.BirthDate:
			return 0, "", fault.Invalid("effectiveOn", "before the birth date")
		case c.EffectiveOn < r.StatusEffectiveOn:
			return 0, "", fault.Invalid("effectiveOn", "before the day the current status took effect ("+r.StatusEffectiveOn+")")
		}
		r.Status, r.StatusEffectiveOn, r.StatusReason = c.Status, c.EffectiveOn, c.Reason
		return pb.ChangeKind_STATUS_CHANGED, c.Reason, nil
	}, actor, "ChangeRetireeStatus")
}

// computedFlags are the flags a read derives from the birth date, each
// with the age it starts at. They are never stored.
var computedFlags = []struct {
	flag pb.RetireeFlag
	age  int
}{
	{pb.RetireeFlag_AGED_80_PLUS, 80},
	{pb.RetireeFlag_AGED_90_PLUS, 90},
}

// isComputedFlag reports whether f is derived rather than stored.
func isComputedFlag(f pb.RetireeFlag) bool {
	return f == pb.RetireeFlag_AGED_80_PLUS || f == pb.RetireeFlag_AGED_90_PLUS
}

// bornBy returns the last birth date of anyone who is age years old or
// more on today, as YYYY-MM-DD: someone is that old from their birthday
// on. The date may not exist (1946-02-29), which still compares rightly
// with real dates as text.
func bornBy(today time.Time, age int) string {
	return fmt.Sprintf("%04d-%s", today.Year()-age, today.Format("01-02"))
}

// atLeast reports whether someone born on birth (YYYY-MM-DD) is age years
// old or more on today.
func atLeast(birth string, today time.Time, age int) bool {
	return birth != "" && birth <= bornBy(today, age)
}

// withComputedFlags returns flags (stored, sorted) with the computed
// flags that hold on today for someone born on birth, sorted.
func withComputedFlags(flags []pb.RetireeFlag, birth string, today time.Time) []pb.RetireeFlag {
	out := slices.DeleteFunc(slices.Clone(flags), isComputedFlag)
	for _, c := range computedFlags {
		if atLeast(birth, today, c.age) {
			out = append(out, c.flag)
		}
	}
	slices.Sort(out)
	return out
}
