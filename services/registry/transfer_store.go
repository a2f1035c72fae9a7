package registry

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// TransferLapse is how long a proposed transfer waits for the receiving
// side's answer before it lapses.
const TransferLapse = 30 * 24 * time.Hour

// lapseBatch bounds the transfers one transaction of the sweep lapses, so
// that a backlog does not hold the write lock for long.
const lapseBatch = 256

// Rule-failure reasons of transfers.
const (
	reasonTransferPending     = "TRANSFER_PENDING"
	reasonTransferNotProposed = "TRANSFER_NOT_PROPOSED"
	reasonTransferLapsed      = "TRANSFER_LAPSED"
	reasonRetireeMoved        = "RETIREE_MOVED"
)

var errTransferNotFound = fmt.Errorf("transfer %w", fault.ErrNotFound)

// lapseReason is the history's reason for a lapse.
const lapseReason = "not answered within 30 days"

// sweepActor is who the history names for a lapse: registry itself.
var sweepActor = Actor{Subject: "registry", Role: "system"}

// TransferRequest is a validated request to transfer a retiree.
type TransferRequest struct {
	RetireeID string
	// To is the receiving community; empty for a move out of the city.
	To     string
	Reason string
	// Etag, when set, must be the retiree's.
	Etag string
	// Destination, when set, makes the transfer a move out of the city.
	Destination *pb.TransferDestination
	// Direct moves the retiree at once (admin), recording an accepted
	// transfer, instead of proposing.
	Direct bool
	// ProposedAt, when set, is when a proposal was made on paper, before
	// it was entered: its 30 days run from then.
	ProposedAt time.Time
}

// transferable reports whether a retiree in status st may be
// transferred: only a living one. A retiree lost contact with, in prison
// or abroad is not moved until the status is
// settled, since the receiving side could not take them in.
func transferable(st pb.RetireeStatus) bool { return st == pb.RetireeStatus_LIVING }

// isDue reports whether proposed transfer t has reached its lapse time.
func isDue(t *pb.Transfer, now time.Time) bool {
	return t.State == pb.TransferState_PROPOSED && !now.Before(t.LapseTime.AsTime())
}

// lapseTime is propose time now plus TransferLapse, rounded up to the
// second so that the due index's whole seconds say exactly when it is
// due.
func lapseTime(now time.Time) time.Time {
	at := now.Add(TransferLapse)
	if whole := at.Truncate(time.Second); whole.Before(at) {
		return whole.Add(time.Second)
	}
	return at
}

// TransferRetiree records a transfer of a retiree that allowed lets the
// caller change: a proposal, or with req.Destination a move out of the
// city (status MOVED_OUT at once), or with req.Direct a move at once. It
// returns the retiree (unchanged by a proposal) and the transfer.
func (s *Store) TransferRetiree(req TransferRequest, actor Actor, allowed func(*pb.Retiree) error) (*pb.Retiree, *pb.Transfer, error) {
	var out *pb.Retiree
	var t *pb.Transfer
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		read := func(r *pb.Retiree) error {
			return s.GetProto(tx, bucketRetirees, []byte(req.RetireeID), r, errRetireeNotFound)
		}
		old, err := boltstore.ReadForChange(read, inputcheck.IsOpaqueID(req.RetireeID), errRetireeNotFound, req.Etag, allowed)
		if err != nil {
			return err
		}
		if err := s.checkTransfer(tx, w, old, req); err != nil {
			return err
		}
		t = s.newTransfer(tx, old, req, actor, w.now)
		out = proto.Clone(old).(*pb.Retiree)
		switch {
		case req.Destination != nil:
			out.Status = pb.RetireeStatus_MOVED_OUT
			out.MovedOutTo = proto.Clone(req.Destination).(*pb.TransferDestination)
			out.MovedOutDate = dateOnly(w.now)
			err = w.applyTransfer(old, out, pb.ChangeKind_MOVED_OUT_OF_CITY, actor, "TransferRetiree", req.Reason, t)
		case req.Direct:
			out.CommunityId = req.To
			err = w.applyTransfer(old, out, pb.ChangeKind_TRANSFERRED, actor, "TransferRetiree", req.Reason, t)
		default:
			err = w.note(old.Id, pb.ChangeKind_TRANSFER_PROPOSED, actor, "TransferRetiree", req.Reason, t)
			if err == nil && isDue(t, w.now) {
				// Made on paper more than 30 days ago: recorded, and lapsed.
				err = s.lapse(tx, w, t)
			}
		}
		if err != nil {
			return err
		}
		return s.putTransfer(tx, t, true)
	})
	if err != nil {
		return nil, nil, err
	}
	return out, t, nil
}

// checkTransfer checks that retiree r may be transferred as req asks,
// lapsing first a proposal of r's whose time has come.
func (s *Store) checkTransfer(tx *bolt.Tx, w *changeWriter, r *pb.Retiree, req TransferRequest) error {
	if !transferable(r.Status) {
		return fault.Rule(reasonNotLiving, "only a living retiree can be transferred")
	}
	if open := tx.Bucket(bucketTransferOpen).Get([]byte(r.Id)); open != nil {
		t := new(pb.Transfer)
		if err := s.GetProto(tx, bucketTransfers, open, t, errTransferNotFound); err != nil {
			return err
		}
		if !isDue(t, w.now) {
			return fault.Conflict(reasonTransferPending, "the retiree has a transfer proposed and not yet answered", "transferId", t.Id)
		}
		if err := s.lapse(tx, w, t); err != nil {
			return err
		}
	}
	if err := s.checkProposedAt(tx, r, req, w.now); err != nil {
		return err
	}
	communities := tx.Bucket(bucketCommunities)
	if req.Destination != nil {
		if code := req.Destination.DivisionCode; code != "" && communities.Get([]byte(code)) != nil {
			return fault.Invalid("destination.division_code", "a community of this system: transfer to it with toCommunityId")
		}
		return nil
	}
	if r.CommunityId == req.To {
		return fault.Rule(reasonSameCommunity, "the retiree already belongs to this community")
	}
	if communities.Get([]byte(req.To)) == nil {
		return fault.Invalid("to_community_id", "no community with this id")
	}
	return nil
}

// checkProposedAt checks the day on paper of a proposal of retiree r, if
// req has one: a proposal's only, before now, and not before the end of
// the retiree's last transfer.
func (s *Store) checkProposedAt(tx *bolt.Tx, r *pb.Retiree, req TransferRequest, now time.Time) error {
	if req.ProposedAt.IsZero() {
		return nil
	}
	if req.Direct || req.Destination != nil || req.ProposedAt.After(now) {
		return fault.Invalid("proposedOn", "only a proposal made before now has a proposal day")
	}
	from, err := s.proposableFrom(tx, r)
	if err != nil {
		return err
	}
	if req.ProposedAt.Before(from) {
		return fault.Invalid("proposedOn", "before the end of the retiree's last transfer")
	}
	return nil
}

// maxProposalHistory bounds the history entries proposableFrom reads.
const maxProposalHistory = 1000

// proposableFrom is the earliest time retiree r can have been proposed
// for a transfer out of its community, so that a proposal dated back to
// paper neither precedes the retiree's move into it nor overlaps an
// earlier proposal: the end of its latest transfer (the move, or the
// answer or lapse of a proposal), read back from its history, at most
// maxProposalHistory entries (a longer history bounds it by the oldest
// entry read); zero when it has none. The registration does not bound
// it: a roster is entered after the fact, and so are the proposals on
// paper of its retirees.
func (s *Store) proposableFrom(tx *bolt.Tx, r *pb.Retiree) (time.Time, error) {
	prefix := boltstore.Prefix(r.Id)
	c := tx.Bucket(bucketHistory).Cursor()
	var k, v []byte
	if k, _ = c.Seek(append(slices.Clone(prefix), 0xff)); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	for n := 1; k != nil && bytes.HasPrefix(k, prefix); n++ {
		h := new(pb.HistoryEntry)
		if err := s.Decode(bucketHistory, k, v, h); err != nil {
			return time.Time{}, err
		}
		switch h.Kind {
		case pb.ChangeKind_TRANSFERRED, pb.ChangeKind_TRANSFER_PROPOSED, pb.ChangeKind_TRANSFER_DECLINED, pb.ChangeKind_TRANSFER_LAPSED:
			if h.Transfer.GetAnswerTime() != nil {
				return h.Transfer.AnswerTime.AsTime(), nil
			}
			return h.ChangeTime.AsTime(), nil
		}
		if n == maxProposalHistory {
			return h.ChangeTime.AsTime(), nil
		}
		k, v = c.Prev()
	}
	return time.Time{}, nil
}

// newTransfer returns the transfer req records for retiree r, with a new
// id: PROPOSED, or answered at once by the proposer for a direct move or
// a move out of the city.
func (s *Store) newTransfer(tx *bolt.Tx, r *pb.Retiree, req TransferRequest, actor Actor, now time.Time) *pb.Transfer {
	ts, proposed := timestamppb.New(now), now
	if !req.ProposedAt.IsZero() {
		proposed = req.ProposedAt
	}
	t := &pb.Transfer{
		RetireeId: r.Id, FromCommunityId: r.CommunityId, ToCommunityId: req.To, Reason: req.Reason,
		ProposedBy: actor.Subject, ProposeTime: timestamppb.New(proposed),
		RetireeName: r.Name, RetireeIdNumberMasked: idnumber.Mask(r.IdNumber),
	}
	for {
		t.Id = inputcheck.NewOpaqueID()
		if tx.Bucket(bucketTransfers).Get([]byte(t.Id)) == nil {
			break
		}
	}
	switch {
	case req.Destination != nil:
		t.State = pb.TransferState_COMPLETED_OUT_OF_CITY
		t.Destination = proto.Clone(req.Destination).(*pb.TransferDestination)
	case req.Direct:
		t.State = pb.TransferState_ACCEPTED
	default:
		t.State = pb.TransferState_PROPOSED
		t.LapseTime = timestamppb.New(lapseTime(proposed))
		return t
	}
	t.AnsweredBy, t.AnswerTime = actor.Subject, ts
	return t
}

// putTransfer stores t and keeps its indexes: the community indexes when
// created, the open and due entries while it is PROPOSED.
func (s *Store) putTransfer(tx *bolt.Tx, t *pb.Transfer, created bool) error {
	stored := proto.Clone(t).(*pb.Transfer)
	// The retiree's name and number are read with the retiree, so that
	// they stay current.
	stored.RetireeName, stored.RetireeIdNumberMasked = "", ""
	if err := s.PutProto(tx, bucketTransfers, []byte(t.Id), stored); err != nil {
		return err
	}
	open, due := tx.Bucket(bucketTransferOpen), tx.Bucket(bucketTransferDue)
	if t.State == pb.TransferState_PROPOSED {
		if err := open.Put([]byte(t.RetireeId), []byte(t.Id)); err != nil {
			return err
		}
		if err := due.Put(dueKey(t), nil); err != nil {
			return err
		}
	} else if !created {
		if string(open.Get([]byte(t.RetireeId))) == t.Id {
			if err := open.Delete([]byte(t.RetireeId)); err != nil {
				return err
			}
		}
		if t.LapseTime != nil {
			if err := due.Delete(dueKey(t)); err != nil {
				return err
			}
		}
	}
	if !created {
		return nil
	}
	if err := boltstore.MoveIndex(tx.Bucket(bucketTransferByFrom), "", t.FromCommunityId, t.Id); err != nil {
		return err
	}
	return boltstore.MoveIndex(tx.Bucket(bucketTransferByTo), "", t.ToCommunityId, t.Id)
}

// dueKey is t's key in the due index: lapse time in Unix seconds, id.
func dueKey(t *pb.Transfer) []byte {
	return append(boltstore.U64(uint64(t.LapseTime.GetSeconds())), t.Id...) //nolint:gosec // G115: a time after 1970
}

// lapse records that proposed transfer t lapsed unanswered at its lapse
// time.
func (s *Store) lapse(tx *bolt.Tx, w *changeWriter, t *pb.Transfer) error {
	t.State = pb.TransferState_LAPSED
	t.AnswerTime = t.LapseTime
	if err := s.putTransfer(tx, t, false); err != nil {
		return err
	}
	return w.note(t.RetireeId, pb.ChangeKind_TRANSFER_LAPSED, sweepActor, "", lapseReason, t)
}

// transferForChange reads transfer id for a change that allowed guards:
// allowed(nil) first decides for a missing transfer, as for a missing
// retiree (see boltstore.ReadForChange).
func (s *Store) transferForChange(tx *bolt.Tx, id string, allowed func(*pb.Transfer) error) (*pb.Transfer, error) {
	t := new(pb.Transfer)
	err := errTransferNotFound
	if inputcheck.IsOpaqueID(id) {
		err = s.GetProto(tx, bucketTransfers, []byte(id), t, errTransferNotFound)
	}
	if err != nil {
		if isNotFound(err) {
			if aerr := allowed(nil); aerr != nil {
				return nil, aerr
			}
		}
		return nil, err
	}
	if err := allowed(t); err != nil {
		return nil, err
	}
	return t, nil
}

// TransferAnswer is the receiving side's answer to a proposed transfer.
type TransferAnswer struct {
	// Accept moves the retiree; otherwise the transfer is declined.
	Accept bool
	// Reason is the reason of a decline.
	Reason string
}

// AnswerTransfer accepts or declines proposed transfer id, which allowed
// lets the caller answer. Only a PROPOSED transfer can be answered; one
// past its lapse time lapses now, and the answer is refused as lapsed.
// It returns the transfer, and the moved retiree on acceptance.
func (s *Store) AnswerTransfer(id string, a TransferAnswer, actor Actor, allowed func(*pb.Transfer) error) (*pb.Transfer, *pb.Retiree, error) {
	var t *pb.Transfer
	var r *pb.Retiree
	var lapsed bool
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		t, r, lapsed = nil, nil, false
		var err error
		if t, err = s.transferForChange(tx, id, allowed); err != nil {
			return err
		}
		if isDue(t, w.now) {
			lapsed = true
			return s.lapse(tx, w, t)
		}
		if t.State != pb.TransferState_PROPOSED {
			return fault.Rule(reasonTransferNotProposed, fmt.Sprintf("the transfer is %s: only a PROPOSED transfer can be answered", t.State), "state", t.State.String())
		}
		t.AnsweredBy, t.AnswerTime = actor.Subject, timestamppb.New(w.now)
		if a.Accept {
			t.State = pb.TransferState_ACCEPTED
			if r, err = s.acceptTransfer(tx, w, t, actor); err != nil {
				return err
			}
		} else {
			t.State, t.DeclineReason = pb.TransferState_DECLINED, a.Reason
			if err := w.note(t.RetireeId, pb.ChangeKind_TRANSFER_DECLINED, actor, "DeclineTransfer", a.Reason, t); err != nil {
				return err
			}
		}
		return s.putTransfer(tx, t, false)
	})
	if err != nil {
		return nil, nil, err
	}
	if lapsed {
		return nil, nil, fault.Rule(reasonTransferLapsed, "the transfer lapsed unanswered: propose it again", "transferId", id)
	}
	return t, r, s.fillRetiree(t)
}

// acceptTransfer moves t's retiree to the receiving community. The
// retiree must still be living and in the sending community: a death or
// a handover since the proposal makes it stale, and the receiving side
// declines it instead.
func (s *Store) acceptTransfer(tx *bolt.Tx, w *changeWriter, t *pb.Transfer, actor Actor) (*pb.Retiree, error) {
	old := new(pb.Retiree)
	if err := s.GetProto(tx, bucketRetirees, []byte(t.RetireeId), old, errRetireeNotFound); err != nil {
		return nil, err
	}
	if !transferable(old.Status) {
		return nil, fault.Rule(reasonNotLiving, "the retiree is no longer living here: decline the transfer")
	}
	if old.CommunityId != t.FromCommunityId {
		return nil, fault.Rule(reasonRetireeMoved, "the retiree has left the sending community since the proposal: decline the transfer")
	}
	r := proto.Clone(old).(*pb.Retiree)
	r.CommunityId = t.ToCommunityId
	if err := w.applyTransfer(old, r, pb.ChangeKind_TRANSFERRED, actor, "AcceptTransfer", t.Reason, t); err != nil {
		return nil, err
	}
	return r, nil
}

// GetTransfer returns transfer id, which allowed lets the caller see, with
// its retiree's name and masked ID number. A proposal past its lapse time
// lapses first.
func (s *Store) GetTransfer(id string, allowed func(*pb.Transfer) error) (*pb.Transfer, error) {
	var t *pb.Transfer
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		t, err = s.transferForChange(tx, id, allowed)
		return err
	})
	if err != nil {
		return nil, err
	}
	if isDue(t, s.now()) {
		err = s.update(func(tx *bolt.Tx, w *changeWriter) error {
			if t, err = s.transferForChange(tx, id, allowed); err != nil || !isDue(t, w.now) {
				return err
			}
			return s.lapse(tx, w, t)
		})
		if err != nil {
			return nil, err
		}
	}
	return t, s.fillRetiree(t)
}

// fillRetiree sets t's retiree name and masked ID number from the
// retiree as stored.
func (s *Store) fillRetiree(t *pb.Transfer) error {
	return s.DB().View(func(tx *bolt.Tx) error { return s.fillRetireeTx(tx, t) })
}

func (s *Store) fillRetireeTx(tx *bolt.Tx, t *pb.Transfer) error {
	r := new(pb.Retiree)
	if err := s.GetProto(tx, bucketRetirees, []byte(t.RetireeId), r, errRetireeNotFound); err != nil {
		return err
	}
	t.RetireeName, t.RetireeIdNumberMasked = r.Name, idnumber.Mask(r.IdNumber)
	return nil
}

// TransferFilter selects transfers in ListTransfers; zero fields match
// all.
type TransferFilter struct {
	// CommunityID, with Direction, lists one community's transfers in or
	// out.
	CommunityID string
	Direction   pb.TransferDirection
	State       pb.TransferState
}

func (f TransferFilter) scope() string {
	return boltstore.PageScope("ListTransfers", f.CommunityID, f.Direction.String(), f.State.String())
}

// ListTransfers returns a page of the transfers f selects, in transfer id
// order, with their retirees' names and masked ID numbers. A proposal past
// its lapse time is shown (and filtered) as LAPSED even before the sweep
// records it.
func (s *Store) ListTransfers(f TransferFilter, size int, after []byte) ([]*pb.Transfer, []byte, error) {
	now := s.now()
	var indexes []boltstore.Index
	switch f.Direction {
	case pb.TransferDirection_INCOMING:
		indexes = []boltstore.Index{{Bucket: bucketTransferByTo, Value: f.CommunityID}}
	case pb.TransferDirection_OUTGOING:
		indexes = []boltstore.Index{{Bucket: bucketTransferByFrom, Value: f.CommunityID}}
	}
	var out []*pb.Transfer
	var next []byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		var err error
		next, err = boltstore.Scan{After: after, Size: size, MaxExamined: s.maxExamined}.Records(tx, bucketTransfers, indexes, func(k, v []byte) (bool, error) {
			t := new(pb.Transfer)
			if err := s.Decode(bucketTransfers, k, v, t); err != nil {
				return false, err
			}
			if isDue(t, now) {
				t.State, t.AnswerTime = pb.TransferState_LAPSED, t.LapseTime
			}
			if f.State != pb.TransferState_TRANSFER_STATE_UNSPECIFIED && t.State != f.State {
				return false, nil
			}
			out = append(out, t)
			return true, s.fillRetireeTx(tx, t)
		})
		return err
	})
	return out, next, err
}

// LapseDue lapses the proposed transfers whose lapse time has come, in
// transactions of at most lapseBatch, and returns how many it lapsed.
func (s *Store) LapseDue() (int, error) {
	total := 0
	for {
		n, err := s.lapseSome()
		total += n
		if err != nil || n < lapseBatch {
			return total, err
		}
	}
}

// lapseSome lapses up to lapseBatch due transfers in one transaction.
func (s *Store) lapseSome() (int, error) {
	var n int
	err := s.update(func(tx *bolt.Tx, w *changeWriter) error {
		n = 0
		var ids []string
		c := tx.Bucket(bucketTransferDue).Cursor()
		for k, _ := c.First(); k != nil && len(ids) < lapseBatch; k, _ = c.Next() {
			at, err := boltstore.ParseU64(k[:min(len(k), 8)])
			if err != nil {
				return err
			}
			if int64(at) > w.now.Unix() { //nolint:gosec // G115: a time after 1970
				break
			}
			ids = append(ids, string(k[8:]))
		}
		for _, id := range ids {
			t := new(pb.Transfer)
			if err := s.GetProto(tx, bucketTransfers, []byte(id), t, errTransferNotFound); err != nil {
				return err
			}
			if !isDue(t, w.now) {
				return fmt.Errorf("transfer %s in the due index is %s, lapsing at %v", id, t.State, t.LapseTime.AsTime())
			}
			if err := s.lapse(tx, w, t); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// LapseLoop returns a task that lapses the due transfers now and then
// every interval, until its context ends (which RunService makes happen
// before the store closes). A failed sweep is logged and tried again at
// the next tick: the due index keeps what is left.
func (s *Store) LapseLoop(interval time.Duration, log *zap.Logger) func(context.Context) error {
	return func(ctx context.Context) error {
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			n, err := s.LapseDue()
			switch {
			case err != nil:
				log.Warn("lapsing transfers", zap.Error(err))
			case n > 0:
				log.Info("transfers lapsed", zap.Int("count", n))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-tick.C:
			}
		}
	}
}
