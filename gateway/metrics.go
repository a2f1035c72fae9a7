package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics holds the gateway's Prometheus collectors in a registry of its own,
// so that tests and several gateways in one process never collide.
type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// children maps a seriesKey to its *series, looked up in the vectors
	// once rather than on every request (which hashes the label values
	// and formats the code). Its keys are as bounded as the labels: a
	// method name of httpmethod.Label's, a route pattern, an HTTP status.
	children sync.Map
}

// seriesKey names the label values of one request's series.
type seriesKey struct {
	method, route string
	code          int
}

// series is the counter and histogram of one seriesKey.
type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socmgmt_http_requests_total",
			Help: "HTTP requests served, by method, route pattern and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "socmgmt_http_request_duration_seconds",
			Help:    "Time from receiving an HTTP request to finishing its response, by method and route pattern.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
	}
	m.registry.MustRegister(
		m.requests,
		m.duration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// observe records one finished request. route is a pattern, never a path,
// so the label set stays small and holds no identifiers.
func (m *metrics) observe(method, route string, code int, elapsed time.Duration) {
	k := seriesKey{method: method, route: route, code: code}
	v, ok := m.children.Load(k)
	if !ok {
		// Racing first requests get the same children from the vectors.
		v, _ = m.children.LoadOrStore(k, &series{
			requests: m.requests.WithLabelValues(method, route, strconv.Itoa(code)),
			duration: m.duration.WithLabelValues(method, route),
		})
	}
	s := v.(*series)
	s.requests.Inc()
	s.duration.Observe(elapsed.Seconds())
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}
