package handover

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/socmgmt/socmgmt/internal/authn"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/handover/v1"
)

// TestOutboxKilledAfterCommit kills the handover process (SIGKILL) right
// after a completion committed and before anything was delivered (the
// outbox held), then starts it again without the hold: every command is
// delivered exactly once.
func TestOutboxKilledAfterCommit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the handover program")
	}
	bin := servicetest.Build(t, "github.com/socmgmt/socmgmt/services/handover/cmd/handover")
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	w := newBackends(t, servicetest.KeysOf(priv))

	addrs := servicetest.FreeAddrs(t, 2)
	grpcAddr, adminAddr := addrs[0], addrs[1]
	handover := servicetest.Program{
		Name: "handover", Path: bin, Log: filepath.Join(dir, "handover.log"),
		Args: []string{
			"--grpc-addr", grpcAddr, "--admin-addr", adminAddr, "--data-dir", filepath.Join(dir, "data"),
			"--token-key", keyFile, "--registry-addr", w.reg.Addr(), "--activity-addr", w.act.Addr(),
			"--log-format", "console", "--log-level", "warn",
			"--outbox-min-backoff", "20ms", "--outbox-max-backoff", "200ms",
		},
	}
	held := handover
	held.Args = append(slices.Clone(handover.Args), "--outbox-hold")
	first := servicetest.Start(t, held)
	first.WaitServing(t, grpcAddr)
	conn, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	w.client = pb.NewHandoverServiceClient(conn)

	h := w.ready(6)
	done, err := w.client.CompleteHandover(w.as(clerkAP), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		t.Fatalf("complete: %v\n%s", err, first.Tail())
	}
	if done.Handover.Delivery.GetState() != pb.Delivery_PENDING || done.Handover.Delivery.Commands != 2 {
		t.Fatalf("after complete: %v", done.Handover.Delivery)
	}
	// The completion's commit counted its commands before it answered.
	if b := scrape(t, adminAddr, "socmgmt_handover_outbox_backlog"); b != "2" {
		t.Errorf("backlog before the kill = %s, want 2", b)
	}
	first.Kill()

	// Nothing went out before the kill.
	if n := len(w.assignedEntries(h.RetireeIds)); n != 0 {
		t.Fatalf("%d retirees assigned before the restart", n)
	}
	if vs, _ := w.act.fake.snapshot(); len(vs) != 0 {
		t.Fatalf("venues before the restart: %v", vs)
	}

	second := servicetest.Start(t, handover)
	second.WaitServing(t, grpcAddr)
	got := w.waitDelivered(h.Id)
	w.wantHandedOver(h.RetireeIds)
	vs, _ := w.act.fake.snapshot()
	if len(vs) != 1 || got.Premises[0].VenueId != vs[0].Id {
		t.Errorf("venues %v, premises venue %q", vs, got.Premises[0].VenueId)
	}
	if got.Delivery.Attempts != 2 {
		t.Errorf("attempts = %d, want one per command", got.Delivery.Attempts)
	}
	waitfor.NoError(t, "the backlog metric to fall to 0", func(context.Context) error {
		if b := scrape(t, adminAddr, "socmgmt_handover_outbox_backlog"); b != "0" {
			return fmt.Errorf("backlog %s", b)
		}
		return nil
	})

	// A graceful stop is clean.
	second.Stop(t)
}

// scrape returns the value of an unlabelled metric on the admin port.
func scrape(t *testing.T, adminAddr, name string) string {
	t.Helper()
	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return v
		}
	}
	return "(absent)"
}
