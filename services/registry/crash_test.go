package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// The roster crash test's bounds: crashKills kills, and the batch's id.
const (
	crashKills = 4
	crashBatch = "crash-roster"
)

// crashRecords is how many records the roster crash test streams:
// REGISTRY_CRASH_RECORDS, or 200,000 (the size).
func crashRecords(t *testing.T) int64 {
	t.Helper()
	v := os.Getenv("REGISTRY_CRASH_RECORDS")
	if v == "" {
		return 200_000
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1000 {
		t.Fatalf("REGISTRY_CRASH_RECORDS=%q: want a count of at least 1000", v)
	}
	return n
}

// crashRetiree is the record with the given index: the same every time
// it is sent, so that a re-sent one is a duplicate.
func crashRetiree(index int64) *pb.RetireeRecord {
	n := int(index - 1)
	communities := []string{communityA, communityB, communityC}
	r := &pb.Retiree{
		IdNumber:       servicetest.IDNumber(n).Digits(),
		Name:           fmt.Sprintf("退休人员%d", n),
		CommunityId:    communities[n%len(communities)],
		ManagementMode: pb.ManagementMode_COMMUNITY,
		RetirementDate: "2010-01-01",
	}
	return &pb.RetireeRecord{Index: index, Retiree: r}
}

// TestImportRetireesSurvivesSIGKILL runs the registry binary as a child
// process, streams a roster into it and kills it with SIGKILL at random
// points of the stream, several times. After each restart every
// acknowledged record must be there; the client resumes after its last
// acknowledged index, and at the end the file must pass bbolt's
// consistency check and hold every retiree exactly once, created once.
func TestImportRetireesSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the registry binary: skipped under -short")
	}
	t.Parallel()
	total := crashRecords(t)
	child, client := startRegistryChild(t)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 11))
	var acked atomic.Int64
	var summary *pb.RetireeImportSummary
	for attempt := 0; summary == nil; attempt++ {
		if attempt > crashKills+3 {
			t.Fatalf("no summary after %d attempts", attempt)
		}
		child.start()
		if attempt == 0 {
			createCrashRefs(t, client)
		}
		checkRosterAcknowledged(t, client, acked.Load(), rng)
		from := acked.Load()
		killAt := int64(0)
		if attempt < crashKills {
			killAt = from + 1 + rng.Int64N(max(1, min(total-from-1, total*3/10)))
		}
		// A random pause between the acknowledgement and the kill, so
		// that the kill lands anywhere in the stream's work.
		pause := time.Duration(rng.IntN(20)) * time.Millisecond
		var err error
		var killed bool
		summary, killed, err = streamRoster(t.Context(), client, total, from, &acked, killAt, func() {
			time.Sleep(pause)
			child.kill()
		})
		t.Logf("attempt %d: resumed after %d, kill planned after ack %d, now acknowledged through %d (%v)", attempt, from, killAt, acked.Load(), err)
		if summary == nil && killAt == 0 {
			t.Fatalf("stream without a kill failed: %v", err)
		}
		if killed {
			waitfor.Receive(t, "the killed registry to exit", child.proc.Done())
			if summary != nil {
				// The kill came after the summary: the file must open
				// all the same.
				child.start()
			}
		}
	}
	if summary.LastIndex != total || summary.Rejected != 0 {
		t.Errorf("final summary %v: want last index %d and no rejections", summary, total)
	}
	child.stop()
	verifyRosterFile(t, filepath.Join(child.dataDir, "registry.db"), child.idKeyFile, total)
}

// registryChild is the registry program run as a child process,
// restarted on the same address and data directory.
type registryChild struct {
	t                                *testing.T
	bin, dataDir, keyFile, idKeyFile string
	grpcAddr                         string
	proc                             *servicetest.Process
	logs                             int
}

// startRegistryChild prepares the registry child and an admin's client of
// it; the child is not started yet.
func startRegistryChild(t *testing.T) (*registryChild, pb.RegistryServiceClient) {
	t.Helper()
	dir := t.TempDir()
	bin := servicetest.Build(t, "github.com/socmgmt/socmgmt/services/registry/cmd/registry")
	keyFile := filepath.Join(dir, "signing.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	idKeyFile := filepath.Join(dir, "id.key")
	if _, _, err := idnumber.LoadOrCreateKeyFile(idKeyFile); err != nil {
		t.Fatal(err)
	}
	child := &registryChild{t: t, bin: bin, dataDir: filepath.Join(dir, "data"), keyFile: keyFile, idKeyFile: idKeyFile, grpcAddr: servicetest.FreeAddrs(t, 1)[0]}
	keys := servicetest.KeysOf(priv)
	conn, err := grpc.NewClient(child.grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithPerRPCCredentials(authn.BearerCredentials(keys.Token(t, adminP))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return child, pb.NewRegistryServiceClient(conn)
}

// start starts the program and waits until it serves.
func (c *registryChild) start() {
	c.t.Helper()
	c.logs++
	c.proc = servicetest.Start(c.t, servicetest.Program{
		Name: "registry", Path: c.bin,
		Args: append([]string{
			"--grpc-addr", c.grpcAddr, "--admin-addr", "", "--data-dir", c.dataDir,
			"--token-key", c.keyFile, "--id-key", c.idKeyFile,
			"--log-format", "json", "--log-level", "warn",
		}, servicetest.StoreKeyArgs(c.t, filepath.Dir(c.dataDir), "registry", true)...),
		Log: filepath.Join(filepath.Dir(c.dataDir), fmt.Sprintf("registry-%d.log", c.logs)),
	})
	c.proc.WaitServing(c.t, c.grpcAddr)
}

// kill sends SIGKILL; the stream's reader sees the connection drop.
func (c *registryChild) kill() { _ = c.proc.Signal(syscall.SIGKILL) }

// stop ends the child with SIGTERM and wants a clean exit.
func (c *registryChild) stop() { c.proc.Stop(c.t) }

// createCrashRefs creates the fixture communities and enterprises
// through the API.
func createCrashRefs(t *testing.T, client pb.RegistryServiceClient) {
	t.Helper()
	for _, c := range servicetest.Communities() {
		if _, err := client.CreateCommunity(t.Context(), &pb.CreateCommunityRequest{Community: c}); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range servicetest.Enterprises() {
		if _, err := client.CreateEnterprise(t.Context(), &pb.CreateEnterpriseRequest{Enterprise: e}); err != nil {
			t.Fatal(err)
		}
	}
}

// checkRosterAcknowledged looks up the last acknowledged retiree and a
// sample of the others through the API: each is there as it was sent.
func checkRosterAcknowledged(t *testing.T, client pb.RegistryServiceClient, acked int64, rng *rand.Rand) {
	t.Helper()
	if acked == 0 {
		return
	}
	indexes := []int64{acked, 1}
	for range 50 {
		indexes = append(indexes, 1+rng.Int64N(acked))
	}
	for _, i := range indexes {
		want := crashRetiree(i).Retiree
		resp, err := client.LookupRetiree(t.Context(), &pb.LookupRetireeRequest{IdNumber: want.IdNumber})
		if err != nil {
			t.Fatalf("look up acknowledged record %d: %v", i, err)
		}
		if got := resp.Retiree; got.Name != want.Name || got.CommunityId != want.CommunityId {
			t.Fatalf("acknowledged record %d stored as %s in %s", i, got.Name, got.CommunityId)
		}
	}
}

// streamRoster sends the roster from after from, recording
// acknowledgements in acked; once they pass killAt (when positive) it
// calls kill once, and reports that it did once kill has returned. It
// returns the summary when the stream completes.
func streamRoster(ctx context.Context, client pb.RegistryServiceClient, total, from int64, acked *atomic.Int64, killAt int64, kill func()) (sum *pb.RetireeImportSummary, killed bool, err error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	stream, err := client.ImportRetirees(ctx)
	if err != nil {
		return nil, false, err
	}
	go func() {
		h := &pb.RetireeImportHeader{BatchId: crashBatch, FormatVersion: 1, ExpectedRecords: total}
		if stream.Send(&pb.ImportRetireesRequest{Message: &pb.ImportRetireesRequest_Header{Header: h}}) != nil {
			return
		}
		for i := from + 1; i <= total; i++ {
			if stream.Send(&pb.ImportRetireesRequest{Message: &pb.ImportRetireesRequest_Record{Record: crashRetiree(i)}}) != nil {
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
		if s := resp.GetSummary(); s != nil {
			return s, killed, nil
		}
		ack := resp.GetAck()
		if got := ack.GetDurableThroughIndex(); got > acked.Load() {
			acked.Store(got)
		}
		if len(ack.GetRejections()) > 0 {
			return nil, killed, fmt.Errorf("rejections: %v", ack.GetRejections())
		}
		if killAt > 0 && !killed && acked.Load() >= killAt {
			killed = true
			wg.Go(kill)
		}
	}
}

// verifyRosterFile opens the stopped child's file: it must pass
// tx.Check; every record's ID number must be on file once, each under its
// own retiree; the change log must hold one creation per retiree; and the
// batch's progress must count each record accepted once.
func verifyRosterFile(t *testing.T, path, idKeyFile string, total int64) {
	t.Helper()
	idKey, _, err := idnumber.LoadOrCreateKeyFile(idKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	keyer, err := idnumber.NewKeyer(idKey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("tx.Check: %v", err)
		}
		ids := map[string]bool{}
		byKey := tx.Bucket(bucketRetireeByIDKey)
		for i := int64(1); i <= total; i++ {
			id := byKey.Get(keyer.Key(servicetest.IDNumber(int(i - 1))))
			switch {
			case id == nil:
				t.Fatalf("record %d is not on file", i)
			case ids[string(id)]:
				t.Fatalf("record %d shares retiree %s with another", i, id)
			case tx.Bucket(bucketRetirees).Get(id) == nil:
				t.Fatalf("record %d names retiree %s, who is not stored", i, id)
			}
			ids[string(id)] = true
		}
		counts := map[string]int{}
		for _, b := range [][]byte{bucketRetireeByIDKey, bucketRetirees, bucketChanges} {
			counts[string(b)] = tx.Bucket(b).Stats().KeyN
		}
		for name, n := range counts {
			if int64(n) != total {
				t.Errorf("bucket %s holds %d entries, want %d", name, n, total)
			}
		}
		var batch pb.RetireeImportSummary
		if err := proto.Unmarshal(tx.Bucket(bucketImportBatches).Get([]byte(crashBatch)), &batch); err != nil {
			return err
		}
		if batch.LastIndex != total || batch.Accepted != total || batch.Corrections != 0 || batch.Rejected != 0 {
			t.Errorf("batch progress %v: want last index and accepted %d, nothing else", &batch, total)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
