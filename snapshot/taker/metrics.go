package taker

import "github.com/prometheus/client_golang/prometheus"

// Collectors returns the snapshot metrics of the node, with labels:
// snapshots written and failed, whether one is running, and the newest
// one's offset, size, time and how long it took.
func (t *Taker) Collectors(labels prometheus.Labels) []prometheus.Collector {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	read := func(f func() float64) func() float64 {
		return func() float64 {
			t.mu.Lock()
			defer t.mu.Unlock()
			return f()
		}
	}
	return []prometheus.Collector{
		counter("ferry_snapshots_total", "Snapshots this node took (one with nothing changed since the newest counts, as in INFO's rdb_saves).",
			read(func() float64 { return float64(t.p.Saves) })),
		counter("ferry_snapshot_failures_total", "Snapshots this node started that failed.",
			read(func() float64 { return float64(t.failed) })),
		gauge("ferry_snapshot_in_progress", "1 while this node takes a snapshot.",
			read(func() float64 {
				if t.p.InProgress {
					return 1
				}
				return 0
			})),
		gauge("ferry_snapshot_last_success_timestamp_seconds", "When the cut of this node's last successful snapshot was taken (0: none yet).",
			read(func() float64 {
				if t.p.LastSave.IsZero() {
					return 0
				}
				return float64(t.p.LastSave.UnixNano()) / 1e9
			})),
		gauge("ferry_snapshot_last_duration_seconds", "How long this node's last snapshot took, from the cut to the manifest.",
			read(func() float64 { return t.p.LastDuration.Seconds() })),
		gauge("ferry_snapshot_newest_offset", "Log offset of the newest snapshot this node wrote or loaded.",
			read(func() float64 { return float64(t.newest.Offset) })),
		gauge("ferry_snapshot_newest_bytes", "Size of that snapshot as stored (compressed).",
			read(func() float64 { return float64(t.newest.Size) })),
	}
}
