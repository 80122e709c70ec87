package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"
)

// result is one phase's outcome.
type result struct {
	Name     string
	Subjects int           // the tenant's size when the phase started (with --growth)
	Planned  int           // operations asked for
	Ops      int           // operations that succeeded
	Requests int           // HTTP requests that finished
	Errors   int           // requests that failed
	Duration time.Duration // wall time of the phase
	Latency  latency       // per HTTP request
	Messages []string      // the first distinct error messages
	Stopped  bool          // the duration limit ended the phase early
}

// rate returns the phase's successful operations per second.
func (r result) rate() float64 {
	if r.Duration <= 0 {
		return 0
	}
	return float64(r.Ops) / r.Duration.Seconds()
}

// report is the whole run's outcome.
type report struct {
	URL     string
	Clients int
	Tenant  string // the tenant created for the run, if any
	Phases  []result
}

func printText(w io.Writer, rep report) error {
	fmt.Fprintf(w, "skjold-bench: %s, %d clients, HTTP/1.1", rep.URL, rep.Clients)
	if rep.Tenant != "" {
		fmt.Fprintf(w, ", fresh tenant %s", rep.Tenant)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tsubjects\tops\trequests\terrors\tduration\tops/s\tp50\tp90\tp99\tmax\t")
	for _, r := range rep.Phases {
		l := r.Latency
		size := "-"
		if r.Subjects > 0 {
			size = fmt.Sprint(r.Subjects)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t\n", r.Name, size, r.Ops, r.Requests, r.Errors,
			r.Duration.Round(time.Millisecond), r.rate(), ms(l.P50), ms(l.P90), ms(l.P99), ms(l.Max))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, r := range rep.Phases {
		if r.Stopped {
			fmt.Fprintf(w, "%s: stopped by --duration-limit after %d of %d operations\n", r.Name, r.Ops, r.Planned)
		}
		for _, m := range r.Messages {
			fmt.Fprintf(w, "%s error: %s\n", r.Name, m)
		}
	}
	return nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2fms", millis(d))
}

func millis(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// jsonPhase is a phase as --json prints it: durations in milliseconds or seconds.
type jsonPhase struct {
	Name      string             `json:"name"`
	Subjects  int                `json:"subjects,omitempty"`
	Planned   int                `json:"planned"`
	Ops       int                `json:"ops"`
	Requests  int                `json:"requests"`
	Errors    int                `json:"errors"`
	Seconds   float64            `json:"duration_s"`
	OpsPerSec float64            `json:"ops_per_s"`
	LatencyMS map[string]float64 `json:"latency_ms"`
	Messages  []string           `json:"error_messages,omitempty"`
	Stopped   bool               `json:"stopped_by_limit"`
}

func printJSON(w io.Writer, rep report) error {
	out := struct {
		URL     string      `json:"url"`
		Clients int         `json:"clients"`
		Tenant  string      `json:"tenant,omitempty"`
		Phases  []jsonPhase `json:"phases"`
	}{URL: rep.URL, Clients: rep.Clients, Tenant: rep.Tenant, Phases: []jsonPhase{}}
	for _, r := range rep.Phases {
		l := r.Latency
		out.Phases = append(out.Phases, jsonPhase{Name: r.Name, Subjects: r.Subjects, Planned: r.Planned, Ops: r.Ops,
			Requests: r.Requests, Errors: r.Errors, Seconds: r.Duration.Seconds(), OpsPerSec: r.rate(),
			LatencyMS: map[string]float64{"p50": millis(l.P50), "p90": millis(l.P90), "p99": millis(l.P99), "max": millis(l.Max)},
			Messages:  r.Messages, Stopped: r.Stopped})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
