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

// killCase is a completion TestOutboxKilledAfterCommit kills the
// process after: the package made ready, who completes it, how many
// commands it queues, and the check of registry after the restart.
type killCase struct {
	name      string
	ready     func(w *world) *pb.Handover
	completer authn.Principal
	commands  int32
	handed    func(w *world, h *pb.Handover)
}

// TestOutboxKilledAfterCommit kills the handover process (SIGKILL) right
// after a completion committed and before anything was delivered (the
// outbox held), then starts it again without the hold: every command is
// delivered exactly once. It does so for a package addressed to one
// community and for an agreement allocated to three.
func TestOutboxKilledAfterCommit(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds and runs the handover program")
	}
	bin := servicetest.Build(t, "github.com/socmgmt/socmgmt/services/handover/cmd/handover")
	for _, tc := range []killCase{
		{"one community", func(w *world) *pb.Handover { return w.ready(6) }, clerkAP, 2, func(w *world, h *pb.Handover) {
			w.wantHandedOver(h.RetireeIds)
		}},
		{"agreement in three communities", func(w *world) *pb.Handover { return w.readyAgreement(2) }, streetAP, 4, func(w *world, h *pb.Handover) {
			w.wantHandedOverTo(communityA, h.RetireeIds[0:2])
			w.wantHandedOverTo(communityB, h.RetireeIds[2:4])
			w.wantHandedOverTo(communityD, h.RetireeIds[4:6])
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			killAfterCommit(t, bin, tc)
		})
	}
}

func killAfterCommit(t *testing.T, bin string, tc killCase) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "signing.key")
	priv, err := authn.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	w := newBackends(t, servicetest.KeysOf(priv), nil)

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

	h := tc.ready(w)
	done, err := w.client.CompleteHandover(w.as(tc.completer), &pb.CompleteHandoverRequest{Id: h.Id, Etag: h.Etag})
	if err != nil {
		t.Fatalf("complete: %v\n%s", err, first.Tail())
	}
	if done.Handover.Delivery.GetState() != pb.Delivery_PENDING || done.Handover.Delivery.Commands != tc.commands {
		t.Fatalf("after complete: %v", done.Handover.Delivery)
	}
	// The completion's commit counted its commands before it answered.
	if b, want := scrape(t, adminAddr, "socmgmt_handover_outbox_backlog"), fmt.Sprint(tc.commands); b != want {
		t.Errorf("backlog before the kill = %s, want %s", b, want)
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
	tc.handed(w, h)
	vs, _ := w.act.fake.snapshot()
	if len(vs) != 1 || got.Premises[0].VenueId != vs[0].Id {
		t.Errorf("venues %v, premises venue %q", vs, got.Premises[0].VenueId)
	}
	if got.Delivery.Attempts != tc.commands {
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
