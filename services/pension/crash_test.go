package pension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The crash test's sizes: crashRetirees retirees paid for crashRecords /
// crashRetirees months, the months one after another.
const (
	crashRetirees = 20_000
	crashRecords  = 200_000
	crashKills    = 4
	crashBatch    = "crash-test-batch"
)

// TestImportSurvivesSIGKILL runs the pension binary as a child process
// against a fake registry, streams crashRecords records into it and kills
// it with SIGKILL at random points of the stream, several times. After
// each restart every acknowledged record must be there; the client
// resumes after its last acknowledged index, and at the end the file must
// pass bbolt's consistency check and hold every record exactly once.
func TestImportSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and kills the pension binary: skipped under -short")
	}
	dir := t.TempDir()
	bin := servicetest.Build(t, "github.com/socmgmt/socmgmt/services/pension/cmd/pension")
	keyFile := filepath.Join(dir, "signing.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	idKeyFile := filepath.Join(dir, "id.key")
	idKey, _, err := idnumber.LoadOrCreateKeyFile(idKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keyer, err := idnumber.NewKeyer(idKey)
	if err != nil {
		t.Fatal(err)
	}
	states := make([]*registryv1.RetireeState, crashRetirees)
	for n := range states {
		states[n] = retiree(t, keyer, n, communityA)
	}
	fake := servicetest.NewFakeRegistry(states...)
	registry := servicetest.Serve(t, servicetest.Options{
		Name: "registry", TCP: true,
		Register: fake.Register,
	})
	keys := servicetest.KeysOf(priv)

	child := &pensionChild{t: t, bin: bin, dataDir: filepath.Join(dir, "data"), keyFile: keyFile, idKeyFile: idKeyFile, registryAddr: registry.Addr(), grpcAddr: servicetest.FreeAddrs(t, 1)[0]}
	conn, err := grpc.NewClient(child.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(authn.BearerCredentials(keys.Token(t, bureauP))))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewPensionServiceClient(conn)

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var acked atomic.Int64
	var summary *pb.ImportSummary
	for attempt := 0; summary == nil; attempt++ {
		if attempt > crashKills+3 {
			t.Fatalf("no summary after %d attempts", attempt)
		}
		child.start()
		waitKnown(t, client, crashRetirees-1)
		checkAcknowledged(t, client, acked.Load(), rng)
		from := acked.Load()
		killAt := int64(0)
		if attempt < crashKills {
			// Somewhere in the next stretch of the stream, not at a group
			// boundary of our choosing.
			killAt = from + 1 + rng.Int64N(min(crashRecords-from-1, 60_000))
		}
		// A random pause between the acknowledgement and the kill, so
		// that the kill lands anywhere in the stream's work: not a wait
		// for anything.
		pause := time.Duration(rng.IntN(20)) * time.Millisecond
		var err error
		summary, err = streamFrom(t.Context(), client, from, &acked, killAt, func() {
			time.Sleep(pause)
			child.kill()
		})
		t.Logf("attempt %d: resumed after %d, kill planned after ack %d, now acknowledged through %d (%v)", attempt, from, killAt, acked.Load(), err)
		if summary == nil && killAt == 0 {
			t.Fatalf("stream without a kill failed: %v", err)
		}
		if summary == nil {
			waitfor.Receive(t, "the killed pension to exit", child.proc.Done())
		}
	}
	if summary.LastIndex != crashRecords || summary.Rejected != 0 {
		t.Errorf("final summary %v: want last index %d and no rejections", summary, crashRecords)
	}
	child.stop()
	verifyCrashFile(t, filepath.Join(child.dataDir, "pension.db"), states)
}

// pensionChild is the pension program run as a child process, restarted
// on the same address and data directory.
type pensionChild struct {
	t                                *testing.T
	bin, dataDir, keyFile, idKeyFile string
	registryAddr, grpcAddr           string
	proc                             *servicetest.Process
	logs                             int
}

// start starts the program and waits until it serves.
func (c *pensionChild) start() {
	c.t.Helper()
	c.logs++
	c.proc = servicetest.Start(c.t, servicetest.Program{
		Name: "pension", Path: c.bin,
		Args: []string{
			"--grpc-addr", c.grpcAddr, "--admin-addr", "", "--data-dir", c.dataDir,
			"--token-key", c.keyFile, "--id-key", c.idKeyFile, "--registry-addr", c.registryAddr,
			"--log-format", "json", "--log-level", "warn",
		},
		Log: filepath.Join(filepath.Dir(c.dataDir), fmt.Sprintf("pension-%d.log", c.logs)),
	})
	c.proc.WaitServing(c.t, c.grpcAddr)
}

// kill sends SIGKILL; the stream's reader sees the connection drop.
func (c *pensionChild) kill() { _ = c.proc.Signal(syscall.SIGKILL) }

// stop ends the child with SIGTERM and wants a clean exit.
func (c *pensionChild) stop() { c.proc.Stop(c.t) }

// crashRecord is the record with the given index: the same every time it
// is sent, so that a resent one is a duplicate.
func crashRecord(_ *testing.T, index int64) *pb.PaymentRecord { return crashRecordNoT(index) }

// waitKnown waits until the child's projection knows the n-th retiree.
func waitKnown(t *testing.T, client pb.PensionServiceClient, n int) {
	t.Helper()
	waitfor.NoError(t, "the projection to catch up", func(ctx context.Context) error {
		_, err := client.QueryPayments(ctx, &pb.QueryPaymentsRequest{IdNumber: idNumber(t, n).Digits()})
		if c := status.Code(err); c != codes.OK && c != codes.NotFound && c != codes.Unavailable {
			return waitfor.Permanent(err)
		}
		return err
	})
}

// checkAcknowledged looks up the last acknowledged record and a sample of
// the others: each must be stored with its content.
func checkAcknowledged(t *testing.T, client pb.PensionServiceClient, acked int64, rng *rand.Rand) {
	t.Helper()
	if acked == 0 {
		return
	}
	indexes := []int64{acked, 1}
	for range 100 {
		indexes = append(indexes, 1+rng.Int64N(acked))
	}
	for _, i := range indexes {
		r := crashRecord(t, i)
		resp, err := client.QueryPayments(t.Context(), &pb.QueryPaymentsRequest{IdNumber: r.IdNumber, FromMonth: r.Month, ToMonth: r.Month})
		if err != nil {
			t.Fatalf("query acknowledged record %d: %v", i, err)
		}
		if len(resp.Payments) != 1 || resp.Payments[0].BasicFen != r.BasicFen || resp.Payments[0].Version != 1 {
			t.Fatalf("acknowledged record %d after restart: %v", i, resp.Payments)
		}
	}
}

// streamFrom sends the batch from after acked, recording acknowledgements
// in acked; once they pass killAt (when positive) it calls kill once. It
// returns the summary when the stream completes.
func streamFrom(ctx context.Context, client pb.PensionServiceClient, from int64, acked *atomic.Int64, killAt int64, kill func()) (*pb.ImportSummary, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := client.ImportPayments(ctx)
	if err != nil {
		return nil, err
	}
	go func() {
		send := func(m *pb.ImportPaymentsRequest) bool { return stream.Send(m) == nil }
		if !send(&pb.ImportPaymentsRequest{Message: &pb.ImportPaymentsRequest_Header{Header: &pb.ImportHeader{BatchId: crashBatch, FormatVersion: 1, ExpectedRecords: crashRecords}}}) {
			return
		}
		for i := from + 1; i <= crashRecords; i++ {
			if !send(&pb.ImportPaymentsRequest{Message: &pb.ImportPaymentsRequest_Record{Record: crashRecordNoT(i)}}) {
				return
			}
		}
		_ = stream.CloseSend()
	}()
	killed := false
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, errors.New("stream ended without a summary")
		}
		if err != nil {
			return nil, err
		}
		switch m := resp.Message.(type) {
		case *pb.ImportPaymentsResponse_Ack:
			if got := m.Ack.DurableThroughIndex; got > acked.Load() {
				acked.Store(got)
			}
			if len(m.Ack.Rejections) > 0 {
				return nil, fmt.Errorf("rejections: %v", m.Ack.Rejections)
			}
			if killAt > 0 && !killed && acked.Load() >= killAt {
				killed = true
				go kill()
			}
		case *pb.ImportPaymentsResponse_Summary:
			return m.Summary, nil
		}
	}
}

// crashRecordNoT is crashRecord for the sending goroutine, which must not
// call t.Fatal.
func crashRecordNoT(index int64) *pb.PaymentRecord {
	n := int((index - 1) % crashRetirees)
	m := month(2025*12) + month((index-1)/crashRetirees)
	id := servicetest.IDNumber(n)
	base := 300000 + int64(n)
	return &pb.PaymentRecord{
		Index: index, IdNumber: id.Digits(), Month: m.String(),
		BasicFen: base, PersonalAccountFen: base / 4, TransitionalFen: base / 10, OtherFen: 1000,
		PaidOn: m.String() + "-15", BankAccountMasked: "6222************1234",
	}
}

// verifyCrashFile opens the stopped child's file: it must pass tx.Check
// and hold every record once, as its first version.
func verifyCrashFile(t *testing.T, path string, states []*registryv1.RetireeState) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("tx.Check: %v", err)
		}
		payments := tx.Bucket(bucketPayments)
		if n := payments.Stats().KeyN; n != crashRecords {
			t.Errorf("%d payments stored, want %d", n, crashRecords)
		}
		if n := tx.Bucket(bucketPaymentVersions).Stats().KeyN; n != 0 {
			t.Errorf("%d superseded versions: a record was stored twice with different content", n)
		}
		var p pb.Payment
		for i := int64(1); i <= crashRecords; i++ {
			r := crashRecordNoT(i)
			m, _ := parseMonth(r.Month)
			n := int((i - 1) % crashRetirees)
			v := payments.Get(paymentKey(nil, states[n].Id, m, r.PaidOn, pb.PaymentKind_REGULAR))
			if v == nil {
				t.Errorf("record %d is missing", i)
				continue
			}
			if err := proto.Unmarshal(v, &p); err != nil {
				return err
			}
			if p.BasicFen != r.BasicFen || p.Version != 1 || p.BatchId != crashBatch {
				t.Errorf("record %d stored as %v", i, &p)
			}
		}
		var batch pb.ImportSummary
		if err := proto.Unmarshal(tx.Bucket(bucketBatches).Get([]byte(crashBatch)), &batch); err != nil {
			return err
		}
		if batch.LastIndex != crashRecords || batch.Accepted != crashRecords {
			t.Errorf("batch progress %v: want last index and accepted %d", &batch, crashRecords)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
