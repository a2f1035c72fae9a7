package handover

import "github.com/prometheus/client_golang/prometheus"

// RegisterMetrics registers the outbox's collectors on reg: the backlog
// gauge socmgmt_handover_outbox_backlog, and, when d is not nil, the
// dispatcher's delivery and failure counters.
func RegisterMetrics(reg prometheus.Registerer, s *Store, d *Dispatcher) error {
	backlog := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "socmgmt_handover_outbox_backlog",
		Help: "Commands of completed handovers waiting in the outbox for delivery to registry or activity.",
	}, func() float64 { return float64(s.Backlog()) })
	if err := reg.Register(backlog); err != nil {
		return err
	}
	if d == nil {
		return nil
	}
	if err := reg.Register(d.delivered); err != nil {
		return err
	}
	return reg.Register(d.failed)
}
