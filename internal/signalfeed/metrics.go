package signalfeed

import "github.com/prometheus/client_golang/prometheus"

// Metric names of a Follower, labelled by source; the source's own head
// revision less socmgmt_signalfeed_revision is how far the consumer lags.
const (
	MetricRevision  = "socmgmt_signalfeed_revision"
	MetricConnected = "socmgmt_signalfeed_connected"
	MetricApplied   = "socmgmt_signalfeed_applied_total"
)

// RegisterMetrics exports, for each follower, the revision it has applied
// through, whether its stream is open, and the entries it has applied,
// read at each scrape.
func RegisterMetrics(reg prometheus.Registerer, followers ...*Follower) error {
	for _, f := range followers {
		labels := prometheus.Labels{"source": f.Source()}
		for _, c := range []prometheus.Collector{
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: MetricRevision, ConstLabels: labels,
				Help: "The source revision the work-signal follower has applied through.",
			}, func() float64 { return float64(f.Cursor()) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: MetricConnected, ConstLabels: labels,
				Help: "1 while the follower's WatchWorkSignals stream is open, else 0.",
			}, func() float64 {
				if f.Connected() {
					return 1
				}
				return 0
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: MetricApplied, ConstLabels: labels,
				Help: "Work-signal entries the follower has applied.",
			}, func() float64 { return float64(f.Applied()) }),
		} {
			if err := reg.Register(c); err != nil {
				return err
			}
		}
	}
	return nil
}
