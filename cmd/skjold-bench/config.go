package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"
)

// config is what the flags ask for.
type config struct {
	url               string
	caCert            string
	insecure          bool
	operatorTokenFile string
	token             string
	clients           int
	creates           int
	reads             int
	limit             time.Duration
	json              bool
}

// parseConfig parses the command line (args[0] is the program name). The tenant token may
// also come from SKJOLD_BENCH_TOKEN, which keeps it out of the process list.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("skjold-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "https://127.0.0.1:8443", "the server's base URL (HTTPS, loopback only)")
	fs.StringVar(&c.caCert, "cacert", "", "PEM certificate(s) to trust, e.g. skjold-data/tls.crt (required unless --insecure)")
	fs.BoolVar(&c.insecure, "insecure", false, "do not verify the server's certificate")
	fs.StringVar(&c.operatorTokenFile, "operator-token-file", "skjold-data/initial-operator-token",
		"operator token used to create a fresh tenant when no --token is given")
	fs.StringVar(&c.token, "token", "", "a tenant token with read and write scopes, whose tenant's read budget allows the reads; also SKJOLD_BENCH_TOKEN")
	fs.IntVar(&c.clients, "clients", 32, "concurrent clients")
	fs.IntVar(&c.creates, "creates", 20000, "subject+record creates in the create phase")
	fs.IntVar(&c.reads, "reads", 100000, "audited record reads in the read phase")
	fs.DurationVar(&c.limit, "duration-limit", 5*time.Minute, "hard stop for the whole run")
	fs.BoolVar(&c.json, "json", false, "print the results as JSON")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if c.token == "" {
		c.token = strings.TrimSpace(getenv("SKJOLD_BENCH_TOKEN"))
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch {
	case c.clients < 1:
		return errors.New("--clients must be at least 1")
	case c.creates < 0 || c.reads < 0:
		return errors.New("--creates and --reads must not be negative")
	case c.reads > 0 && c.creates == 0:
		return errors.New("--reads needs records to read: --creates must be at least 1")
	case c.limit <= 0:
		return errors.New("--duration-limit must be positive")
	case c.caCert == "" && !c.insecure:
		return errors.New("--cacert is required (or --insecure)")
	case c.caCert != "" && c.insecure:
		return errors.New("--cacert and --insecure exclude each other")
	}
	return checkURL(c.url)
}

// checkURL accepts only an https:// URL to a loopback host, without a path.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "https" {
		return fmt.Errorf("--url %q: Skjold serves HTTPS only", raw)
	}
	if strings.Trim(u.Path, "/") != "" || u.RawQuery != "" {
		return fmt.Errorf("--url %q: give the base URL without a path", raw)
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("--url %q: only loopback hosts (localhost, 127.0.0.1, ::1) may be benchmarked", raw)
	}
	return nil
}
