package http

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/skjold-project/skjold"
)

// compliance returns the compliance service, or EUNAVAILABLE when the server has none.
func (s *Server) compliance() (skjold.ComplianceService, error) {
	if s.svc.Compliance == nil {
		return nil, skjold.Errorf(skjold.EUNAVAILABLE, "the compliance check is not configured on this server")
	}
	return s.svc.Compliance, nil
}

// complianceReport runs the checks the caller may see: the operator's and every tenant's, or
// the caller's tenant's. The API, the console and the metrics all read it.
func (s *Server) complianceReport(ctx context.Context) (*skjold.ComplianceReport, error) {
	svc, err := s.compliance()
	if err != nil {
		return nil, err
	}
	return svc.Compliance(ctx)
}

// handleCompliance answers GET /api/v1/compliance.
func (s *Server) handleCompliance() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.ComplianceReport, error) {
		return s.complianceReport(r.Context())
	})
}

// handleComplianceProfileGet answers GET /api/v1/compliance/profile.
func (s *Server) handleComplianceProfileGet() http.Handler {
	return handle(s, http.StatusOK, func(r *http.Request, _ *none) (*skjold.ComplianceProfile, error) {
		svc, err := s.compliance()
		if err != nil {
			return nil, err
		}
		return svc.ComplianceProfile(r.Context())
	})
}

// handleComplianceProfilePut answers PUT /api/v1/compliance/profile; fields left out of the
// body keep their current values.
func (s *Server) handleComplianceProfilePut() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		svc, err := s.compliance()
		var p *skjold.ComplianceProfile
		if err == nil {
			p, err = svc.ComplianceProfile(r.Context())
		}
		if err == nil {
			err = decode(r, p)
		}
		if err == nil {
			err = svc.PutComplianceProfile(r.Context(), p)
		}
		if err != nil {
			fail(w, r, s.log, err)
			return
		}
		respond(w, http.StatusOK, p)
	})
}

// complianceEvery is how long the metrics reuse a compliance report: each one verifies the
// whole audit chain, too much for every scrape.
const complianceEvery = time.Minute

// complianceCollector exports skjold_compliance_check{scope,check}: 1 pass, 0 fail, -1 not
// configured, for the operator (scope "operator") and every tenant (scope its id).
type complianceCollector struct {
	desc   *prometheus.Desc
	report func(context.Context) (*skjold.ComplianceReport, error)

	mu   sync.Mutex
	last *skjold.ComplianceReport
	at   time.Time
}

// WatchCompliance exports the outcome of every compliance check as a gauge; pass the store's
// Compliance method. The metrics act as the operator.
func (m *Metrics) WatchCompliance(report func(context.Context) (*skjold.ComplianceReport, error)) {
	m.reg.MustRegister(&complianceCollector{report: report, desc: prometheus.NewDesc("skjold_compliance_check",
		"Compliance checks by scope (operator or tenant id) and check: 1 pass, 0 fail, -1 not configured.",
		[]string{"scope", "check"}, nil)})
}

func (c *complianceCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *complianceCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil || time.Since(c.at) > complianceEvery {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		ctx = skjold.NewContextWithCaller(ctx, &skjold.Caller{Actor: "system:metrics", Operator: true, Source: "local"})
		rep, err := c.report(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(c.desc, err)
			return
		}
		c.last, c.at = rep, time.Now()
	}
	for _, sc := range c.last.Scopes {
		for _, chk := range sc.Checks {
			v := -1.0
			switch chk.Status {
			case skjold.CheckPass:
				v = 1
			case skjold.CheckFail:
				v = 0
			}
			ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, v, sc.Scope, chk.Check)
		}
	}
}
