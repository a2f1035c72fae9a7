package projection

import "github.com/prometheus/client_golang/prometheus"

// Metric names of a projection, the same in every service that has one;
// the scrape's job tells the services apart. Registry's own revision less
// socmgmt_projection_revision is how far the projection lags.
const (
	MetricRevision  = "socmgmt_projection_revision"
	MetricConnected = "socmgmt_projection_connected"
)

// RegisterMetrics exports how far p has followed registry and whether it
// is following now, read from p at each scrape.
func RegisterMetrics(reg prometheus.Registerer, p *Projection) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricRevision,
			Help: "The registry revision the retiree projection has applied through.",
		}, func() float64 { return float64(p.Cursor()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: MetricConnected,
			Help: "1 while the projection's WatchRetirees stream is open, else 0.",
		}, func() float64 {
			if p.Connected() {
				return 1
			}
			return 0
		}),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
