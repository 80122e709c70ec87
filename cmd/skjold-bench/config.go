package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
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

	lookups       int    // look-ups by e-mail, and again by phone, per size
	inlineCreates int    // one-request subject+record creates per size
	mixed         int    // operations of the mixed workload per size
	growth        []int  // tenant sizes (subjects) to pre-load to and measure at; none for one pass
	data          string // the server's data directory, for pre-loading (master.key, skjold.db)
	database      string // a postgres:// URL instead of <data>/skjold.db
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
	fs.IntVar(&c.lookups, "lookups", 20000, "look-ups by e-mail, and as many by phone, at each size")
	fs.IntVar(&c.inlineCreates, "inline-creates", 10000, "one-request subject+record creates (records inline) at each size")
	fs.IntVar(&c.mixed, "mixed", 20000, "operations of the mixed workload at each size: 70 % look-ups, 20 % record reads by id, 10 % one-request creates")
	growth := fs.String("growth", "", "comma-separated tenant sizes in subjects (e.g. 10000,100000,1000000): pre-load the bench tenant to each "+
		"and run the look-up, read, mixed and create phases there; needs --data")
	fs.StringVar(&c.data, "data", "", "the server's data directory, to pre-load subjects with the store's bulk insert (master.key and skjold.db there)")
	fs.StringVar(&c.database, "database", "", "the server's postgres:// database, to pre-load into instead of <data>/skjold.db")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err
	}
	sizes, err := parseSizes(*growth)
	if err != nil {
		return c, err
	}
	c.growth = sizes
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
	case c.creates < 0 || c.reads < 0 || c.lookups < 0 || c.inlineCreates < 0 || c.mixed < 0:
		return errors.New("--creates, --reads, --lookups, --inline-creates and --mixed must not be negative")
	case len(c.growth) > 0 && c.data == "":
		return errors.New("--growth pre-loads subjects through the server's store: give its --data directory")
	case len(c.growth) > 0 && c.token != "":
		return errors.New("--growth pre-loads a fresh tenant of its own: leave out --token")
	case (c.lookups > 0 || c.mixed > 0) && c.creates == 0 && len(c.growth) == 0:
		return errors.New("--lookups and --mixed need subjects to look up: --creates must be at least 1")
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

// parseSizes parses --growth: ascending positive subject counts.
func parseSizes(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 1 || len(sizes) > 0 && n <= sizes[len(sizes)-1] {
			return nil, fmt.Errorf("--growth %q: give ascending positive numbers of subjects, e.g. 10000,100000", s)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}
