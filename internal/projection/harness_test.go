package projection_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/socmgmt/socmgmt/internal/boltstore"
	"github.com/socmgmt/socmgmt/internal/idnumber"
	"github.com/socmgmt/socmgmt/internal/projection"
	"github.com/socmgmt/socmgmt/internal/servicetest"
	"github.com/socmgmt/socmgmt/internal/waitfor"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
	"github.com/socmgmt/socmgmt/services/registry"
	"github.com/socmgmt/socmgmt/services/registry/registrytest"
)

// Fixture communities and enterprise.
const (
	communityA  = servicetest.CommunityA
	communityB  = servicetest.CommunityB
	communityC  = servicetest.CommunityC
	enterpriseX = servicetest.EnterpriseX
)

var allCommunities = []string{communityA, communityB, communityC}

var testActor = registry.Actor{Subject: "test", Role: "admin"}

func allowAll(*registryv1.Retiree) error { return nil }

// testRegistry is a real registry: a store on a bbolt file served by the
// grpcserver bootstrap with the authn interceptors on a fixed loopback
// address, so that it can be stopped and started again where its clients
// expect it.
type testRegistry struct {
	*registrytest.Registry
	t    *testing.T
	keys servicetest.Keys
	// seq numbers the ID numbers the fixtures build.
	seq int
}

// newTestRegistry starts a registry with the fixture communities and
// enterprises; it stops at the end of the test.
func newTestRegistry(t *testing.T, retention uint64) *testRegistry {
	t.Helper()
	keys := servicetest.NewKeys(t)
	return &testRegistry{Registry: registrytest.Start(t, registrytest.Options{Keys: keys, Retention: retention}), t: t, keys: keys}
}

// dial returns a client of the registry as a service presents itself.
func (r *testRegistry) dial() registryv1.RegistryServiceClient {
	r.t.Helper()
	return registryv1.NewRegistryServiceClient(r.Dial(grpc.WithPerRPCCredentials(r.keys.ServiceCredentials("test"))))
}

// head returns the registry's head and oldest kept revisions.
func (r *testRegistry) head() (head, oldest uint64) {
	r.t.Helper()
	head, oldest, err := r.Store().Head()
	if err != nil {
		r.t.Fatal(err)
	}
	return head, oldest
}

// nextID returns an ID number no retiree of this registry has yet.
func (r *testRegistry) nextID() idnumber.ID {
	r.t.Helper()
	n := r.seq
	r.seq++
	return servicetest.IDNumber(n)
}

// newRetiree returns a valid retiree of community to create with id.
func newRetiree(id idnumber.ID, community string) *registryv1.Retiree {
	sex := registryv1.Sex_MALE
	if id.Sex() == idnumber.SexFemale {
		sex = registryv1.Sex_FEMALE
	}
	return &registryv1.Retiree{
		IdNumber:             id.Digits(),
		Name:                 "退休人员",
		Sex:                  sex,
		BirthDate:            id.BirthDate().Format(time.DateOnly),
		CommunityId:          community,
		EnterpriseCreditCode: enterpriseX,
		ManagementMode:       registryv1.ManagementMode_COMMUNITY,
		Phone:                "13812345678",
		RetirementDate:       "2010-01-01",
	}
}

// create stores a new retiree of community and returns it with its
// revision.
func (r *testRegistry) create(community string) (*registryv1.Retiree, uint64) {
	r.t.Helper()
	id := r.nextID()
	out, err := r.Store().CreateRetiree(newRetiree(id, community), id, testActor)
	if err != nil {
		r.t.Fatal(err)
	}
	return out, revOf(r.t, out)
}

func (r *testRegistry) transfer(id, to string) uint64 {
	r.t.Helper()
	// A direct move, as admin's: the projection follows the change, not
	// the proposal before it.
	out, _, err := r.Store().TransferRetiree(registry.TransferRequest{RetireeID: id, To: to, Reason: "moved house", Direct: true}, testActor, allowAll)
	if err != nil {
		r.t.Fatal(err)
	}
	return revOf(r.t, out)
}

// reverseDeath reverses the verified death of retiree id, which is
// LIVING again.
func (r *testRegistry) reverseDeath(id string) uint64 {
	r.t.Helper()
	reports, _, err := r.Store().ListDeathReports(registry.DeathReportFilter{RetireeID: id}, 10, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, d := range reports {
		if d.State != registryv1.DeathReportState_VERIFIED {
			continue
		}
		_, out, err := r.Store().DecideDeathReport(d.Id, registry.ReverseDeath, "误报", testActor, func(*registryv1.DeathReport) error { return nil })
		if err != nil {
			r.t.Fatal(err)
		}
		return revOf(r.t, out)
	}
	r.t.Fatalf("retiree %s has no verified death", id)
	return 0
}

func (r *testRegistry) recordDeath(id, date string) uint64 {
	r.t.Helper()
	out, _, err := r.Store().RecordDeath(id, date, "", registryv1.DeathReportSource_BUREAU_MATCH, testActor, allowAll)
	if err != nil {
		r.t.Fatal(err)
	}
	return revOf(r.t, out)
}

// idKey is the ID-number key registry files a retiree under.
func (r *testRegistry) idKey(ret *registryv1.Retiree) []byte {
	r.t.Helper()
	id, err := idnumber.Parse(ret.IdNumber)
	if err != nil {
		r.t.Fatal(err)
	}
	return r.Keyer().Key(id)
}

// revOf reads the revision a change gave a retiree from its etag ("r<rev>").
func revOf(t *testing.T, r *registryv1.Retiree) uint64 {
	t.Helper()
	var rev uint64
	if _, err := fmt.Sscanf(r.Etag, "r%d", &rev); err != nil {
		t.Fatalf("etag %q: %v", r.Etag, err)
	}
	return rev
}

// states reads every retiree's state from the registry through a fresh
// WatchRetirees snapshot: what a correct projection must hold.
func states(t *testing.T, client registryv1.RegistryServiceClient) (map[string]*registryv1.RetireeState, uint64) {
	t.Helper()
	ctx, cancel := waitfor.Context(t)
	defer cancel()
	stream, err := client.WatchRetirees(ctx, &registryv1.WatchRetireesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*registryv1.RetireeState)
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("registry snapshot: %v", err)
		}
		switch m.Kind {
		case registryv1.ChangeKind_SNAPSHOT:
			out[m.Retiree.Id] = m.Retiree
		case registryv1.ChangeKind_SNAPSHOT_END:
			return out, uint64(m.Revision)
		default:
			t.Fatalf("snapshot: unexpected %v", m.Kind)
		}
	}
}

// checkMatches compares everything the projection in db answers with
// want: every retiree by id and by ID-number key, the count, and the
// members of every community.
func checkMatches(t *testing.T, db *bolt.DB, want map[string]*registryv1.RetireeState) {
	t.Helper()
	err := db.View(func(tx *bolt.Tx) error {
		if got := projection.Count(tx); got != len(want) {
			t.Errorf("Count = %d, want %d", got, len(want))
		}
		for id, w := range want {
			got, err := projection.Get(tx, id)
			if err != nil {
				t.Errorf("Get(%s): %v", id, err)
				continue
			}
			if diff := cmp.Diff(w, got, protocmp.Transform()); diff != "" {
				t.Errorf("Get(%s) mismatch (-registry +projection):\n%s", id, diff)
			}
			byKey, err := projection.LookupKey(tx, w.IdNumberKey)
			if err != nil {
				t.Errorf("LookupKey(key of %s): %v", id, err)
			} else if byKey.Id != id {
				t.Errorf("LookupKey(key of %s) = %s", id, byKey.Id)
			}
		}
		for _, c := range allCommunities {
			var wantIDs []string
			for id, w := range want {
				if w.CommunityId == c {
					wantIDs = append(wantIDs, id)
				}
			}
			slices.Sort(wantIDs)
			if diff := cmp.Diff(wantIDs, scanIDs(t, tx, c, "")); diff != "" {
				t.Errorf("PageCommunity(%s) mismatch (-registry +projection):\n%s", c, diff)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// scanIDs lists the retiree ids PageCommunity yields after after.
func scanIDs(t *testing.T, tx *bolt.Tx, community, after string) []string {
	t.Helper()
	var ids []string
	_, err := projection.PageCommunity(tx, community, after, boltstore.Scan{Size: boltstore.MaxPageSize}, func(st *registryv1.RetireeState) (bool, error) {
		if st.CommunityId != community {
			t.Errorf("PageCommunity(%s) yielded %s of community %s", community, st.Id, st.CommunityId)
		}
		ids = append(ids, st.Id)
		return true, nil
	})
	if err != nil {
		t.Fatalf("PageCommunity(%s): %v", community, err)
	}
	return ids
}

// get reads one retiree from the projection in its own transaction.
func get(t *testing.T, db *bolt.DB, id string) (*registryv1.RetireeState, error) {
	t.Helper()
	var st *registryv1.RetireeState
	err := db.View(func(tx *bolt.Tx) error {
		var err error
		st, err = projection.Get(tx, id)
		return err
	})
	return st, err
}

// runningProjection is a projection over its own bbolt file, following
// the registry in the background like a service's.
type runningProjection struct {
	t       *testing.T
	path    string
	db      *bolt.DB
	p       *projection.Projection
	cancel  context.CancelFunc
	done    chan error
	running bool
}

// followedThenStopped makes a projection file that followed registry up
// to rev and was closed, as a service leaves it at shutdown, and returns
// its path.
func followedThenStopped(t *testing.T, client registryv1.RegistryServiceClient, o projection.Options, rev uint64) string {
	t.Helper()
	path := projectionPath(t)
	rp := startProjection(t, path, client, o)
	rp.waitFor(rev)
	rp.stop()
	return path
}

// startProjection opens (or reopens) the projection's database at path
// and runs it until stopped or the test ends.
func startProjection(t *testing.T, path string, client registryv1.RegistryServiceClient, o projection.Options) *runningProjection {
	t.Helper()
	rp := openProjection(t, path, client, o)
	rp.run()
	return rp
}

// openProjection opens the projection's database at path and makes the
// Projection, without running it yet.
func openProjection(t *testing.T, path string, client registryv1.RegistryServiceClient, o projection.Options) *runningProjection {
	t.Helper()
	db, err := boltstore.Open(path, boltstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if o.Logger == nil {
		o.Logger = zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	}
	if o.MinBackoff == 0 {
		o.MinBackoff = 10 * time.Millisecond
		o.MaxBackoff = 100 * time.Millisecond
	}
	p, err := projection.New(db, client, o)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	rp := &runningProjection{t: t, path: path, db: db, p: p, cancel: func() {}, done: make(chan error, 1)}
	t.Cleanup(rp.stop)
	return rp
}

// run starts following the registry in the background.
func (rp *runningProjection) run() {
	ctx, cancel := context.WithCancel(context.Background())
	rp.cancel = cancel
	rp.running = true
	go func() { rp.done <- rp.p.Run(ctx) }()
}

// stop ends Run, which must return nil, and closes the database, as a
// service does on shutdown. Stopping twice does nothing.
func (rp *runningProjection) stop() {
	rp.t.Helper()
	if rp.db == nil {
		return
	}
	rp.cancel()
	if rp.running {
		if err := waitfor.Receive(rp.t, "Run to return after its context was cancelled", rp.done); err != nil {
			rp.t.Errorf("Run returned %v after cancel, want nil", err)
		}
	}
	if err := rp.db.Close(); err != nil {
		rp.t.Errorf("close projection db: %v", err)
	}
	rp.db = nil
}

// waitFor waits until the projection has applied rev.
// stopRegistry stops reg and waits until the projection notices that it
// is gone.
func (rp *runningProjection) stopRegistry(reg *testRegistry) {
	rp.t.Helper()
	reg.Stop()
	eventually(rp.t, "the projection notices registry is gone", func() bool { return !rp.p.Connected() })
}

func (rp *runningProjection) waitFor(rev uint64) {
	rp.t.Helper()
	ctx, cancel := waitfor.Context(rp.t)
	defer cancel()
	if err := rp.p.WaitFor(ctx, rev); err != nil {
		rp.t.Fatalf("WaitFor(%d): %v (cursor %d)", rev, err, rp.p.Cursor())
	}
}

// caughtUp waits for the projection to apply rev and checks that its
// cursor stands there, not past it.
func (rp *runningProjection) caughtUp(t *testing.T, rev uint64) {
	t.Helper()
	rp.waitFor(rev)
	if got := rp.p.Cursor(); got != rev {
		t.Errorf("Cursor = %d, want %d", got, rev)
	}
}

// matchesRegistry checks that the projection holds exactly the retirees of
// registry's snapshot, as client reads it now.
func (rp *runningProjection) matchesRegistry(t *testing.T, client registryv1.RegistryServiceClient) {
	t.Helper()
	want, _ := states(t, client)
	checkMatches(t, rp.db, want)
}

// eventually waits until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	waitfor.True(t, what, cond)
}

// recordingClient remembers the since_revision of every WatchRetirees
// call, to tell a resumed stream from a new snapshot.
type recordingClient struct {
	registryv1.RegistryServiceClient

	mu     sync.Mutex
	sinces []int64
}

func (c *recordingClient) WatchRetirees(ctx context.Context, in *registryv1.WatchRetireesRequest, opts ...grpc.CallOption) (grpc.ServerStreamingClient[registryv1.WatchRetireesResponse], error) {
	c.mu.Lock()
	c.sinces = append(c.sinces, in.SinceRevision)
	c.mu.Unlock()
	return c.RegistryServiceClient.WatchRetirees(ctx, in, opts...)
}

func (c *recordingClient) calls() []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.sinces)
}

// errInjected is the failure tests make callbacks return.
var errInjected = errors.New("failure injected by the test")
