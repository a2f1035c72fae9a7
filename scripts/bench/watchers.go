package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"

	registryv1 "github.com/socmgmt/socmgmt/proto/socmgmt/registry/v1"
)

const (
	// goalWatchersBytes is what 1,000 idle watchers may hold in all.
	goalWatchersBytes = 256 << 20
	// watchRetirees is how many retirees the registry holds, and so how
	// long each watcher's snapshot is, at most: the scenario measures
	// what a watcher holds when idle, not how fast a snapshot streams.
	watchRetirees = 2000
	// watchersOpening is how many watches open at a time.
	watchersOpening = 32
	// settlePoll is how often the scenario looks at registry's
	// goroutines while it waits for closed watches to end there.
	settlePoll = 100 * time.Millisecond
	// rssPoll is how often it looks at registry's resident memory while
	// it waits for freed memory to return to the system, which the
	// runtime does in steps.
	rssPoll = time.Second
	// settleTimeout bounds each such wait.
	settleTimeout = 30 * time.Second
)

// watchKind is how the watchers of one measurement consume their
// streams.
type watchKind struct {
	name string
	// stalled watchers read one message and then nothing: registry
	// sends until the stream's flow control stops it, and holds what
	// it could not send. The others read their snapshot to its end and
	// then wait for changes, of which there are none.
	stalled bool
}

var watchKinds = []watchKind{
	{name: "caught-up (snapshot read, then idle)"},
	{name: "stalled (one message read, then nothing)", stalled: true},
}

// watchersScenario opens cfg.Watchers WatchRetirees streams on a registry
// holding a few retirees, each on a connection of its own as a
// consumer's would be, once caught up and once stalled, and reports what
// they hold: registry's Go heap after a collection plus its goroutine
// stacks, over what it was before they opened, beside its resident
// memory, and what is left once they have closed. Registry runs with its
// watch cap raised to let them all in.
func watchersScenario(ctx context.Context, h *harness) ([]row, error) {
	n := h.cfg.Watchers
	reg, err := h.startRegistry(ctx, "--max-watchers", strconv.Itoa(n))
	if err != nil {
		return nil, err
	}
	defer h.release(reg.child)
	if err := loadWatchedRegistry(ctx, h, reg.grpcAddr); err != nil {
		return nil, err
	}
	var rows []row
	for _, kind := range watchKinds {
		got, err := h.measureWatchers(ctx, reg, kind, n)
		if err != nil {
			return rows, fmt.Errorf("%s watchers: %w", kind.name, err)
		}
		rows = append(rows, got...)
	}
	return rows, nil
}

// measureWatchers opens n watchers of kind, measures registry with them
// open and after they closed, and returns the rows.
func (h *harness) measureWatchers(ctx context.Context, reg *serviceProc, kind watchKind, n int) ([]row, error) {
	probe := memoryProbe{metrics: "http://" + reg.adminAddr + "/metrics", heap: "http://" + reg.adminAddr + "/debug/pprof/heap?gc=1", token: h.token}
	before, err := probe.collected(ctx)
	if err != nil {
		return nil, err
	}
	h.log.Printf("opening %s %s watches", formatCount(int64(n)), kind.name)
	w, err := h.openWatches(ctx, reg.grpcAddr, n, kind.stalled)
	if err != nil {
		return nil, err
	}
	peak, err := probe.read(ctx)
	if err != nil {
		w.close()
		return nil, err
	}
	open, err := probe.collected(ctx)
	w.close()
	if err != nil {
		return nil, err
	}
	after, err := probe.settled(ctx, before.goroutines)
	if err != nil {
		return nil, err
	}
	return watcherRows(kind, n, before, peak, open, after), nil
}

// loadWatchedRegistry loads the retirees the watchers' snapshots carry.
func loadWatchedRegistry(ctx context.Context, h *harness, addr string) error {
	conns, err := h.dial(addr, 1)
	if err != nil {
		return err
	}
	defer closeAll(conns)
	communities, enterprises, err := seedReferences(ctx, registryv1.NewRegistryServiceClient(conns[0]), seedCommunities)
	if err != nil {
		return err
	}
	_, _, err = loadRetirees(ctx, h, conns, min(h.cfg.Retirees, watchRetirees), communities, enterprises)
	return err
}

// watchers are open WatchRetirees streams and their connections.
type watchers struct {
	cancel context.CancelFunc
	conns  []*grpc.ClientConn
}

// openWatches opens n watches from revision 0, each on its own
// connection, and returns once every one has read its snapshot, or when
// stalled its first message.
func (h *harness) openWatches(ctx context.Context, addr string, n int, stalled bool) (*watchers, error) {
	wctx, cancel := context.WithCancel(ctx)
	w := &watchers{cancel: cancel}
	for range n {
		conns, err := h.dial(addr, 1)
		if err != nil {
			w.close()
			return nil, err
		}
		w.conns = append(w.conns, conns...)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, watchersOpening)
	for _, conn := range w.conns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := openWatch(wctx, conn, stalled); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	if err := errors.Join(all...); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

// openWatch opens a watch on conn and reads until its snapshot has
// ended, or when stalled its first message. The stream stays open until
// ctx ends.
func openWatch(ctx context.Context, conn *grpc.ClientConn, stalled bool) error {
	stream, err := registryv1.NewRegistryServiceClient(conn).WatchRetirees(ctx, &registryv1.WatchRetireesRequest{})
	if err != nil {
		return fmt.Errorf("open a watch: %w", err)
	}
	for {
		resp, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("read a watch's snapshot: %w", err)
		}
		if stalled || resp.GetKind() == registryv1.ChangeKind_SNAPSHOT_END {
			return nil
		}
	}
}

// close ends the watches and closes their connections.
func (w *watchers) close() {
	w.cancel()
	closeAll(w.conns)
}

// memory is what the scenario reads of registry's metrics.
type memory struct {
	rss, heap, stacks, goroutines float64
}

// held is the memory that live objects and goroutines take.
func (m memory) held() float64 { return m.heap + m.stacks }

// memoryProbe reads registry's memory from its admin port.
type memoryProbe struct {
	// metrics is the /metrics page; heap the heap profile, which with
	// gc=1 runs a collection first; token is an admin token for it.
	metrics, heap, token string
}

// read reads registry's resident memory, Go heap, stacks and
// goroutines.
func (p memoryProbe) read(ctx context.Context) (memory, error) {
	page, err := fetch(ctx, p.metrics, "")
	if err != nil {
		return memory{}, err
	}
	var m memory
	for _, f := range []struct {
		name string
		v    *float64
	}{
		{"process_resident_memory_bytes", &m.rss},
		{"go_memstats_heap_alloc_bytes", &m.heap},
		{"go_memstats_stack_inuse_bytes", &m.stacks},
		{"go_goroutines", &m.goroutines},
	} {
		if *f.v, err = metricValue(bytes.NewReader(page), f.name); err != nil {
			return memory{}, err
		}
	}
	return m, nil
}

// collected has registry run a garbage collection, so that its heap is
// what live objects take, and then reads its memory.
func (p memoryProbe) collected(ctx context.Context) (memory, error) {
	if _, err := fetch(ctx, p.heap, p.token); err != nil {
		return memory{}, fmt.Errorf("collect registry's garbage: %w", err)
	}
	return p.read(ctx)
}

// settled waits until registry runs no more goroutines than before the
// watches opened, so that every closed watch has ended there, has it
// collect its garbage, and waits for its resident memory to stop
// falling as the runtime returns freed memory to the system (for at most
// settleTimeout).
func (p memoryProbe) settled(ctx context.Context, goroutines float64) (memory, error) {
	ctx, cancel := context.WithTimeout(ctx, settleTimeout)
	defer cancel()
	if err := poll(ctx, settlePoll, func() error {
		m, err := p.read(ctx)
		if err == nil && m.goroutines > goroutines {
			err = fmt.Errorf("%.0f goroutines, %.0f before the watches", m.goroutines, goroutines)
		}
		return err
	}); err != nil {
		return memory{}, err
	}
	last, err := p.collected(ctx)
	if err != nil {
		return memory{}, err
	}
	// The runtime returns freed memory in steps, some a few seconds
	// apart: resident memory has settled once it held still for a few.
	const still, steady = 1 << 20, 3
	quiet := 0
	err = poll(ctx, rssPoll, func() error {
		m, err := p.read(ctx)
		if err != nil {
			return err
		}
		if last.rss-m.rss >= still {
			quiet = 0
		} else {
			quiet++
		}
		last = m
		if quiet < steady {
			return errors.New("resident memory still falling")
		}
		return nil
	})
	if ctx.Err() != nil {
		// Still falling at the deadline: what it is then is the answer.
		return last, nil
	}
	return last, err
}

// poll calls check every interval until it succeeds or ctx ends.
func poll(ctx context.Context, interval time.Duration, check func() error) error {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-ticker.C:
		}
	}
}

// fetch GETs url with the bearer token, if any, and returns the body.
func fetch(ctx context.Context, url, token string) ([]byte, error) {
	return fetchLarge(ctx, url, token, 10*time.Second, maxMetricsBytes)
}

// fetchLarge is fetch with a time and a size bound of the caller's; a
// body over the bound is an error, not a cut copy.
func fetchLarge(ctx context.Context, url, token string, timeout time.Duration, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", req.URL.Path, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && int64(len(body)) > limit {
		return nil, fmt.Errorf("GET %s: more than %d bytes", req.URL.Path, limit)
	}
	return body, err
}

// watcherRows are the rows of one kind of watchers: what they hold, set
// against the goal, and what is left once they closed.
func watcherRows(kind watchKind, n int, before, peak, open, after memory) []row {
	held := open.held() - before.held()
	what := fmt.Sprintf("registry, %s idle WatchRetirees streams, one connection each, %s", formatCount(int64(n)), kind.name)
	return []row{
		{
			What:  what + ": memory they hold (Go heap after a collection and goroutine stacks, over before)",
			Value: formatBytes(held),
			Compared: fmt.Sprintf("resident %s before, %s at the peak, %s after a collection",
				formatBytes(before.rss), formatBytes(peak.rss), formatBytes(open.rss)),
			Goal:   fmt.Sprintf("≤ %d MiB for 1,000", goalWatchersBytes>>20),
			Result: verdict(held*1000/float64(n) <= goalWatchersBytes),
		},
		{
			What:     "registry after those watchers closed: Go heap after a collection",
			Value:    formatBytes(after.heap),
			Compared: fmt.Sprintf("resident %s once it stopped falling", formatBytes(after.rss)),
		},
	}
}
