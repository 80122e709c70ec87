package http

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchCertificate shows when the serving TLS certificate expires: notAfter returns its
// NotAfter (the zero time when there is none, shown as 0).
func (m *Metrics) WatchCertificate(notAfter func() time.Time) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "skjold_tls_certificate_expiry_seconds",
		Help: "When the serving TLS certificate expires (Unix time); 0 when there is none."},
		func() float64 {
			t := notAfter()
			if t.IsZero() {
				return 0
			}
			return float64(t.Unix())
		}))
}

// WatchMail shows how many e-mails could not be handed to the relay; failed counts them.
func (m *Metrics) WatchMail(failed func() int64) {
	m.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "skjold_mail_failures_total",
		Help: "E-mails that could not be handed to the mail relay (or written to the outbox)."},
		func() float64 { return float64(failed()) }))
}

// RequestCounts are the data-subject requests still open, by type, and how many of them
// are past their due date.
type RequestCounts struct {
	Open    map[string]int64 // type (access, erasure, …) → open requests
	Overdue int64
}

// WatchRequests shows the open and overdue data-subject requests across all tenants, read
// by count at each scrape (types lists every type, so that each series exists from the start).
func (m *Metrics) WatchRequests(types []string, count func(context.Context) (RequestCounts, error)) {
	m.reg.MustRegister(&requestCollector{types: types, count: count,
		open: prometheus.NewDesc("skjold_requests_open", "Open data-subject requests, by type.", []string{"type"}, nil),
		overdue: prometheus.NewDesc("skjold_requests_overdue",
			"Open data-subject requests past their due date (-1 when they could not be counted).", nil, nil)})
}

type requestCollector struct {
	types         []string
	count         func(context.Context) (RequestCounts, error)
	open, overdue *prometheus.Desc
}

func (c *requestCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.open; ch <- c.overdue }

func (c *requestCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := c.count(ctx)
	if err != nil {
		ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, -1)
		return
	}
	seen := map[string]bool{}
	for _, t := range c.types {
		seen[t] = true
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(n.Open[t]), t)
	}
	for t, v := range n.Open {
		if !seen[t] {
			ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(v), t)
		}
	}
	ch <- prometheus.MustNewConstMetric(c.overdue, prometheus.GaugeValue, float64(n.Overdue))
}
