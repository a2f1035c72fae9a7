package casework

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap/zaptest"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/signalfeed"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
	feedv1 "github.com/socmgmt/socmgmt/proto/socmgmt/feed/v1"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// killReports is how many death reports the kill test files.
const killReports = 60

// TestFollowerKilled runs casework as a real process following a real
// registry into which death reports are being filed (and every third one
// verified), and a test producer served as pension into which anomalies
// are being written (every third one resolved), kills it (SIGKILL) at
// random moments several times while items are made, and starts it
// again. Once it has caught up with both: every report and anomaly has
// exactly one item, the resolved ones DONE at source and the others
// open; nothing was lost or made twice.
func TestFollowerKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the casework program")
	}
	bin := servicetest.Build(t, "github.com/socmgmt/socmgmt/services/casework/cmd/casework")
	dir := t.TempDir()
	keyFile, auditKey := filepath.Join(dir, "signing.key"), filepath.Join(dir, "audit.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := authn.GenerateKeyFile(auditKey); err != nil {
		t.Fatal(err)
	}
	keys := servicetest.KeysOf(priv)
	reg := registrytest.Start(t, registrytest.Options{Keys: keys})
	w := &registryWorld{keys: keys, reg: reg, rc: registryv1.NewRegistryServiceClient(reg.Conn()), env: &env{t: t}}
	ids := make([]string, killReports+1)
	for i := range ids {
		ids[i] = w.retiree(i+1, fmt.Sprintf("退休人员%d", i+1))
	}
	// A report open before casework first follows: its snapshot holds it,
	// so that the cursor is past 0 from then on and every later change,
	// resolved or not, is replayed to it. (A report filed and verified
	// before casework ever followed needs no item and gets none.)
	first := w.report(ids[killReports])
	ids = ids[:killReports]
	pension := newProducer(t)
	pension.emit(workSignal("anomaly/first", feedv1.SignalKind_ANOMALY_UNEXPLAINED, "", communityA))
	want := map[[2]string]pb.WorkState{
		{SourceRegistry, "death-report/" + first}: pb.WorkState_OPEN,
		{SourcePension, "anomaly/first"}:          pb.WorkState_OPEN,
	}

	addrs := servicetest.FreeAddrs(t, 2)
	grpcAddr, adminAddr := addrs[0], addrs[1]
	dataDir := filepath.Join(dir, "data")
	prog := servicetest.Program{
		Name: "casework", Path: bin, Log: filepath.Join(dir, "casework.log"),
		Args: []string{
			"--grpc-addr", grpcAddr, "--admin-addr", adminAddr, "--data-dir", dataDir,
			"--token-key", keyFile, "--audit-key", auditKey, "--registry-addr", reg.Addr(),
			"--pension-addr", pension.srv.Addr(), "--sms-file", filepath.Join(dir, "sms.jsonl"),
			"--log-format", "console", "--log-level", "warn",
		},
	}
	start := func() *servicetest.Process {
		p := servicetest.Start(t, prog)
		p.WaitServing(t, grpcAddr)
		return p
	}

	// The writer files the reports, verifying every third, while the
	// process is killed and started again.
	reports := make([]string, killReports)
	var wg sync.WaitGroup
	var filed atomic.Int32
	begin := make(chan struct{})
	go func() {
		<-begin
		defer wg.Done()
		for i, id := range ids {
			reports[i] = w.report(id)
			key := fmt.Sprintf("anomaly/%d", i)
			pension.emit(workSignal(key, feedv1.SignalKind_ANOMALY_UNEXPLAINED, "", communityB))
			filed.Add(1)
			if i%3 == 0 {
				if _, err := w.rc.VerifyDeathReport(keys.As(t, clerkP), &registryv1.VerifyDeathReportRequest{Id: reports[i]}); err != nil {
					t.Error(err)
					return
				}
			}
			if i%3 == 1 {
				pension.resolve(key, "已说明")
			}
		}
	}()
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 1)) //nolint:gosec // G404: test timing
	p := start()
	waitfor.NoError(t, "casework to apply the first snapshots", func(context.Context) error {
		for _, src := range []string{SourceRegistry, SourcePension} {
			if got := scrapeRevision(t, adminAddr, src); got != "1" {
				return fmt.Errorf("%s applied through %s", src, got)
			}
		}
		return nil
	})
	wg.Add(1)
	close(begin)
	for range 4 {
		time.Sleep(time.Duration(50+rnd.IntN(250)) * time.Millisecond)
		p.Kill()
		t.Logf("killed with %d of %d reports filed", filed.Load(), killReports)
		p = start()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	head, _, err := reg.Store().Signals().Head()
	if err != nil {
		t.Fatal(err)
	}
	heads := map[string]uint64{SourceRegistry: head, SourcePension: pension.head()}
	waitfor.NoError(t, "casework to catch up with the feeds", func(context.Context) error {
		for src, head := range heads {
			if got := scrapeRevision(t, adminAddr, src); got != fmt.Sprint(head) {
				return fmt.Errorf("%s applied through %s, at %d", src, got, head)
			}
		}
		return nil
	})
	p.Stop(t)
	for i, r := range reports {
		want[[2]string{SourceRegistry, "death-report/" + r}] = map[bool]pb.WorkState{true: pb.WorkState_DONE, false: pb.WorkState_OPEN}[i%3 == 0]
		want[[2]string{SourcePension, fmt.Sprintf("anomaly/%d", i)}] = map[bool]pb.WorkState{true: pb.WorkState_DONE, false: pb.WorkState_OPEN}[i%3 == 1]
	}
	checkItems(t, filepath.Join(dataDir, "casework.db"), want)
}

// scrapeRevision reads a source's follower's revision on the admin
// port.
func scrapeRevision(t *testing.T, adminAddr, source string) string {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		return "(unreachable)"
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	prefix := signalfeed.MetricRevision + `{source="` + source + `"} `
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, prefix); ok {
			return v
		}
	}
	return "(absent)"
}

// checkItems opens the stopped process's file and checks that each
// (source, key) of want has exactly one item, in the state want says, and
// that there are no others.
func checkItems(t *testing.T, path string, want map[[2]string]pb.WorkState) {
	t.Helper()
	s, err := OpenStore(path, nil, StoreOptions{Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	err = s.DB().View(func(tx *bolt.Tx) error {
		// The program's visit scheduler makes the care items of the
		// retirees too; the test counts the feeds' items.
		n := 0
		if err := tx.Bucket(bucketItems).ForEach(func(_, v []byte) error {
			it := new(pb.WorkItem)
			if err := proto.Unmarshal(v, it); err != nil {
				return err
			}
			if it.Source != careSource {
				n++
			}
			return nil
		}); err != nil {
			return err
		}
		if n != len(want) {
			t.Errorf("%d items for %d signals", n, len(want))
		}
		for sk, state := range want {
			id := tx.Bucket(bucketSources).Get(boltstore.Key(sk[0], sk[1]))
			if id == nil {
				t.Errorf("%s %s: no item", sk[0], sk[1])
				continue
			}
			it, err := getItem(tx, string(id))
			if err != nil {
				return err
			}
			if it.State != state {
				t.Errorf("%s %s: item %s %v, want %v", sk[0], sk[1], it.Id, it.State, state)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
