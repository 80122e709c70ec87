package http

import "github.com/prometheus/client_golang/prometheus"

// JobLeases registers skjold_job_lease_held{job} and returns the function that sets it: 1 on
// the node that holds a singleton job's lease (and so runs the job), 0 on the others. Summed
// over the nodes each job shows 1; 0 for longer than the lease period means no node runs it.
func (m *Metrics) JobLeases() func(job string, held bool) {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "skjold_job_lease_held",
		Help: "1 when this node holds the lease of a job that runs on one node at a time (retention, hourly jobs), else 0."},
		[]string{"job"})
	m.reg.MustRegister(g)
	return func(job string, held bool) {
		v := 0.0
		if held {
			v = 1
		}
		g.WithLabelValues(job).Set(v)
	}
}
