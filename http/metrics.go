package http

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/skjold-project/skjold"
	"github.com/skjold-project/skjold/backup"
)

// Metrics are the Prometheus metrics served at /metrics.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	store    *prometheus.HistogramVec
	security *prometheus.CounterVec
	threats  *prometheus.CounterVec
	sweep    sweepMetrics
	backup   backupMetrics
}

// NewMetrics registers Skjold's metrics. chainLength reports the audit chain's length.
func NewMetrics(version string, chainLength func(context.Context) (int64, error)) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skjold_http_requests_total", Help: "HTTP requests by method, route (the path pattern, without the method) and status code.",
	}, []string{"method", "route", "code"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "skjold_http_request_duration_seconds", Help: "HTTP request latency by method and route (the path pattern).",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"method", "route"})
	m.store = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "skjold_store_operation_duration_seconds", Help: "Store latency by operation (commit is one group commit).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
	}, []string{"op"})
	m.security = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skjold_security_events_total",
		Help: "Security events committed to the audit chain, by action (auth.login_failed, security.ban, user.suspend, …).",
	}, []string{"action"})
	m.threats = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "skjold_threat_events_total",
		Help: "Requests seen by the threat detectors, by kind (login_failed, token_invalid, not_found, …), and refused addresses (blocked).",
	}, []string{"kind"})
	chain := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "skjold_audit_chain_length", Help: "Number of events in the audit chain.",
	}, func() float64 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		n, err := chainLength(ctx)
		if err != nil {
			return -1
		}
		return float64(n)
	})
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "skjold_build_info", Help: "Build information.", ConstLabels: prometheus.Labels{"version": version},
	})
	info.Set(1)
	m.sweep = newSweepMetrics(m.reg)
	m.backup = newBackupMetrics(m.reg)
	m.reg.MustRegister(m.requests, m.latency, m.store, m.security, m.threats, chain, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeRequest counts a request by its method and its route: the pattern's path ("GET
// /api/v1/subjects/{id}" gives /api/v1/subjects/{id}), or "unmatched". The method is the
// request's, one of the standard ones or "other", so that a client cannot grow the series.
func (m *Metrics) observeRequest(method, pattern string, status int, d time.Duration) {
	route := pattern
	if _, path, ok := strings.Cut(pattern, " "); ok {
		route = path
	}
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
	default:
		method = "other"
	}
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(method, route).Observe(d.Seconds())
}

// ObserveStore records the duration of a store operation; pass it as store.Options.Observe.
func (m *Metrics) ObserveStore(op string, d time.Duration) {
	m.store.WithLabelValues(op).Observe(d.Seconds())
}

// WatchAlerts shows the alert dispatcher's counts of dropped and undelivered alerts.
func (m *Metrics) WatchAlerts(dropped, failed func() int64) {
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "skjold_alerts_dropped_total",
			Help: "Alerts lost because the queue was full."}, func() float64 { return float64(dropped()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "skjold_alerts_failed_total",
			Help: "Alerts not delivered after three tries."}, func() float64 { return float64(failed()) }))
}

// WatchPurge shows how long erased data has waited in SQLite's write-ahead log for a
// checkpoint a reader blocks (0 when none waits): pass store.DB.PurgePending [D4].
func (m *Metrics) WatchPurge(pending func() time.Duration) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "skjold_erasure_purge_pending_seconds",
		Help: "How long erased data has waited in SQLite's write-ahead log for a checkpoint; 0 when none waits."},
		func() float64 { return pending().Seconds() }))
}

// WatchNodes shows the node registry: skjold_cluster_nodes{status="up"|"down"}. find is
// called with an operator caller at each scrape; a failed read shows no nodes.
func (m *Metrics) WatchNodes(find func(ctx context.Context) ([]*skjold.Node, error)) {
	count := func(status string) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			nodes, err := find(skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:metrics", Operator: true, Source: "local"}))
			if err != nil {
				return 0
			}
			n := 0
			for _, node := range nodes {
				if node.Status == status {
					n++
				}
			}
			return float64(n)
		}
	}
	for _, status := range []string{"up", "down"} {
		m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "skjold_cluster_nodes",
			Help: "Nodes in the registry by status: down once silent for 30 s (node.down).", ConstLabels: prometheus.Labels{"status": status}},
			count(status)))
	}
}

// CountAudit counts a committed audit event's action when it is a security event; call it
// from store.Options.OnAudit.
func (m *Metrics) CountAudit(action string) {
	if skjold.IsSecurityAction(action) {
		m.security.WithLabelValues(action).Inc()
	}
}

func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// sweepMetrics show the retention sweeps [D1]: what they erased, when the last one ended
// and how long each took.
type sweepMetrics struct {
	records, subjects prometheus.Counter
	last              prometheus.Gauge
	duration          prometheus.Histogram
}

func newSweepMetrics(reg *prometheus.Registry) sweepMetrics {
	sm := sweepMetrics{
		records: prometheus.NewCounter(prometheus.CounterOpts{Name: "skjold_retention_erased_records_total",
			Help: "Records erased by retention sweeps."}),
		subjects: prometheus.NewCounter(prometheus.CounterOpts{Name: "skjold_retention_erased_subjects_total",
			Help: "Subjects erased by retention sweeps."}),
		last: prometheus.NewGauge(prometheus.GaugeOpts{Name: "skjold_retention_last_sweep_timestamp_seconds",
			Help: "When the last retention sweep finished (Unix time); 0 before the first."}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "skjold_retention_sweep_duration_seconds",
			Help: "How long retention sweeps took.", Buckets: []float64{.01, .1, .5, 1, 5, 15, 30, 60, 120, 300, 900}}),
	}
	reg.MustRegister(sm.records, sm.subjects, sm.last, sm.duration)
	return sm
}

// ObserveSweep records a finished retention sweep's report.
func (m *Metrics) ObserveSweep(rep *skjold.SweepReport) {
	m.sweep.records.Add(float64(rep.ErasedRecords))
	m.sweep.subjects.Add(float64(rep.ErasedSubjects))
	m.sweep.last.Set(float64(rep.Finished.UnixNano()) / 1e9)
	m.sweep.duration.Observe(rep.Finished.Sub(rep.Started).Seconds())
}

// backupMetrics show backups, copies, rotations and restore drills [E1–E4, F4]: when each
// target last got a backup, how big it was, what failed, and when a drill last passed.
type backupMetrics struct {
	last          *prometheus.GaugeVec
	size          prometheus.Gauge
	failures      *prometheus.CounterVec
	causes        *prometheus.CounterVec
	drillDuration prometheus.Gauge
	drillLast     prometheus.Gauge
}

func newBackupMetrics(reg *prometheus.Registry) backupMetrics {
	bm := backupMetrics{
		last: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "skjold_backup_last_success_timestamp_seconds",
			Help: "When the newest backup a target holds was taken (Unix time), by target."}, []string{"target"}),
		size: prometheus.NewGauge(prometheus.GaugeOpts{Name: "skjold_backup_size_bytes",
			Help: "Size of the newest backup (encrypted bytes)."}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skjold_backup_failures_total",
			Help: "Failed backups, copies to a target, rotations and restore drills, and corrupt backups found, by kind (backup, copy, rotation, corrupt, drill)."}, []string{"kind"}),
		causes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "skjold_backup_target_failures_total",
			Help: "Backups or copies a target did not take, by cause (full, permission, credentials, host_key, missing, unreachable, server, unknown)."}, []string{"cause"}),
		drillDuration: prometheus.NewGauge(prometheus.GaugeOpts{Name: "skjold_drill_last_duration_seconds",
			Help: "How long the last passing restore drill took."}),
		drillLast: prometheus.NewGauge(prometheus.GaugeOpts{Name: "skjold_drill_last_success_timestamp_seconds",
			Help: "When a restore drill last passed (Unix time); 0 before the first."}),
	}
	for _, kind := range []string{"backup", "copy", "rotation", "corrupt", "drill"} {
		bm.failures.WithLabelValues(kind) // shown as 0 from the start, so that alerts can use increase()
	}
	for _, cause := range backup.Causes() {
		bm.causes.WithLabelValues(string(cause))
	}
	reg.MustRegister(bm.last, bm.size, bm.failures, bm.causes, bm.drillDuration, bm.drillLast)
	return bm
}

// BackupSucceeded records that target holds a backup of size bytes taken at at; the backup
// service calls it (it implements backup.Observer).
func (m *Metrics) BackupSucceeded(target string, size int64, at time.Time) {
	m.backup.last.WithLabelValues(target).Set(float64(at.UnixNano()) / 1e9)
	m.backup.size.Set(float64(size))
}

// BackupFailed counts a failed backup, copy, rotation or drill, or a corrupt backup.
func (m *Metrics) BackupFailed(kind string) { m.backup.failures.WithLabelValues(kind).Inc() }

// TargetFailed counts a target that did not take a backup or copy, by cause (it implements
// backup.CauseObserver).
func (m *Metrics) TargetFailed(cause backup.Cause) {
	m.backup.causes.WithLabelValues(string(cause)).Inc()
}

// DrillSucceeded records a passing restore drill.
func (m *Metrics) DrillSucceeded(took time.Duration, at time.Time) {
	m.backup.drillDuration.Set(took.Seconds())
	m.backup.drillLast.Set(float64(at.UnixNano()) / 1e9)
}
