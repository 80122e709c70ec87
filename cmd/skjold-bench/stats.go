package main

import (
	"math"
	"slices"
	"time"
)

// latency summarises the latencies of a phase's requests.
type latency struct {
	P50, P90, P99, Max time.Duration
}

// summarize returns the exact percentiles of samples, which it sorts.
func summarize(samples []time.Duration) latency {
	slices.Sort(samples)
	return latency{
		P50: percentile(samples, 50), P90: percentile(samples, 90),
		P99: percentile(samples, 99), Max: percentile(samples, 100),
	}
}

// percentile returns the p-th percentile (0 < p ≤ 100) of sorted by the nearest-rank
// method: the smallest sample at least p percent of the samples are less than or equal
// to. It returns 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p * float64(len(sorted)) / 100)) // p·n is exact for whole p
	return sorted[min(max(rank, 1), len(sorted))-1]
}
