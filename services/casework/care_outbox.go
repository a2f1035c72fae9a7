package casework

import (
	"context"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/grpcserver"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The care outbox holds the registry calls that visits' outcomes start
// (a death report filed, a retiree set LOST_CONTACT or LIVING again),
// written in the visit's (or the confirmation's) transaction, so that a
// registry outage or a crash loses none: CareDispatcher delivers them in
// order with the service's token and retries a failure with backoff.
// Registry's CreateDeathReport and ChangeRetireeStatus take no request
// key; a call repeated after a lost acknowledgement is answered with
// DEATH_REPORT_OPEN, RETIREE_NOT_LIVING or STATUS_UNCHANGED, which the
// dispatcher takes as delivered. (handover's outbox is bound to its
// handovers' delivery record, so this one is the casework's own.)

// careCommandKind is what a command asks of registry.
type careCommandKind byte

const (
	cmdDeathReport  careCommandKind = 1
	cmdStatusChange careCommandKind = 2
)

// careCommand is one registry call still to make: kind, the visit that
// started it, and the marshalled request.
type careCommand struct {
	seq     uint64
	kind    careCommandKind
	visitID string
	payload []byte
}

func (c *careCommand) encode() []byte {
	b := append([]byte{byte(c.kind)}, byte(len(c.visitID))) //nolint:gosec // G115: a visit id is idLen (16) bytes
	return append(append(b, c.visitID...), c.payload...)
}

var errBadCareCommand = errors.New("malformed care outbox command")

func decodeCareCommand(seq uint64, v []byte) (*careCommand, error) {
	if len(v) < 2 || int(v[1]) > len(v)-2 {
		return nil, errBadCareCommand
	}
	c := &careCommand{seq: seq, kind: careCommandKind(v[0]), visitID: string(v[2 : 2+v[1]])}
	if c.kind != cmdDeathReport && c.kind != cmdStatusChange {
		return nil, errBadCareCommand
	}
	c.payload = append([]byte(nil), v[2+v[1]:]...)
	return c, nil
}

// enqueueCare queues a registry call in tx.
func (s *Store) enqueueCare(tx *bolt.Tx, kind careCommandKind, visitID string, req proto.Message) error {
	payload, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	b := tx.Bucket(bucketCareOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return err
	}
	c := careCommand{kind: kind, visitID: visitID, payload: payload}
	if err := b.Put(boltstore.U64(seq), c.encode()); err != nil {
		return err
	}
	tx.OnCommit(s.careOutbox.Broadcast)
	return nil
}

// nextCareCommand is the oldest queued command, or nil.
func (s *Store) nextCareCommand() (*careCommand, error) {
	var out *careCommand
	err := s.DB().View(func(tx *bolt.Tx) error {
		k, v := tx.Bucket(bucketCareOutbox).Cursor().First()
		if k == nil {
			return nil
		}
		seq, err := boltstore.ParseU64(k)
		if err != nil {
			return err
		}
		out, err = decodeCareCommand(seq, v)
		return err
	})
	return out, err
}

// careDelivered removes c from the outbox; a death report's id goes on
// its visit.
func (s *Store) careDelivered(c *careCommand, deathReportID string) error {
	return s.Update(func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketCareOutbox).Delete(boltstore.U64(c.seq)); err != nil {
			return err
		}
		if deathReportID == "" || c.visitID == "" {
			return nil
		}
		v := new(pb.Visit)
		if err := boltstore.GetProto(tx.Bucket(bucketVisits), []byte(c.visitID), v, errVisitNotFound); err != nil {
			return err
		}
		v.DeathReportId = deathReportID
		return boltstore.PutProto(tx.Bucket(bucketVisits), []byte(v.Id), v)
	})
}

// CareBacklog is how many registry calls wait in the care outbox.
func (s *Store) CareBacklog() (int, error) {
	n := 0
	err := s.DB().View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketCareOutbox).Stats().KeyN
		return nil
	})
	return n, err
}

// CareDispatcher delivers the care outbox to registry.
type CareDispatcher struct {
	Store    *Store
	Registry registryv1.RegistryServiceClient
	// MinBackoff and MaxBackoff bound the wait before a retry (100 ms and
	// 30 s when zero); CallTimeout one call (30 s).
	MinBackoff, MaxBackoff, CallTimeout time.Duration
}

// Task is the dispatcher as a task of the server.
func (d *CareDispatcher) Task() grpcserver.Task {
	return grpcserver.Task{Name: "care outbox", Run: d.Run}
}

// Run delivers until ctx ends. A command that fails for a passing reason
// is retried, holding up those behind it; one registry refuses for good
// is logged (without personal data) and dropped.
func (d *CareDispatcher) Run(ctx context.Context) error {
	minB, maxB := cmpOr(d.MinBackoff, 100*time.Millisecond), cmpOr(d.MaxBackoff, 30*time.Second)
	backoff := minB
	log := d.Store.log.Named("care-outbox")
	for ctx.Err() == nil {
		wake := d.Store.careOutbox.Wait()
		c, err := d.Store.nextCareCommand()
		if err == nil && c == nil {
			select {
			case <-wake:
			case <-ctx.Done():
			}
			continue
		}
		if err == nil {
			err = d.deliver(ctx, c)
		}
		if err == nil {
			backoff = minB
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		log.Warn("registry call failed; retrying", zap.String("visit_id", c.visitIDOrEmpty()), zap.Duration("retry_in", backoff), zap.Error(err))
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, maxB)
	}
	return nil
}

func (c *careCommand) visitIDOrEmpty() string {
	if c == nil {
		return ""
	}
	return c.visitID
}

func cmpOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// deliver makes one call of c and records the answer: delivered, an
// answer that says it was made before, or a refusal for good (dropped).
func (d *CareDispatcher) deliver(ctx context.Context, c *careCommand) error {
	cctx, cancel := context.WithTimeout(ctx, cmpOr(d.CallTimeout, 30*time.Second))
	defer cancel()
	reportID, err := d.call(cctx, c)
	if err == nil {
		return d.Store.careDelivered(c, reportID)
	}
	reason, meta := ruleOf(err)
	switch {
	case reason == "DEATH_REPORT_OPEN" || reason == "STATUS_UNCHANGED" || reason == "RETIREE_NOT_LIVING":
		return d.Store.careDelivered(c, meta["deathReportId"])
	case permanent(status.Code(err)):
		d.Store.log.Error("registry refused a care call for good; dropped",
			zap.Uint64("seq", c.seq), zap.String("visit_id", c.visitID), zap.String("code", status.Code(err).String()), zap.String("reason", reason))
		return d.Store.careDelivered(c, "")
	}
	return err
}

// call makes c's registry call, returning a filed death report's id.
func (d *CareDispatcher) call(ctx context.Context, c *careCommand) (string, error) {
	switch c.kind {
	case cmdDeathReport:
		req := new(registryv1.CreateDeathReportRequest)
		if err := proto.Unmarshal(c.payload, req); err != nil {
			return "", err
		}
		resp, err := d.Registry.CreateDeathReport(ctx, req)
		return resp.GetDeathReport().GetId(), err
	case cmdStatusChange:
		req := new(registryv1.ChangeRetireeStatusRequest)
		if err := proto.Unmarshal(c.payload, req); err != nil {
			return "", err
		}
		_, err := d.Registry.ChangeRetireeStatus(ctx, req)
		return "", err
	}
	return "", fmt.Errorf("care outbox command %d: kind %d", c.seq, c.kind)
}

// permanent reports whether a call refused with code will be refused
// again whatever the retries.
func permanent(code codes.Code) bool {
	switch code {
	case codes.InvalidArgument, codes.NotFound, codes.AlreadyExists, codes.PermissionDenied,
		codes.FailedPrecondition, codes.OutOfRange, codes.Unimplemented:
		return true
	}
	return false
}

// ruleOf is the ErrorInfo reason and metadata of a gRPC error, if any.
func ruleOf(err error) (string, map[string]string) {
	st, ok := status.FromError(err)
	if !ok {
		return "", nil
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok {
			return info.Reason, info.Metadata
		}
	}
	return "", nil
}
