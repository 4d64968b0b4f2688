package master

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics returns a registry with the master's metrics, read when scraped:
// the log offset, entries and bytes stored, publish latency, log failures,
// and each replica's acknowledged offset and lag.
func (m *Master) Metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"dataset": m.cfg.Dataset}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	stats := m.engine.Stats()
	reg.MustRegister(
		counter("ferry_commands_total", "Commands processed.", func() float64 { return float64(stats.Commands.Load()) }),
		counter("ferry_connections_total", "Connections accepted.", func() float64 { return float64(stats.Connections.Load()) }),
	)
	if m.snaps != nil {
		reg.MustRegister(m.snaps.Collectors(labels)...)
	}
	if m.pub == nil {
		return reg
	}
	reg.MustRegister(
		gauge("ferry_log_offset", "Offset of the last entry the log confirmed.", func() float64 {
			off, _, _, _, _ := m.pub.stats()
			return float64(off)
		}),
		counter("ferry_log_entries_total", "Log entries confirmed.", func() float64 {
			_, n, _, _, _ := m.pub.stats()
			return float64(n)
		}),
		counter("ferry_log_bytes_total", "Bytes of log entries confirmed.", func() float64 {
			_, _, b, _, _ := m.pub.stats()
			return float64(b)
		}),
		counter("ferry_log_failures_total", "Times the log failed to confirm an entry (the master then rebuilt or was fenced).", func() float64 {
			return float64(m.failures.Load())
		}),
		gauge("ferry_replicas", "Replicas that acknowledged in the last 30 seconds.", func() float64 {
			m.engine.Lock()
			defer m.engine.Unlock()
			_, fs := m.followerState()
			return float64(len(fs))
		}),
		m.pub.latency,
		&lagCollector{m: m, desc: prometheus.NewDesc("ferry_replica_lag_entries", "Entries a replica is behind the master's last confirmed offset.", []string{"replica", "addr"}, labels)},
	)
	return reg
}

// lagCollector reports each replica's lag behind the master.
type lagCollector struct {
	m    *Master
	desc *prometheus.Desc
}

func (c *lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *lagCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.engine.Lock()
	off, fs := c.m.followerState()
	c.m.engine.Unlock()
	for _, f := range fs {
		lag := float64(0)
		if off > f.Offset {
			lag = float64(off - f.Offset)
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, lag, f.ID, f.Addr)
	}
}
