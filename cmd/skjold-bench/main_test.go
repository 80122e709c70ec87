package main

import (
	"strings"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one sample", ms(7), 99, 7 * time.Millisecond},
		{"median of odd", ms(1, 2, 3, 4, 5), 50, 3 * time.Millisecond},
		{"median of even is the lower", ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p90 of ten", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{"p99 of a hundred", ms(hundred...), 99, 99 * time.Millisecond},
		{"p100 is the max", ms(hundred...), 100, 100 * time.Millisecond},
		{"tiny p is the min", ms(hundred...), 0.001, 1 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := percentile(tt.samples, tt.p); got != tt.want {
				t.Errorf("percentile(%v) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestSummarizeSorts(t *testing.T) {
	l := summarize([]time.Duration{5, 1, 4, 2, 3})
	if l.P50 != 3 || l.Max != 5 {
		t.Errorf("summarize = %+v, want p50 3 and max 5", l)
	}
}

func TestParseConfig(t *testing.T) {
	noenv := func(string) string { return "" }
	c, err := parseConfig([]string{"skjold-bench", "--cacert", "ca.pem"}, noenv, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if c.url != "https://127.0.0.1:8443" || c.clients != 32 || c.creates != 20000 || c.reads != 100000 ||
		c.limit != 5*time.Minute || c.operatorTokenFile != "skjold-data/initial-operator-token" || c.json {
		t.Errorf("defaults = %+v", c)
	}
	args := []string{"skjold-bench", "--url", "https://[::1]:9443/", "--insecure", "--clients", "4",
		"--creates", "10", "--reads", "20", "--duration-limit", "30s", "--json"}
	env := func(k string) string { return map[string]string{"SKJOLD_BENCH_TOKEN": " sk_tok\n"}[k] }
	c, err = parseConfig(args, env, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if c.url != "https://[::1]:9443/" || !c.insecure || c.clients != 4 || c.creates != 10 || c.reads != 20 ||
		c.limit != 30*time.Second || !c.json || c.token != "sk_tok" {
		t.Errorf("parsed = %+v", c)
	}
}

func TestParseConfigRefuses(t *testing.T) {
	tests := []struct {
		name, want string
		args       []string
	}{
		{"no CA", "--cacert is required", nil},
		{"CA and insecure", "exclude each other", []string{"--cacert", "x", "--insecure"}},
		{"no clients", "--clients", []string{"--insecure", "--clients", "0"}},
		{"reads without creates", "--creates must be at least 1", []string{"--insecure", "--creates", "0"}},
		{"no limit", "--duration-limit", []string{"--insecure", "--duration-limit", "0s"}},
		{"plain HTTP", "HTTPS only", []string{"--insecure", "--url", "http://127.0.0.1:8443"}},
		{"remote host", "only loopback", []string{"--insecure", "--url", "https://example.com"}},
		{"a path", "without a path", []string{"--insecure", "--url", "https://localhost:8443/api"}},
		{"stray argument", "unexpected argument", []string{"--insecure", "extra"}},
		{"growth without data", "--data", []string{"--insecure", "--growth", "10000"}},
		{"growth with a token", "--token", []string{"--insecure", "--growth", "10000", "--data", "d", "--token", "t"}},
		{"growth not ascending", "ascending", []string{"--insecure", "--growth", "100000,10000", "--data", "d"}},
		{"growth not a number", "ascending", []string{"--insecure", "--growth", "10k", "--data", "d"}},
		{"negative look-ups", "must not be negative", []string{"--insecure", "--lookups", "-1"}},
		{"look-ups with nothing to find", "--creates must be at least 1", []string{"--insecure", "--creates", "0", "--reads", "0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"skjold-bench"}, tt.args...)
			_, err := parseConfig(args, func(string) string { return "" }, new(strings.Builder))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseGrowth(t *testing.T) {
	c, err := parseConfig([]string{"skjold-bench", "--insecure", "--growth", "10000, 100_000,1000000", "--data", "d",
		"--lookups", "5", "--mixed", "6", "--inline-creates", "7"}, func(string) string { return "" }, new(strings.Builder))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.growth) != 3 || c.growth[0] != 10000 || c.growth[1] != 100000 || c.growth[2] != 1000000 || c.data != "d" ||
		c.lookups != 5 || c.mixed != 6 || c.inlineCreates != 7 {
		t.Errorf("parsed = %+v", c)
	}
}
