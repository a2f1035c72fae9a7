package servicetest

import (
	"context"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/socmgmt/socmgmt/internal/grpcserver"
	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

// FakeEpoch is the epoch of a FakeRegistry's change log, on every
// message it sends.
const FakeEpoch = "FAKEEPOCH"

// FakeRegistry serves registry's WatchRetirees from memory as registry
// does, for the services that project its retirees: since 0 gets a
// snapshot and its end at the head revision, then live changes; since > 0
// gets the changes after it. Every message carries FakeEpoch. It also
// answers GetCommunity for the fixture communities. Serve it with Serve,
// zero Keys and Register.
type FakeRegistry struct {
	registryv1.UnimplementedRegistryServiceServer

	mu sync.Mutex
	// stopping is closed when the server serving the fake stops.
	stopping <-chan struct{}

	states  map[string]*registryv1.RetireeState
	order   []string
	changes []*registryv1.WatchRetireesResponse
	head    int64
	// wake is closed and replaced at each change, for open streams.
	wake chan struct{}
	// sinces are the since_revision of every call.
	sinces []int64
}

// NewFakeRegistry holds the given retirees at revision 1.
func NewFakeRegistry(states ...*registryv1.RetireeState) *FakeRegistry {
	f := &FakeRegistry{states: map[string]*registryv1.RetireeState{}, head: 1, wake: make(chan struct{})}
	for _, st := range states {
		f.states[st.Id] = st
		f.order = append(f.order, st.Id)
	}
	return f
}

// Register serves the fake on srv and, as registry does, ends its streams
// with Unavailable when srv stops: Options.Register.
func (f *FakeRegistry) Register(srv *grpcserver.Server) {
	f.mu.Lock()
	f.stopping = srv.Stopping()
	f.mu.Unlock()
	registryv1.RegisterRegistryServiceServer(srv.GRPC(), f)
}

// GetCommunity answers for the fixture communities (see Communities) and
// NotFound for any other id, as registry does: the services that ask
// whether a community exists.
func (f *FakeRegistry) GetCommunity(_ context.Context, req *registryv1.GetCommunityRequest) (*registryv1.GetCommunityResponse, error) {
	for _, c := range Communities() {
		if c.Id == req.GetId() {
			return &registryv1.GetCommunityResponse{Community: c}, nil
		}
	}
	return nil, status.Error(codes.NotFound, "community not found")
}

// Change records a change of kind to a retiree and returns its revision.
func (f *FakeRegistry) Change(st *registryv1.RetireeState, kind registryv1.ChangeKind) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.head++
	if _, ok := f.states[st.Id]; !ok {
		f.order = append(f.order, st.Id)
	}
	st = proto.Clone(st).(*registryv1.RetireeState)
	f.states[st.Id] = st
	f.changes = append(f.changes, &registryv1.WatchRetireesResponse{Revision: f.head, Kind: kind, Retiree: st, Epoch: FakeEpoch})
	close(f.wake)
	f.wake = make(chan struct{})
	return f.head
}

// Head is the revision of the last change.
func (f *FakeRegistry) Head() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head
}

// State returns a copy of a retiree's current state.
func (f *FakeRegistry) State(id string) *registryv1.RetireeState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.states[id]).(*registryv1.RetireeState)
}

// Sinces returns the since_revision of every WatchRetirees call so far,
// to tell a resumed stream from a new snapshot.
func (f *FakeRegistry) Sinces() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.sinces...)
}

// WatchRetirees implements registryv1.RegistryServiceServer.
func (f *FakeRegistry) WatchRetirees(req *registryv1.WatchRetireesRequest, stream grpc.ServerStreamingServer[registryv1.WatchRetireesResponse]) error {
	out, since, stopping := f.begin(req.SinceRevision)
	for {
		for _, m := range out {
			if err := stream.Send(m); err != nil {
				return err
			}
		}
		var wake <-chan struct{}
		out, since, wake = f.after(since)
		if len(out) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-stopping:
			return status.Error(codes.Unavailable, "server is shutting down")
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// begin records a call from since and returns what it gets first: the
// snapshot when since is 0, the revision it is then at, and the channel
// closed when the server stops.
func (f *FakeRegistry) begin(since int64) ([]*registryv1.WatchRetireesResponse, int64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sinces = append(f.sinces, since)
	if since != 0 {
		return nil, since, f.stopping
	}
	var out []*registryv1.WatchRetireesResponse
	for _, id := range f.order {
		out = append(out, &registryv1.WatchRetireesResponse{Kind: registryv1.ChangeKind_SNAPSHOT, Retiree: f.states[id], Epoch: FakeEpoch})
	}
	out = append(out, &registryv1.WatchRetireesResponse{Kind: registryv1.ChangeKind_SNAPSHOT_END, Revision: f.head, Epoch: FakeEpoch})
	return out, f.head, f.stopping
}

// after returns the changes after since, the revision of the last of
// them, and the channel closed at the next change.
func (f *FakeRegistry) after(since int64) ([]*registryv1.WatchRetireesResponse, int64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*registryv1.WatchRetireesResponse
	for _, c := range f.changes {
		if c.Revision > since {
			out = append(out, c)
			since = c.Revision
		}
	}
	return out, since, f.wake
}
