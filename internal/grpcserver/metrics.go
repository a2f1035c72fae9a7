package grpcserver

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/socmgmt/socmgmt/internal/apierror"
)

// numCodes is the number of gRPC codes defined, OK through Unauthenticated.
const numCodes = int(codes.Unauthenticated) + 1

// metrics holds the per-call collectors. The label children of each method
// are looked up once and kept, so that a call costs a map load and two
// atomic adds rather than hashing label values.
type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// storageUnavailable counts the calls answered STORAGE_UNAVAILABLE:
	// the disk is full and writes are refused until someone makes room.
	storageUnavailable *prometheus.CounterVec
	// methods maps a full method name to its *methodMetrics. Interceptors
	// never see unregistered methods (grpc-go answers Unimplemented before
	// them), so it cannot grow past the registered services.
	methods sync.Map
}

type methodMetrics struct {
	service, method string
	duration        prometheus.Observer
	// byCode holds a prometheus.Counter per code, made on first use so that
	// /metrics lists only codes that happened.
	byCode [numCodes]atomic.Value
}

func newMetrics(reg *prometheus.Registry) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "socmgmt_grpc_requests_total",
			Help: "gRPC calls completed, by gRPC service, method and status code.",
		}, []string{"service", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "socmgmt_grpc_request_duration_seconds",
			Help:    "Time from a gRPC call's arrival to its handler's return, by gRPC service and method.",
			Buckets: []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"service", "method"}),
	}
	m.storageUnavailable = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "socmgmt_storage_unavailable_total",
		Help: "gRPC calls refused with UNAVAILABLE because the service's storage could not be written (disk or quota full, file cannot grow), by gRPC service and method.",
	}, []string{"service", "method"})
	m.requests = registerShared(reg, m.requests)
	m.storageUnavailable = registerShared(reg, m.storageUnavailable)
	m.duration = registerShared(reg, m.duration)
	// A registry handed in may have these already; one copy is enough.
	registerShared(reg, collectors.NewGoCollector())
	registerShared(reg, collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// registerShared registers c, or returns the equal collector that reg
// already has, so that several Servers can share one registry. Any other
// registration error is a programming error and panics, as MustRegister.
func registerShared[C prometheus.Collector](reg *prometheus.Registry, c C) C {
	err := reg.Register(c)
	if err == nil {
		return c
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing
		}
	}
	panic(err)
}

func (m *metrics) forMethod(fullMethod string) *methodMetrics {
	if v, ok := m.methods.Load(fullMethod); ok {
		return v.(*methodMetrics)
	}
	svc, meth := splitMethod(fullMethod)
	mm := &methodMetrics{service: svc, method: meth, duration: m.duration.WithLabelValues(svc, meth)}
	v, _ := m.methods.LoadOrStore(fullMethod, mm)
	return v.(*methodMetrics)
}

func (m *metrics) observe(fullMethod string, code codes.Code, d time.Duration) {
	mm := m.forMethod(fullMethod)
	mm.duration.Observe(d.Seconds())
	// A handler can return any number as a code; the label stays bounded.
	if int(code) >= numCodes {
		code = codes.Unknown
	}
	c, _ := mm.byCode[code].Load().(prometheus.Counter)
	if c == nil {
		// Racing first calls get the same child from the vector.
		c = m.requests.WithLabelValues(mm.service, mm.method, code.String())
		mm.byCode[code].Store(c)
	}
	c.Inc()
}

// splitMethod splits "/pkg.Service/Method" into "pkg.Service" and "Method".
func splitMethod(fullMethod string) (service, method string) {
	name := strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i], name[i+1:]
	}
	return "unknown", name
}

// observeStorage counts a call refused for want of storage.
func (m *metrics) observeStorage(fullMethod string) {
	mm := m.forMethod(fullMethod)
	m.storageUnavailable.WithLabelValues(mm.service, mm.method).Inc()
}

// storageUnavailable reports whether err is a status whose ErrorInfo says
// STORAGE_UNAVAILABLE (see apierror). Only UNAVAILABLE statuses are asked,
// so that other calls pay nothing for decoding details.
func storageUnavailable(code codes.Code, err error) bool {
	if code != codes.Unavailable {
		return false
	}
	for _, d := range status.Convert(err).Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == apierror.ReasonStorageUnavailable {
			return true
		}
	}
	return false
}
