package http

import (
	"context"
	"errors"
	"testing"
	"time"
)

// gathered returns every sample of m as "name{label=value}" → value.
func gathered(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			key := f.GetName()
			for _, l := range s.GetLabel() {
				key += "{" + l.GetName() + "=" + l.GetValue() + "}"
			}
			switch {
			case s.Gauge != nil:
				out[key] = s.GetGauge().GetValue()
			case s.Counter != nil:
				out[key] = s.GetCounter().GetValue()
			}
		}
	}
	return out
}

// TestOperationalMetrics checks the certificate, mail and data-subject request metrics.
func TestOperationalMetrics(t *testing.T) {
	m := NewMetrics("test", func(context.Context) (int64, error) { return 0, nil })
	expiry := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	m.WatchCertificate(func() time.Time { return expiry })
	failed := int64(3)
	m.WatchMail(func() int64 { return failed })
	var countErr error
	m.WatchRequests([]string{"access", "erasure"}, func(context.Context) (RequestCounts, error) {
		return RequestCounts{Open: map[string]int64{"access": 2}, Overdue: 1}, countErr
	})
	got := gathered(t, m)
	for k, v := range map[string]float64{
		"skjold_tls_certificate_expiry_seconds": float64(expiry.Unix()),
		"skjold_mail_failures_total":            3,
		"skjold_requests_open{type=access}":     2,
		"skjold_requests_open{type=erasure}":    0,
		"skjold_requests_overdue":               1,
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("%s = %v (present %v), want %v", k, g, ok, v)
		}
	}
	countErr = errors.New("store closed")
	got = gathered(t, m)
	if got["skjold_requests_overdue"] != -1 {
		t.Errorf("a failed count shows overdue %v, want -1", got["skjold_requests_overdue"])
	}
	if _, ok := got["skjold_requests_open{type=access}"]; ok {
		t.Errorf("a failed count still shows open requests")
	}
}
