package pension

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// ANOMALY_UNEXPLAINED signals, under "anomaly/<retiree>/<YYYY-MM>/<KIND>":
// anomalies are computed when read (see anomaly_store.go), so
// SweepAnomalies, when a payment import stream that stored payments ends
// (the sweep task is kicked) and daily, first re-checks every signalled
// anomaly, of any month, with the same computation for the retiree as
// the projection has it now: one that no longer holds is resolved, one
// of a retiree who moved is emitted again with the new community. It then computes the
// anomalies of the current and the previous month of every community and
// emits the new ones. The current month's MISSING is left out: until the
// month's payroll is imported every retiree would be missing. An
// explained anomaly (ExplainPaymentAnomaly) is resolved "explained" and
// never signalled again.

// ReasonAnomalyNotFound refuses to explain an anomaly that does not hold.
const ReasonAnomalyNotFound = "ANOMALY_NOT_FOUND"

// MaxExplanationLen bounds an anomaly's explanation, in characters.
const MaxExplanationLen = 500

// anomalyBatch is how many retirees' anomalies one read transaction of a
// sweep computes, and how many signals one write transaction changes.
const anomalyBatch = 500

func anomalySignalKey(id string, m string, kind pb.AnomalyKind) string {
	return "anomaly/" + id + "/" + m + "/" + kind.String()
}

// anomalyRecordKey is retiree id, 0, month, 0, kind: an explanation's key.
func anomalyRecordKey(id, m string, kind pb.AnomalyKind) []byte {
	return append(boltstore.Prefix(id, m), byte(kind)) //nolint:gosec // G115: the kinds are 0 to 5
}

// anomalySignalledKey is retiree id, 0, month, 0, kind: a signalled
// anomaly's entry, whose value is the community it was signalled in.
func anomalySignalledKey(id, m string, kind pb.AnomalyKind) []byte {
	return anomalyRecordKey(id, m, kind)
}

var anomalySummaries = map[pb.AnomalyKind]string{
	pb.AnomalyKind_MISSING:              "养老金未发放：核实原因并说明",
	pb.AnomalyKind_PAID_AFTER_DEATH:     "死亡后仍发放养老金：核实并说明",
	pb.AnomalyKind_PAID_WHILE_SUSPENDED: "暂停期间仍发放养老金：核实并说明",
	pb.AnomalyKind_AMOUNT_DROP:          "养老金金额明显下降：核实原因并说明",
	pb.AnomalyKind_PAID_TWICE:           "同月重复发放养老金：核实并说明",
}

// anomalySignal is the open signal of anomaly x of a retiree of community.
func anomalySignal(x *pb.Anomaly, community string) *feedv1.WorkSignal {
	return &feedv1.WorkSignal{
		Key: anomalySignalKey(x.RetireeId, x.Month, x.Kind), Kind: feedv1.SignalKind_ANOMALY_UNEXPLAINED,
		SubjectKind: feedv1.SubjectKind_PAYMENT_ANOMALY, SubjectId: x.RetireeId + "/" + x.Month + "/" + x.Kind.String(),
		RetireeId: x.RetireeId, CommunityId: community,
		Summary: x.Month + " " + anomalySummaries[x.Kind],
	}
}

// SweepAnomalies brings the anomaly signals up to date by now (in
// China): the signalled ones of every month re-checked, those of the
// current and the previous month of every community opened.
func (s *Store) SweepAnomalies(now time.Time) error {
	cur := monthOf(now.In(workdays.ChinaTime))
	if err := s.recheckAnomalySignals(cur); err != nil {
		return fmt.Errorf("re-check the signalled anomalies: %w", err)
	}
	var community []byte
	for {
		next, err := s.nextDueCommunity(community)
		if err != nil || next == nil {
			return err
		}
		community = next
		for _, m := range []month{cur - 1, cur} {
			if err := s.sweepAnomalies(string(community), m, m == cur); err != nil {
				return fmt.Errorf("anomaly signals of community %s, %s: %w", community, m, err)
			}
		}
	}
}

// sweepAnomalies opens the signals of one community's anomalies of month
// m that are not signalled yet.
func (s *Store) sweepAnomalies(community string, m month, current bool) error {
	var pending []func(tx *bolt.Tx) error
	var after []byte
	for {
		list, next, err := s.ListAnomalies(AnomalyFilter{CommunityID: community, Month: m, DropShare: s.dropShare}, anomalyBatch, after)
		if err != nil {
			return err
		}
		for _, x := range list {
			if x.Explanation == "" && !(current && x.Kind == pb.AnomalyKind_MISSING) {
				pending = append(pending, func(tx *bolt.Tx) error { return s.openAnomalySignal(tx, x, community) })
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	return s.inBatches(pending)
}

// signalledEntry is an entry of bucketAnomalySignalled, copied out.
type signalledEntry struct{ key, community []byte }

// recheckAnomalySignals re-checks every signalled anomaly (see above),
// anomalyBatch entries to a write transaction, so that what an entry's
// check reads cannot change before it writes.
func (s *Store) recheckAnomalySignals(cur month) error {
	var after []byte
	for {
		var next []byte
		err := s.Update(func(tx *bolt.Tx) error {
			var batch []signalledEntry
			var err error
			scan := boltstore.Scan{After: after, Size: anomalyBatch, MaxExamined: anomalyBatch}
			next, err = scan.Page(tx.Bucket(bucketAnomalySignalled).Cursor(), func(k, v []byte) (bool, error) {
				batch = append(batch, signalledEntry{bytes.Clone(k), bytes.Clone(v)})
				return true, nil
			})
			if err != nil {
				return err
			}
			// The entries are copied out first: a check deletes or
			// rewrites its own, which would move the scan's cursor.
			for _, e := range batch {
				if err := s.recheckAnomalySignal(tx, e, cur); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil || next == nil {
			return err
		}
		after = next
	}
}

// recheckAnomalySignal resolves the signalled anomaly e when it no longer
// holds, or emits it again with the retiree's community when that
// changed.
func (s *Store) recheckAnomalySignal(tx *bolt.Tx, e signalledEntry, cur month) error {
	id, ms, kind, ok := splitAnomalySignalledKey(e.key)
	m, okMonth := parseMonth(ms)
	if !ok || !okMonth {
		return boltstore.ErrBadKey
	}
	st, err := projection.Get(tx, id)
	if errors.Is(err, projection.ErrUnknownRetiree) {
		return s.resolveAnomalySignal(tx, e.key)
	}
	if err != nil {
		return err
	}
	a := anomalyScan{s: s, tx: tx, f: AnomalyFilter{CommunityID: st.CommunityId, Month: m, DropShare: s.dropShare}}
	found, err := a.of(st)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(found, func(x *pb.Anomaly) bool { return x.Kind == kind && x.Explanation == "" })
	if i < 0 || m == cur && kind == pb.AnomalyKind_MISSING {
		return s.resolveAnomalySignal(tx, e.key)
	}
	if string(e.community) == st.CommunityId {
		return nil
	}
	return s.openAnomalySignal(tx, found[i], st.CommunityId)
}

// inBatches runs the steps, anomalyBatch to a write transaction.
func (s *Store) inBatches(steps []func(tx *bolt.Tx) error) error {
	for len(steps) > 0 {
		n := min(len(steps), anomalyBatch)
		if err := s.Update(func(tx *bolt.Tx) error {
			for _, step := range steps[:n] {
				if err := step(tx); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return err
		}
		steps = steps[n:]
	}
	return nil
}

// openAnomalySignal emits the signal of anomaly x of a retiree of
// community and files it in bucketAnomalySignalled, unless it is there
// already for that community or was explained since it was computed. A
// signal open for another community (the retiree moved) is emitted again
// with this one.
func (s *Store) openAnomalySignal(tx *bolt.Tx, x *pb.Anomaly, community string) error {
	b := tx.Bucket(bucketAnomalySignalled)
	key := anomalySignalledKey(x.RetireeId, x.Month, x.Kind)
	if v := b.Get(key); v != nil && string(v) == community || tx.Bucket(bucketAnomalyExplanations).Get(key) != nil {
		return nil
	}
	if err := s.signals.Emit(tx, anomalySignal(x, community)); err != nil {
		return err
	}
	return b.Put(key, []byte(community))
}

// resolveAnomalySignal resolves the signalled anomaly filed under key,
// which no longer holds.
func (s *Store) resolveAnomalySignal(tx *bolt.Tx, key []byte) error {
	id, m, kind, ok := splitAnomalySignalledKey(key)
	if !ok {
		return boltstore.ErrBadKey
	}
	resolution := "no longer holds"
	if kind == pb.AnomalyKind_MISSING {
		resolution = "paid"
	}
	if _, err := s.signals.Resolve(tx, anomalySignalKey(id, m, kind), resolution); err != nil {
		return err
	}
	return tx.Bucket(bucketAnomalySignalled).Delete(key)
}

// splitAnomalySignalledKey returns the parts of an anomalySignalledKey.
func splitAnomalySignalledKey(k []byte) (id, m string, kind pb.AnomalyKind, ok bool) {
	parts := bytes.Split(k, []byte{0})
	if len(parts) != 3 || len(parts[2]) != 1 {
		return "", "", 0, false
	}
	return string(parts[0]), string(parts[1]), pb.AnomalyKind(parts[2][0]), true
}

// withExplanation sets x's explanation when one is recorded.
func withExplanation(tx *bolt.Tx, x *pb.Anomaly) error {
	v := tx.Bucket(bucketAnomalyExplanations).Get(anomalyRecordKey(x.RetireeId, x.Month, x.Kind))
	if v == nil {
		return nil
	}
	e := new(pb.Anomaly)
	if err := unmarshal(v, e, "anomaly explanation"); err != nil {
		return err
	}
	x.Explanation, x.ExplainedBy, x.ExplainTime = e.Explanation, e.ExplainedBy, e.ExplainTime
	return nil
}

// ExplainAnomaly records the explanation of retiree id's anomaly of kind
// in month m, which must hold, resolves its signal and audits the change,
// in one transaction. allowed is the caller's check of the retiree.
func (s *Store) ExplainAnomaly(id string, m month, kind pb.AnomalyKind, text string, actor Actor, allowed func(*registryv1.RetireeState) error) (*pb.Anomaly, error) {
	now := s.now()
	var out *pb.Anomaly
	err := s.Update(func(tx *bolt.Tx) error {
		st, err := s.visibleIn(tx, id, allowed)
		if err != nil {
			return err
		}
		a := anomalyScan{s: s, tx: tx, f: AnomalyFilter{CommunityID: st.CommunityId, Month: m, DropShare: s.dropShare}}
		found, err := a.of(st)
		if err != nil {
			return err
		}
		for _, x := range found {
			if x.Kind == kind {
				out = x
			}
		}
		if out == nil {
			return fault.Rule(ReasonAnomalyNotFound, "the retiree's payments of the month show no such anomaly")
		}
		out.Explanation, out.ExplainedBy, out.ExplainTime = text, actor.Subject, timestamppb.New(now)
		e := &pb.Anomaly{Explanation: out.Explanation, ExplainedBy: out.ExplainedBy, ExplainTime: out.ExplainTime}
		if err := boltstore.PutProto(tx.Bucket(bucketAnomalyExplanations), anomalyRecordKey(id, out.Month, kind), e); err != nil {
			return err
		}
		if err := s.explainedSignal(tx, id, out.Month, kind); err != nil {
			return err
		}
		return audit.Put(tx, audit.NewEntry(actor, "ExplainPaymentAnomaly", id, now))
	})
	if err != nil {
		return nil, err
	}
	return proto.Clone(out).(*pb.Anomaly), nil
}

// explainedSignal resolves the signal of an anomaly just explained, if it
// is open, and drops its entry.
func (s *Store) explainedSignal(tx *bolt.Tx, id, m string, kind pb.AnomalyKind) error {
	if err := tx.Bucket(bucketAnomalySignalled).Delete(anomalySignalledKey(id, m, kind)); err != nil {
		return err
	}
	_, err := s.signals.Resolve(tx, anomalySignalKey(id, m, kind), "explained")
	return err
}

// ExplainPaymentAnomaly implements pb.PensionServiceServer: the clerk of
// the retiree's community, the bureau or admin explains an anomaly that
// holds (see Store.ExplainAnomaly).
func (s *Server) ExplainPaymentAnomaly(ctx context.Context, req *pb.ExplainPaymentAnomalyRequest) (*pb.ExplainPaymentAnomalyResponse, error) {
	p, err := authn.Require(ctx, certifiers...)
	if err != nil {
		return nil, err
	}
	var v fault.Violations
	checkRetireeID(&v, req.RetireeId)
	m := requiredMonth(&v, "month", req.Month, s.now())
	if _, ok := pb.AnomalyKind_name[int32(req.Kind)]; !ok || req.Kind == pb.AnomalyKind_ANOMALY_KIND_UNSPECIFIED {
		v.Add("kind", "must be a known anomaly kind")
	}
	inputcheck.MultilineText(&v, "explanation", req.Explanation, true, MaxExplanationLen)
	// ListPaymentAnomalies shows the explanation to every reader of the
	// community's anomalies.
	inputcheck.NoPersonalNumbers(&v, "explanation", req.Explanation)
	if err := v.Err(); err != nil {
		return nil, s.fail(ctx, err)
	}
	x, err := s.store.ExplainAnomaly(req.RetireeId, m, req.Kind, req.Explanation, audit.ActorOf(ctx, p), guard(p))
	if err != nil {
		return nil, s.fail(ctx, err)
	}
	return &pb.ExplainPaymentAnomalyResponse{Anomaly: x}, nil
}

// anomalySignalsByRetiree is the migration from storage version 8 to 9:
// the signalled anomalies, filed by community in version 8 (where a
// retiree's move left one community's sweep resolving a signal that
// still held and another's entry blocking its re-emission), are filed by
// retiree, month and kind with the community as the value. An entry is
// kept only while its signal is open, with the community the open signal
// names; the others were left behind by a move, and the next sweep emits
// again what still holds.
var anomalySignalsByRetiree = boltstore.Migration{
	From: 8, To: 9, Name: "signalled anomalies by retiree",
	Apply: func(tx *bolt.Tx) error {
		to, err := tx.CreateBucketIfNotExists(bucketAnomalySignalled)
		if err != nil {
			return err
		}
		from := tx.Bucket(bucketAnomalySignalledV8)
		if from == nil {
			return nil
		}
		for _, b := range signalfeed.Buckets {
			if tx.Bucket(b) == nil {
				// No feed, so nothing signalled: the sweep starts afresh.
				return tx.DeleteBucket(bucketAnomalySignalledV8)
			}
		}
		err = from.ForEach(func(k, _ []byte) error {
			_, m, id, kind, ok := splitAnomalySignalledKeyV8(k)
			if !ok {
				return boltstore.ErrBadKey
			}
			ev, err := signalfeed.Open(tx, anomalySignalKey(id, m, kind))
			if err != nil || ev == nil {
				return err
			}
			return to.Put(anomalySignalledKey(id, m, kind), []byte(ev.Signal.CommunityId))
		})
		if err != nil {
			return err
		}
		return tx.DeleteBucket(bucketAnomalySignalledV8)
	},
}

// splitAnomalySignalledKeyV8 returns the parts of a key of
// bucketAnomalySignalledV8.
func splitAnomalySignalledKeyV8(k []byte) (community, m, id string, kind pb.AnomalyKind, ok bool) {
	if len(k) < 2 {
		return "", "", "", 0, false
	}
	community, m, id, ok = splitDueKey(k[:len(k)-2])
	return community, m, id, pb.AnomalyKind(k[len(k)-1]), ok && k[len(k)-2] == 0
}
