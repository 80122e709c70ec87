// Command skjold-bench is a load generator for a running Skjold server. It creates subjects
// with a travel_booking record each, then reads random records back (every read is audited
// by the server), and reports throughput and latency percentiles per phase.
//
// It only talks to a loopback HTTPS address: it is meant to measure a server on the same
// machine, never to load someone else's.
package main

import (
	"context"
	"fmt"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "skjold-bench:", err)
		os.Exit(1)
	}
}
