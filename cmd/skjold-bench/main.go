// Command skjold-bench is a load generator for a running Skjold server. It creates subjects
// with a travel_booking record each, then reads random records back (every read is audited
// by the server), looks subjects up by e-mail and by phone, creates subjects with their
// record in one request, and runs a mixed workload (70 % look-ups, 20 % reads by id, 10 %
// creates); it reports throughput and latency percentiles per phase. With --growth it
// pre-loads the tenant to each size in turn (through the store's bulk insert) and runs the
// phases again there, so that the figures show how they grow with the data.
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
