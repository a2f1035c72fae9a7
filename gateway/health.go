package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"
	"google.golang.org/grpc/health/grpc_health_v1"
)

// upstreamCheckTimeout bounds each upstream's health check; they run
// concurrently, so /healthz answers within about this long.
const upstreamCheckTimeout = time.Second

// Health states reported by /healthz. SERVING and NOT_SERVING are the
// grpc.health.v1 names; UNREACHABLE means the check itself failed.
const (
	healthServing     = "SERVING"
	healthNotServing  = "NOT_SERVING"
	healthUnreachable = "UNREACHABLE"
)

// healthReport is the JSON body of /healthz.
type healthReport struct {
	Status    string            `json:"status"`
	Upstreams map[string]string `json:"upstreams"`
}

// serveHealthz answers 200 when the gateway and every configured upstream
// are serving, else 503, listing each upstream's state either way. It needs
// no token: it is for load balancers and `make run`.
func (g *Gateway) serveHealthz(w http.ResponseWriter, r *http.Request, _ map[string]string) {
	report := g.checkHealth(r.Context())
	code := http.StatusOK
	if report.Status != healthServing {
		code = http.StatusServiceUnavailable
	}
	body, err := json.Marshal(report)
	if err != nil {
		// A struct of strings always marshals; this guards a future change.
		g.logger.Error("marshal health report", zap.Error(err))
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body) // a failed write means the client has gone
}

// checkHealth asks every upstream's grpc.health.v1 service, concurrently,
// about the server as a whole (service "").
func (g *Gateway) checkHealth(ctx context.Context) healthReport {
	states := make([]string, len(g.upstreams))
	var wg sync.WaitGroup
	for i, u := range g.upstreams {
		wg.Go(func() {
			states[i] = checkUpstream(ctx, u.health)
		})
	}
	wg.Wait()

	report := healthReport{Status: healthServing, Upstreams: make(map[string]string, len(g.upstreams))}
	if g.draining.Load() {
		report.Status = healthNotServing
	}
	for i, u := range g.upstreams {
		report.Upstreams[u.name] = states[i]
		if states[i] != healthServing {
			report.Status = healthNotServing
		}
	}
	return report
}

func checkUpstream(ctx context.Context, client grpc_health_v1.HealthClient) string {
	ctx, cancel := context.WithTimeout(ctx, upstreamCheckTimeout)
	defer cancel()
	resp, err := client.Check(ctx, &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		return healthUnreachable
	}
	if resp.GetStatus() == grpc_health_v1.HealthCheckResponse_SERVING {
		return healthServing
	}
	return healthNotServing
}
