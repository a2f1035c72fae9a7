package pension

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"sync"
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
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/datakey"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicedb"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/pension/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The crash tests' sizes: crashRetirees retirees, crashRecords records
// spread evenly over them, crashKills kills per test.
const (
	crashRetirees = 20_000
	crashRecords  = 200_000
	crashKills    = 4
	crashBatch    = "crash-test-batch"
)

// crashImport is one import stream the crash test kills: how it is
// framed, what its records are, and how to check what landed.
type crashImport[Req, Resp, In any] struct {
	framing importFraming[Req, Resp, In]
	// rpc names the import's batches (see batchKey).
	rpc string
	// record returns the record with the given index: the same every
	// time it is sent, so that a resent one is a duplicate. It runs on the
	// sending goroutine and must not call t.Fatal.
	record func(index int64) In
	// stored checks through the API that the acknowledged record with
	// the given index is stored with its content, once.
	stored func(t *testing.T, client pb.PensionServiceClient, states []*registryv1.RetireeState, index int64)
	// verify checks the stopped child's file: every record there once.
	verify func(t *testing.T, tx *bolt.Tx, states []*registryv1.RetireeState)
}

// TestImportSurvivesSIGKILL kills ImportPayments mid-stream (see
// runCrashTest).
func TestImportSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	runCrashTest(t, crashImport[pb.ImportPaymentsRequest, pb.ImportPaymentsResponse, *pb.PaymentRecord]{
		framing: paymentFraming, rpc: rpcImportPayments,
		record: crashPayment, stored: crashPaymentStored, verify: verifyCrashPayments,
	})
}

// TestImportCertificationsSurvivesSIGKILL kills ImportCertifications
// mid-stream (see runCrashTest).
func TestImportCertificationsSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	runCrashTest(t, crashImport[pb.ImportCertificationsRequest, pb.ImportCertificationsResponse, *pb.CertificationRecord]{
		framing: certificationFraming, rpc: rpcImportCertifications,
		record: crashCertification, stored: crashCertificationStored, verify: verifyCrashCertifications,
	})
}

// runCrashTest runs the pension binary as a child process against a fake
// registry, streams crashRecords records of c into it and kills it with
// SIGKILL at random points of the stream, several times. After each
// restart every acknowledged record must be there; the client resumes
// after its last acknowledged index, and at the end the file must pass
// bbolt's consistency check and hold every record exactly once.
func runCrashTest[Req, Resp, In any](t *testing.T, c crashImport[Req, Resp, In]) {
	if testing.Short() {
		t.Skip("builds and kills the pension binary: skipped under -short")
	}
	child, states, client := startCrashChild(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var acked atomic.Int64
	var summary *pb.ImportSummary
	for attempt := 0; summary == nil; attempt++ {
		if attempt > crashKills+3 {
			t.Fatalf("no summary after %d attempts", attempt)
		}
		child.start()
		waitKnown(t, client, crashRetirees-1)
		checkAcknowledged(t, c, client, states, acked.Load(), rng)
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
		var (
			err    error
			killed bool
		)
		summary, killed, err = streamFrom(t.Context(), c, client, from, &acked, killAt, func() {
			time.Sleep(pause)
			child.kill()
		})
		t.Logf("attempt %d: resumed after %d, kill planned after ack %d, now acknowledged through %d (%v)", attempt, from, killAt, acked.Load(), err)
		if summary == nil && !killed {
			t.Fatalf("stream without a kill failed: %v", err)
		}
		if killed {
			waitfor.Receive(t, "the killed pension to exit", child.proc.Done())
		}
	}
	if child.proc.Exited() {
		// The last kill landed after the summary: the file must still
		// open, and the program must still stop cleanly.
		child.start()
	}
	if summary.LastIndex != crashRecords || summary.Rejected != 0 {
		t.Errorf("final summary %v: want last index %d and no rejections", summary, crashRecords)
	}
	child.stop()
	verifyCrashFile(t, c, filepath.Join(child.dataDir, "pension.db"), states)
}

// startCrashChild prepares the pension child of a crash test, serving
// crashRetirees retirees of communityA from a fake registry, and a bureau's
// client of it; the child is not started yet.
func startCrashChild(t *testing.T) (*pensionChild, []*registryv1.RetireeState, pb.PensionServiceClient) {
	t.Helper()
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
	t.Cleanup(func() { _ = conn.Close() })
	return child, states, pb.NewPensionServiceClient(conn)
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
		Args: append([]string{
			"--grpc-addr", c.grpcAddr, "--admin-addr", "", "--data-dir", c.dataDir,
			"--token-key", c.keyFile, "--id-key", c.idKeyFile, "--registry-addr", c.registryAddr,
			"--log-format", "json", "--log-level", "warn",
		}, servicetest.StoreKeyArgs(c.t, filepath.Dir(c.dataDir), "pension", true)...),
		Log: filepath.Join(filepath.Dir(c.dataDir), fmt.Sprintf("pension-%d.log", c.logs)),
	})
	c.proc.WaitServing(c.t, c.grpcAddr)
}

// kill sends SIGKILL; the stream's reader sees the connection drop.
func (c *pensionChild) kill() { _ = c.proc.Signal(syscall.SIGKILL) }

// stop ends the child with SIGTERM and wants a clean exit.
func (c *pensionChild) stop() { c.proc.Stop(c.t) }

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
// the others.
func checkAcknowledged[Req, Resp, In any](t *testing.T, c crashImport[Req, Resp, In], client pb.PensionServiceClient, states []*registryv1.RetireeState, acked int64, rng *rand.Rand) {
	t.Helper()
	if acked == 0 {
		return
	}
	indexes := []int64{acked, 1}
	for range 100 {
		indexes = append(indexes, 1+rng.Int64N(acked))
	}
	for _, i := range indexes {
		c.stored(t, client, states, i)
	}
}

// streamFrom sends the batch from after acked, recording acknowledgements
// in acked; once they pass killAt (when positive) it calls kill once. It
// returns the summary when the stream completes.
func streamFrom[Req, Resp, In any](ctx context.Context, c crashImport[Req, Resp, In], client pb.PensionServiceClient, from int64, acked *atomic.Int64, killAt int64, kill func()) (summary *pb.ImportSummary, killed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.framing.open(ctx, client)
	if err != nil {
		return nil, false, err
	}
	// The kill runs beside the stream and may land after the summary; the
	// caller learns of it only once it has happened.
	var kills sync.WaitGroup
	defer kills.Wait()
	go func() {
		if stream.Send(c.framing.header(&pb.ImportHeader{BatchId: crashBatch, FormatVersion: 1, ExpectedRecords: crashRecords})) != nil {
			return
		}
		for i := from + 1; i <= crashRecords; i++ {
			if stream.Send(c.framing.record(c.record(i))) != nil {
				return
			}
		}
		_ = stream.CloseSend()
	}()
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil, killed, errors.New("stream ended without a summary")
		}
		if err != nil {
			return nil, killed, err
		}
		ack, summary := c.framing.answer(resp)
		if summary != nil {
			return summary, killed, nil
		}
		if got := ack.GetDurableThroughIndex(); got > acked.Load() {
			acked.Store(got)
		}
		if len(ack.GetRejections()) > 0 {
			return nil, killed, fmt.Errorf("rejections: %v", ack.GetRejections())
		}
		if killAt > 0 && !killed && acked.Load() >= killAt {
			killed = true
			kills.Go(kill)
		}
	}
}

// verifyCrashFile opens the stopped child's file: it must pass tx.Check,
// hold every record once, and the batch's progress must count each once.
func verifyCrashFile[Req, Resp, In any](t *testing.T, c crashImport[Req, Resp, In], path string, states []*registryv1.RetireeState) {
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
		c.verify(t, tx, states)
		var batch pb.ImportSummary
		if err := proto.Unmarshal(tx.Bucket(bucketBatches).Get(batchKey(c.rpc, crashBatch)), &batch); err != nil {
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

// crashPayment is the payment record with the given index: the retirees
// paid month after month.
func crashPayment(index int64) *pb.PaymentRecord {
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

// crashPaymentStored checks that the payment record index is stored, as
// its first version.
func crashPaymentStored(t *testing.T, client pb.PensionServiceClient, _ []*registryv1.RetireeState, index int64) {
	t.Helper()
	r := crashPayment(index)
	resp, err := client.QueryPayments(t.Context(), &pb.QueryPaymentsRequest{IdNumber: r.IdNumber, FromMonth: r.Month, ToMonth: r.Month})
	if err != nil {
		t.Fatalf("query acknowledged record %d: %v", index, err)
	}
	if len(resp.Payments) != 1 || resp.Payments[0].BasicFen != r.BasicFen || resp.Payments[0].Version != 1 {
		t.Fatalf("acknowledged record %d after restart: %v", index, resp.Payments)
	}
}

// verifyCrashPayments wants every payment record stored once, as its
// first version.
func verifyCrashPayments(t *testing.T, tx *bolt.Tx, states []*registryv1.RetireeState) {
	t.Helper()
	payments := tx.Bucket(bucketPayments)
	if n := payments.Stats().KeyN; n != crashRecords {
		t.Errorf("%d payments stored, want %d", n, crashRecords)
	}
	if n := tx.Bucket(bucketPaymentVersions).Stats().KeyN; n != 0 {
		t.Errorf("%d superseded versions: a record was stored twice with different content", n)
	}
	// The child's data key file is beside its data directory (see
	// pensionChild.start).
	ring, err := datakey.LoadFile(filepath.Join(filepath.Dir(filepath.Dir(tx.DB().Path())), "data.key"))
	if err != nil {
		t.Fatal(err)
	}
	var p pb.Payment
	for i := int64(1); i <= crashRecords; i++ {
		r := crashPayment(i)
		m, _ := parseMonth(r.Month)
		n := int((i - 1) % crashRetirees)
		key := paymentKey(nil, states[n].Id, m, r.PaidOn, pb.PaymentKind_REGULAR)
		v := payments.Get(key)
		if v == nil {
			t.Errorf("record %d is missing", i)
			continue
		}
		plain, err := servicedb.UnsealWith(ring, bucketPayments, key, v)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if err := proto.Unmarshal(plain, &p); err != nil {
			t.Fatal(err)
		}
		if p.BasicFen != r.BasicFen || p.Version != 1 || p.BatchId != crashBatch {
			t.Errorf("record %d stored as %v", i, &p)
		}
	}
}

// crashCertification is the certification record with the given index:
// the retirees certified by data matching day after day, each with the
// bureau's reference.
func crashCertification(index int64) *pb.CertificationRecord {
	n := int((index - 1) % crashRetirees)
	day := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int((index-1)/crashRetirees))
	return &pb.CertificationRecord{
		Index: index, IdNumber: servicetest.IDNumber(n).Digits(), CertifiedOn: formatDate(day),
		Channel: pb.CertificationMethod_DATA_MATCH, Reference: fmt.Sprintf("DM-%d", index),
	}
}

// crashCertificationStored checks that the certification record index is
// among its retiree's certifications, once.
func crashCertificationStored(t *testing.T, client pb.PensionServiceClient, states []*registryv1.RetireeState, index int64) {
	t.Helper()
	r := crashCertification(index)
	id := states[(index-1)%crashRetirees].Id
	resp, err := client.ListCertifications(t.Context(), &pb.ListCertificationsRequest{RetireeId: id, PageSize: 100})
	if err != nil {
		t.Fatalf("list certifications of acknowledged record %d: %v", index, err)
	}
	found := 0
	for _, c := range resp.Certifications {
		if c.CertifiedOn == r.CertifiedOn && c.Method == r.Channel {
			found++
			if c.Reference != r.Reference || c.BatchId != crashBatch {
				t.Errorf("acknowledged record %d stored as %v", index, c)
			}
		}
	}
	if found != 1 {
		t.Fatalf("acknowledged record %d stored %d times after restart", index, found)
	}
}

// verifyCrashCertifications wants every certification record stored once,
// and the due-date index to hold each retiree once.
func verifyCrashCertifications(t *testing.T, tx *bolt.Tx, states []*registryv1.RetireeState) {
	t.Helper()
	if n := tx.Bucket(bucketCertifications).Stats().KeyN; n != crashRecords {
		t.Errorf("%d certifications stored, want %d", n, crashRecords)
	}
	seen := make(map[string]int, crashRecords)
	var c pb.Certification
	err := tx.Bucket(bucketCertifications).ForEach(func(_, v []byte) error {
		if err := proto.Unmarshal(v, &c); err != nil {
			return err
		}
		seen[string(boltstore.Key(c.RetireeId, c.CertifiedOn, c.Method.String(), c.Reference))]++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(1); i <= crashRecords; i++ {
		r := crashCertification(i)
		id := states[(i-1)%crashRetirees].Id
		if got := seen[string(boltstore.Key(id, r.CertifiedOn, r.Channel.String(), r.Reference))]; got != 1 {
			t.Errorf("record %d stored %d times", i, got)
		}
	}
	if n := tx.Bucket(bucketDue).Stats().KeyN; n != crashRetirees {
		t.Errorf("the due-date index holds %d entries, want one for each of the %d retirees", n, crashRetirees)
	}
}
