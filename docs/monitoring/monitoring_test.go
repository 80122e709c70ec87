// Package monitoring holds the example Prometheus configuration and alert rules; its test
// checks them with promtool.
package monitoring

import (
	"os/exec"
	"strings"
	"testing"
)

// unavailable is the marker in the skip message when promtool is missing; .ci/run, which
// installs it, treats the marker as a failure.
const unavailable = "SKJOLD-PROMTOOL-UNAVAILABLE"

// TestPromtool checks the example scrape configuration and alert rules with promtool, so that
// a copy into a real Prometheus loads.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip(unavailable + ": promtool is not installed (Debian package prometheus)")
	}
	for _, args := range [][]string{
		{"check", "config", "--syntax-only", "prometheus.yml"}, // the token and CA files are the reader's
		{"check", "rules", "skjold-alerts.yml"},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}
