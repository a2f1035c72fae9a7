package pension

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/socmgmt/socmgmt/internal/audit"
	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/fault"
	"github.com/socmgmt/socmgmt/internal/inputcheck"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/workdays"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// ANOMALY_UNEXPLAINED signals, under "anomaly/<retiree>/<YYYY-MM>/<KIND>":
// anomalies are computed when read (see anomaly_store.go), so
// SweepAnomalies computes those of the current and the previous month of
// every community with the same computation, after each committed payment
// import (the sweep task is kicked) and daily, emits the new ones and
// resolves the signalled ones that no longer hold. The current month's
// MISSING is left out: until the month's payroll is imported every
// retiree would be missing. An explained anomaly (ExplainPaymentAnomaly)
// is resolved "explained" and never signalled again.

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

// anomalySignalledKey is community, 0, month, 0, retiree id, 0, kind: a
// signalled anomaly's entry, walked per community and month.
func anomalySignalledKey(community, m, id string, kind pb.AnomalyKind) []byte {
	return append(boltstore.Prefix(community, m, id), byte(kind)) //nolint:gosec // G115: as above
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

// SweepAnomalies brings the anomaly signals of the current and the
// previous month (by now, in China) up to date in every community.
func (s *Store) SweepAnomalies(now time.Time) error {
	cur := monthOf(now.In(workdays.ChinaTime))
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

// sweepAnomalies brings one community's signals of month m up to date.
func (s *Store) sweepAnomalies(community string, m month, current bool) error {
	found := map[string]*pb.Anomaly{}
	var after []byte
	for {
		list, next, err := s.ListAnomalies(AnomalyFilter{CommunityID: community, Month: m, DropShare: s.dropShare}, anomalyBatch, after)
		if err != nil {
			return err
		}
		for _, x := range list {
			if x.Explanation == "" && !(current && x.Kind == pb.AnomalyKind_MISSING) {
				found[string(anomalySignalledKey(community, x.Month, x.RetireeId, x.Kind))] = x
			}
		}
		if next == nil {
			break
		}
		after = next
	}
	gone, err := s.signalledGone(community, m, found)
	if err != nil {
		return err
	}
	pending := make([]func(tx *bolt.Tx) error, 0, len(found)+len(gone))
	for k, x := range found {
		pending = append(pending, func(tx *bolt.Tx) error { return s.openAnomalySignal(tx, []byte(k), x, community) })
	}
	for _, k := range gone {
		pending = append(pending, func(tx *bolt.Tx) error { return s.resolveAnomalySignal(tx, k) })
	}
	return s.inBatches(pending)
}

// signalledGone returns the keys of community's signalled anomalies of m
// that are not among found.
func (s *Store) signalledGone(community string, m month, found map[string]*pb.Anomaly) ([][]byte, error) {
	var gone [][]byte
	err := s.DB().View(func(tx *bolt.Tx) error {
		return boltstore.ScanPrefix(tx.Bucket(bucketAnomalySignalled).Cursor(), boltstore.Prefix(community, m.String()), nil, func(k, _ []byte) (bool, error) {
			if _, ok := found[string(k)]; !ok {
				gone = append(gone, append([]byte(nil), k...))
			}
			return true, nil
		})
	})
	return gone, err
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

// openAnomalySignal emits the signal of anomaly x, filed under key in
// bucketAnomalySignalled, unless it is there already or was explained
// since it was computed.
func (s *Store) openAnomalySignal(tx *bolt.Tx, key []byte, x *pb.Anomaly, community string) error {
	b := tx.Bucket(bucketAnomalySignalled)
	if b.Get(key) != nil || tx.Bucket(bucketAnomalyExplanations).Get(anomalyRecordKey(x.RetireeId, x.Month, x.Kind)) != nil {
		return nil
	}
	if err := s.signals.Emit(tx, anomalySignal(x, community)); err != nil {
		return err
	}
	return b.Put(key, nil)
}

// resolveAnomalySignal resolves the signalled anomaly filed under key,
// which no longer holds.
func (s *Store) resolveAnomalySignal(tx *bolt.Tx, key []byte) error {
	b := tx.Bucket(bucketAnomalySignalled)
	if b.Get(key) == nil {
		return nil
	}
	_, m, id, kind, ok := splitAnomalySignalledKey(key)
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
	return b.Delete(key)
}

// splitAnomalySignalledKey returns the parts of an anomalySignalledKey.
func splitAnomalySignalledKey(k []byte) (community, m, id string, kind pb.AnomalyKind, ok bool) {
	if len(k) < 2 {
		return "", "", "", 0, false
	}
	community, m, id, ok = splitDueKey(k[:len(k)-2])
	return community, m, id, pb.AnomalyKind(k[len(k)-1]), ok && k[len(k)-2] == 0
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
// is open, and drops its entry under the community it was signalled in.
func (s *Store) explainedSignal(tx *bolt.Tx, id, m string, kind pb.AnomalyKind) error {
	key := anomalySignalKey(id, m, kind)
	ev, err := signalfeed.Open(tx, key)
	if err != nil || ev == nil {
		return err
	}
	if err := tx.Bucket(bucketAnomalySignalled).Delete(anomalySignalledKey(ev.Signal.CommunityId, m, id, kind)); err != nil {
		return err
	}
	_, err = s.signals.Resolve(tx, key, "explained")
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
