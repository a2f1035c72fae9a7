package sms

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	pb "github.com/socmgmt/socmgmt/proto/socmgmt/casework/v1"
)

// killChildEnv names the directory a child sender works in; set, the test
// binary runs TestKillChild as the child.
const killChildEnv = "SMS_KILL_CHILD_DIR"

const killMessages = 200

// TestSenderKilled runs the sender over a FileGateway in a child process,
// kills it (SIGKILL) at random moments several times, then lets a last
// child finish. The guarantee: delivery to the gateway is at least once
// (a kill between the gateway's acceptance and the mark sends the message
// again, under the same key), and exactly once as the gateway sees it by
// key. So the calls log may hold a key twice, the gateway's file never:
// every message is in it exactly once, and every message ends SENT.
func TestSenderKilled(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs the sender in child processes")
	}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "casework.db")
	db := openDB(t, dbPath)
	// Real time and no quiet hours: the children send at once.
	o, err := NewOutbox(Options{Renderer: newRenderer(t), Quiet: QuietHours{Loc: shanghai}})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	for i := range killMessages {
		m := dueSoon(fmt.Sprintf("cert/r%d/2026-12", i), fmt.Sprintf("r%d", i))
		if _, err := enqueue(t, db, o, m); err != nil {
			t.Fatal(err)
		}
		keys[m.IdempotencyKey+"/RETIREE"] = true
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	seed := uint64(time.Now().UnixNano())
	t.Logf("kill delays seeded with %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	child := servicetest.Program{
		Name: "sender", Path: os.Args[0], Args: []string{"-test.run=^TestKillChild$", "-test.count=1"},
		Env: append(os.Environ(), killChildEnv+"="+dir), Log: filepath.Join(dir, "child.log"),
	}
	for i := range 6 {
		p := servicetest.Start(t, child)
		time.Sleep(time.Duration(30+rng.IntN(300)) * time.Millisecond) // a random moment to crash at
		p.Kill()
		t.Logf("kill %d: %d gateway calls, %d keys in the gateway's file", i+1, len(readCallLog(t, dir, "calls.log")), len(readCallLog(t, dir, "sms.jsonl")))
	}
	last := servicetest.Start(t, child)
	waitfor.Receive(t, "the last sender to finish", last.Done())
	if err := last.Err(); err != nil {
		t.Fatalf("last sender: %v\n%s", err, last.Tail())
	}

	wantEachKeyOnce(t, filepath.Join(dir, "sms.jsonl"), keys)
	calls := readCallLog(t, dir, "calls.log")
	t.Logf("%d gateway calls for %d messages: %d sent again after a kill between acceptance and the mark", len(calls), len(keys), len(calls)-len(keys))
	wantAllSent(t, dbPath, o)
}

// wantEachKeyOnce checks the gateway's file at path holds each of keys
// exactly once, and no other.
func wantEachKeyOnce(t *testing.T, path string, keys map[string]bool) {
	t.Helper()
	inFile := map[string]int{}
	for _, l := range readLines(t, path) {
		inFile[l.IdempotencyKey]++
		if l.Phone != phone {
			t.Errorf("%s sent to another number", l.IdempotencyKey)
		}
	}
	for k := range keys {
		if inFile[k] != 1 {
			t.Errorf("%s is %d times in the gateway's file, want once", k, inFile[k])
		}
	}
	if len(inFile) != len(keys) {
		t.Errorf("the gateway's file holds %d keys, want %d", len(inFile), len(keys))
	}
}

// wantAllSent checks every message in the file at path is SENT.
func wantAllSent(t *testing.T, path string, o *Outbox) {
	t.Helper()
	db := openDB(t, path)
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(BucketMessages).ForEach(func(k, _ []byte) error {
			seq, err := boltstore.ParseU64(k)
			if err != nil {
				return err
			}
			m, err := o.Get(tx, MessageID(seq))
			if err != nil {
				return err
			}
			if m.State != pb.DeliveryState_SENT || m.PhoneMasked != "138****5678" {
				t.Errorf("message %s: %v %q", m.Id, m.State, m.StateReason)
			}
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := tx(t, db, func(tx *bolt.Tx) int { return tx.Bucket(BucketDue).Stats().KeyN }); n != 0 {
		t.Errorf("%d messages left due", n)
	}
}

// onePhone gives every retiree the same number.
type onePhone struct{}

func (onePhone) Phone(context.Context, string, pb.Recipient) (string, error) { return phone, nil }

func tx[T any](t *testing.T, db *bolt.DB, fn func(*bolt.Tx) T) T {
	t.Helper()
	var out T
	if err := db.View(func(tx *bolt.Tx) error { out = fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// readCallLog returns the lines of a file in dir, none before it exists:
// the calls.log's are the keys of every gateway call the children made.
func readCallLog(t *testing.T, dir, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name))
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		out = append(out, s.Text())
	}
	return out
}

// loggingGateway notes each call's key before the gateway takes it, and
// then takes a moment, as a platform's answer does, widening the window
// between acceptance and the mark that a kill may fall in.
type loggingGateway struct {
	next  Gateway
	calls *os.File
}

func (g loggingGateway) Send(ctx context.Context, o Outgoing) error {
	if _, err := g.calls.WriteString(o.IdempotencyKey + "\n"); err != nil {
		return err
	}
	err := g.next.Send(ctx, o)
	time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond)
	return err
}

// TestKillChild is the child of TestSenderKilled: it sends everything
// due in the outbox of its directory and exits.
func TestKillChild(t *testing.T) {
	dir := os.Getenv(killChildEnv)
	if dir == "" {
		t.Skip("the child of TestSenderKilled")
	}
	db, err := bolt.Open(filepath.Join(dir, "casework.db"), 0o600, &bolt.Options{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	file, err := OpenFileGateway(filepath.Join(dir, "sms.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	calls, err := os.OpenFile(filepath.Join(dir, "calls.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer calls.Close()
	o, err := NewOutbox(Options{Renderer: newRenderer(t), Quiet: QuietHours{Loc: shanghai}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSender(db, o, SenderOptions{
		Phones: onePhone{}, Gateway: loggingGateway{next: file, calls: calls},
		MinBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	for {
		n, next, err := s.SendDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && next.IsZero() {
			return
		}
	}
}
