package replica

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics returns a registry with the replica's metrics, read when scraped:
// the applied offset, lag behind the log in entries and seconds, entries
// applied, its state, and the snapshots it loaded.
func (r *Replica) Metrics() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	labels := prometheus.Labels{"dataset": r.cfg.Dataset}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels}, f)
	}
	stats := r.engine.Stats()
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ferry_commands_total", Help: "Commands processed.", ConstLabels: labels},
			func() float64 { return float64(stats.Commands.Load()) }),
		gauge("ferry_replica_offset", "Offset of the last entry applied.", func() float64 { return float64(r.Offset()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ferry_replica_applied_total", Help: "Entries applied since start.", ConstLabels: labels},
			func() float64 {
				r.mu.Lock()
				defer r.mu.Unlock()
				return float64(r.applied)
			}),
		gauge("ferry_replica_lag_entries", "Entries in the log not applied yet (-1 when the log cannot be read).", func() float64 {
			lag, _ := r.Lag()
			return float64(lag)
		}),
		gauge("ferry_replica_lag_seconds", "Age of the oldest entry not applied yet: how stale reads are.", func() float64 {
			_, secs := r.Lag()
			return secs.Seconds()
		}),
		gauge("ferry_replica_up", "1 while streaming from a reachable log, 0 otherwise.", func() float64 {
			if s, _, _ := r.Status(); s == StateStreaming {
				return 1
			}
			return 0
		}),
		gauge("ferry_replica_sync_in_progress", "1 while a snapshot is loading (at start, or to resync), 0 otherwise.", func() float64 {
			if r.Syncing() {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ferry_replica_snapshot_loads_total", Help: "Snapshots loaded and swapped in.", ConstLabels: labels},
			func() float64 {
				r.mu.Lock()
				defer r.mu.Unlock()
				return float64(r.loads)
			}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "ferry_replica_snapshot_load_failures_total", Help: "Attempts to load a snapshot that failed (store unreadable, every snapshot damaged).", ConstLabels: labels},
			func() float64 {
				r.mu.Lock()
				defer r.mu.Unlock()
				return float64(r.loadFailures)
			}),
		gauge("ferry_replica_snapshot_offset", "Offset of the snapshot loaded last (0: none).", func() float64 {
			l, _ := r.LastLoad()
			return float64(l.Snapshot.Offset)
		}),
		gauge("ferry_replica_snapshot_load_seconds", "How long loading the last snapshot took.", func() float64 {
			l, _ := r.LastLoad()
			return l.Took.Seconds()
		}),
		gauge("ferry_replica_snapshot_load_bytes", "Size of the last snapshot loaded, as stored (compressed).", func() float64 {
			l, _ := r.LastLoad()
			return float64(l.Snapshot.Size)
		}),
		gauge("ferry_replica_snapshot_load_keys", "Keys in the last snapshot loaded.", func() float64 {
			l, _ := r.LastLoad()
			return float64(l.Keys)
		}),
	)
	if r.snaps != nil {
		reg.MustRegister(r.snaps.Collectors(labels)...)
	}
	return reg
}

// Lag returns how many entries the replica is behind the log's last one
// (-1 when the log cannot be read), and for how long it has been behind.
func (r *Replica) Lag() (int64, time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	last, err := r.cfg.Log.Last(ctx)
	if err != nil {
		return -1, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if last <= r.offset {
		return 0, 0
	}
	return int64(last - r.offset), time.Since(r.lastIO)
}
